"""The durable job queue: enqueue, claim with a lease, renew, finish, deliver once.

Claims (storage.claims) are leases: the owner renews them, finishes the job or releases it,
and a job whose lease expired (its worker died) is claimed again with attempts + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import FINISHED, JobSpec, JobStatus, JobWithInputs
from storage.columns import utcnow
from storage.direct import prebuilt
from storage.images import add_inputs
from storage.job_rows import row_of, spec_of_row
from storage.models import Job
from storage.sql import rowcount, run, table_of

CONFIRM_TIMEOUT = timedelta(minutes=10)
_jobs = table_of(Job)


async def enqueue(session: AsyncSession, jobs: Sequence[JobWithInputs]) -> None:
    """Add jobs and their input images; queued ones get fair_seq = jobs already queued in
    their scope (+ batch index).

    Claims order by fair_seq, so a channel's batch of 40 takes turns with other channels'
    single edits instead of going first.
    """
    counts: dict[str, int] = {}
    for job in jobs:
        row = row_of(job.spec)
        if row.status is JobStatus.QUEUED:
            if row.scope not in counts:
                counts[row.scope] = await _queued_in_scope(session, row.scope)
            row.fair_seq = counts[row.scope]
            counts[row.scope] += 1
        session.add(row)
    await session.flush()
    for job in jobs:
        await add_inputs(session, job_id=job.spec.id, inputs=job.inputs, mask=job.mask)


async def confirm(session: AsyncSession, *, job_id: str, now: datetime | None = None) -> bool:
    """Move a job from awaiting_confirm to queued; False if it was not waiting (any more)."""
    job = await session.get(Job, job_id)
    if job is None:
        return False
    seq = await _queued_in_scope(session, job.scope)
    result = await session.exec(
        update(_jobs)
        .where(_jobs.c.id == job_id, _jobs.c.status == JobStatus.AWAITING_CONFIRM)
        .values(status=JobStatus.QUEUED, fair_seq=seq, updated_at=now or utcnow())
    )
    return rowcount(result) == 1


async def cancel(
    session: AsyncSession, *, job_id: str, error: str | None = None, now: datetime | None = None
) -> bool:
    """Cancel a job that has not started (awaiting_confirm or queued); False otherwise."""
    now = now or utcnow()
    result = await session.exec(
        update(_jobs)
        .where(
            _jobs.c.id == job_id,
            _jobs.c.status.in_([JobStatus.AWAITING_CONFIRM, JobStatus.QUEUED]),
        )
        .values(status=JobStatus.CANCELLED, error=error, finished_at=now, updated_at=now)
    )
    return rowcount(result) == 1


async def expire_unconfirmed(
    session: AsyncSession, *, now: datetime | None = None, older_than: timedelta = CONFIRM_TIMEOUT
) -> list[JobSpec]:
    """Cancel awaiting_confirm jobs created before now - older_than; return them."""
    now = now or utcnow()
    result = await session.exec(
        update(_jobs)
        .where(
            _jobs.c.status == JobStatus.AWAITING_CONFIRM,
            _jobs.c.created_at < now - older_than,
        )
        .values(status=JobStatus.CANCELLED, finished_at=now, updated_at=now)
        .returning(_jobs.c.id)
    )
    ids = [row[0] for row in result.all()]
    if not ids:
        return []
    rows = await session.exec(select(Job).where(_jobs.c.id.in_(ids)))
    return [spec_of_row(job) for job in rows.all()]


_FINISH = prebuilt(
    update(_jobs).where(
        _jobs.c.id == bindparam("b_id"),
        _jobs.c.lease_owner == bindparam("b_owner"),
        _jobs.c.status == JobStatus.RUNNING,
    )
)


async def renew(
    session: AsyncSession, *, job_id: str, owner: str, lease_s: float, now: datetime | None = None
) -> bool:
    """Extend `owner`'s lease on a running job; False if the lease was lost."""
    now = now or utcnow()
    result = await session.exec(
        update(_jobs)
        .where(*_held(job_id, owner))
        .values(lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
    )
    return rowcount(result) == 1


async def set_provider_task(
    session: AsyncSession, *, job_id: str, owner: str, task_id: str
) -> bool:
    """Record the provider's task id (so a restart resumes polling); False if the lease was lost."""
    result = await session.exec(
        update(_jobs).where(*_held(job_id, owner)).values(provider_task_id=task_id)
    )
    return rowcount(result) == 1


async def finish(
    session: AsyncSession,
    *,
    job_id: str,
    owner: str,
    status: JobStatus,
    cost_micros: int | None = None,
    error: str | None = None,
    version: int | None = None,
    delivered: bool = False,
    also: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> bool:
    """End a running job if `owner` still holds its lease; False (nothing written) otherwise.

    `delivered` marks it delivered by `owner` in the same statement (the caller posts it right
    after the commit and confirms the post, see bot.jobs.delivery); `also` sets further
    columns (the thread a result went to).
    """
    if status not in FINISHED:
        raise ValueError(f"{status} is not a final status")
    now = now or utcnow()
    values: dict[str, object] = {
        **(also or {}),
        "status": status,
        "error": error,
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
    }
    if delivered:
        values["delivered_at"] = now
        values["delivering_by"] = owner
    if cost_micros is not None:
        values["cost_micros"] = cost_micros
    if version is not None:
        values["version"] = version
    # The SET clause comes from the parameters' keys; the WHERE's names cannot clash.
    result = await run(session, _FINISH, {**values, "b_id": job_id, "b_owner": owner})
    return rowcount(result) == 1


async def release(
    session: AsyncSession,
    *,
    job_id: str,
    owner: str,
    keep_attempt: bool = False,
    now: datetime | None = None,
) -> bool:
    """Give a running job back to the queue (graceful shutdown); False if the lease was lost.

    The claim is taken back too: only claims that ended without a release (the worker died)
    count towards the job's attempts, unless `keep_attempt` (it was cut short at the provider,
    which bills it: a lost attempt, see storage.lost).
    """
    now = now or utcnow()
    result = await session.exec(
        update(_jobs)
        .where(*_held(job_id, owner))
        .values(
            status=JobStatus.QUEUED,
            lease_owner=None,
            lease_expires_at=None,
            attempts=_jobs.c.attempts - (0 if keep_attempt else 1),
            updated_at=now,
        )
    )
    return rowcount(result) == 1


async def expire_leases_of(
    session: AsyncSession, *, owners: Sequence[str], now: datetime | None = None
) -> int:
    """End the leases `owners` (dead processes) hold, so the next claim takes their jobs at
    once instead of when the leases run out; how many jobs were freed."""
    if not owners:
        return 0
    now = now or utcnow()
    result = await session.exec(
        update(_jobs)
        .where(
            _jobs.c.status == JobStatus.RUNNING,
            _jobs.c.lease_owner.in_(list(owners)),
            _jobs.c.lease_expires_at >= now,
        )
        .values(lease_expires_at=now - timedelta(seconds=1), updated_at=now)
    )
    return rowcount(result)


async def mark_delivered(
    session: AsyncSession, *, job_id: str, owner: str | None = None, now: datetime | None = None
) -> bool:
    """Set delivered_at once, with `owner` as the one delivering (storage.deliveries); True
    only for the call that set it (deliver exactly then)."""
    values: dict[str, object] = {"delivered_at": now or utcnow()}
    if owner is not None:
        values["delivering_by"] = owner
    result = await session.exec(
        update(_jobs)
        .where(_jobs.c.id == job_id, _jobs.c.delivered_at.is_(None), _jobs.c.posted_at.is_(None))
        .values(values)
    )
    return rowcount(result) == 1


async def unmark_delivered(session: AsyncSession, *, job_id: str) -> None:
    """Take a delivery mark back (the post failed), so the sweep tries again; `delivering_by`
    stays, saying the next attempt must first look whether the post landed after all."""
    await session.exec(
        update(_jobs)
        .where(_jobs.c.id == job_id, _jobs.c.posted_at.is_(None))
        .values(delivered_at=None)
    )


async def undelivered(
    session: AsyncSession,
    *,
    since: datetime,
    platforms: Sequence[str] | None = None,
    limit: int = 100,
) -> list[str]:
    """Ids of jobs that finished (succeeded or failed) since `since` and were not delivered,
    oldest first; only those of `platforms` when given."""
    where = [
        _jobs.c.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
        _jobs.c.delivered_at.is_(None),
        _jobs.c.posted_at.is_(None),
        _jobs.c.finished_at >= since,
    ]
    if platforms is not None:
        where.append(_jobs.c.platform.in_(list(platforms)))
    rows = await session.exec(
        select(_jobs.c.id).where(*where).order_by(_jobs.c.finished_at).limit(limit)
    )
    return [str(job_id) for job_id in rows.all()]


async def set_status_message(
    session: AsyncSession, *, job_ids: Sequence[str], message_id: str
) -> None:
    """Remember the status message to update as the jobs move on."""
    await session.exec(
        update(_jobs).where(_jobs.c.id.in_(list(job_ids))).values(status_message_id=message_id)
    )


async def batch_of(session: AsyncSession, job: JobSpec) -> list[JobSpec]:
    """The job and the others of its mode=each batch (they confirm and cancel together),
    fresh from the database, oldest first."""
    if job.batch_id is None:
        fresh = await get_job(session, job.id)
        return [fresh] if fresh is not None else []
    rows = await session.exec(
        select(Job)
        .where(_jobs.c.batch_id == job.batch_id)
        .order_by(_jobs.c.created_at, _jobs.c.id)
        .execution_options(populate_existing=True)
    )
    return [spec_of_row(row) for row in rows.all()]


async def jobs_ahead(session: AsyncSession, *, job_id: str) -> int:
    """Queued jobs that will be claimed before this one (for "queued (N ahead)")."""
    job = await session.get(Job, job_id)
    if job is None or job.status is not JobStatus.QUEUED:
        return 0
    seq, created = _jobs.c.fair_seq, _jobs.c.created_at
    before = or_(
        seq < job.fair_seq,
        and_(seq == job.fair_seq, created < job.created_at),
        and_(seq == job.fair_seq, created == job.created_at, _jobs.c.id < job.id),
    )
    count = await session.exec(
        select(func.count()).select_from(_jobs).where(_jobs.c.status == JobStatus.QUEUED, before)
    )
    return int(count.one())


async def get_job(session: AsyncSession, job_id: str) -> JobSpec | None:
    """A job by id, fresh from the database."""
    row = await session.get(Job, job_id, populate_existing=True)
    return None if row is None else spec_of_row(row)


async def _queued_in_scope(session: AsyncSession, scope: str) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(_jobs)
        .where(_jobs.c.scope == scope, _jobs.c.status == JobStatus.QUEUED)
    )
    return int(count.one())


def _held(job_id: str, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (
        _jobs.c.id == job_id,
        _jobs.c.lease_owner == owner,
        _jobs.c.status == JobStatus.RUNNING,
    )
