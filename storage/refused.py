"""Edits a budget refused, kept (cancelled, nothing reserved) so that a button can run a
cheaper variant of one, once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobStatus, JobWithInputs
from storage.models import Job
from storage.queue import cancel, enqueue
from storage.sql import rowcount, table_of

REFUSED = "budget refused"
"""The error of a job a budget refused (queue_edit's refusal, or a refused Confirm)."""
RAN_CHEAPER = "budget refused; ran cheaper"
"""The error of a refused job once a press ran a cheaper variant of it."""

_jobs = table_of(Job)


async def keep_refused(
    session: AsyncSession, jobs: Sequence[JobWithInputs], *, now: datetime
) -> None:
    """Store `jobs` (awaiting_confirm specs) with their inputs as cancelled, refused rows."""
    await enqueue(session, jobs)
    for job in jobs:
        await cancel(session, job_id=job.spec.id, error=REFUSED, now=now)


async def claim_refused(session: AsyncSession, *, job_id: str, now: datetime) -> bool:
    """Mark a refused job as run cheaper: True only for the one call that did, across
    processes (a second press, or one already run, gets False)."""
    result = await session.exec(
        update(_jobs)
        .where(
            _jobs.c.id == job_id, _jobs.c.status == JobStatus.CANCELLED, _jobs.c.error == REFUSED
        )
        .values(error=RAN_CHEAPER, updated_at=now)
    )
    return rowcount(result) == 1
