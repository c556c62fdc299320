"""Refused edits kept for their Cheaper buttons, on SQLite and PostgreSQL: stored cancelled with
their inputs, and claimed by exactly one press however many arrive at once."""

from __future__ import annotations

import asyncio

from bot.core.jobs import JobStatus, JobWithInputs, StoredImage
from storage.db import Sessions, write_session
from storage.images import job_inputs
from storage.queue import get_job
from storage.refused import RAN_CHEAPER, REFUSED, claim_refused, keep_refused
from tests.storage.test_queue import T0, make_job

PHOTO = StoredImage(sha256="ab" * 32, mime="image/png", width=320, height=256)


async def test_a_refused_job_is_kept_cancelled_with_its_inputs(sessions: Sessions) -> None:
    job = make_job("C1", 0, status=JobStatus.AWAITING_CONFIRM)
    async with write_session(sessions) as session:
        await keep_refused(session, [JobWithInputs(job, (PHOTO,))], now=T0)
    async with sessions() as session:
        kept = await get_job(session, job.id)
        inputs, mask = await job_inputs(session, job_id=job.id)
    assert kept is not None
    assert (kept.status, kept.error, kept.finished_at is not None) == (
        JobStatus.CANCELLED,
        REFUSED,
        True,
    )
    assert [i.sha256 for i in inputs] == [PHOTO.sha256] and mask is None


async def test_presses_at_once_claim_a_refused_job_once(sessions: Sessions) -> None:
    refused = make_job("C1", 0, status=JobStatus.AWAITING_CONFIRM)
    sibling = make_job("C1", 1, status=JobStatus.AWAITING_CONFIRM)
    async with write_session(sessions) as session:
        await keep_refused(session, [JobWithInputs(refused), JobWithInputs(sibling)], now=T0)

    async def press() -> bool:
        async with write_session(sessions) as session:
            return await claim_refused(session, job_id=refused.id, now=T0)

    assert sorted(await asyncio.gather(*(press() for _ in range(5)))) == [False] * 4 + [True]
    assert not await press()  # and never again
    async with sessions() as session:
        claimed, other = await get_job(session, refused.id), await get_job(session, sibling.id)
    assert claimed is not None and claimed.error == RAN_CHEAPER
    assert other is not None and other.error == REFUSED  # only the job pressed
