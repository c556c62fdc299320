"""End to end: a Slack mention through the real EditService and Worker, the emulator as provider."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlmodel import select

from storage.models import Job, LedgerEntry
from tests.kit.slack.e2e import PHOTO, real_slack
from tests.kit.slack.harness import CHANNEL, event_callback, file_object, mention

TS = "1699999999.000100"


async def test_mention_is_edited_by_the_real_core_and_lands_in_the_thread(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with real_slack(sqlite_url, tmp_path) as w:
        h = w.h
        body = event_callback(
            mention("make it blue quality=low", files=[file_object(h.api, PHOTO)])
        )
        assert (await h.post(body)).status_code == 200
        assert (await h.post(body, headers={"x-slack-retry-num": "1"})).status_code == 200
        await h.api.wait_calls("chat.postMessage")
        assert len(w.cores) == 1  # the worker the composition root built beside the service
        await h.api.wait_for(lambda: h.api.download_requests != [])
        await w.drain()
        await h.api.wait_for(lambda: len(h.api.uploads) >= 1)
        [up] = h.api.uploads
        assert (up.channel, up.thread_ts) == (CHANNEL, TS)
        assert up.alt_txt and "make it blue" in up.alt_txt
        assert Image.open(io.BytesIO(up.data)).size[0] > 0
        # The caption and buttons are the file share's blocks (one message per edit).
        assert up.blocks and "v1" in up.blocks[0]["text"]["text"]
        assert len(w.emu.routes("openai_edit")) == 1


async def test_a_mention_past_the_budget_is_refused_in_the_thread_and_charges_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    # A cap below any edit's estimate: no cheaper edit fits either.
    async with real_slack(sqlite_url, tmp_path, EDITBOT_DEFAULT_BUDGET_USD="0.001") as w:
        h = w.h
        body = event_callback(mention("make it blue", files=[file_object(h.api, PHOTO)]))
        assert (await h.post(body)).status_code == 200
        await h.api.wait_calls("chat.postMessage")
        [said] = h.api.named("chat.postMessage")
        assert (said["channel"], said["thread_ts"]) == (CHANNEL, TS)
        text = str(said["text"])
        assert "$0.001 " in text and "Nothing was charged" in text
        assert "ask a workspace admin" in text  # who can raise it, in words
        assert "/edit-budget set" not in text
        assert h.api.uploads == []
        async with w.sessions() as session:
            jobs = (await session.exec(select(Job))).all()
            ledger = (await session.exec(select(LedgerEntry))).all()
        assert jobs == [] and ledger == []
        assert w.emu.routes("openai_edit") == []
