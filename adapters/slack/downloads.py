"""Download private Slack files: only from Slack's file host, with the bot token, capped."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

from adapters.slack.payloads import SlackFile
from bot.core.domain import Attachment
from bot.core.errors import ImageRejected, PlatformError

SLACK_FILE_HOST = "files.slack.com"
MAX_REDIRECTS = 3


def allowed_hosts(api_url: str) -> frozenset[str]:
    """files.slack.com, plus the host of SLACK_API_URL when it points somewhere else."""
    hosts = {SLACK_FILE_HOST}
    host = urlsplit(api_url).hostname
    if host and host != "slack.com":
        hosts.add(host)
    return frozenset(hosts)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


class SlackDownloader:
    """Fetches `url_private_download` with the bot token; never follows a redirect off-host."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token: str,
        max_bytes: int,
        hosts: frozenset[str],
    ) -> None:
        self._http = http
        self._token = token
        self._max_bytes = max_bytes
        self._hosts = hosts

    def attachment(self, file: SlackFile) -> Attachment | None:
        """An Attachment for a Slack file object, or None when it has no downloadable URL."""
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            return None
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        size = file.get("size")
        size = int(size) if isinstance(size, int | str) and str(size).isdigit() else None

        async def fetch() -> bytes:
            return await self.fetch(url, name=name, size=size)

        return Attachment(name=name, fetch=fetch, size=size, mime=file.get("mimetype"), url=url)

    async def fetch(self, url: str, *, name: str = "file", size: int | None = None) -> bytes:
        """The file's bytes; raises ImageRejected when too large, PlatformError when off-host."""
        if size is not None and size > self._max_bytes:
            raise ImageRejected(f"{name} is {_mb(size)}; the limit is {_mb(self._max_bytes)}.")
        for _ in range(MAX_REDIRECTS + 1):
            self._check_host(url)
            headers = {"Authorization": f"Bearer {self._token}"}
            async with self._http.stream(
                "GET", url, headers=headers, follow_redirects=False
            ) as resp:
                if resp.is_redirect:
                    location = resp.headers.get("location")
                    if not location:
                        raise PlatformError(f"Slack redirected the download of {name} nowhere")
                    url = urljoin(url, location)
                    continue
                if resp.status_code != 200:
                    raise PlatformError(f"Slack answered {resp.status_code} for {name}")
                return await self._read_capped(resp, name)
        raise PlatformError(f"too many redirects downloading {name}")

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.hostname not in self._hosts or parts.scheme not in ("https", "http"):
            # Never send the bot token anywhere but Slack's own file host.
            raise PlatformError(f"refusing to download from {parts.hostname!r}")

    async def _read_capped(self, resp: httpx.Response, name: str) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self._max_bytes:
            raise ImageRejected(
                f"{name} is {_mb(int(declared))}; the limit is {_mb(self._max_bytes)}."
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > self._max_bytes:
                # Leaving the stream context closes the connection: the rest is never read.
                raise ImageRejected(f"{name} is larger than the {_mb(self._max_bytes)} limit.")
            chunks.append(chunk)
        return b"".join(chunks)
