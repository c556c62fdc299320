"""bot.jobs.writer: on SQLite the writes waiting for the writer take one turn together, each
in its own savepoint; on PostgreSQL each is a transaction of its own. A worker's claims and
confirms go through it too."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.jobs import JobStatus
from bot.jobs import writer
from bot.jobs.worker import Worker
from bot.jobs.writer import settle_writes, write
from storage.blobs import FileBlobStore
from storage.db import Sessions, one_writer, session_factory
from tests.bot.jobs.test_worker import BASE, make_worker
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider
from tests.kit.workers import all_jobs, enqueue_jobs
from tests.storage.test_write_each import add, scopes


def commits(sessions: Sessions) -> list[int]:
    """One entry per transaction the sessions' engine commits from now on."""
    seen: list[int] = []
    event.listen(sessions.kw["bind"].sync_engine, "commit", lambda _conn: seen.append(1))
    return seen


def statements(sessions: Sessions, turns: list[int]) -> list[tuple[int, int, str]]:
    """Every statement the engine runs from now on, upper-cased, in order, each with its
    connection (other connections' reads interleave with a write's statements) and the size
    of the shared turn running then (`turns[-1]`, 0 outside one)."""
    seen: list[tuple[int, int, str]] = []

    def _seen(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        connection = id(conn.connection.dbapi_connection)
        seen.append((connection, turns[-1] if turns else 0, " ".join(statement.upper().split())))

    event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", _seen)
    return seen


async def test_writes_waiting_together_share_a_turn_on_sqlite_only(sessions: Sessions) -> None:
    turns = commits(sessions)
    answers = await asyncio.gather(*(write(sessions, add(f"s{i}")) for i in range(5)))
    assert answers == [f"s{i}" for i in range(5)]
    assert await scopes(sessions) == [f"s{i}" for i in range(5)]
    # All five were waiting when the writer's first turn began.
    assert len(turns) == (1 if one_writer(sessions) else 5)


async def test_a_failing_write_fails_its_own_caller_and_rolls_back_only_itself(
    sessions: Sessions,
) -> None:
    answers = await asyncio.gather(
        write(sessions, add("a")),
        write(sessions, add("b", fail=True)),
        write(sessions, add("c")),
        return_exceptions=True,
    )
    assert answers[0] == "a" and answers[2] == "c"
    assert isinstance(answers[1], ValueError) and "b gave up" in str(answers[1])
    assert await scopes(sessions) == ["a", "c"]


async def test_settle_waits_for_the_writes_queued(sessions: Sessions) -> None:
    if not one_writer(sessions):
        pytest.skip("on PostgreSQL a write is its caller's own transaction: nothing is queued")
    pending = [asyncio.ensure_future(write(sessions, add(f"q{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # queued, not yet written
    await settle_writes(sessions)
    assert all(p.done() for p in pending)
    assert await scopes(sessions) == ["q0", "q1", "q2"]


async def queued_worker(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, *, jobs: int, loops: int
) -> Worker:
    """A worker with `loops` claim loops and `jobs` jobs queued for it, not yet drained."""
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=jobs, chat=chat)
    return make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=loops)


async def test_a_workers_claims_and_confirms_go_through_the_shared_writer(
    sessions: Sessions,
    blobs: FileBlobStore,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = await queued_worker(sessions, blobs, client, jobs=6, loops=3)
    turns: list[int] = []  # the size of the shared turn running now, if any
    real_write_each = writer.write_each

    async def write_each(sessions: Sessions, writes: Any) -> Any:
        turns.append(len(writes))
        try:
            return await real_write_each(sessions, writes)
        finally:
            turns.pop()

    monkeypatch.setattr(writer, "write_each", write_each)
    seen = statements(sessions, turns)
    await worker.drain()
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.SUCCEEDED}
    claims = [i for i, (*_, s) in enumerate(seen) if s.startswith("WITH FIRST_QUEUED")]
    confirms = [i for i, (*_, s) in enumerate(seen) if s.startswith("UPDATE JOBS SET DELIVERED_AT")]
    assert claims and confirms
    if one_writer(sessions):
        # Each ran in a shared turn (write_each), not a transaction of its own; in a turn of
        # several writes, in its own savepoint: the statement before it on its connection
        # opened it. A write alone in its turn needs none.
        for i in claims + confirms:
            conn, turn, statement = seen[i]
            assert turn, statement[:40]
            before = [s for c, _, s in seen[:i] if c == conn]
            assert (turn == 1) or before[-1].startswith("SAVEPOINT"), (statement[:40], before[-3:])
    else:
        assert not any(s.startswith("SAVEPOINT") for *_, s in seen)
        assert not any(turn for _, turn, _ in seen)


async def test_the_queue_does_not_keep_its_session_factory_alive(engine: Any) -> None:
    sessions = session_factory(engine)
    await write(sessions, add("w"))
    factory = weakref.ref(sessions)
    del sessions
    gc.collect()
    assert factory() is None


async def test_one_statement_writes_go_without_a_session_on_postgres_only(
    sessions: Sessions,
    blobs: FileBlobStore,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = await queued_worker(sessions, blobs, client, jobs=4, loops=2)
    transactions, alone = 0, 0
    real_write_session, real_autocommit = writer.write_session, writer.autocommit_connection
    claims = 0
    real_claim_in = worker._claim_in

    def write_session(sessions: Sessions, **kw: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return real_write_session(sessions, **kw)

    def autocommit_connection(sessions: Sessions) -> Any:
        nonlocal alone
        alone += 1
        return real_autocommit(sessions)

    async def claim_in(session: Any, count: int) -> Any:
        nonlocal claims
        claims += 1
        if not one_writer(sessions):  # a bare connection in autocommit, no ORM session
            assert isinstance(session, AsyncConnection)
            raw = await session.get_raw_connection()
            assert raw.driver_connection.autocommit  # psycopg's: each statement commits
        return await real_claim_in(session, count)

    monkeypatch.setattr(writer, "write_session", write_session)
    monkeypatch.setattr(writer, "autocommit_connection", autocommit_connection)
    monkeypatch.setattr(worker, "_claim_in", claim_in)  # SQLite's shared claims keep theirs
    await worker.drain()
    jobs = await all_jobs(sessions)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    assert sorted(j.version or 0 for j in jobs) == [1, 2, 3, 4]
    # On PostgreSQL a success and a claim are one statement each, run on a connection in
    # autocommit; the confirms keep their transactions. SQLite's writes share turns.
    if one_writer(sessions):
        assert alone == 0 and transactions == 0
    else:
        assert claims >= 2  # two loops, four jobs, and the empty claims that end the drain
        assert alone == 4 + claims
        assert transactions >= 1  # the confirms
