"""bot.jobs.joined on SQLite: callers share one write until the writer starts it.

The writer is held busy by a write that waits on an event, so the test controls when the
shared write starts; its `run` writes one row per caller and answers with their labels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.jobs.joined import Joined
from bot.jobs.writer import write
from storage.db import Session, Sessions, one_writer
from storage.models import Usage
from tests.bot.jobs.test_writer import commits
from tests.storage.test_write_each import scopes


@pytest.fixture
def sqlite(sessions: Sessions) -> Sessions:
    if not one_writer(sessions):
        pytest.skip("Joined is for SQLite's one writer; PostgreSQL's claims use Batched")
    return sessions


class Rows:
    """`run` for Joined: writes a row per caller ("w<write>-<i>") and records each n."""

    def __init__(self, *, fail: bool = False, hold: asyncio.Event | None = None) -> None:
        self.ns: list[int] = []
        self.fail = fail
        self.hold = hold
        self.started = asyncio.Event()

    async def __call__(self, session: Session, n: int) -> list[str]:
        self.ns.append(n)
        self.started.set()
        labels = [f"w{len(self.ns)}-{i}" for i in range(n)]
        for label in labels:
            session.add(Usage(scope=label, period_key="all"))
        await session.flush()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise ValueError("the claim failed")
        return labels


def busy_writer(sessions: Sessions) -> tuple[asyncio.Event, asyncio.Task[str]]:
    """A write that holds SQLite's writer until the event is set."""
    free = asyncio.Event()

    async def hold(session: Session) -> str:
        await free.wait()
        return "held"

    return free, asyncio.ensure_future(write(sessions, hold))


async def settled(tasks: list[asyncio.Task[str | None]]) -> list[object]:
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def callers(joined: Joined[str], n: int) -> list[asyncio.Task[str | None]]:
    return [asyncio.ensure_future(joined()) for _ in range(n)]


def no_unwanted() -> Callable[[str], Awaitable[None]]:
    async def unwanted(answer: str) -> None:
        raise AssertionError(f"{answer} was not unwanted")

    return unwanted


async def test_callers_that_come_while_the_writer_is_busy_share_one_write(
    sqlite: Sessions,
) -> None:
    free, held = busy_writer(sqlite)
    await asyncio.sleep(0.05)  # the busy write has the writer
    rows = Rows()
    joined = Joined(sqlite, rows, unwanted=no_unwanted())
    first = callers(joined, 1)
    await asyncio.sleep(0.05)  # the first caller's write is queued, not started
    rest = callers(joined, 4)
    await asyncio.sleep(0)
    turns = commits(sqlite)
    free.set()
    answers = await settled(first + rest)
    assert await held == "held"
    # One write for all five, the first caller included (a batch would have started it
    # alone and given the other four a write of their own, one turn later).
    assert rows.ns == [5]
    assert answers == [f"w1-{i}" for i in range(5)]
    assert await scopes(sqlite) == sorted(f"w1-{i}" for i in range(5))
    assert len(turns) == 2  # the busy write's turn, then one turn for the five


async def test_a_caller_gone_before_the_write_starts_is_left_out(sqlite: Sessions) -> None:
    free, held = busy_writer(sqlite)
    await asyncio.sleep(0.05)
    rows = Rows()
    joined = Joined(sqlite, rows, unwanted=no_unwanted())
    tasks = callers(joined, 3)
    await asyncio.sleep(0)
    tasks[1].cancel()
    free.set()
    answers = await settled(tasks)
    await held
    assert rows.ns == [2]
    assert answers[0] == "w1-0" and answers[2] == "w1-1"
    assert isinstance(answers[1], asyncio.CancelledError)


async def test_an_answer_whose_caller_left_during_the_write_goes_to_unwanted(
    sqlite: Sessions,
) -> None:
    given_back: list[str] = []

    async def unwanted(answer: str) -> None:
        given_back.append(answer)

    hold = asyncio.Event()
    rows = Rows(hold=hold)
    joined = Joined(sqlite, rows, unwanted=unwanted)
    tasks = callers(joined, 2)
    await rows.started.wait()  # the write has begun with both callers in it
    tasks[0].cancel()
    hold.set()
    answers = await settled(tasks)
    await joined.settle()
    assert isinstance(answers[0], asyncio.CancelledError) and answers[1] == "w1-1"
    assert given_back == ["w1-0"]


async def test_a_failed_write_fails_its_callers_and_the_next_write_starts_afresh(
    sqlite: Sessions,
) -> None:
    rows = Rows(fail=True)
    joined = Joined(sqlite, rows, unwanted=no_unwanted())
    answers = await settled(callers(joined, 3))
    assert all(isinstance(a, ValueError) for a in answers)
    assert await scopes(sqlite) == []  # its rows rolled back with it
    rows.fail = False
    assert await settled(callers(joined, 2)) == ["w2-0", "w2-1"]
    assert rows.ns == [3, 2]
