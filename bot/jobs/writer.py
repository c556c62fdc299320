"""One turn at SQLite's writer for all of a process's small writes that are waiting.

SQLite lets one writer in at a time. A worker's claims, its successes and its confirms were
three queues of their own (bot.jobs.batched), each taking its own turn: three BEGIN
IMMEDIATE ... COMMIT a round, and every queue waiting for the other two's turns
(bench/bench_queue.py). Here they share one queue: whatever is waiting when the writer comes
free is written in one transaction, each write in a savepoint of its own
(storage.db.write_each), so a write that fails rolls back only itself.

PostgreSQL has row locks, not one writer: there each write is a transaction of its own, as
before (its writes to different rows do not wait for each other), and a write that is one
self-contained statement (a claim, most successes) goes without one: `write_one`.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.jobs.batched import Batched
from storage.db import (
    Runner,
    Sessions,
    Write,
    autocommit_connection,
    one_writer,
    write_each,
    write_session,
)

T = TypeVar("T")

_queues: weakref.WeakKeyDictionary[Sessions, Batched[Write[Any], Any]] = weakref.WeakKeyDictionary()


OneStatement = Callable[[Runner], Awaitable[T]]
"""A write that is one self-contained statement (a claim, a success on PostgreSQL)."""


async def write(sessions: Sessions, work: Write[T]) -> T:
    """`work` in a write transaction: on SQLite together with the other writes waiting for
    the writer (each in its own savepoint), else in one of its own. Raises what `work`
    raised, or what the commit raised."""
    if not one_writer(sessions):
        async with write_session(sessions, inline=True) as session:
            return await work(session)
    answer = await _queue(sessions)(work)
    if isinstance(answer, Exception):
        raise answer
    result: T = answer
    return result


async def write_one(sessions: Sessions, work: OneStatement[T]) -> T:
    """`work`, one statement that needs no transaction around it: on PostgreSQL on a
    connection in autocommit, with no session (storage.db.autocommit_connection: no BEGIN,
    no COMMIT, none of the ORM session's machinery); on SQLite as `write` does."""
    if one_writer(sessions):
        return await write(sessions, work)
    async with autocommit_connection(sessions) as connection:
        return await work(connection)


async def settle_writes(sessions: Sessions) -> None:
    """Wait for the writes queued for `sessions` (a worker's stop)."""
    queue = _queues.get(sessions)
    if queue is not None:
        await queue.settle()


def _queue(sessions: Sessions) -> Batched[Write[Any], Any]:
    queue = _queues.get(sessions)
    if queue is None:
        # A weak reference: the queue must not keep its own key (the factory) alive.
        factory = weakref.ref(sessions)

        async def run(works: list[Write[Any]]) -> list[Any]:
            live = factory()
            if live is None:  # its callers hold it while they wait: not seen in practice
                raise RuntimeError("the session factory is gone")
            return await write_each(live, works)

        queue = _queues[sessions] = Batched(run)
    return queue
