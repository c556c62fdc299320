"""CdnDownloads over real local HTTP servers on two ports: exact origins, redirects, plain words.

`cdn` stands in for Discord's CDN (allowed as a whole origin through extra_hosts, the way a
proxy would be); `other` is another port of the same host and must never see a request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import discord
import httpx
import pytest
from aiohttp import web
from discord.ext.test import factories as facts

from adapters.discord.downloads import CdnDownloads
from bot.core.errors import ImageRejected


@dataclass
class Server:
    """A tiny file server: `files` by path, `redirects` by path, and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(path)
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if path not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[path], content_type="image/png")


@asynccontextmanager
async def serve() -> AsyncIterator[Server]:
    server = Server()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def attachment(url: str, size: int = 10, name: str = "p.png") -> discord.Attachment:
    data: dict[str, Any] = facts.make_attachment_dict(
        name, size, url, url, content_type="image/png"
    )
    # A state without an HTTP client: the download must go through CdnDownloads' own httpx.
    return discord.Attachment(state=SimpleNamespace(http=None), data=data)  # type: ignore[arg-type]


@asynccontextmanager
async def world() -> AsyncIterator[tuple[Server, Server, CdnDownloads]]:
    async with serve() as cdn, serve() as other, httpx.AsyncClient() as http:
        downloads = CdnDownloads.create(max_bytes=1000, extra_hosts=[cdn.base], http=http)
        yield cdn, other, downloads


async def test_the_allowed_origin_is_downloaded() -> None:
    async with world() as (cdn, _, downloads):
        cdn.files["/a/p.png"] = b"\x89PNG cdn"
        assert (
            await downloads.attachment(attachment(cdn.base + "/a/p.png")).fetch() == b"\x89PNG cdn"
        )


async def test_another_port_of_the_same_host_is_never_asked() -> None:
    async with world() as (_, other, downloads):
        other.files["/a/p.png"] = b"\x89PNG other"
        with pytest.raises(ImageRejected, match="isn't on Discord's CDN"):
            await downloads.attachment(attachment(other.base + "/a/p.png")).fetch()
        assert other.requests == []


async def test_a_redirect_to_another_port_is_not_followed() -> None:
    async with world() as (cdn, other, downloads):
        other.files["/x.png"] = b"\x89PNG other"
        cdn.redirects["/moved.png"] = other.base + "/x.png"
        with pytest.raises(ImageRejected, match="Nothing was charged"):
            await downloads.attachment(attachment(cdn.base + "/moved.png")).fetch()
        assert cdn.requests == ["/moved.png"] and other.requests == []


async def test_a_redirect_on_the_cdn_is_followed() -> None:
    async with world() as (cdn, _, downloads):
        cdn.files["/real.png"] = b"\x89PNG real"
        cdn.redirects["/moved.png"] = cdn.base + "/real.png"
        got = await downloads.attachment(attachment(cdn.base + "/moved.png")).fetch()
        assert got == b"\x89PNG real"


async def test_more_than_was_announced_stops_the_download() -> None:
    async with world() as (cdn, _, downloads):
        cdn.files["/big.png"] = b"x" * 5000
        with pytest.raises(ImageRejected, match="the limit is"):
            await downloads.attachment(attachment(cdn.base + "/big.png", size=10)).fetch()


async def test_a_deleted_file_is_said_plainly_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with world() as (cdn, _, downloads):
        with pytest.raises(ImageRejected, match="p.png is no longer on Discord"):
            await downloads.attachment(attachment(cdn.base + "/gone/p.png")).fetch()
    warned = [r for r in caplog.records if r.name.startswith("adapters")]
    assert [r.levelno for r in warned] == [logging.WARNING]
    assert not [r for r in warned if r.exc_info]


def test_only_https_on_discords_own_hosts_and_port() -> None:
    downloads = CdnDownloads.create(max_bytes=10)
    assert downloads.allowed("https://cdn.discordapp.com/a/p.png")
    assert downloads.allowed("https://media.discordapp.net:443/a/p.png")
    assert not downloads.allowed("http://cdn.discordapp.com/a/p.png")
    assert not downloads.allowed("https://cdn.discordapp.com:8443/a/p.png")
    assert not downloads.allowed("https://cdn.discordapp.com.evil.example/a/p.png")
    assert not downloads.allowed("https://cdn.discordapp.com:notaport/a/p.png")
