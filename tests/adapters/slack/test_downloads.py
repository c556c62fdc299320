"""SlackDownloader: Slack's origin only, the bot token, no off-origin redirects, a streaming cap.

The two-server tests run real local HTTP servers on two ports of 127.0.0.1: the configured
API's and another one, which must never see a request.
"""

from __future__ import annotations

import httpx
import pytest

from adapters.slack.downloads import SlackDownloader, allowed_hosts
from bot.core.errors import ImageRejected
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import TOKEN, file_object

MB = 1024 * 1024


def downloader(api: FakeSlackApi, http: httpx.AsyncClient, max_bytes: int) -> SlackDownloader:
    return SlackDownloader(
        http=http, token=TOKEN, max_bytes=max_bytes, hosts=allowed_hosts(api.api_url)
    )


def test_allowed_origins_are_slacks_file_server_and_an_overridden_api_origin() -> None:
    slack = ("https", "files.slack.com", 443)
    assert allowed_hosts("https://slack.com/api/") == frozenset({slack})
    assert allowed_hosts("http://127.0.0.1:9/api/") == frozenset({slack, ("http", "127.0.0.1", 9)})
    assert allowed_hosts("https://proxy.example/api/") == frozenset(
        {slack, ("https", "proxy.example", 443)}
    )


async def test_sixty_megabytes_are_refused_while_streaming() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        stats = api.serve_stream("huge.png", total=60 * MB)
        # The file object lies about the size (or has none): only the stream can tell.
        f = {**file_object(api, "huge.png"), "size": None}
        attachment = downloader(api, http, 50 * MB).attachment(f)
        assert attachment is not None

        with pytest.raises(ImageRejected, match="larger than the 50 MB limit"):
            await attachment.fetch()

        await stats.done.wait()
        assert stats.aborted
        assert stats.sent < stats.total


async def test_declared_size_is_refused_before_any_request() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        f = file_object(api, "big.png", size=60 * MB)
        attachment = downloader(api, http, 50 * MB).attachment(f)
        assert attachment is not None
        with pytest.raises(ImageRejected, match="60 MB"):
            await attachment.fetch()
        assert api.download_requests == []


async def test_redirect_to_another_host_is_refused_without_sending_the_token() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        api.redirects["moved.png"] = "https://evil.example/steal"
        with pytest.raises(ImageRejected, match="does not point at Slack's file server"):
            await downloader(api, http, MB).fetch(api.file_url("moved.png"), name="moved.png")
        assert [name for name, _ in api.download_requests] == ["moved.png"]


async def test_redirect_on_slacks_host_is_followed() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        api.files["real.png"] = b"\x89PNG real bytes"
        api.redirects["moved.png"] = api.file_url("real.png")
        data = await downloader(api, http, MB).fetch(api.file_url("moved.png"))
        assert data == b"\x89PNG real bytes"
        assert [name for name, _ in api.download_requests] == ["moved.png", "real.png"]


async def test_url_off_slacks_host_is_never_fetched() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        with pytest.raises(ImageRejected):
            await downloader(api, http, MB).fetch("https://example.com/a.png")


async def test_login_page_is_returned_as_bytes_for_the_core_to_judge() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        api.files["p.png"] = b"\x89PNG..."
        api.files_read_scope = False
        data = await downloader(api, http, MB).fetch(api.file_url("p.png"))
        assert data.startswith(b"<!DOCTYPE html>")


def _second_server() -> FakeSlackApi:
    """Another server on the same host, on another port; it would hand over any file."""
    return FakeSlackApi(token=TOKEN)


async def test_a_file_url_on_another_port_of_the_api_host_is_never_fetched() -> None:
    async with (
        FakeSlackApi(token=TOKEN) as api,
        _second_server() as other,
        httpx.AsyncClient() as http,
    ):
        other.files["x.png"] = b"\x89PNG other"
        assert other.file_url("x.png").startswith("http://127.0.0.1:")
        with pytest.raises(ImageRejected, match="Nothing was charged"):
            await downloader(api, http, MB).fetch(other.file_url("x.png"), name="x.png")
        assert other.download_requests == []


async def test_a_redirect_to_another_port_of_the_api_host_is_not_followed() -> None:
    async with (
        FakeSlackApi(token=TOKEN) as api,
        _second_server() as other,
        httpx.AsyncClient() as http,
    ):
        other.files["x.png"] = b"\x89PNG other"
        api.redirects["moved.png"] = other.file_url("x.png")
        with pytest.raises(ImageRejected, match="does not point at Slack's file server"):
            await downloader(api, http, MB).fetch(api.file_url("moved.png"), name="moved.png")
        assert [name for name, _ in api.download_requests] == ["moved.png"]
        assert other.download_requests == []


async def test_plain_http_is_refused_even_on_slacks_file_host() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        # Only the overridden API's own scheme is allowed besides https://files.slack.com.
        with pytest.raises(ImageRejected):
            await downloader(api, http, MB).fetch("http://files.slack.com/files-pri/T-F/a.png")
        https_api = api.file_url("a.png").replace("http://", "https://")
        with pytest.raises(ImageRejected):
            await downloader(api, http, MB).fetch(https_api)
        assert api.download_requests == []


async def test_a_file_slack_no_longer_has_is_said_in_plain_words() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        with pytest.raises(ImageRejected, match="gone.png is no longer on Slack"):
            await downloader(api, http, MB).fetch(api.file_url("gone.png"), name="gone.png")
        assert [name for name, _ in api.download_requests] == ["gone.png"]
