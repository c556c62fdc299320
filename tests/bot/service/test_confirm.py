"""Edits above EDITBOT_CONFIRM_ABOVE_USD: nothing reserved until the requester (or an admin)
confirms; cancel and 10 minutes of silence drop them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.jobs import JobStatus
from bot.core.messages import cancelled, confirm_expired, status_queued
from bot.core.ports import Action
from bot.service.buttons import NOT_WAITING, only_requester
from storage.db import Sessions
from storage.models import LedgerKind
from tests.kit.rig import Rig, images, make_rig

EXPENSIVE = "make it blue quality=high n=4"  # about $0.85 with OpenAI: above $0.50


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def _ask(rig: Rig, text: str = EXPENSIVE, colours: int = 1) -> str:
    palette = [(250, 0, 0), (0, 250, 0), (0, 0, 250)][:colours]
    await rig.submit(text, *images(*palette))
    jobs = await rig.jobs()
    assert {j.status for j in jobs} == {JobStatus.AWAITING_CONFIRM}
    return jobs[0].id


async def test_above_threshold_asks_and_reserves_nothing(rig: Rig) -> None:
    job_id = await _ask(rig)
    [question] = rig.chat.messages
    assert "Press Confirm" in question.text and "$0.50" in question.text
    assert [(b.action, b.job_id) for b in question.actions] == [
        (Action.CONFIRM, job_id),
        (Action.CANCEL, job_id),
    ]
    assert await rig.ledger() == []
    assert rig.wakes == []


async def test_a_stranger_cannot_confirm(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.press(Action.CONFIRM, job_id, user="U2", thread="msg-1")
    assert rig.texts()[-1] == only_requester("U1", "confirm")
    assert [j.status for j in await rig.jobs()] == [JobStatus.AWAITING_CONFIRM]
    assert await rig.ledger() == []


async def test_requester_confirms_then_it_is_reserved_and_queued(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    [job] = await rig.jobs()
    assert job.status is JobStatus.QUEUED
    [row] = await rig.ledger()
    assert (row.kind, row.job_id, row.amount_micros) == (
        LedgerKind.RESERVE,
        job_id,
        job.estimate_micros,
    )
    question = rig.chat.messages[0]
    assert question.text == status_queued(0) and question.actions == ()
    assert rig.wakes == [1]
    # A second press within seconds does nothing at all; a later one finds nothing waiting.
    said = len(rig.texts())
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    assert len(rig.texts()) == said
    rig.advance(timedelta(seconds=10))
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    assert rig.texts()[-1] == NOT_WAITING
    assert len(await rig.ledger()) == 1


async def test_an_admin_may_confirm(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.press(Action.CONFIRM, job_id, user="U7", platform_admin=True, thread="msg-1")
    assert [j.status for j in await rig.jobs()] == [JobStatus.QUEUED]
    # The requester pays, not the admin who confirmed.
    assert [r.user for r in await rig.ledger()] == ["U1"]


async def test_same_press_event_twice_acts_once(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.press(Action.CONFIRM, job_id, thread="msg-1", key="P1")
    count = len(rig.chat.messages)
    await rig.press(Action.CONFIRM, job_id, thread="msg-1", key="P1")
    assert len(rig.chat.messages) == count


async def test_cancel_drops_it(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.press(Action.CANCEL, job_id, thread="msg-1")
    assert [j.status for j in await rig.jobs()] == [JobStatus.CANCELLED]
    assert rig.chat.messages[0].text == cancelled()
    assert rig.chat.messages[0].actions == ()
    assert await rig.ledger() == []


async def test_silence_for_ten_minutes_expires_it(rig: Rig) -> None:
    job_id = await _ask(rig)
    rig.advance(timedelta(minutes=9))
    assert await rig.service.sweep_expired() == 0
    rig.advance(timedelta(minutes=2))
    assert await rig.service.sweep_expired() == 1
    assert [j.status for j in await rig.jobs()] == [JobStatus.CANCELLED]
    assert rig.chat.messages[0].text == confirm_expired()
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    assert rig.texts()[-1] == NOT_WAITING
    assert await rig.ledger() == []


async def test_confirm_after_the_timeout_expires_even_before_the_sweep(rig: Rig) -> None:
    job_id = await _ask(rig)
    rig.advance(timedelta(minutes=11))
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    assert [j.status for j in await rig.jobs()] == [JobStatus.CANCELLED]
    assert rig.chat.messages[0].text == confirm_expired()
    assert await rig.ledger() == []


async def test_confirm_acts_on_the_whole_batch(rig: Rig) -> None:
    job_id = await _ask(rig, "make it blue quality=high n=2 mode=each", colours=3)
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    jobs = await rig.jobs()
    assert [j.status for j in jobs] == [JobStatus.QUEUED] * 3
    assert sorted(r.job_id for r in await rig.ledger()) == sorted(j.id for j in jobs)


async def test_confirm_refused_by_the_budget_cancels_and_says_why(rig: Rig) -> None:
    job_id = await _ask(rig)
    await rig.set_cap(600_000)  # $0.60: above the threshold, below the estimate
    await rig.press(Action.CONFIRM, job_id, thread="msg-1")
    assert [j.status for j in await rig.jobs()] == [JobStatus.CANCELLED]
    assert "Not run" in rig.chat.messages[0].text
    assert await rig.ledger() == []


async def test_two_confirms_at_once_reserve_once(rig: Rig) -> None:
    job_id = await _ask(rig)
    await asyncio.gather(
        rig.press(Action.CONFIRM, job_id, thread="msg-1", key="A"),
        rig.press(Action.CONFIRM, job_id, thread="msg-1", key="B"),
    )
    assert [j.status for j in await rig.jobs()] == [JobStatus.QUEUED]
    assert len(await rig.ledger()) == 1
    assert rig.wakes == [1]
