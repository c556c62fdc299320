"""storage.successes: a success's writes, in one statement on PostgreSQL, as they were one by
one; a lost lease writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.core.budgets import BudgetDefaults, Policy, workspace_scope
from bot.core.jobs import JobSpec, StoredImage
from storage import successes
from storage.blobs import FileBlobStore
from storage.budget_reports import channel_policy_of
from storage.claims import claim_many
from storage.db import Sessions, autocommit_connection, is_postgres, write_session
from storage.models import EditThread, Job, JobImage, LedgerEntry, ThreadVersion, Usage
from storage.policies import set_policy
from storage.sql import table_of
from storage.successes import write_success
from tests.kit.workers import enqueue_jobs

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OUTPUTS = [
    StoredImage(sha256="a" * 64, mime="image/jpeg", width=640, height=400),
    StoredImage(sha256="b" * 64, mime="image/jpeg", width=400, height=640),
]


async def running(sessions: Sessions, blobs: FileBlobStore, count: int) -> list[JobSpec]:
    await enqueue_jobs(sessions, blobs, count=count)
    claimed = await claim_many(sessions, owner="w1", lease_s=60, count=count)
    assert all(c.spec.edit_thread_id is not None for c in claimed)
    return [c.spec for c in claimed]


class _Lost(Exception):
    pass


async def succeed(
    sessions: Sessions, job: JobSpec, *, owner: str = "w1", n: int = 1, read_policy: bool = False
) -> Any:
    """write_success as the worker calls it: None (a lost lease) rolls the write back."""
    try:
        async with write_session(sessions) as session:
            written = await write_success(
                session,
                job=job,
                owner=owner,
                thread="T1",
                outputs=OUTPUTS[:n],
                cost_micros=42_000 + n,
                delivered=True,
                now=NOW,
                read_policy=read_policy,
            )
            if written is None:
                raise _Lost
            return written
    except _Lost:
        return None


async def rows_of(sessions: Sessions, job_id: str) -> dict[str, Any]:
    """Everything a success writes for `job_id`, ids and the job's own name left out."""
    tables = {name: table_of(m) for name, m in [("job", Job), ("images", JobImage)]}
    tables |= {"versions": table_of(ThreadVersion), "ledger": table_of(LedgerEntry)}
    async with sessions() as session:
        job = (await session.exec(select(tables["job"]).where(Job.id == job_id))).one()
        images = (
            await session.exec(
                select(tables["images"]).where(JobImage.job_id == job_id, JobImage.role == "output")
            )
        ).all()
        versions = (
            await session.exec(select(tables["versions"]).where(ThreadVersion.job_id == job_id))
        ).all()
        ledger = (
            await session.exec(select(tables["ledger"]).where(LedgerEntry.job_id == job_id))
        ).all()
    keep = lambda row, *drop: {k: v for k, v in row._mapping.items() if k not in drop}  # noqa: E731
    return {
        "job": keep(
            job,
            "id",
            "prompt",
            "fair_seq",
            "status_message_id",
            "created_at",
            "updated_at",
            "started_at",
        ),
        "images": sorted(str(keep(r, "id", "job_id")) for r in images),
        "versions": sorted(str(keep(r, "id", "job_id", "version", "prompt")) for r in versions),
        "ledger": sorted(
            str(keep(r, "id", "job_id", "closes_job_id", "created_at")) for r in ledger
        ),
    }


@pytest.mark.parametrize("n", [1, 2])
async def test_the_one_statement_writes_what_the_statements_one_by_one_write(
    sessions: Sessions, blobs: FileBlobStore, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    one, other = await running(sessions, blobs, 2)
    first = await succeed(sessions, one, n=n)
    monkeypatch.setattr(successes, "_one_statement", lambda *_a, **_k: False)  # one by one
    second = await succeed(sessions, other, n=n)
    assert first is not None and second is not None
    assert (first.version, second.version) == (1, 2)  # the thread's next version, each
    assert first.edit_thread_id == second.edit_thread_id == one.edit_thread_id
    assert first.closed.scope == second.closed.scope == one.scope
    assert second.closed.spent_micros == first.closed.spent_micros + 42_000 + n
    a, b = await rows_of(sessions, one.id), await rows_of(sessions, other.id)
    assert a["job"]["version"] == 1 and b["job"]["version"] == 2
    a["job"].pop("version"), b["job"].pop("version")
    differ = {k: (v, b["job"].get(k)) for k, v in a["job"].items() if v != b["job"].get(k)}
    assert not differ
    assert a == b
    assert a["job"]["status"] == "succeeded" and a["job"]["delivering_by"] == "w1"
    assert len(a["images"]) == len(a["versions"]) == n and len(a["ledger"]) == 2


async def test_a_success_leaves_the_jobs_and_the_threads_other_columns_as_they_were(
    sessions: Sessions, blobs: FileBlobStore
) -> None:
    [job] = await running(sessions, blobs, 1)
    jobs, threads = table_of(Job), table_of(EditThread)

    async def before() -> tuple[Any, Any]:
        async with sessions() as session:
            j = (await session.exec(select(jobs.c.prompt, jobs.c.created_at))).one()
            t = (await session.exec(select(threads.c.thread, threads.c.created_at))).one()
        return tuple(j), tuple(t)

    was = await before()
    assert await succeed(sessions, job) is not None
    assert await before() == was


async def test_a_lost_lease_writes_nothing(sessions: Sessions, blobs: FileBlobStore) -> None:
    [job] = await running(sessions, blobs, 1)
    async with write_session(sessions) as session:  # another worker took it over
        await session.exec(update(table_of(Job)).values(lease_owner="w2"))
    usage_before = await usage(sessions)
    assert await succeed(sessions, job) is None
    after = await rows_of(sessions, job.id)
    assert after["images"] == [] and after["versions"] == []
    assert len(after["ledger"]) == 1  # the reservation alone: nothing settled
    assert after["job"]["status"] == "running" and after["job"]["lease_owner"] == "w2"
    assert await usage(sessions) == usage_before
    async with sessions() as session:
        thread = (await session.exec(select(table_of(EditThread)))).one()
    assert thread.last_version == 0
    async with write_session(sessions) as session:
        if not is_postgres(session):
            return
        # The one statement wrote nothing even without the caller's rollback: committed.
        written = await write_success(
            session, job=job, owner="w1", thread="T1", outputs=OUTPUTS[:1],
            cost_micros=1, delivered=True, now=NOW,
        )  # fmt: skip
        assert written is None
    assert await rows_of(sessions, job.id) == after and await usage(sessions) == usage_before


async def usage(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = (await session.exec(select(table_of(Usage)).order_by(Usage.scope))).all()
    return [tuple(r) for r in rows]


async def test_postgres_takes_the_one_statement(sessions: Sessions, blobs: FileBlobStore) -> None:
    [job] = await running(sessions, blobs, 1)
    async with write_session(sessions) as session:
        postgres = is_postgres(session)
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    assert await succeed(sessions, job, read_policy=True) is not None
    assert seen == (
        ["WITH"]
        if postgres  # the caption's policy read in it
        else ["SELECT", "INSERT", "UPDATE", "INSERT", "UPDATE", "INSERT", "UPDATE"]
    )


@pytest.mark.parametrize("one_statement", [True, False])
async def test_a_success_asked_for_the_policy_reads_the_channels_and_the_workspaces(
    sessions: Sessions, blobs: FileBlobStore, monkeypatch: pytest.MonkeyPatch, one_statement: bool
) -> None:
    if not one_statement:
        monkeypatch.setattr(successes, "_one_statement", lambda *_a, **_k: False)
    first, second, third = await running(sessions, blobs, 3)
    defaults = BudgetDefaults(cap_micros=5_000_000, period="month")
    assert (await succeed(sessions, first)).policies is None  # not asked: not read
    none = (await succeed(sessions, second, read_policy=True)).policies
    assert none == () and channel_policy_of(none, scope=second.scope, defaults=defaults) == (
        Policy(scope=workspace_scope(second.scope), period="month", cap_micros=5_000_000)
    )
    async with write_session(sessions) as session:
        for scope, cap in ((workspace_scope(third.scope), 7_000_000), (third.scope, 9_000_000)):
            await set_policy(session, scope=scope, period="week", cap_micros=cap, warn_percent=60)
        await set_policy(session, scope="slack:T9:*", period="day", cap_micros=1)  # not its own
    read = (await succeed(sessions, third, read_policy=True)).policies
    assert len(read) == 2 and {tuple(row) for row in read} == {
        (third.scope, "week", 9_000_000, None, 60),
        (workspace_scope(third.scope), "week", 7_000_000, None, 60),
    }
    policy = channel_policy_of(read, scope=third.scope, defaults=defaults)
    assert (policy.source, policy.cap_micros, policy.warn_percent) == ("channel", 9_000_000, 60)


@pytest.mark.postgres
async def test_in_autocommit_the_one_statement_leaves_no_transaction_open(
    pg_url: str, blobs: FileBlobStore
) -> None:
    from psycopg.pq import TransactionStatus

    from storage.db import create_engine, session_factory

    engine = create_engine(pg_url)
    try:
        sessions = session_factory(engine)
        one, other = await running(sessions, blobs, 2)
        assert successes.in_one_statement(sessions, job=one, thread="T1")
        seen = []
        for job, autocommit in ((one, True), (other, False)):
            opened = autocommit_connection(sessions) if autocommit else write_session(sessions)
            async with opened as session:
                written = await write_success(
                    session, job=job, owner="w1", thread="T1", outputs=OUTPUTS[:1],
                    cost_micros=7, delivered=True, now=NOW,
                )  # fmt: skip
                connection = session if autocommit else await session.connection()
                raw = await connection.get_raw_connection()
                seen.append((written is not None, raw.driver_connection.info.transaction_status))
        # Committed by the statement itself: no BEGIN went first, no COMMIT is left to send.
        assert seen == [(True, TransactionStatus.IDLE), (True, TransactionStatus.INTRANS)]
        assert (await rows_of(sessions, one.id))["job"]["status"] == "succeeded"
    finally:
        await engine.dispose()
