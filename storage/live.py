"""The head of the queue as its status messages show it: who is how many places from a worker."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobSpec, JobStatus
from storage.job_rows import spec_of_row
from storage.models import Job


async def queue_head(session: AsyncSession, *, limit: int) -> list[tuple[JobSpec, int]]:
    """The first `limit` queued jobs in claim order, each with how many are ahead of it.

    The order is storage.claims.claim's (fair_seq, created_at, id), so the count is what
    storage.queue.jobs_ahead says of each job.
    """
    rows = await session.exec(
        select(Job)
        .where(col(Job.status) == JobStatus.QUEUED)
        .order_by(col(Job.fair_seq), col(Job.created_at), col(Job.id))
        .limit(limit)
    )
    return [(spec_of_row(row), ahead) for ahead, row in enumerate(rows.all())]
