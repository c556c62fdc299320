"""The delivery lease of finished jobs, next to storage.queue's delivered_at mark.

A finished job is marked delivered (`delivered_at`) by the process about to post it, which
writes its heartbeat owner name into `delivering_by`; once the platform accepted the post,
`posted_at` confirms it (and `delivering_by` is cleared). A mark whose owner died before the
confirm is taken back (`release_deliveries_of`, from the heartbeat), keeping `delivering_by`:
the sweep then asks the platform whether the post landed before it posts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobStatus
from storage.columns import utcnow
from storage.direct import prebuilt
from storage.models import Job
from storage.sql import rowcount, run, table_of

_jobs = table_of(Job)


@dataclass(frozen=True)
class DeliveryState:
    """Where a finished job's delivery stands."""

    delivering_by: str | None
    """Who is posting it, or whose post was never confirmed (then it may be in the thread)."""
    posted_at: datetime | None
    """When its post was confirmed."""

    @property
    def maybe_posted(self) -> bool:
        """An earlier attempt may have posted it: look in the thread before posting."""
        return self.posted_at is None and self.delivering_by is not None


async def delivery_state(session: AsyncSession, *, job_id: str) -> DeliveryState | None:
    """The job's delivery lease as stored now; None for an unknown job."""
    rows = await session.exec(
        select(_jobs.c.delivering_by, _jobs.c.posted_at).where(_jobs.c.id == job_id)
    )
    row = rows.first()
    return None if row is None else DeliveryState(row[0], row[1])


async def confirm_posts(
    session: AsyncSession, *, job_ids: Sequence[str], now: datetime | None = None
) -> int:
    """The posts are in their threads: confirm each once (and end its lease), in one
    statement; how many were not confirmed yet. A mark taken back meanwhile (its process
    was thought dead) is set again."""
    now = now or utcnow()
    result = await run(session, _CONFIRM, {"ids": list(job_ids), "now": now})
    return rowcount(result)


_NOW = bindparam("now", type_=_jobs.c.posted_at.type)
_CONFIRM = prebuilt(
    update(_jobs)
    .where(_jobs.c.id.in_(bindparam("ids", expanding=True)), _jobs.c.posted_at.is_(None))
    .values(
        posted_at=_NOW,
        delivering_by=None,
        delivered_at=func.coalesce(_jobs.c.delivered_at, _NOW),
    )
)


async def release_deliveries_of(session: AsyncSession, *, owners: Sequence[str]) -> int:
    """Take back the unconfirmed delivery marks `owners` (dead processes) hold, so the next
    sweep delivers those jobs (after looking whether the post landed); how many."""
    if not owners:
        return 0
    result = await session.exec(
        update(_jobs)
        .where(
            _jobs.c.delivering_by.in_(list(owners)),
            _jobs.c.delivered_at.is_not(None),
            _jobs.c.posted_at.is_(None),
            _jobs.c.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
        )
        .values(delivered_at=None)
    )
    return rowcount(result)
