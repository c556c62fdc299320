"""Attachment downloaders: Discord CDN hosts only, size checked before a byte is read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import discord

from bot.core.domain import Attachment
from bot.core.errors import ImageRejected, PlatformError

DISCORD_CDN_HOSTS: frozenset[str] = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class CdnDownloads:
    """Turns discord.Attachment objects into core Attachments whose fetch enforces host and size.

    `extra_hosts` exists for tests and proxies; production uses Discord's two CDN hosts.
    """

    max_bytes: int
    extra_hosts: frozenset[str] = frozenset()

    @classmethod
    def create(cls, *, max_bytes: int, extra_hosts: Iterable[str] = ()) -> CdnDownloads:
        return cls(max_bytes=max_bytes, extra_hosts=frozenset(extra_hosts))

    def allowed(self, url: str) -> bool:
        """True when `url` is on a host editbot downloads from."""
        host = (urlsplit(url).hostname or "").lower()
        return host in DISCORD_CDN_HOSTS or host in self.extra_hosts

    def attachment(self, source: discord.Attachment) -> Attachment:
        """A core Attachment for `source`; nothing is downloaded until `fetch` is awaited."""
        max_bytes = self.max_bytes
        url = source.url
        allowed = self.allowed(url)

        async def fetch() -> bytes:
            if not allowed:
                raise ImageRejected(
                    f"{source.filename} isn't on Discord's CDN, so editbot won't download it."
                )
            # Attachment.size comes with the event: refuse before reading a single byte.
            if source.size > max_bytes:
                raise ImageRejected(
                    f"{source.filename} is {_megabytes(source.size)}; "
                    f"the limit is {_megabytes(max_bytes)}."
                )
            try:
                data = await source.read()
            except discord.HTTPException as exc:
                raise PlatformError(
                    f"Discord refused the download of an attachment: {exc}"
                ) from exc
            if len(data) > max_bytes:
                raise ImageRejected(
                    f"{source.filename} is {_megabytes(len(data))}; "
                    f"the limit is {_megabytes(max_bytes)}."
                )
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
