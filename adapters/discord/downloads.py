"""Attachment downloaders: Discord's CDN only, size checked before a byte is read.

A URL is downloaded only from an exact origin (https, port 443, cdn.discordapp.com or
media.discordapp.net; `extra_hosts` adds others for tests and proxies). With an httpx client
(what `editbot run` gives it) the download follows a redirect only onto those origins and stops
reading past the size limit; without one it goes through discord.py's own CDN read. Whatever
stops a download is said in plain words as ImageRejected, naming whose problem it is, with one
WARNING line in the log; nothing has been charged yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import discord
import httpx

from bot.core.domain import Attachment
from bot.core.errors import ImageRejected
from bot.core.origins import MAX_REDIRECTS, Origin, off_origin, origin, read_capped, redirect_target

log = logging.getLogger(__name__)

DISCORD_CDN_HOSTS: frozenset[str] = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


def _origins(extra: Iterable[str]) -> frozenset[Origin]:
    """Discord's CDN origins, plus `extra`: host names (https) or whole origins (a test's)."""
    found = {("https", host, 443) for host in DISCORD_CDN_HOSTS}
    for entry in extra:
        where = origin(entry) if "://" in entry else ("https", entry.lower(), 443)
        if where is not None:
            found.add(where)
    return frozenset(found)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(name: str, size: int, limit: int) -> ImageRejected:
    return ImageRejected(f"{name} is {_megabytes(size)}; the limit is {_megabytes(limit)}.")


def _off_cdn(name: str, why: str) -> ImageRejected:
    log.warning("discord: refused to download %r: %s", name, why)
    return ImageRejected(
        f"{name} isn't on Discord's CDN, so editbot won't download it. Nothing was charged. "
        "Attach the image to your message itself and try again."
    )


def _answered(name: str, status: int) -> ImageRejected:
    """What Discord's answer means for the person, in plain words."""
    log.warning("discord: download of %r answered HTTP %d", name, status)
    if status in (404, 410):
        return ImageRejected(
            f"{name} is no longer on Discord (the message or the file was deleted). "
            "Nothing was charged. Attach the image again and try again."
        )
    return ImageRejected(
        f"Discord refused to hand over {name} (HTTP {status}); that is Discord's side. "
        "Nothing was charged. Try again in a minute."
    )


@dataclass(frozen=True)
class CdnDownloads:
    """Turns discord.Attachment objects into core Attachments whose fetch enforces origin and size.

    `extra_hosts` exists for tests and proxies; production uses Discord's two CDN hosts.
    """

    max_bytes: int
    extra_hosts: frozenset[str] = frozenset()
    http: httpx.AsyncClient | None = None

    @classmethod
    def create(
        cls,
        *,
        max_bytes: int,
        extra_hosts: Iterable[str] = (),
        http: httpx.AsyncClient | None = None,
    ) -> CdnDownloads:
        return cls(max_bytes=max_bytes, extra_hosts=frozenset(extra_hosts), http=http)

    def allowed(self, url: str) -> bool:
        """True when `url` is on an origin editbot downloads from."""
        return origin(url) in _origins(self.extra_hosts)

    def attachment(self, source: discord.Attachment) -> Attachment:
        """A core Attachment for `source`; nothing is downloaded until `fetch` is awaited."""
        url = source.url

        async def fetch() -> bytes:
            why = off_origin(url, _origins(self.extra_hosts))
            if why is not None:
                raise _off_cdn(source.filename, why)
            # Attachment.size comes with the event: refuse before reading a single byte.
            if source.size > self.max_bytes:
                raise _too_large(source.filename, source.size, self.max_bytes)
            data = await self._read(source)
            if len(data) > self.max_bytes:
                raise _too_large(source.filename, len(data), self.max_bytes)
            return data

        return Attachment(
            name=source.filename,
            fetch=fetch,
            size=source.size,
            mime=source.content_type,
            url=url,
        )

    def attachments(self, sources: Iterable[discord.Attachment]) -> tuple[Attachment, ...]:
        return tuple(self.attachment(source) for source in sources)

    async def _read(self, source: discord.Attachment) -> bytes:
        name = source.filename
        try:
            if self.http is not None:
                return await self.fetch(source.url, name=name)
            return await source.read()
        except discord.HTTPException as exc:
            raise _answered(name, exc.status) from exc
        except httpx.HTTPError as exc:
            log.warning("discord: download of %r failed: %s", name, type(exc).__name__)
            raise ImageRejected(
                f"Discord's CDN could not be reached to download {name}; that is the network's "
                "or Discord's side. Nothing was charged. Try again in a minute."
            ) from exc

    async def fetch(self, url: str, *, name: str = "file") -> bytes:
        """GET `url` with the httpx client: allowed origins only, redirects too, capped."""
        assert self.http is not None
        allowed = _origins(self.extra_hosts)
        for _ in range(MAX_REDIRECTS + 1):
            why = off_origin(url, allowed)
            if why is not None:
                raise _off_cdn(name, why)
            async with self.http.stream("GET", url, follow_redirects=False) as resp:
                target = redirect_target(url, resp.headers.get("location"))
                if resp.is_redirect and target is not None:
                    url = target
                    continue
                if resp.status_code != 200:
                    raise _answered(name, resp.status_code)
                return await read_capped(
                    resp.aiter_bytes(),
                    limit=self.max_bytes,
                    too_large=lambda total: _too_large(name, total, self.max_bytes),
                )
        raise _off_cdn(name, f"more than {MAX_REDIRECTS} redirects")
