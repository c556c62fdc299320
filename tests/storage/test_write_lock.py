"""write_session on SQLite: the writers of one process take turns on a lock per engine (so they
never wait in SQLite's busy handler), and taking a turn gives up after SQLITE_BUSY_TIMEOUT_MS
instead of hanging (a write_session nested in another would otherwise wait forever).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

import storage.db
from storage.db import Sessions, create_engine, session_factory, upgrade, write_session
from storage.models import Usage
from storage.sql import table_of

_usage = table_of(Usage)
COUNTER = (_usage.c.scope == "counter", _usage.c.period_key == "all")


@pytest.fixture
def small_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """SQLITE_BUSY_TIMEOUT_MS at 200 ms (the lock's wait and new connections' busy_timeout)."""
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    return 0.2


async def open_engine(url: str, *, busy_timeout_ms: int | None = None) -> AsyncEngine:
    """A migrated SQLite engine; `busy_timeout_ms` overrides the connections' busy_timeout."""
    await upgrade(url)
    engine = create_engine(url, pool_size=20, max_overflow=0)
    if busy_timeout_ms is not None:
        # Runs after create_engine's own "connect" hook, so this value is the one that holds.
        @event.listens_for(engine.sync_engine, "connect")
        def _busy(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")

    return engine


@pytest.fixture
async def sqlite_sessions(empty_sqlite_url: str) -> AsyncIterator[Sessions]:
    engine = await open_engine(empty_sqlite_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def add_counter(sessions: Sessions) -> None:
    async with write_session(sessions) as session:
        session.add(Usage(scope="counter", period_key="all"))


async def counter(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.exec(select(_usage.c.spent_micros).where(*COUNTER))).one())


async def bump(sessions: Sessions) -> None:
    """Read the counter, let every other task run, then write it back plus one."""
    async with write_session(sessions) as session:
        value = (await session.exec(select(_usage.c.spent_micros).where(*COUNTER))).one()
        await asyncio.sleep(0.001)
        await session.exec(update(_usage).where(*COUNTER).values(spent_micros=value + 1))


@pytest.mark.parametrize(
    "busy_timeout_ms",
    [
        None,  # as create_engine configures it
        # No busy waiting at all: only the in-process turns keep 50 writers from colliding.
        0,
    ],
    ids=["configured", "no-busy-wait"],
)
async def test_fifty_concurrent_read_modify_writes_all_commit(
    empty_sqlite_url: str, busy_timeout_ms: int | None
) -> None:
    engine = await open_engine(empty_sqlite_url, busy_timeout_ms=busy_timeout_ms)
    try:
        sessions = session_factory(engine)
        await add_counter(sessions)
        results = await asyncio.gather(*(bump(sessions) for _ in range(50)), return_exceptions=True)
        assert [r for r in results if r is not None] == []  # no "database is locked"
        assert await counter(sessions) == 50
    finally:
        await engine.dispose()


async def test_a_nested_write_session_times_out_instead_of_hanging(
    sqlite_sessions: Sessions, small_timeout: float
) -> None:
    await add_counter(sqlite_sessions)
    async with write_session(sqlite_sessions) as outer:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):  # a hang ends here and fails on the time below
                async with write_session(sqlite_sessions):
                    pytest.fail("the nested write_session got a turn while the outer held it")
        waited = time.monotonic() - started
        assert small_timeout * 0.9 <= waited < 2.0
        # The outer transaction is unharmed and commits.
        await outer.exec(update(_usage).where(*COUNTER).values(spent_micros=7))
    assert await counter(sqlite_sessions) == 7
    await bump(sqlite_sessions)  # the turn was given back
    assert await counter(sqlite_sessions) == 8


async def test_a_write_session_that_raises_rolls_back_and_gives_its_turn_back(
    sqlite_sessions: Sessions, small_timeout: float
) -> None:
    await add_counter(sqlite_sessions)
    with pytest.raises(RuntimeError, match="boom"):
        async with write_session(sqlite_sessions) as session:
            await session.exec(update(_usage).where(*COUNTER).values(spent_micros=99))
            raise RuntimeError("boom")
    assert await counter(sqlite_sessions) == 0
    async with asyncio.timeout(2):
        await bump(sqlite_sessions)
    assert await counter(sqlite_sessions) == 1


async def test_each_engine_has_its_own_turns(tmp_path: Path, small_timeout: float) -> None:
    a = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    b = await open_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    try:
        in_a, in_b = session_factory(a), session_factory(b)
        await add_counter(in_a)
        await add_counter(in_b)
        async with write_session(in_a):
            await bump(in_b)  # another database: no waiting on a's writer
        assert (await counter(in_a), await counter(in_b)) == (0, 1)
    finally:
        await a.dispose()
        await b.dispose()


@pytest.mark.postgres
async def test_postgres_writers_take_no_process_turns(pg_url: str, small_timeout: float) -> None:
    engine = create_engine(pg_url)
    try:
        sessions = session_factory(engine)
        async with asyncio.timeout(5), write_session(sessions) as outer:
            outer.add(Usage(scope="outer", period_key="all"))
            async with write_session(sessions) as inner:  # row locks, not a process-wide turn
                inner.add(Usage(scope="inner", period_key="all"))
        async with sessions() as session:
            scopes = (await session.exec(select(_usage.c.scope))).all()
        assert sorted(scopes) == ["inner", "outer"]
    finally:
        await engine.dispose()
