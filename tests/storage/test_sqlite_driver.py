"""storage/sqlite_driver.py: one aiosqlite thread hop per statement, same results as before."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import create_engine, session_factory, write_session
from storage.sqlite_driver import OneHopCursor

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, unique=True, nullable=False),
    Column("n", Integer, nullable=False, default=0),
)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call queued on an aiosqlite connection's thread, by function name."""
    calls: list[str] = []
    original: Callable[..., Any] = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return calls


async def _ready(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(items), [{"name": f"item{i}", "n": i} for i in range(5)])
    return engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _ready(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"))
    yield engine
    await engine.dispose()


async def _statement_hops(engine: AsyncEngine, hops: list[str]) -> int:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the transaction's BEGIN goes first
        before = len(hops)
        rows = (await conn.execute(select(items.c.name).where(items.c.n >= 3))).all()
        assert sorted(r.name for r in rows) == ["item3", "item4"]
        return len(hops) - before


async def test_a_statement_is_one_hop_where_sqlalchemys_adapter_makes_four(
    engine: AsyncEngine, tmp_path: Path, hops: list[str]
) -> None:
    plain = await _ready(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"))
    try:
        assert await _statement_hops(plain, hops) == 4  # cursor, execute, fetchall, close
    finally:
        await plain.dispose()
    assert await _statement_hops(engine, hops) == 1


async def test_the_engine_hands_out_one_hop_cursors(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        cursor = raw.dbapi_connection.cursor()  # type: ignore[union-attr]
        assert isinstance(cursor, OneHopCursor)
        cursor.close()


async def test_update_returning_reports_rows_and_rowcount(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(items).where(items.c.n < 2).values(n=items.c.n + 10).returning(items.c.name)
        )
        assert sorted(result.scalars()) == ["item0", "item1"]
        missed = await conn.execute(update(items).where(items.c.n > 100).values(n=0))
        assert missed.rowcount == 0
        hit = await conn.execute(update(items).where(items.c.n >= 10).values(n=items.c.n + 1))
        assert hit.rowcount == 2
    async with engine.connect() as conn:
        assert sorted((await conn.execute(select(items.c.n))).scalars()) == [2, 3, 4, 11, 12]


async def test_insert_reports_the_new_key_and_executemany_inserts_every_row(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        one = await conn.execute(insert(items).values(name="new", n=7))
        assert one.inserted_primary_key == (6,)
        many = await conn.execute(insert(items), [{"name": f"bulk{i}", "n": i} for i in range(3)])
        assert many.rowcount == 3
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM items"))).scalar_one()
    assert count == 9


async def test_errors_are_sqlalchemys_and_roll_back(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="fresh", n=1))
            await conn.execute(insert(items).values(name="item0", n=1))  # unique name
    async with engine.connect() as conn:
        names = (await conn.execute(select(items.c.name))).scalars().all()
    assert "fresh" not in names and len(names) == 5


async def test_streaming_results_still_work(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        result = await conn.stream(select(items.c.n).order_by(items.c.n))
        assert [n async for n in result.scalars()] == [0, 1, 2, 3, 4]


async def test_a_transactions_begin_goes_with_its_first_statement(
    engine: AsyncEngine, hops: list[str]
) -> None:
    async with engine.connect() as conn:
        before = len(hops)
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        assert len(hops) - before == 1  # BEGIN and SELECT 1 in one trip to the thread
        raw = await conn.get_raw_connection()
        assert raw.driver_connection._conn.in_transaction  # type: ignore[union-attr]


async def test_a_write_session_holds_the_write_lock_from_its_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "one.db", timeout=0, isolation_level=None)
    try:
        async with write_session(session_factory(engine)) as session:
            await session.exec(select(items.c.n).limit(1))  # a read, yet BEGIN IMMEDIATE
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # committed: free again
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_stream_first_in_a_transaction_still_begins_it(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        result = await conn.stream(select(items.c.n).order_by(items.c.n))
        assert [n async for n in result.scalars()] == [0, 1, 2, 3, 4]
        raw = await conn.get_raw_connection()
        assert raw.driver_connection._conn.in_transaction  # type: ignore[union-attr]


async def test_a_rollback_after_a_statement_still_rolls_it_back(
    engine: AsyncEngine, hops: list[str]
) -> None:
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError):
        async with write_session(sessions) as session:
            await session.exec(update(items).where(items.c.n == 1).values(n=30))
            raise RuntimeError("abandoned")
    assert "rollback" in hops
    async with engine.connect() as conn:
        ns = (await conn.execute(select(items.c.n))).scalars().all()
    assert 30 not in ns and 1 in ns


async def test_an_inline_write_transaction_is_two_trips_however_many_statements_it_runs(
    engine: AsyncEngine, hops: list[str]
) -> None:
    sessions = session_factory(engine)
    async with write_session(sessions) as session:  # warm: the pool holds a connection
        await session.exec(select(items.c.n).limit(1))
    before = len(hops)
    async with write_session(sessions, inline=True) as session:
        await session.exec(update(items).where(items.c.n == 2).values(n=40))  # with BEGIN
        await session.exec(update(items).where(items.c.n == 3).values(n=41))  # here
        rows = (await session.exec(select(items.c.n).where(items.c.n > 39))).all()
        assert sorted(r[0] for r in rows) == [40, 41]
    # BEGIN IMMEDIATE with the first UPDATE, then the COMMIT: the statements between run
    # here, and the pool's reset-on-return rollback has nothing to end.
    assert hops[before:] == ["_run", "commit"]
    async with engine.connect() as conn:  # a read: its statement goes to the thread
        before = len(hops)
        ns = (await conn.execute(select(items.c.n))).scalars().all()
        assert len(hops) - before == 1
    assert 40 in ns and 41 in ns and 2 not in ns


async def test_a_write_transaction_not_inline_sends_every_statement_to_the_thread(
    engine: AsyncEngine, hops: list[str]
) -> None:
    # prune and other long writes: a big statement must not hold the event loop.
    sessions = session_factory(engine)
    async with write_session(sessions) as session:
        await session.exec(select(items.c.n).limit(1))
    before = len(hops)
    async with write_session(sessions) as session:
        await session.exec(update(items).where(items.c.n == 2).values(n=40))
        await session.exec(update(items).where(items.c.n == 3).values(n=41))
    assert hops[before:] == ["_run", "_run", "commit"]
