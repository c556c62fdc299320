"""Malformed POST /slack/events into the real AsyncApp over HTTP: 400 or 401, one line, no 500."""

from __future__ import annotations

import logging

import pytest

from tests.kit.slack.harness import SECRET, event_callback, mention, signed_headers, slack_harness

OURS = ("adapters", "slack_bolt", "aiohttp.server")
"""Loggers of the app itself (httpx and aiohttp.access log every request at INFO)."""

CASES = [
    # (what, body, headers, expected status)
    ("signed, not JSON", "not json", signed_headers("not json"), 400),
    ("unsigned, not JSON", "not json", {"content-type": "application/json"}, 401),
    (
        "timestamp not a number",
        "{}",
        {"x-slack-request-timestamp": "abc", "x-slack-signature": "v0=00"},
        401,
    ),
    (
        "signed form whose payload is not JSON",
        "payload=%7Bnope",
        signed_headers("payload=%7Bnope", content_type="application/x-www-form-urlencoded"),
        400,
    ),
    (
        "bad signature",
        "{}",
        {**signed_headers("{}", secret="wrong"), "x-slack-signature": "v0=0"},
        401,
    ),
    ("no headers at all", "{}", {}, 401),
    ("signed JSON that is not an object", "[1, 2]", signed_headers("[1, 2]"), 400),
    ("not UTF-8", b"\xff\xfe{}", signed_headers("{}"), 400),
]


@pytest.mark.parametrize(("what", "body", "headers", "status"), CASES, ids=[c[0] for c in CASES])
async def test_a_malformed_request_is_answered_without_a_500_or_a_traceback(
    what: str,
    body: str | bytes,
    headers: dict[str, str],
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with slack_harness() as h:
        resp = await h.http.post(h.url + "/slack/events", content=body, headers=headers)

        assert resp.status_code == status, what
        assert h.service.accepted == []
        # One line, and never a traceback or an ERROR.
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        said = [
            r
            for r in caplog.records
            if r.name.startswith(("adapters", "slack_bolt", "aiohttp.server"))
        ]
        assert len(said) == 1, [r.getMessage() for r in said]


async def test_a_well_formed_signed_event_still_goes_through() -> None:
    async with slack_harness() as h:
        body = event_callback(mention("make it blue"))
        resp = await h.post(body)
        assert resp.status_code == 200
        await h.api.wait_for(lambda: len(h.service.accepted) == 1)
        assert SECRET  # signed with the harness's secret
