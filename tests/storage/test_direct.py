"""storage.direct: prebuilt statements on the driver's connection, with SQLAlchemy's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, exc, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import direct
from storage.db import Session, Sessions, one_writer, write_each, write_session
from storage.direct import prebuilt
from storage.models import LedgerEntry, LedgerKind
from storage.sql import rowcount, run, table_of

_ledger = table_of(LedgerEntry)
INSERT = prebuilt(insert(_ledger).returning(_ledger.c.id, _ledger.c.kind, _ledger.c.created_at))
BY_JOBS = prebuilt(
    select(_ledger.c.job_id, _ledger.c.kind, _ledger.c.amount_micros, _ledger.c.created_at)
    .where(_ledger.c.job_id.in_(bindparam("ids", expanding=True)))
    .order_by(_ledger.c.job_id)
)
AT = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)


def row(job_id: str, *, kind: LedgerKind = LedgerKind.RESERVE, **more: Any) -> dict[str, Any]:
    values = {
        "job_id": job_id,
        "scope": "slack:T1:C1",
        "user": "U1",
        "kind": kind,
        "amount_micros": 1_000 + len(job_id),
        "period_key": "all",
        "closes_job_id": None,
        "created_at": AT + timedelta(seconds=len(job_id)),
    }
    return {**values, **more}


def through_sqlalchemy(engine: AsyncEngine) -> list[str]:
    """Statements that go through Connection.execute from now on (the direct ones do not)."""
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_execute")
    def _seen(_conn: Any, clause: Any, *_args: Any) -> None:
        seen.append(str(clause).split()[0])

    return seen


def to_the_driver(engine: AsyncEngine) -> list[str]:
    """Every statement sent to the driver from now on, either way."""
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0])

    return seen


async def test_prebuilt_statements_skip_sqlalchemys_execution_and_read_back_its_values(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    slow, sent = through_sqlalchemy(engine), to_the_driver(engine)
    async with write_session(sessions, inline=True) as session:
        first = (await run(session, INSERT, row("j1"))).one()
        second = (await run(session, INSERT, [row("j22", kind=LedgerKind.SETTLE)])).one()
        rows = (await run(session, BY_JOBS, {"ids": ["j1", "j22", "nobody"]})).all()
    # On SQLite the transaction's first statement carries its deferred BEGIN IMMEDIATE, so
    # it goes SQLAlchemy's way; everything after it (and on PostgreSQL everything) does not.
    assert slow == (["INSERT"] if one_writer(sessions) else [])
    assert sent == ["INSERT", "INSERT", "SELECT"]
    assert (first.kind, second.kind) == (LedgerKind.RESERVE, LedgerKind.SETTLE)
    assert type(second.kind) is LedgerKind and second.created_at == AT + timedelta(seconds=3)
    async with sessions() as session:  # SQLAlchemy's own reading of the same rows
        expected = (await session.exec(BY_JOBS, params={"ids": ["j1", "j22"]})).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    assert [(r.job_id, r.kind, r.amount_micros) for r in rows] == [
        ("j1", LedgerKind.RESERVE, 1_002),
        ("j22", LedgerKind.SETTLE, 1_003),
    ]
    assert all(r.created_at.tzinfo is not None for r in rows)


@pytest.mark.parametrize("count", [0, 1, 4])
async def test_an_expanding_in_takes_lists_of_any_length(sessions: Sessions, count: int) -> None:
    ids = [f"job{i}" for i in range(count)]
    async with write_session(sessions, inline=True) as session:
        await run(session, INSERT, row("first"))
        for job_id in [*ids, "other"]:
            await run(session, INSERT, row(job_id))
        found = (await run(session, BY_JOBS, {"ids": ids})).mappings().all()
        assert [m["job_id"] for m in found] == sorted(ids)


async def test_a_driver_error_comes_out_as_sqlalchemys_and_leaves_the_session_usable(
    sessions: Sessions,
) -> None:
    closing = row("j1", kind=LedgerKind.SETTLE, closes_job_id="j1")
    with pytest.raises(exc.IntegrityError):
        async with write_session(sessions, inline=True) as session:
            await run(session, INSERT, row("warm"))
            await run(session, INSERT, closing)
            await run(session, INSERT, closing)  # the unique closes_job_id
    async with write_session(sessions, inline=True) as session:
        await run(session, INSERT, row("warm"))
        written = await run(session, INSERT, closing)
        assert rowcount(written) == 1
    async with sessions() as session:
        left = (await session.exec(select(_ledger.c.job_id).order_by(_ledger.c.id))).all()
    assert [r[0] for r in left] == ["warm", "j1"]  # the failed transaction left nothing


async def test_a_value_the_column_type_refuses_is_refused_before_the_driver_sees_it(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    async with write_session(sessions, inline=True) as session:
        await run(session, INSERT, row("warm"))
        sent = to_the_driver(engine)
        with pytest.raises(exc.StatementError, match="not a valid LedgerKind"):
            await run(session, INSERT, row("j1", kind="bogus"))  # type: ignore[arg-type]
    assert sent == []


def _adds(job_id: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    async def write(session: Session) -> str:
        await run(session, INSERT, row(job_id))
        await run(session, INSERT, row(job_id + "-again"))
        if fail:
            raise ValueError(f"{job_id} gave up")
        return job_id

    return write


async def test_direct_statements_roll_back_with_their_writers_savepoint(
    sessions: Sessions,
) -> None:
    answers = await write_each(sessions, [_adds("a"), _adds("b", fail=True), _adds("c")])
    assert answers[0] == "a" and answers[2] == "c" and isinstance(answers[1], ValueError)
    async with sessions() as session:
        left = (await session.exec(select(_ledger.c.job_id).order_by(_ledger.c.job_id))).all()
    assert [r[0] for r in left] == ["a", "a-again", "c", "c-again"]


async def test_what_the_driver_cannot_take_directly_goes_sqlalchemys_way(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    slow = through_sqlalchemy(engine)
    async with write_session(sessions, inline=True) as session:
        await run(session, INSERT, row("warm"))
        connection = await session.connection()
        many = [row("m1"), row("m2"), row("m3")]
        assert await direct.run(connection, INSERT, many) is None  # several parameter sets
        await run(session, INSERT, many)
    async with sessions() as session:
        # A read outside a write transaction: on SQLite it must go to the driver's thread.
        found = (await run(session, BY_JOBS, {"ids": ["m1", "m2", "m3", "warm"]})).all()
    assert [r.job_id for r in found] == ["m1", "m2", "m3", "warm"]
    assert slow.count("INSERT") == (2 if one_writer(sessions) else 1)
    assert slow.count("SELECT") == (1 if one_writer(sessions) else 0)
