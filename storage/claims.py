"""Claims: take the next queued jobs (or ones whose lease expired) with a lease.

A claim takes the next job, or the next few for a worker with several claim loops waiting
(claim_many). On PostgreSQL it is one statement: the chosen rows locked with FOR UPDATE SKIP
LOCKED inside UPDATE ... RETURNING, and each job's input images read beside it as JSON. Being
one statement, it needs no transaction around it (the worker runs it on a connection in
autocommit, bot.jobs.writer.write_one: no BEGIN, no COMMIT, no ORM session), so a claim is one
round trip, not four (bench/bench_queue.py: a run makes about 560 claims for 1,000 jobs).
SQLite runs one UPDATE ... WHERE id IN (SELECT ...) RETURNING inside BEGIN IMMEDIATE, then
the inputs' query. Either way two workers never get the same job, and a job whose lease
expired (its worker died) is claimed again with attempts + 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobStatus, JobWithInputs
from storage.columns import utcnow
from storage.db import (
    Runner,
    Sessions,
    autocommit_connection,
    is_postgres,
    one_writer,
    write_session,
)
from storage.direct import prebuilt
from storage.images import INPUT_FIELDS, inputs_and_mask, jobs_inputs
from storage.job_rows import spec_of
from storage.models import ImageRole, Job, JobImage
from storage.sql import run, table_of

_jobs = table_of(Job)
_images = table_of(JobImage)


async def claim(
    sessions: Sessions, *, owner: str, lease_s: float, now: datetime | None = None
) -> JobWithInputs | None:
    """Take the next job (queued, or running with an expired lease) for `owner`, with its
    input images, in one transaction; None when there is nothing to do."""
    claimed = await claim_many(sessions, owner=owner, lease_s=lease_s, count=1, now=now)
    return claimed[0] if claimed else None


async def claim_many(
    sessions: Sessions, *, owner: str, lease_s: float, count: int, now: datetime | None = None
) -> list[JobWithInputs]:
    """Take up to `count` next jobs for `owner`, in claim order (the fair order of
    ix_jobs_claim), with their input images: one statement on PostgreSQL, one transaction
    of two on SQLite."""
    if one_writer(sessions):
        async with write_session(sessions, inline=True) as session:
            return await claim_in(session, owner=owner, lease_s=lease_s, count=count, now=now)
    async with autocommit_connection(sessions) as connection:
        return await claim_in(connection, owner=owner, lease_s=lease_s, count=count, now=now)


async def claim_in(
    session: Runner,
    *,
    owner: str,
    lease_s: float,
    count: int,
    now: datetime | None = None,
) -> list[JobWithInputs]:
    """claim_many's statements, in the caller's write transaction (which must commit for
    the claim to hold). On PostgreSQL that is one statement, which may run on a connection
    in autocommit (storage.db.autocommit_connection)."""
    now = now or utcnow()
    params = {
        "now": now,
        "owner": owner,
        "expires": now + timedelta(seconds=lease_s),
        "count": count,
    }
    if is_postgres(session):
        rows = (await run(session, _CLAIM_PG, params)).mappings().all()
        return [
            JobWithInputs(spec_of(row), *inputs_and_mask(row["inputs"] or ()))
            for row in sorted(rows, key=_claim_order)
        ]
    if not isinstance(session, AsyncSession):
        raise TypeError("a claim on SQLite runs in a session's write transaction")
    rows = (await run(session, _CLAIM_SQLITE, params)).mappings().all()
    if not rows:
        return []
    specs = [spec_of(row) for row in sorted(rows, key=_claim_order)]
    images = await jobs_inputs(session, job_ids=[spec.id for spec in specs])
    return [JobWithInputs(spec, *images.get(spec.id, ((), None))) for spec in specs]


def _claim_order(row: RowMapping) -> tuple[Any, ...]:
    return (row["fair_seq"], row["created_at"], row["id"])


def _claim(*, postgres: bool) -> Executable:
    now = bindparam("now", type_=_jobs.c.updated_at.type)
    count = bindparam("count", type_=Integer)
    order = (_jobs.c.fair_seq, _jobs.c.created_at, _jobs.c.id)
    queued = _jobs.c.status == JobStatus.QUEUED
    expired = and_(_jobs.c.status == JobStatus.RUNNING, _jobs.c.lease_expires_at < now)
    # The first `count` rows of each kind, each in ix_jobs_claim's order, then the first
    # `count` of both: with an OR, both databases sort every queued job on every claim.
    firsts = []
    for name, kind in (("first_queued", queued), ("first_expired", expired)):
        first = select(_jobs.c.id, _jobs.c.fair_seq, _jobs.c.created_at).where(kind)
        first = first.order_by(*order).limit(count)
        if postgres:  # FOR UPDATE is not allowed in a UNION's branches; it is in a CTE
            first = first.with_for_update(skip_locked=True)
        firsts.append(first.cte(name))
    both = union_all(*(select(*first.c) for first in firsts)).subquery()
    pick = select(both.c.id).order_by(both.c.fair_seq, both.c.created_at, both.c.id)
    return (
        update(_jobs)
        .where(_jobs.c.id.in_(pick.limit(count)))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("expires", type_=_jobs.c.lease_expires_at.type),
            attempts=_jobs.c.attempts + 1,
            started_at=func.coalesce(_jobs.c.started_at, now),
            updated_at=now,
        )
        .returning(*_jobs.c)
    )


def _with_inputs(claim: Executable) -> Executable:
    """`claim`'s rows, each with its job's input images and mask as a JSON array of
    [role, sha256, mime, width, height] in position order (NULL: none)."""
    claimed = claim.cte("claimed")  # type: ignore[attr-defined]
    image = func.json_build_array(*(_images.c[name] for name in INPUT_FIELDS))
    inputs = (
        select(func.json_agg(aggregate_order_by(image, _images.c.position)))
        .where(
            _images.c.job_id == claimed.c.id,
            # Two equalities, not IN [...]: a literal list is expanded into the SQL on every
            # run (SQLAlchemy's post-compile step, about a tenth of a claim's CPU).
            or_(_images.c.role == ImageRole.INPUT, _images.c.role == ImageRole.MASK),
        )
        .scalar_subquery()
    )
    return select(*claimed.c, type_coerce(inputs, JSON).label("inputs"))


_CLAIM_PG = prebuilt(_with_inputs(_claim(postgres=True)))
_CLAIM_SQLITE = prebuilt(_claim(postgres=False))
