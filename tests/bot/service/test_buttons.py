"""Buttons under a result: retry (a new sample) and high quality make new, paid jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from bot.core.jobs import JobStatus
from bot.core.ports import Action
from bot.service.buttons import STILL_RUNNING, UNKNOWN_JOB
from storage.db import Sessions, write_session
from storage.job_rows import spec_of_row
from storage.models import Job, LedgerKind
from storage.sql import table_of
from tests.kit.rig import Rig, images, make_rig


@pytest.fixture
def rig(sessions: Sessions, tmp_path: Path) -> Rig:
    return make_rig(sessions=sessions, tmp_path=tmp_path)


async def _finished_job(rig: Rig, text: str = "make it blue aspect=4:5 quality=low") -> Job:
    await rig.submit(text, *images((250, 0, 0)))
    [job] = await rig.jobs()
    jobs = table_of(Job)
    async with write_session(rig.sessions) as session:
        await session.exec(
            update(jobs).where(jobs.c.id == job.id).values(status=JobStatus.SUCCEEDED)
        )
    return job


async def test_retry_makes_a_new_job_with_the_same_inputs_and_options(rig: Rig) -> None:
    first = await _finished_job(rig)
    await rig.press(Action.RETRY, first.id, user="U2", thread="msg-1")
    jobs = await rig.jobs()
    assert len(jobs) == 2
    retry = jobs[1]
    assert retry.parent_job_id == first.id and retry.status is JobStatus.QUEUED
    assert spec_of_row(retry).options == spec_of_row(first).options
    assert retry.prompt == first.prompt and retry.thread == "msg-1"
    assert [i.sha256 for i in await rig.inputs(retry.id)] == [
        i.sha256 for i in await rig.inputs(first.id)
    ]
    # Reserved again, for the person who pressed.
    reserve = [r for r in await rig.ledger() if r.job_id == retry.id]
    assert [(r.kind, r.user, r.amount_micros) for r in reserve] == [
        (LedgerKind.RESERVE, "U2", retry.estimate_micros)
    ]
    assert rig.wakes == [1, 1]


async def test_high_quality_is_the_same_edit_at_quality_high(rig: Rig) -> None:
    first = await _finished_job(rig)
    await rig.press(Action.HIGH_QUALITY, first.id, thread="msg-1")
    hq = (await rig.jobs())[1]
    assert spec_of_row(hq).options.quality.value == "high"
    assert spec_of_row(hq).options.aspect == spec_of_row(first).options.aspect == "4:5"
    assert hq.estimate_micros > first.estimate_micros


async def test_high_quality_above_the_threshold_asks_first(rig: Rig) -> None:
    first = await _finished_job(rig, "make it blue quality=low n=4")
    await rig.press(Action.HIGH_QUALITY, first.id, thread="msg-1")
    hq = (await rig.jobs())[1]
    assert hq.status is JobStatus.AWAITING_CONFIRM
    assert [b.action for b in rig.chat.messages[-1].actions] == [Action.CONFIRM, Action.CANCEL]


async def test_unknown_job_and_unfinished_job(rig: Rig) -> None:
    await rig.press(Action.RETRY, "0" * 32, thread="msg-1")
    assert rig.texts()[-1] == UNKNOWN_JOB
    await rig.submit("make it blue", *images((250, 0, 0)))
    [job] = await rig.jobs()
    await rig.press(Action.RETRY, job.id, thread="msg-1")
    assert rig.texts()[-1] == STILL_RUNNING
    assert len(await rig.jobs()) == 1


async def test_a_job_from_another_channel_is_unknown_here(rig: Rig) -> None:
    first = await _finished_job(rig)

    from bot.core.domain import Place
    from bot.core.ports import ActionPress

    elsewhere = Place(platform="slack", workspace="T1", channel="C2", user="U1")
    await rig.service.press(
        ActionPress(action=Action.RETRY, job_id=first.id, place=elsewhere, event_key="x")
    )
    assert rig.chat.messages[-1].text == UNKNOWN_JOB
    assert rig.chat.messages[-1].ref.place == elsewhere
    assert len(await rig.jobs()) == 1
