"""Callers that share one write until SQLite's writer starts it.

A worker's idle claim loops each want the next job. Through `Batched` they shared a claim,
but calls made while a claim waited for the writer's turn formed the next one, which then
waited for a turn of its own: a loop waited for up to two turns (bench/bench_phases.py
measured 340 ms a claim). Here a write stays open to newcomers until the writer actually
starts it (bot.jobs.writer): whoever has joined by then is answered by it, and a caller
waits for one turn at most.

For PostgreSQL, where writes do not queue for a turn, `Batched` remains the better fit: a
write there starts at once, so nobody could join it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.jobs.writer import write
from storage.db import Session, Sessions

R = TypeVar("R")


class Joined(Generic[R]):
    """`await joined()` is one answer of `run(session, n)`, which answers the n callers that
    joined before it started (in arrival order; fewer answers leave the rest None).

    A caller that stops waiting (cancelled) before the write starts is left out; an answer
    whose caller stopped waiting later goes to `unwanted` (a claimed job to give back). A
    failing write fails every call that joined it."""

    def __init__(
        self,
        sessions: Sessions,
        run: Callable[[Session, int], Awaitable[list[R]]],
        *,
        unwanted: Callable[[R], Awaitable[None]],
    ) -> None:
        self._sessions = sessions
        self._run = run
        self._unwanted = unwanted
        self._open: list[asyncio.Future[R | None]] | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def __call__(self) -> R | None:
        future: asyncio.Future[R | None] = asyncio.get_running_loop().create_future()
        if self._open is None:
            self._open = []
            task = asyncio.create_task(self._write(self._open), name="joined-write")
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        self._open.append(future)
        return await future

    async def settle(self) -> None:
        """Wait for the writes in flight (a worker's stop)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _write(self, joined: list[asyncio.Future[R | None]]) -> None:
        waiting: list[asyncio.Future[R | None]] = []

        async def work(session: Session) -> list[R]:
            if self._open is joined:
                self._open = None  # from here on, newcomers start the next write
            waiting[:] = [future for future in joined if not future.done()]
            return await self._run(session, len(waiting)) if waiting else []

        try:
            answers: list[R | None] = list(await write(self._sessions, work))
        except BaseException as error:
            for future in joined:
                if not future.done():
                    if isinstance(error, Exception):
                        future.set_exception(error)
                    else:
                        future.cancel()
            if not isinstance(error, Exception):
                raise
            return
        finally:
            if self._open is joined:  # the write never started
                self._open = None
        answers += [None] * (len(waiting) - len(answers))
        for future, answer in zip(waiting, answers, strict=True):
            if not future.done():
                future.set_result(answer)
            elif answer is not None:
                await self._unwanted(answer)
