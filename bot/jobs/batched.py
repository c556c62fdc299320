"""Many callers, one database trip: calls that arrive while a batch runs go in the next one.

A worker's claim loops each want the next job, and each delivered post wants its confirm
written. One at a time, each is a write transaction of its own, and a transaction's fixed
cost (session, BEGIN, COMMIT, on SQLite its turn at the one writer) is most of what such a
small write costs (bench/bench_queue.py). `Batched` is group commit for them: the first call
starts a batch at once (no waiting for company, unless `gather_s` asks for it), and every
call made while it runs joins the next. Nothing waits longer than one batch ahead of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batched(Generic[T, R]):
    """`await batched(item)` is `run([item, ...])`'s answer for that item.

    `run` gets the items in arrival order and answers each, in order. When `unwanted` is
    given, a caller that stops waiting (cancelled) before its batch starts is left out, and
    an answer whose caller stopped waiting meanwhile goes to `unwanted` (a claimed job to
    give back). Without it, every item is run even when its caller has gone: the write still
    happens. A failing `run` fails every call of its batch. With `gather_s`, a batch waits
    that long for company before it starts (writes nobody waits for: fewer, larger batches).
    """

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R]]],
        *,
        unwanted: Callable[[R], Awaitable[None]] | None = None,
        gather_s: float = 0.0,
    ) -> None:
        self._run = run
        self._unwanted = unwanted
        self._gather_s = gather_s
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._batches: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        return await self.submit(item)

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue `item` for the next batch; its answer, for those who wait for it."""
        loop = asyncio.get_running_loop()
        if self._batches is not None and self._batches.get_loop() is not loop:
            # Its event loop ended mid-batch (one test's loop, then the next): start over.
            self._batches, self._waiting = None, []
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._batches is None:
            self._batches = asyncio.create_task(self._run_batches(), name="batched")
        return future

    async def settle(self) -> None:
        """Wait for the batches in flight (and any that have joined them) to end."""
        while self._batches is not None:
            await asyncio.shield(self._batches)

    async def _run_batches(self) -> None:
        try:
            while self._waiting:
                if self._gather_s > 0:
                    await asyncio.sleep(self._gather_s)
                batch, self._waiting = self._waiting, []
                if self._unwanted is not None:
                    batch = [(item, future) for item, future in batch if not future.done()]
                if batch:
                    await self._one(batch)
        finally:
            self._batches = None
            for _, future in self._waiting:  # only when cancelled itself (a loop's end)
                future.cancel()
            self._waiting = []

    async def _one(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            answers = await self._run([item for item, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
            elif self._unwanted is not None:
                await self._unwanted(answer)
