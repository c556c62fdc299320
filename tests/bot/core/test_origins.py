"""The download rules both adapters keep: exact origins, and reading within a cap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.origins import off_origin, origin, read_capped, redirect_target

ALLOWED = {("https", "files.slack.com", 443), ("http", "127.0.0.1", 8080)}


def test_an_origin_is_scheme_host_and_port_with_default_ports_made_explicit() -> None:
    assert origin("https://Files.Slack.com/x") == ("https", "files.slack.com", 443)
    assert origin("http://127.0.0.1:8080/a?b") == ("http", "127.0.0.1", 8080)
    assert origin("ftp://files.slack.com/x") is None
    assert origin("https://host:notaport/") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://files.slack.com/x",  # plain http to the right host
        "https://files.slack.com:8443/x",  # another port of the right host
        "http://127.0.0.1:8081/x",  # another port of the configured origin
        "https://files.slack.com.evil.example/x",
    ],
)
def test_only_the_exact_origins_may_be_fetched(url: str) -> None:
    assert off_origin(url, ALLOWED) is not None
    assert off_origin("https://files.slack.com/files-pri/T1-F1/a.png", ALLOWED) is None
    assert off_origin("http://127.0.0.1:8080/f", ALLOWED) is None


def test_a_relative_redirect_resolves_against_the_url_it_came_from() -> None:
    assert redirect_target("http://127.0.0.1:8080/a/b", "/c") == "http://127.0.0.1:8080/c"
    assert redirect_target("http://127.0.0.1:8080/a", "http://127.0.0.1:9/x") == (
        "http://127.0.0.1:9/x"
    )
    assert redirect_target("http://127.0.0.1:8080/a", None) is None


async def _chunks(sizes: list[int], read: list[int]) -> AsyncIterator[bytes]:
    for i, size in enumerate(sizes):
        read.append(i)
        yield bytes([i]) * size


async def test_reading_stops_at_the_first_chunk_past_the_limit() -> None:
    read: list[int] = []
    with pytest.raises(ValueError, match="15"):
        await read_capped(
            _chunks([5, 5, 5, 5], read), limit=12, too_large=lambda n: ValueError(str(n))
        )
    assert read == [0, 1, 2]  # the fourth chunk was never asked for
    assert await read_capped(_chunks([2, 3], []), limit=5, too_large=ValueError) == (
        b"\x00\x00\x01\x01\x01"
    )
