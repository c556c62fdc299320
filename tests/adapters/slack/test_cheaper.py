"""A budget refusal's buttons run a cheaper edit, through the real AsyncApp and the real core.

Signed requests go into the real Bolt app; the fake Web API records who could see what
(chat.postMessage in the channel, chat.postEphemeral for one person), the provider emulator
what was asked of the provider, and the database what was charged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.core.jobs import JobStatus
from storage.columns import utcnow
from storage.models import Job, LedgerEntry, LedgerKind
from tests.adapters.slack.test_budget_privacy import ADMIN, MAYA, OMAR, World, world
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.harness import CHANNEL, button_press, event_callback, file_object, mention

TS = "1699999999.000100"
# quality=high (~$0.22) does not fit $0.10; quality=medium (~$0.083) and low (~$0.043) do.
CAP_USD = "0.10"


@dataclass
class Clock:
    """The core's clock, moved by hand (past the 5 s in which a repeat press does nothing)."""

    ahead: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.ahead


@dataclass
class Refused:
    """A world in which Maya's quality=high edit was just refused, with its buttons."""

    w: World
    emu: ProviderEmulator
    clock: Clock
    message: dict[str, Any]
    buttons: list[dict[str, Any]]


@pytest.fixture
async def refused(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Refused]:
    emu, clock = ProviderEmulator(), Clock()
    async with world(
        sqlite_url, tmp_path, emu=emu, clock=clock, EDITBOT_DEFAULT_BUDGET_USD=CAP_USD
    ) as w:
        w.h.api.files["photo.png"] = split((320, 256))
        event = mention(
            "make it blue quality=high", ts=TS, files=[file_object(w.h.api, "photo.png")]
        )
        event["user"] = MAYA
        assert (await w.h.post(event_callback(event, event_id="EvHigh"))).status_code == 200
        await w.h.api.wait_calls("chat.postMessage")
        [message] = [m for m in w.h.api.threads[(CHANNEL, TS)] if m.get("blocks")]
        [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
        yield Refused(w, emu, clock, message, actions["elements"])


def press_payload(user: str, button: dict[str, Any], *, message_ts: str, n: int) -> dict:
    """A block_actions payload: `user` pressed `button` on the message at `message_ts`."""
    return button_press(
        button["action_id"], button["value"], user=user, message_ts=message_ts, action_ts=f"8.{n}"
    )


async def press(r: Refused, user: str, index: int, *, n: int) -> None:
    """`user` presses the refusal's button `index` (1-based)."""
    payload = press_payload(user, r.buttons[index - 1], message_ts=r.message["ts"], n=n)
    assert (await r.w.h.interact(payload)).status_code == 200


def marks(r: Refused) -> list[dict[str, Any]]:
    """chat.update calls on the refusal message (what a press said it does)."""
    return [a for a in r.w.h.api.named("chat.update") if a["ts"] == r.message["ts"]]


async def rows(w: World) -> tuple[list[Job], list[LedgerEntry]]:
    async with w.sessions() as session:
        jobs = (await session.exec(select(Job).order_by(Job.created_at))).all()
        ledger = (await session.exec(select(LedgerEntry))).all()
    return list(jobs), list(ledger)


def ephemerals_to(w: World, user: str) -> list[str]:
    return [str(a["text"]) for a in w.h.api.named("chat.postEphemeral") if a["user"] == user]


async def test_a_refusal_offers_a_button_per_cheaper_edit_that_fits_and_charges_nothing(
    refused: Refused,
) -> None:
    r = refused
    [said] = r.w.h.api.named("chat.postMessage")
    assert (said["channel"], said["thread_ts"]) == (CHANNEL, TS)  # in the request's thread
    assert "Not run" in str(said["text"]) and "Nothing was charged" in str(said["text"])
    labels = [b["text"]["text"] for b in r.buttons]
    assert labels == ["Run at quality=medium ~$0.083", "Run at quality=low ~$0.043"]
    assert [b["action_id"] for b in r.buttons] == ["editbot:cheaper:1", "editbot:cheaper:2"]
    jobs, ledger = await rows(r.w)
    # The request is kept to be run, not queued: nothing reserved, nothing asked of the provider.
    assert [(j.status, j.error) for j in jobs] == [(JobStatus.CANCELLED, "budget refused")]
    assert {b["value"] for b in r.buttons} == {jobs[0].id}
    assert ledger == [] and r.emu.requests == []


async def test_pressing_runs_the_cheaper_edit_once_and_charges_only_it(refused: Refused) -> None:
    r = refused
    await press(r, MAYA, 2, n=1)
    await r.w.h.api.wait_for(lambda: len(marks(r)) == 1)  # after the job was queued
    await r.w.core.worker.drain()
    await r.w.h.api.wait_for(lambda: len(r.w.h.api.uploads) == 1)
    [call] = r.emu.routes("openai_edit")
    assert call.fields["quality"] == "low"  # the variant pressed, not the refused high
    [upload] = r.w.h.api.uploads
    assert (upload.channel, upload.thread_ts) == (CHANNEL, TS)
    [mark] = marks(r)
    assert mark["text"] == "Running at quality=low..."
    blocks = json.loads(mark["blocks"]) if isinstance(mark["blocks"], str) else mark["blocks"]
    assert all(b["type"] != "actions" for b in blocks)  # the buttons gave way to the note

    # Again after the repeat window, and the other button: said privately, nothing paid.
    r.clock.ahead = timedelta(seconds=30)
    await press(r, MAYA, 2, n=2)
    await press(r, MAYA, 1, n=3)
    await r.w.h.api.wait_for(lambda: len(ephemerals_to(r.w, MAYA)) == 2)
    await r.w.core.worker.drain()
    assert all("already ran" in text for text in ephemerals_to(r.w, MAYA))
    assert len(r.emu.routes("openai_edit")) == 1 and len(r.w.h.api.uploads) == 1

    refused_job, cheaper = (await rows(r.w))[0]
    assert refused_job.error == "budget refused; ran cheaper"
    assert cheaper.parent_job_id == refused_job.id and cheaper.user == MAYA
    assert cheaper.status is JobStatus.SUCCEEDED and cheaper.cost_micros
    _, ledger = await rows(r.w)
    assert {e.job_id for e in ledger} == {cheaper.id}
    settled = [e for e in ledger if e.kind == LedgerKind.SETTLE]
    assert sum(e.amount_micros for e in settled) == cheaper.cost_micros


async def test_a_strangers_press_is_answered_privately_by_name_and_runs_nothing(
    refused: Refused,
) -> None:
    r = refused
    public = len(r.w.h.api.named("chat.postMessage"))
    await press(r, OMAR, 2, n=1)
    await r.w.h.api.wait_for(lambda: len(ephemerals_to(r.w, OMAR)) == 1)
    await r.w.core.worker.drain()
    [told] = ephemerals_to(r.w, OMAR)
    assert "Only Maya" in told and "<@" not in told  # a name, never a ping
    assert ephemerals_to(r.w, MAYA) == []
    assert len(r.w.h.api.named("chat.postMessage")) == public
    assert marks(r) == []
    jobs, ledger = await rows(r.w)
    assert [j.error for j in jobs] == ["budget refused"] and ledger == []
    assert r.emu.requests == []


async def test_the_requester_and_an_admin_pressing_at_once_run_it_once(refused: Refused) -> None:
    r = refused
    await asyncio.gather(press(r, MAYA, 2, n=1), press(r, ADMIN, 1, n=2))
    said = lambda: ephemerals_to(r.w, MAYA) + ephemerals_to(r.w, ADMIN)  # noqa: E731
    await r.w.h.api.wait_for(lambda: len(marks(r)) == 1 and len(said()) == 1)
    await r.w.core.worker.drain()
    await r.w.h.api.wait_for(lambda: len(r.w.h.api.uploads) == 1)
    [told] = said()
    assert "already ran" in told
    assert len(r.emu.routes("openai_edit")) == 1
    jobs, _ = await rows(r.w)
    [ran] = [j for j in jobs if j.status is JobStatus.SUCCEEDED]
    assert ran.user == MAYA  # the requester's edit, whoever pressed
