"""A local fake of Discord's REST API and gateway (aiohttp on 127.0.0.1), for real processes.

dpytest (the rest of this kit) replaces discord.py's HTTP inside the test's own process; a
subprocess such as `editbot run` or `editbot doctor` needs a server instead: point
DISCORD_API_URL at `FakeDiscord.api_url`. It answers what discord.py asks at start with the
bot token (`GET /users/@me`, `GET /oauth2/applications/@me`, the command sync, `GET
/gateway/bot`) and runs a gateway websocket: HELLO, then READY after IDENTIFY, heartbeat acks.
A wrong token gets Discord's 401. `gateway_close_code` makes the gateway close every session
with that code right after HELLO (4004: authentication failed), the way Discord drops a bot
whose token was revoked while it ran.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

BOT_USER_ID = "800000000000000001"
APPLICATION_ID = "900000000000000001"


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


class FakeDiscord:
    """`async with FakeDiscord(token=...) as discord`; `discord.api_url` is the REST base."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, str, bool]] = []
        """(method, path, authorized) of every REST call."""
        self.identified = 0
        self.gateway_close_code: int | None = None
        self.sync_status = 200
        """What the app command sync answers: 403 (Missing Access: the bot was invited without
        the applications.commands scope) makes discord.py's login fail after `GET
        /users/@me` said the token is fine."""
        self.sessions: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.base = ""

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/v10"

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sessions:
            if not ws.closed:
                await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    async def drop_sessions(self, code: int) -> None:
        """Close every open gateway session with `code`; later sessions get it too."""
        self.gateway_close_code = code
        for ws in self.sessions:
            if not ws.closed:
                await ws.close(code=code)

    # ---- REST

    def _user(self) -> dict[str, Any]:
        return {
            "id": BOT_USER_ID,
            "username": "editbot",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        self.calls.append((request.method, path, authorized))
        if not authorized:
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if path == "/users/@me":
            return _json(self._user())
        if path == "/oauth2/applications/@me":
            return _json(self._application())
        if path.startswith(f"/applications/{APPLICATION_ID}/") and request.method == "PUT":
            if self.sync_status != 200:
                return _json({"message": "Missing Access", "code": 50001}, self.sync_status)
            return _json([])
        if path in ("/gateway/bot", "/gateway"):
            return _json(
                {
                    "url": self.base.replace("http", "ws") + "/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": APPLICATION_ID,
            "name": "editbot",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": {**self._user(), "id": "800000000000000002", "bot": False},
        }

    # ---- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sessions.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 30_000}, "s": None, "t": None})
        if self.gateway_close_code is not None:
            await ws.close(code=self.gateway_close_code)
            return ws
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            await self._answer(ws, json.loads(msg.data))
        return ws

    async def _answer(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        if op == 1:
            await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            self.identified += 1
            ready = {
                "v": 10,
                "user": self._user(),
                "guilds": [],
                "session_id": f"session-{self.identified}",
                "resume_gateway_url": self.base.replace("http", "ws") + "/gateway",
                "application": {"id": APPLICATION_ID, "flags": 0},
            }
            await ws.send_json({"op": 0, "d": ready, "s": 1, "t": "READY"})
        elif op == 6:  # RESUME: say the session cannot be resumed; the client identifies again
            await asyncio.sleep(0)
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
