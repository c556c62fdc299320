"""A local fake of Slack's Web API (aiohttp on 127.0.0.1) that records every call.

Answers with the shapes Slack uses, hands out upload URLs on itself, keeps posted messages per
thread (so conversations.replies sees what was posted), and serves private files only to the
bearer token (anyone else gets 200 + an HTML login page, as Slack does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.kit.slack.api_channels import ChannelsAndInstalls
from tests.kit.slack.api_people import PeopleMethods
from tests.kit.slack.live_api import BOT_USER_ID, LiveMessages, _json

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
TEAM_ID = "T0001"


@dataclass
class Call:
    """One Web API call: the method and its arguments (query, form or JSON merged)."""

    method: str
    args: dict[str, Any]
    token: str | None = None
    """The bearer token the call was made with (which workspace's bot it was)."""


@dataclass
class Upload:
    """A completed files_upload_v2: the bytes and where they were shared."""

    file_id: str
    filename: str
    data: bytes
    alt_txt: str | None
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    title: str | None
    blocks: list[dict[str, Any]] | None = None
    """The share's blocks (files.completeUploadExternal `blocks`), when it had them."""


@dataclass
class StreamStats:
    """What a streamed file download actually sent before the client went away."""

    sent: int = 0
    total: int = 0
    aborted: bool = False
    chunk: int = 256 * 1024
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSlackApi(LiveMessages, PeopleMethods, ChannelsAndInstalls):
    """Start with `async with FakeSlackApi(token=...) as api`; point clients at `api.api_url`."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.uploads: list[Upload] = []
        self.users: dict[str, dict[str, Any]] = {}
        """users.info answers: e.g. {"U1": {"is_admin": True, "profile": {"display_name": ...}}}."""
        self.channel_names: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.streams: dict[str, StreamStats] = {}
        self.redirects: dict[str, str] = {}
        self.files_read_scope = True
        """False: downloads get the login page even with the token (the app lacks files:read)."""
        self.download_requests: list[tuple[str, str | None]] = []
        # Per method, a queue of (status, retry_after) faults answered before the real reply.
        self.faults: dict[str, list[tuple[int, int]]] = {}
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.deleted_files: list[str] = []
        self.upload_gate: asyncio.Event | None = None
        """When set, file uploads wait for it (after being recorded as `upload` calls)."""
        self.download_gate: asyncio.Event | None = None
        """When set, file downloads wait for it (after being recorded)."""
        self.answer_gates: dict[str, asyncio.Event] = {}
        """Per method: the call takes effect and is recorded, then its answer waits for the
        event (Slack accepted a post, the client has not heard yet: a kill lands in between)."""
        self.teams: dict[str, str] = {token: TEAM_ID}
        """Accepted bot tokens and the workspace each belongs to (oauth.v2.access adds some)."""
        self.oauth_codes: dict[str, str] = {}
        """OAuth codes oauth.v2.access exchanges, and the workspace each installs into."""
        self.refresh_tokens: dict[str, str] = {}
        """Refresh tokens (token rotation) and the workspace each renews a bot token for."""
        self.client_id = ""
        self.client_secret = ""
        """The app's credentials oauth.v2.access checks (set them to test installs)."""
        self.published: dict[str, dict[str, Any]] = {}
        """views.publish: the Home view last published per user."""
        self._pending_uploads: dict[str, tuple[str, int, str | None, bytes | None]] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._caller: str | None = None
        self.base = ""

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def file_url(self, name: str) -> str:
        return f"{self.base}/files-pri/{TEAM_ID}-F/{name}"

    async def __aenter__(self) -> FakeSlackApi:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{prefix}/{name}", self._download)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    # ---- what tests look at

    def named(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call to `method`, in order."""
        return [c.args for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (polled: it may depend on state outside the fake)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)

    async def wait_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.named(method)) >= count, timeout)

    def add_thread_message(self, channel: str, thread: str, message: dict[str, Any]) -> None:
        self.threads.setdefault((channel, thread), []).append(message)

    def serve_stream(self, name: str, *, total: int, chunk: int = 256 * 1024) -> StreamStats:
        """Serve `name` as a generator of `total` bytes, counting what was actually sent."""
        stats = self.streams[name] = StreamStats(total=total, chunk=chunk)
        return stats

    # ---- handlers

    async def _note(self, method: str, args: dict[str, Any], token: str | None = None) -> None:
        self.calls.append(Call(method, args, token))

    def _token_of(self, request: web.Request, args: dict[str, Any]) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        return str(args["token"]) if args.get("token") else None

    def team_of_call(self, call: Call) -> str | None:
        """The workspace whose bot token made `call` (None for an unknown token)."""
        return self.teams.get(call.token or "")

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        return args

    def _authorized(self, request: web.Request, args: dict[str, Any]) -> bool:
        return self._token_of(request, args) in self.teams

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        faults = self.faults.get(method)
        if faults:
            status, retry_after = faults.pop(0)
            await self._note(method + ":fault", args)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=status,
                headers={"Retry-After": str(retry_after)},
            )
        token = self._token_of(request, args)
        if method == "oauth.v2.access":
            await self._note(method, args, token)
            return web.json_response(self._oauth_v2_access(request, args))
        if not self._authorized(request, args) and method != "apps.connections.open":
            await self._note(method, args, token)
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self._caller = token
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        await self._note(method, args, token)
        gate = self.answer_gates.get(method)
        if gate is not None:
            await gate.wait()
        return web.json_response(body)

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://editbot-test.slack.com/",
            "team": "editbot test",
            "user": "editbot",
            "team_id": self.teams.get(self._caller or "", TEAM_ID),
            "user_id": BOT_USER_ID,
            "bot_id": "BBOT",
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        channel = str(args["channel"])
        message = {"type": "message", "user": BOT_USER_ID, "text": args.get("text"), "ts": ts}
        if args.get("blocks"):
            message["blocks"] = _json(args["blocks"])
        thread = args.get("thread_ts")
        if thread:
            message["thread_ts"] = thread
        self.add_thread_message(channel, str(thread or ts), message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        messages = self.threads.get((str(args["channel"]), str(args["ts"])), [])
        return {
            "ok": True,
            "messages": messages,
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):04d}"}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args["user"]), {})
        return {
            "ok": True,
            "user": {"id": args["user"], "is_admin": False, "is_owner": False, **user},
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base.replace("http", "ws") + "/ws"}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):04d}"
        self._pending_uploads[file_id] = (
            str(args["filename"]),
            int(args["length"]),
            args.get("alt_txt"),
            None,
        )
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args["files"])
        channel = args.get("channel_id")
        thread = args.get("thread_ts")
        out = []
        shared: list[dict[str, Any]] = []
        for f in files:
            filename, length, alt, data = self._pending_uploads.pop(f["id"])
            assert data is not None and len(data) == length, "upload bytes missing or short"
            self.uploads.append(
                Upload(
                    f["id"],
                    filename,
                    data,
                    alt,
                    channel,
                    thread,
                    args.get("initial_comment"),
                    f.get("title"),
                    _json(args["blocks"]) if args.get("blocks") else None,
                )
            )
            self.files[f"{f['id']}-{filename}"] = data
            info = {
                "id": f["id"],
                "name": filename,
                "title": f.get("title"),
                "mimetype": "image/png"
                if filename.endswith(".png")
                else "application/octet-stream",
                "size": length,
                "url_private_download": self.file_url(f"{f['id']}-{filename}"),
            }
            out.append(info)
            shared.append(info)
        if channel:
            ts = self._next_ts()
            message = {
                "type": "message",
                "user": BOT_USER_ID,
                "ts": ts,
                "files": shared,
                "text": args.get("initial_comment") or "",
            }
            if args.get("blocks") and not args.get("initial_comment"):
                message["blocks"] = _json(args["blocks"])  # Slack ignores them with a comment
            self.add_thread_message(str(channel), str(thread or ts), message)
        return {"ok": True, "files": out}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        filename, length, alt, _ = self._pending_uploads[file_id]
        await self._note("upload", {"file_id": file_id, "bytes": len(data)})
        if self.upload_gate is not None:
            # Held mid-post (a slow Slack): the client may go away meanwhile.
            await self.upload_gate.wait()
        self._pending_uploads[file_id] = (filename, length, alt, data)
        return web.Response(text=f"OK - {len(data)}")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        auth = request.headers.get("Authorization")
        self.download_requests.append((name, auth))
        if self.download_gate is not None:
            await self.download_gate.wait()  # a slow Slack: the client may go away meanwhile
        if auth not in {f"Bearer {t}" for t in self.teams} or not self.files_read_scope:
            return web.Response(body=LOGIN_PAGE, content_type="text/html")
        if name in self.redirects:
            raise web.HTTPFound(self.redirects[name])
        if name in self.streams:
            return await self._stream(request, name)
        data = self.files.get(name)
        if data is None:
            return web.Response(status=404, text="file_not_found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _stream(self, request: web.Request, name: str) -> web.StreamResponse:
        stats = self.streams[name]
        chunk = b"\0" * stats.chunk
        resp = web.StreamResponse()
        resp.content_type = "image/png"
        await resp.prepare(request)
        try:
            while stats.sent < stats.total:
                piece = chunk[: stats.total - stats.sent]
                await resp.write(piece)
                stats.sent += len(piece)
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            stats.aborted = True
            raise
        finally:
            stats.done.set()
        return resp
