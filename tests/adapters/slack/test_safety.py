"""Hostile text, bad files and refused downloads through the real Bolt app and the real core.

Signed requests go into editbot's AsyncApp over HTTP; the real EditService and Worker run on a
SQLite database with the provider emulator; the fake Web API records every call. Nothing sent
may ping anyone but the requester, and nothing refused may be charged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from storage.models import Job, LedgerEntry
from tests.kit.images import split
from tests.kit.slack.api import TEAM_ID, FakeSlackApi
from tests.kit.slack.e2e import SlackWorld, real_slack
from tests.kit.slack.harness import (
    CHANNEL,
    TOKEN,
    USER,
    event_callback,
    file_object,
    mention,
    slack_harness,
    view_state,
)

HOSTILE = ["<!channel>", "<!here>", "<@U999>", "@everyone", "<@&123>", "&lt;!channel&gt;"]
"""What people type (Slack sends `<` and `>` in typed text as &lt; &gt;, markup as it is)."""

# Anything Slack would read as a mention, a broadcast or a link in what editbot sends.
_MARKUP = re.compile(r"<[!@#][^>]*>|<[a-z]+:[^>]*>")


def _texts(value: Any) -> Iterator[str]:
    """Every string in a recorded call's arguments (blocks arrive as JSON text or as lists)."""
    if isinstance(value, str):
        if value.startswith(("[", "{")):
            try:
                yield from _texts(json.loads(value))
                return
            except ValueError:
                pass
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def pings(api: FakeSlackApi, *, requester: str = USER) -> list[str]:
    """Markup in anything editbot posted, other than a mention of the requester."""
    found = []
    for call in api.calls:
        if call.method.startswith(("chat.", "files.")):
            # alt_txt is plain text for screen readers: Slack reads no markup there.
            skip = ("token", "channel", "ts", "alt_txt")
            args = {k: v for k, v in call.args.items() if k not in skip}
            for text in _texts(args):
                found += [m for m in _MARKUP.findall(text) if m != f"<@{requester}>"]
    for up in api.uploads:
        for text in (up.initial_comment or "", up.title or ""):
            found += [m for m in _MARKUP.findall(text) if m != f"<@{requester}>"]
    return found


def said(api: FakeSlackApi) -> str:
    """Everything editbot said in messages, blocks and file comments, for reading."""
    parts = [
        text
        for call in api.calls
        if call.method.startswith(("chat.", "files."))
        for text in _texts({k: v for k, v in call.args.items() if k != "token"})
    ]
    parts += [up.initial_comment or "" for up in api.uploads]
    return "\n".join(parts)


class World(SlackWorld):
    async def charged(self) -> tuple[list[Job], list[LedgerEntry]]:
        async with self.sessions() as session:
            jobs = list((await session.exec(select(Job))).all())
            ledger = list((await session.exec(select(LedgerEntry))).all())
        return jobs, ledger


@asynccontextmanager
async def world(sqlite_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with real_slack(sqlite_url, tmp_path) as w:
        yield World(w.h, w.api, w.emu, w.sessions, w.cores)


async def test_hostile_prompts_file_names_and_option_values_ping_nobody(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        h = w.h
        hostile = " ".join(HOSTILE)
        h.api.files["ok.png"] = split((64, 48))
        h.api.files["<!channel> plan.png"] = b"not an image at all"
        requests = [
            # An option value echoed in its error (Slack escapes what people type).
            mention("make it blue bg=&lt;!channel&gt;", ts="1.000001"),
            # A file name echoed in its error.
            mention(
                "make it blue",
                ts="1.000002",
                files=[file_object(h.api, "<!channel> plan.png")],
            ),
            # A prompt that goes all the way: status, caption, alt text.
            mention(f"make it blue {hostile}", ts="1.000003", files=[file_object(h.api, "ok.png")]),
        ]
        for i, event in enumerate(requests):
            assert (await h.post(event_callback(event, event_id=f"Ev{i}"))).status_code == 200
        # The two mistakes are answered privately; the edit opens its thread.
        await h.api.wait_for(lambda: len(h.api.named("chat.postEphemeral")) >= 2)
        # The edit's job is queued once its status is posted (the download alone is too early:
        # a drain before the enqueue commits finds nothing to run).
        await h.api.wait_for(lambda: bool(h.api.named("chat.postMessage")))
        async with asyncio.timeout(10):
            while not (await w.charged())[0]:
                await asyncio.sleep(0.01)
        await w.core.worker.drain()
        # The result (previews are uploaded privately, with no channel).
        await h.api.wait_for(lambda: len([u for u in h.api.uploads if u.channel]) == 1)

        text = said(h.api)
        # People read what they typed, as they typed it, and nobody is pinged by it.
        assert "`bg=&lt;!channel&gt;` isn't valid" in text
        assert "&lt;!channel&gt; plan.png" in text
        # The prompt reached the result's caption, escaped; the requester is still mentioned.
        assert '"make it blue @everyone &lt;!channel&gt;" for <@U0001>' in text
        assert pings(h.api) == []


async def test_a_prompt_of_zero_width_characters_is_empty_and_charges_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with world(sqlite_url, tmp_path) as w:
        h = w.h
        h.api.files["ok.png"] = split((64, 48))
        invisible = "\u200b\u2060\ufeff\u200c\u200d\u00ad"
        event = mention(invisible, files=[file_object(h.api, "ok.png")])
        assert (await h.post(event_callback(event))).status_code == 200
        await h.api.wait_calls("chat.postEphemeral")

        [message] = h.api.named("chat.postEphemeral")
        assert h.api.named("chat.postMessage") == []
        assert "only invisible characters" in str(message["text"])
        assert "Tell me what to change" in str(message["text"])
        assert await w.charged() == ([], [])
        assert w.emu.routes("openai_edit") == []


@pytest.mark.parametrize("case", ["gone", "other port", "redirect to other port"])
async def test_a_file_that_cannot_be_downloaded_is_said_plainly_and_charges_nothing(
    case: str, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(sqlite_url, tmp_path) as w, FakeSlackApi(token=TOKEN) as other:
        h = w.h
        other.files["x.png"] = split((64, 48))
        f = file_object(h.api, "x.png")  # not on the fake Slack: a 404 there
        if case == "other port":
            f["url_private_download"] = f["url_private"] = other.file_url("x.png")
        elif case == "redirect to other port":
            h.api.redirects["x.png"] = other.file_url("x.png")
        event = mention("make it blue", files=[f])
        assert (await h.post(event_callback(event))).status_code == 200
        await h.api.wait_calls("chat.postEphemeral")

        [message] = h.api.named("chat.postEphemeral")
        assert h.api.named("chat.postMessage") == []
        text = str(message["text"])
        assert "editbot's side" not in text
        assert "Nothing was charged" in text
        if case == "gone":
            assert "x.png is no longer on Slack" in text
        else:
            assert "does not point at Slack's file server" in text
        # The other server never saw the token (or anything).
        assert other.download_requests == []
        assert await w.charged() == ([], [])
        assert w.emu.routes("openai_edit") == []
        # One WARNING line, no traceback at ERROR.
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        warned = [
            r
            for r in caplog.records
            if r.name.startswith("adapters") and r.levelno >= logging.WARNING
        ]
        assert len(warned) == 1


async def test_the_edit_modals_root_post_echoes_a_hostile_prompt_without_a_ping() -> None:
    # Typed into a modal, text arrives as it was typed: `<!channel>`, not `&lt;!channel&gt;`.
    hostile = "beige wall " + " ".join(HOSTILE)
    async with slack_harness() as h:
        assert (await h.command("/edit", hostile)).status_code == 200
        await h.api.wait_calls("views.open")
        raw = h.api.named("views.open")[-1]["view"]
        view = json.loads(raw) if isinstance(raw, str) else raw
        h.api.files["up.png"] = split((20, 40))
        state = view_state(hostile, aspect="auto", files=[file_object(h.api, "up.png")])
        submission = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": USER},
            "view": {**view, "id": "V-hostile", "state": state},
        }
        assert (await h.interact(submission)).status_code == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)

        root = h.api.named("chat.postMessage")[0]
        assert root["channel"] == CHANNEL
        # Who asked is mentioned; what they typed is shown, escaped.
        assert str(root["text"]).startswith(
            f"<@{USER}> asked for an edit: beige wall &lt;!channel&gt;"
        )
        assert pings(h.api) == []
