"""Where a platform's files may be fetched from: exact origins, and reading within a size cap.

Both adapters download people's attachments with a credential or a charge riding on them, so
both compare exact origins (scheme, host and port; plain http only where configured) and stop
reading past a limit. The HTTP loop stays in each adapter; these are the rules it keeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from urllib.parse import urljoin, urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_REDIRECTS = 3
"""Redirects a download follows (each onto an allowed origin) before it gives up."""

Origin = tuple[str, str, int]
"""(scheme, host, port) of a URL, ports made explicit."""


def origin(url: str) -> Origin | None:
    """The URL's origin, or None when it has no usable scheme or host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return (scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


def off_origin(url: str, allowed: Collection[Origin]) -> str | None:
    """Why `url` may not be fetched (its origin is not allowed), or None when it may."""
    where = origin(url)
    if where in allowed:
        return None
    return f"{where or url!r} is not an allowed origin"


def redirect_target(url: str, location: str | None) -> str | None:
    """Where a redirect from `url` points (relative locations resolved); None without one."""
    return urljoin(url, location) if location else None


async def read_capped(
    chunks: AsyncIterator[bytes], *, limit: int, too_large: Callable[[int], Exception]
) -> bytes:
    """Join `chunks`, raising `too_large(bytes read so far)` as soon as they pass `limit`:
    the rest is never read (the caller's stream closes as the error leaves it)."""
    parts: list[bytes] = []
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise too_large(total)
        parts.append(chunk)
    return b"".join(parts)
