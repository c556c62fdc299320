"""Download private Slack files: only from Slack's file server, with the bot token, capped.

The bot token goes only to an exact origin (scheme, host and port): `https://files.slack.com`,
or the configured SLACK_API_URL's own origin when it is overridden (a proxy, or a test's local
server). A redirect is followed only onto those origins. Whatever else goes wrong is said in
plain words, as ImageRejected, naming whose problem it is; nothing has been charged yet.
"""

from __future__ import annotations

import logging

import httpx

from adapters.slack.payloads import SlackFile
from bot.core.domain import Attachment
from bot.core.errors import ImageRejected
from bot.core.origins import MAX_REDIRECTS, Origin, off_origin, origin, read_capped, redirect_target

log = logging.getLogger(__name__)

SLACK_FILE_HOST = "files.slack.com"


def allowed_hosts(api_url: str) -> frozenset[Origin]:
    """https://files.slack.com, plus SLACK_API_URL's own origin when it points elsewhere."""
    origins: set[Origin] = {("https", SLACK_FILE_HOST, 443)}
    api = origin(api_url)
    if api is not None and api != ("https", "slack.com", 443):
        origins.add(api)
    return frozenset(origins)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _refused(name: str, why: str) -> ImageRejected:
    """A download editbot will not make; the token stayed home. One WARNING line, no traceback."""
    log.warning("slack: refused to download %r: %s", name, why)
    return ImageRejected(
        f"editbot won't download {name}: its link does not point at Slack's file server. "
        "Nothing was charged. Upload the image to Slack itself and try again."
    )


def _answered(name: str, status: int) -> ImageRejected:
    """What Slack's answer means for the person, in plain words."""
    log.warning("slack: download of %r answered HTTP %d", name, status)
    if status in (404, 410):
        return ImageRejected(
            f"{name} is no longer on Slack (it was deleted, or editbot cannot see it). "
            "Nothing was charged. Attach the image again and try again."
        )
    if status in (401, 403):
        return ImageRejected(
            f"Slack refused to hand {name} to editbot (HTTP {status}). Nothing was charged. "
            "Whoever runs editbot should check that the app has the files:read scope."
        )
    return ImageRejected(
        f"Slack did not hand over {name} (HTTP {status}); that is Slack's side. "
        "Nothing was charged. Try again in a minute."
    )


class SlackDownloader:
    """Fetches `url_private_download` with the bot token; never follows a redirect off-origin."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token: str,
        max_bytes: int,
        hosts: frozenset[Origin],
    ) -> None:
        self._http = http
        self._token = token
        self._max_bytes = max_bytes
        self._origins = hosts

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
        """The file's bytes; ImageRejected (in plain words) for anything that stops it."""
        if size is not None and size > self._max_bytes:
            raise ImageRejected(f"{name} is {_mb(size)}; the limit is {_mb(self._max_bytes)}.")
        try:
            return await self._follow(url, name)
        except httpx.HTTPError as exc:
            log.warning("slack: download of %r failed: %s", name, type(exc).__name__)
            raise ImageRejected(
                f"Slack could not be reached to download {name}; that is the network's or "
                "Slack's side. Nothing was charged. Try again in a minute."
            ) from exc

    async def _follow(self, url: str, name: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            why = off_origin(url, self._origins)
            if why is not None:
                # Never send the bot token anywhere but Slack's own file server.
                raise _refused(name, why)
            headers = {"Authorization": f"Bearer {self._token}"}
            async with self._http.stream(
                "GET", url, headers=headers, follow_redirects=False
            ) as resp:
                if resp.is_redirect:
                    target = redirect_target(url, resp.headers.get("location"))
                    if target is None:
                        raise _refused(name, "a redirect without a location")
                    url = target
                    continue
                if resp.status_code != 200:
                    raise _answered(name, resp.status_code)
                return await self._read_capped(resp, name)
        raise _refused(name, f"more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, resp: httpx.Response, name: str) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self._max_bytes:
            raise ImageRejected(
                f"{name} is {_mb(int(declared))}; the limit is {_mb(self._max_bytes)}."
            )
        return await read_capped(
            resp.aiter_bytes(),
            limit=self._max_bytes,
            too_large=lambda _: ImageRejected(
                f"{name} is larger than the {_mb(self._max_bytes)} limit."
            ),
        )
