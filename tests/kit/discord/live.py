"""The kit's fake Discord for real `editbot run` processes: one guild, a person, `/edit`.

`LiveFakeDiscord` adds to the sharded fake (its gateway sends READY and the guild's
GUILD_CREATE) what an edit needs over the wire: INTERACTION_CREATE for `/edit` (`slash_edit`)
and MESSAGE_CREATE for a mention with an image (`mention_with`), the interaction callback (the
defer), the original response and followups over the interaction's webhook, channel messages
with files (multipart, as discord.py sends them), message edits and deletes, threads opened on
a message (the thread's id is the message's, as on Discord), `GET /channels/{id}`, and a CDN
for the attachments (on the API's own origin, which editbot downloads from when
DISCORD_API_URL is not Discord's).

`hold_callbacks` holds every interaction callback unanswered once it arrived (`deferred` is
set then): the moment Discord has the defer and the process waits for the answer.
`hold_threads` does the same with thread creation (`thread_asked`): for a mention, the first
call after the process took it. `refuse_gateway` answers every new gateway connection 503.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.kit.discord.rest import APPLICATION_ID, _json
from tests.kit.discord.shards import ShardedFakeDiscord, ShardSession, _person
from tests.kit.editbot import OPENAI_KEY

GUILD = (5 << 22) | 7
PERSON = 1_200_000_000_000_000_001
_ids = itertools.count(1_300_000_000_000_000_000)
ORIGINAL = r"/webhooks/\d+/([^/]+)/messages/@original"
Handler = Callable[..., Awaitable[web.Response]]


@dataclass
class Posted:
    """A message in a channel or thread, as the fake keeps it."""

    channel: int
    data: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    deleted: bool = False

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")


class LiveFakeDiscord(ShardedFakeDiscord):
    """`async with LiveFakeDiscord(token=...) as fake`; its guild is GUILD, the person PERSON."""

    def __init__(self, *, token: str) -> None:
        super().__init__(token=token, guilds=[GUILD])
        self.channel = self.channel_of(GUILD)
        self.cdn: dict[str, bytes] = {}
        self.messages: list[Posted] = []
        self.threads: dict[int, dict[str, Any]] = {}
        self.originals: dict[str, Posted] = {}
        """The original response of each deferred interaction, by its token."""
        self.callbacks: list[tuple[str, dict[str, Any]]] = []
        self.deferred = asyncio.Event()
        self.hold_callbacks: asyncio.Event | None = None
        self.refuse_gateway = False
        self.thread_asked = asyncio.Event()
        self.hold_threads: asyncio.Event | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            ("POST", re.compile(r"/interactions/(\d+)/([^/]+)/callback"), self._callback, False),
            ("PATCH", re.compile(ORIGINAL), self._original, False),
            ("DELETE", re.compile(ORIGINAL), self._unsay, False),
            ("POST", re.compile(r"/webhooks/\d+/([^/]+)"), self._followup, False),
            ("GET", re.compile(r"/cdn/([^/]+)"), self._cdn, False),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel, True),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._post, True),
            ("PATCH", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._edit, True),
            ("DELETE", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._delete, True),
            ("POST", re.compile(r"/channels/(\d+)/messages/(\d+)/threads"), self._thread, True),
        ]

    def cdn_url(self, name: str) -> str:
        return f"{self.api_url}/cdn/{name}"

    def live_sessions(self) -> int:
        return sum(1 for s in self.shards if not s.ws.closed)

    def in_channel(self, channel: int) -> list[Posted]:
        """What a person sees in a channel or thread now (deleted messages gone)."""
        return [m for m in self.messages if m.channel == channel and not m.deleted]

    async def mention_with(self, text: str, *, image: str) -> int:
        """PERSON mentions the bot with `text` and an image in the guild's channel; the
        message's id. Sent to the live gateway session."""
        message = {
            "id": str(next(_ids)),
            "channel_id": str(self.channel),
            "guild_id": str(GUILD),
            "author": _person(PERSON),
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "flags": 0},
            "content": f"<@{self._user()['id']}> {text}",
            "timestamp": "2026-12-01T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self._user()],
            "mention_roles": [],
            "attachments": [
                _attachment(self, image, self.cdn[image]) | {"content_type": "image/png"}
            ],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }
        await self._live().dispatch("MESSAGE_CREATE", message)
        return int(message["id"])

    def _live(self) -> ShardSession:
        live = [s for s in self.shards if not s.ws.closed]
        assert len(live) == 1, f"{len(live)} live gateway sessions"
        return live[0]

    async def slash_edit(self, prompt: str, *, image: str, options: str = "") -> str:
        """A person runs `/edit prompt image` (plus `quality=low`-style choices) in the
        guild's channel; the interaction's token. Sent to the live gateway session."""
        attachment_id = str(next(_ids))
        data = self.cdn[image]
        resolved = {
            "id": attachment_id,
            "filename": image,
            "size": len(data),
            "url": self.cdn_url(image),
            "proxy_url": self.cdn_url(image),
            "content_type": "image/png",
        }
        picks = [{"name": k, "type": 3, "value": v} for k, v in _pairs(options)]
        command = {
            "id": str(next(_ids)),
            "name": "edit",
            "type": 1,
            "options": [
                {"name": "prompt", "type": 3, "value": prompt},
                {"name": "image", "type": 11, "value": attachment_id},
                *picks,
            ],
            "resolved": {"attachments": {attachment_id: resolved}},
        }
        token = f"itoken-{next(_ids)}"
        payload = _interaction(token, self.channel, command)
        await self._live().dispatch("INTERACTION_CREATE", payload)
        return token

    # ---- the gateway, refusable

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if self.refuse_gateway:
            raise web.HTTPServiceUnavailable()
        return await super()._gateway(request)

    # ---- REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        for method, pattern, handler, needs_token in self._routes:
            found = pattern.fullmatch(path)
            if found is None or request.method != method:
                continue
            authorized = request.headers.get("Authorization") == f"Bot {self.token}"
            self.calls.append((method, path, authorized))
            if needs_token and not authorized:
                return _json({"message": "401: Unauthorized", "code": 0}, status=401)
            return await handler(request, *found.groups())
        return await super()._rest(request)

    async def _callback(self, request: web.Request, interaction: str, token: str) -> web.Response:
        payload, _ = await _body(request)
        self.callbacks.append((interaction, payload))
        kind = payload.get("type", 0)
        if kind == 5:  # deferred: Discord shows "thinking" as the original response
            self.originals[token] = self._store(self.channel, {"content": "", "flags": 128})
        self.deferred.set()
        if self.hold_callbacks is not None:
            await self.hold_callbacks.wait()
        flags = (payload.get("data") or {}).get("flags", 0)
        return _json(
            {
                "interaction": {
                    "id": interaction,
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": kind},
            }
        )

    async def _original(self, request: web.Request, token: str) -> web.Response:
        original = self.originals.get(token)
        if original is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
        payload, _ = await _body(request)
        original.data.update(content=payload.get("content", original.content), flags=0)
        return _json(original.data)

    async def _unsay(self, request: web.Request, token: str) -> web.Response:
        original = self.originals.get(token)
        if original is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
        original.deleted = True
        return web.Response(status=204)

    async def _followup(self, request: web.Request, token: str) -> web.Response:
        payload, files = await _body(request)
        return _json(self._store(self.channel, payload, files).data)

    async def _cdn(self, request: web.Request, name: str) -> web.Response:
        if name not in self.cdn:
            return web.Response(status=404)
        return web.Response(body=self.cdn[name], content_type="image/png")

    async def _get_channel(self, request: web.Request, channel: str) -> web.Response:
        if int(channel) in self.threads:
            return _json(self.threads[int(channel)])
        if int(channel) == self.channel:
            return _json(_channel(GUILD, self.channel))
        return _json({"message": "Unknown Channel", "code": 10003}, status=404)

    async def _post(self, request: web.Request, channel: str) -> web.Response:
        payload, files = await _body(request)
        return _json(self._store(int(channel), payload, files).data)

    async def _edit(self, request: web.Request, channel: str, message: str) -> web.Response:
        payload, files = await _body(request)
        for posted in self.in_channel(int(channel)):
            if posted.id == int(message):
                posted.data.update(
                    {k: payload[k] for k in ("content", "components") if k in payload}
                )
                posted.files = files or posted.files
                return _json(posted.data)
        return _json({"message": "Unknown Message", "code": 10008}, status=404)

    async def _delete(self, request: web.Request, channel: str, message: str) -> web.Response:
        for posted in self.in_channel(int(channel)):
            if posted.id == int(message):
                posted.deleted = True
                return web.Response(status=204)
        return _json({"message": "Unknown Message", "code": 10008}, status=404)

    async def _thread(self, request: web.Request, channel: str, message: str) -> web.Response:
        payload, _ = await _body(request)
        self.thread_asked.set()
        if self.hold_threads is not None:
            await self.hold_threads.wait()
        thread = _thread(GUILD, int(channel), int(message), str(payload.get("name")))
        self.threads[int(message)] = thread
        return _json(thread)

    def _store(
        self, channel: int, payload: dict[str, Any], files: list[tuple[str, bytes]] | None = None
    ) -> Posted:
        files = files or []
        data = {
            "id": str(next(_ids)),
            "channel_id": str(channel),
            "author": self._user(),
            "content": payload.get("content") or "",
            "timestamp": "2026-12-01T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [_attachment(self, name, body) for name, body in files],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "components": payload.get("components") or [],
            "flags": payload.get("flags") or 0,
        }
        posted = Posted(channel, data, files, payload.get("allowed_mentions"))
        self.messages.append(posted)
        return posted


async def _body(request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """(JSON payload, files) of a request as discord.py sends it: JSON, or multipart with
    `payload_json` and `files[n]`."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        payload = json.loads(str(form.get("payload_json") or "{}"))
        files = [(f.filename, f.file.read()) for f in form.values() if isinstance(f, web.FileField)]
        return payload, files
    if request.can_read_body:
        return await request.json(), []
    return {}, []


def _pairs(options: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in options.split()]  # type: ignore[misc]


def _attachment(fake: LiveFakeDiscord, name: str, body: bytes) -> dict[str, Any]:
    url = fake.cdn_url(name)
    return {
        "id": str(next(_ids)),
        "filename": name,
        "size": len(body),
        "url": url,
        "proxy_url": url,
    }


def _channel(guild: int, channel: int) -> dict[str, Any]:
    return {
        "id": str(channel),
        "type": 0,
        "name": "general",
        "position": 0,
        "guild_id": str(guild),
        "permission_overwrites": [],
        "nsfw": False,
    }


def _thread(guild: int, parent: int, anchor: int, name: str) -> dict[str, Any]:
    """A public thread started on message `anchor`: on Discord its id is the message's."""
    return {
        "id": str(anchor),
        "guild_id": str(guild),
        "parent_id": str(parent),
        "owner_id": "800000000000000001",
        "name": name,
        "type": 11,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-12-01T12:00:00+00:00",
            "locked": False,
        },
    }


def _interaction(token: str, channel: int, command: dict[str, Any]) -> dict[str, Any]:
    """An INTERACTION_CREATE for `command`, run by PERSON in the guild's channel."""
    return {
        "id": str(next(_ids)),
        "application_id": APPLICATION_ID,
        "type": 2,
        "token": token,
        "version": 1,
        "guild_id": str(GUILD),
        "channel_id": str(channel),
        "channel": {"id": str(channel), "type": 0, "guild_id": str(GUILD), "name": "general"},
        "member": {
            "user": _person(PERSON),
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(3072),  # view channel, send messages
        },
        "app_permissions": str((1 << 50) - 1),
        "locale": "en-US",
        "guild_locale": "en-US",
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD)},
        "context": 0,
        "data": command,
    }


def discord_env(
    fake: LiveFakeDiscord, emulator_url: str, data: Path, **extra: str
) -> dict[str, str]:
    """`editbot run` with Discord only, on the fake; OpenAI on the emulator, SQLite in `data`."""
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"{emulator_url}/v1",
        "EDITBOT_DATA_DIR": str(data),
        "EDITBOT_CONFIRM_ABOVE_USD": "5",
        **extra,
    }
