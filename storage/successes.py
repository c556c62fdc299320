"""A job's success written: its outputs, its thread's next version, its finish, its settle.

On PostgreSQL, for a job whose edit thread is known (every reply, and every edit once its
thread exists), that is one statement of data-modifying CTEs instead of four (bench/
bench_queue.py: each statement is a round trip and about 180 us of the worker's CPU in
psycopg alone). Every write in it waits on the job's lease: a `lease` CTE locks the job's
row (FOR UPDATE) if this worker still holds it, and each other CTE runs only if that row
came back, so a lost lease writes nothing at all. The lock comes first, then the thread's
row (the bump), then the usage rows (the close): the order every success takes, and the
order a sweep's refund takes the job's and the usage rows in, so none of them can wait on
another in a cycle.

Elsewhere (SQLite; a job whose edit thread is made by this success) it is the statements
one by one: storage.images, storage.threads, storage.queue, storage.budgets.

`read_policy`: the channel's policy rows come back too, for the result's caption: in the one
statement as JSON beside its writes, else read first. A read holds no row lock on
PostgreSQL, so nobody waits for it either way.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, literal, select, true, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import workspace_scope
from bot.core.jobs import JobSpec, JobStatus, StoredImage
from storage import budgets
from storage.budgets import Closed
from storage.closes import close_and_move_ctes
from storage.db import Runner, Sessions, dialect_name
from storage.direct import prebuilt
from storage.images import add_outputs
from storage.models import ImageRole, Job, JobImage, LedgerKind
from storage.next_version import bump_cte, insert_versions, next_version_params
from storage.policies import PolicyRow, policy_rows, policy_rows_json
from storage.queue import finish
from storage.sql import run, table_of
from storage.threads import add_job_versions, version_rows

_jobs = table_of(Job)
_images = table_of(JobImage)
_IMAGE = ("sha256", "mime", "width", "height")


@dataclass(frozen=True)
class Written:
    """What a success's write left: the version it made (None without a thread), the edit
    thread's id, the channel's usage after the settle (None: nothing was reserved) and, when
    asked for, the channel's policy rows (storage.policies.policy_rows)."""

    version: int | None
    edit_thread_id: int | None
    closed: Closed | None
    policies: tuple[PolicyRow, ...] | None = None


async def write_success(
    session: Runner,
    *,
    job: JobSpec,
    owner: str,
    thread: str | None,
    outputs: Sequence[StoredImage],
    cost_micros: int,
    delivered: bool,
    now: datetime,
    read_policy: bool = False,
) -> Written | None:
    """Record `job`'s success if `owner` still holds its lease; None when it does not, and
    the caller must roll back: one by one, the writes before the finish went in; the one
    statement wrote nothing (every CTE waits on the lease)."""
    if thread is not None and _one_statement(dialect_name(session), job=job, thread=thread):
        return await _in_one_statement(
            session, job=job, owner=owner, thread=thread, outputs=outputs,
            cost_micros=cost_micros, delivered=delivered, now=now, read_policy=read_policy,
        )  # fmt: skip
    if not isinstance(session, AsyncSession):
        raise TypeError("a success of several statements needs a session's transaction")
    policies = None
    if read_policy:
        scopes = {"scope": job.scope, "workspace_scope": workspace_scope(job.scope)}
        policies = tuple(await policy_rows(session, **scopes))
    await add_outputs(session, job_id=job.id, outputs=outputs)
    version, edit_thread = None, job.edit_thread_id
    if thread is not None:
        version, edit_thread = await add_job_versions(
            session, job=job, thread=thread, outputs=outputs, now=now
        )
    held = await finish(
        session,
        job_id=job.id,
        owner=owner,
        status=JobStatus.SUCCEEDED,
        cost_micros=cost_micros,
        version=version,
        delivered=delivered,
        also={"thread": thread, "edit_thread_id": edit_thread} if thread else None,
        now=now,
    )
    if not held:
        return None
    # The settle goes last: on PostgreSQL it locks the user's and the channel's usage
    # rows, which every success and reservation in the channel waits for, until the commit.
    closed = await budgets.settle_usage(session, job_id=job.id, cost_micros=cost_micros)
    return Written(version, edit_thread, closed, policies)


def in_one_statement(sessions: Sessions, *, job: JobSpec, thread: str | None) -> bool:
    """Whether `write_success` writes `job`'s success in one statement: on PostgreSQL, for
    a job whose edit thread is known. That statement needs no transaction around it (a
    lost lease writes nothing): bot.jobs.writer.write_one runs it on a connection in
    autocommit (storage.db.autocommit_connection)."""
    bind = sessions.kw.get("bind")
    return bind is not None and _one_statement(bind.dialect.name, job=job, thread=thread)


def _one_statement(dialect: str, *, job: JobSpec, thread: str | None) -> bool:
    return dialect == "postgresql" and thread is not None and job.edit_thread_id is not None


async def _in_one_statement(
    session: Runner,
    *,
    job: JobSpec,
    owner: str,
    thread: str,
    outputs: Sequence[StoredImage],
    cost_micros: int,
    delivered: bool,
    now: datetime,
    read_policy: bool,
) -> Written | None:
    assert job.edit_thread_id is not None
    rows = version_rows(
        job.edit_thread_id, 0, job_id=job.id, images=outputs, prompt=job.prompt,
        author=job.place.user, now=now,
    )  # fmt: skip
    params = next_version_params(rows, prefix="v_")
    params |= {f"o_{name}_{i}": getattr(o, name) for i, o in enumerate(outputs) for name in _IMAGE}
    params |= {
        "job_id": job.id,
        "owner": owner,
        "f_thread": thread,
        "cost": cost_micros,
        "now": now,
        "kind": LedgerKind.SETTLE,
        "amount": cost_micros,
        "spent": cost_micros,
    }
    if read_policy:
        params |= {"p_scope": job.scope, "p_workspace": workspace_scope(job.scope)}
    row = (await run(session, _statement(len(outputs), delivered, read_policy), params)).first()
    if row is None:
        return None
    version, scope, key, spent, reserved, *policies = row
    if version is None:
        raise LookupError(f"edit thread {job.edit_thread_id} does not exist")
    closed = None if scope is None else Closed(scope, key, int(spent or 0), int(reserved or 0))
    read = tuple(policies[0] or ()) if read_policy else None
    return Written(int(version), job.edit_thread_id, closed, read)


@functools.cache
def _statement(count: int, delivered: bool, read_policy: bool) -> Any:
    """The whole success of a job with `count` outputs: one row (the version, then the
    close's scope, period_key and the channel row's spent and reserved, NULL when nothing
    was reserved, then with `read_policy` the channel's policy rows as JSON), none when the
    lease was lost.

    No parameter is named after a column of a table it updates (jobs, edit_threads, usage):
    SQLAlchemy would add that column to the UPDATE's SET (tests/storage/test_successes.py)."""
    lease = (
        select(_jobs.c.id)
        .where(
            _jobs.c.id == bindparam("job_id"),
            _jobs.c.lease_owner == bindparam("owner"),
            _jobs.c.status == JobStatus.RUNNING,
        )
        .with_for_update()
        .cte("lease")
    )
    held = exists(select(lease.c.id))
    bump = bump_cte(gate=held)
    versions = insert_versions(bump, count, prefix="v_").cte("versions")
    closed, moved = close_and_move_ctes(gate=held)
    columns = [
        select(bump.c.last_version).scalar_subquery(),
        closed.c.scope,
        closed.c.period_key,
        moved.c.spent_micros,
        moved.c.reserved_micros,
    ]
    if read_policy:
        columns.append(policy_rows_json(bindparam("p_scope"), bindparam("p_workspace")))
    return prebuilt(
        select(*columns)
        .select_from(
            lease.outerjoin(closed, true()).outerjoin(moved, moved.c.scope == closed.c.scope)
        )
        .add_cte(versions, _outputs(lease, count), _finish(lease, bump, delivered))
    )


def _outputs(lease: Any, count: int) -> Any:
    """INSERT the job's output rows, one per leased job row (so none without the lease)."""
    images = [
        select(
            lease.c.id,
            literal(ImageRole.OUTPUT, type_=_images.c.role.type),
            literal(i),
            *(bindparam(f"o_{name}_{i}", type_=_images.c[name].type) for name in _IMAGE),
        )
        for i in range(count)
    ]
    source = images[0] if count == 1 else union_all(*images)
    return (
        pg_insert(_images).from_select(["job_id", "role", "position", *_IMAGE], source).cte("added")
    )


def _finish(lease: Any, bump: Any, delivered: bool) -> Any:
    """storage.queue.finish's UPDATE of the leased job row, its version from `bump`."""
    now = bindparam("now", type_=_jobs.c.finished_at.type)
    values: dict[str, Any] = {
        "status": JobStatus.SUCCEEDED,
        "error": None,
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "cost_micros": bindparam("cost", type_=_jobs.c.cost_micros.type),
        "version": select(bump.c.last_version).scalar_subquery(),
        "thread": bindparam("f_thread", type_=_jobs.c.thread.type),
        "edit_thread_id": bindparam("thread_id", type_=_jobs.c.edit_thread_id.type),
    }
    if delivered:
        values |= {"delivered_at": now, "delivering_by": bindparam("owner")}
    return update(_jobs).where(_jobs.c.id.in_(select(lease.c.id))).values(values).cte("fin")
