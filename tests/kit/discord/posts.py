"""The live fake Discord with what delivery tests need: a thread's messages read back, and a
result post held unanswered.

`GET /channels/{id}/messages` lists a channel's or thread's messages, newest first, as
discord.py's `history()` reads them (ChatPort.find_posted looks there). `hold_file_posts`
holds every message with files unanswered once it is stored: Discord has the result, its
poster has not heard yet (a kill lands in between).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from tests.kit.discord.live import LiveFakeDiscord
from tests.kit.discord.rest import _json


class PostsFakeDiscord(LiveFakeDiscord):
    """`async with PostsFakeDiscord(token=...) as fake`: a LiveFakeDiscord, plus the above."""

    def __init__(self, *, token: str) -> None:
        super().__init__(token=token)
        self.hold_file_posts: asyncio.Event | None = None
        history = ("GET", re.compile(r"/channels/(\d+)/messages"), self._history, True)
        self._routes.insert(0, history)

    async def __aenter__(self) -> PostsFakeDiscord:
        await super().__aenter__()
        return self

    async def _post(self, request: web.Request, channel: str) -> web.Response:
        payload, files = await _closed_body(request)
        posted = self._store(int(channel), payload, files)
        if files and self.hold_file_posts is not None:
            await self.hold_file_posts.wait()
        return _json(posted.data)

    async def _history(self, request: web.Request, channel: str) -> web.Response:
        limit = int(request.query.get("limit", "50"))
        return _json([m.data for m in reversed(self.in_channel(int(channel)))][:limit])


async def _closed_body(request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """(JSON payload, files) as discord.py sends them, the form's spooled files closed at once
    (a post held while its client is killed must not leave them to the collector)."""
    if not request.content_type.startswith("multipart/"):
        return (await request.json() if request.can_read_body else {}), []
    form = await request.post()
    payload = json.loads(str(form.get("payload_json") or "{}"))
    fields = [f for f in form.values() if isinstance(f, web.FileField)]
    files = [(f.filename, f.file.read()) for f in fields]
    for f in fields:
        f.file.close()
    return payload, files
