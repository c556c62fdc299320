"""The whole thread flow through EditService, the Worker and the provider emulator:
edit -> v1, refine -> v2, `v1 ...` -> v3 built on v1, undo -> v2, versions, compare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.core.domain import Attachment, Place
from bot.core.jobs import JobStatus
from bot.core.messages import undo_done
from storage.db import Sessions
from storage.models import LedgerKind
from tests.kit.core import openai_provider
from tests.kit.emulator import ProviderEmulator
from tests.kit.rig import CHANNEL, Rig, images, make_rig
from tests.kit.workers import read_ledger

THREAD = replace(CHANNEL, thread="msg-1")
CHEAP = "quality=low size=1024x640"  # the smallest output: little emulator Pillow work


@pytest.fixture
async def client() -> AsyncIterator[tuple[ProviderEmulator, httpx.AsyncClient]]:
    emu = ProviderEmulator()
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as c:
        yield emu, c


async def test_edit_refine_branch_undo_versions_compare(
    sessions: Sessions, tmp_path: Path, client: tuple[ProviderEmulator, httpx.AsyncClient]
) -> None:
    emu, http = client
    rig: Rig = make_rig(
        sessions=sessions,
        tmp_path=tmp_path,
        provider=openai_provider(http, "http://emulator"),
        concurrency=2,
    )
    worker = rig.worker

    async def step(text: str, *files: Attachment, place: Place = THREAD) -> None:
        await rig.submit(text, *files, place=place)
        await worker.drain()

    await step(f"put it on a beach {CHEAP}", *images((250, 0, 0)), place=CHANNEL)
    await step(f"add a hat {CHEAP}")
    await step(f"v1 make the hat red {CHEAP}")
    jobs = await rig.jobs()
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 3
    assert [(j.base_version, j.version) for j in jobs] == [(None, 1), (1, 2), (1, 3)]
    results = rig.chat.results("msg-1")
    assert [r.text.split(" · ")[0] for r in results] == ["v1", "v2", "v3"]
    # What is left counts what each version cost.
    assert "$19.9" in results[0].text, results[0].text

    # What the provider received for v2 and v3 is exactly the stored v1 image.
    sent = [r.files[0].data for r in emu.routes("openai_edit")]
    v1_bytes = results[0].images[0].data  # what the chat showed as v1
    assert sent[1] == sent[2] == v1_bytes != sent[0]
    assert [(await rig.blobs.get(i.sha256)) for i in await rig.inputs(jobs[2].id)] == [sent[2]]

    free_from = len(await rig.ledger())
    await rig.submit("undo", place=THREAD)
    assert rig.texts()[-1] == undo_done(2)
    await rig.submit("versions", place=THREAD)
    sheet = rig.chat.results("msg-1")[-1]
    assert sheet.text.startswith("3 versions; v2 is current.")
    await rig.submit("compare", place=THREAD)
    side_by_side = rig.chat.results("msg-1")[-1]
    assert side_by_side.text.startswith("v1 (left) and v2 (right)")
    assert side_by_side.images[0].width > side_by_side.images[0].height

    # Refining now builds on v2 (the current one after undo) and becomes v4.
    await step(f"make it night {CHEAP}")
    last = (await rig.jobs())[-1]
    assert (last.base_version, last.version, last.status) == (2, 4, JobStatus.SUCCEEDED)

    # Money: the free commands wrote nothing; every job reserved and settled once.
    ledger = await rig.ledger()
    assert len(ledger) == free_from + 2
    assert sorted(r.kind for r in ledger).count(LedgerKind.SETTLE) == 4
    totals = await read_ledger(sessions, CHANNEL.scope)
    assert totals.reserved == 0 and totals.spent == sum(totals.settled.values()) > 0
