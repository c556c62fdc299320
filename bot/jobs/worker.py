"""The worker pool: N claim loops that take queued jobs, run them and deliver them once.

Jobs live in the database, so any number of processes can run a Worker on the same queue:
claims are leases (storage.queue), a dead worker's jobs are reclaimed when their lease ends,
and a job whose provider task id was stored resumes polling instead of being paid for twice.
`wake()` (called by the service after enqueue) starts idle loops at once; otherwise they poll
every `idle_poll_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial

from bot.core.config import Settings, budget_defaults
from bot.core.jobs import JobSpec, JobWithInputs
from bot.core.metrics import Registry
from bot.core.ports import BlobStore, ChatPort, Provider
from bot.core.pricing import PriceTable
from bot.jobs.batched import Batched
from bot.jobs.joined import Joined
from bot.jobs.outcome import Outcome
from bot.jobs.runner import MAX_ATTEMPTS, JobRunner, OnCalled
from bot.jobs.sweep import deliver_pending, post_once, settle_confirms
from bot.jobs.writer import write_one
from storage.claims import claim_in
from storage.columns import utcnow
from storage.db import Runner, Sessions, one_writer, write_session
from storage.lost import record_lost
from storage.queue import release

log = logging.getLogger(__name__)

Periodic = Callable[[], Awaitable[None]]


class Worker:
    """A pool of `concurrency` claim loops sharing one lease owner name, in one process."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        blobs: BlobStore,
        chats: Mapping[str, ChatPort],
        provider: Provider,
        table: PriceTable,
        settings: Settings,
        owner: str,
        concurrency: int | None = None,
        lease_s: float = 60.0,
        idle_poll_s: float = 0.5,
        periodic: Periodic | None = None,
        periodic_s: float = 30.0,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], datetime] = utcnow,
        metrics: Registry | None = None,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.chats = chats
        self.settings = settings
        self.owner = owner
        self.concurrency = concurrency or settings.workers
        self.lease_s = lease_s
        self.idle_poll_s = idle_poll_s
        self.periodic = periodic
        self.periodic_s = periodic_s
        self.clock = clock
        self.runner = JobRunner(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            provider=provider,
            table=table,
            defaults=budget_defaults(settings),
            owner=owner,
            lease_s=lease_s,
            max_attempts=max_attempts,
            clock=clock,
        )
        self.defaults = budget_defaults(settings)
        self.delivery_failures = (metrics or Registry()).counter(
            "delivery_failures_total", "Posts of finished jobs that failed, by platform"
        )
        self.outcomes: list[Outcome] = []
        self._wake = asyncio.Event()
        self._sweep_now = asyncio.Event()
        self._stopping = False
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        # Loops waiting for a job share one claim (of as many jobs as there are of them):
        # on SQLite, every loop that comes to wait before the writer starts it (joined.py).
        if one_writer(sessions):
            self._claims: Joined[JobWithInputs] | Batched[None, JobWithInputs | None] = Joined(
                sessions, self._claim_in, unwanted=self._give_back
            )
        else:
            self._claims = Batched(self._claim_batch, unwanted=self._give_back)

    # -- control -----------------------------------------------------------------------------

    def wake(self) -> None:
        """A job was enqueued: idle loops claim now instead of at their next poll."""
        self._wake.set()
        # A fresh event per wake-up: loops that captured the old one see it set (no lost wakes).
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Claim and run jobs until `stop()`; deliver what a crash left undelivered first."""
        self._stopping = False
        await self._deliver_pending()
        ticker = asyncio.create_task(self._tick(), name="worker-periodic")
        self._loops = [
            asyncio.create_task(self._loop(i, until_idle=False), name=f"worker-{i}")
            for i in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*self._loops, return_exceptions=True)
            await self._wait_jobs()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await self._settle()

    async def drain(self) -> None:
        """Run until no job is left to claim (then return): for tests and one-shot runs."""
        self._stopping = False
        await self._deliver_pending()
        self._loops = [
            asyncio.create_task(self._loop(i, until_idle=True), name=f"worker-{i}")
            for i in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*self._loops)
            await self._wait_jobs()
        finally:
            await self._settle()
        await self._deliver_pending()

    async def stop(self, *, graceful: bool = True, grace_s: float = 30.0) -> None:
        """Stop claiming. Graceful: let running jobs finish for up to `grace_s`; the rest (or
        all, when not graceful) are cancelled and their leases released back to the queue."""
        self._stopping = True
        self._wake.set()
        running = list(self._running.values())
        if graceful and running:
            await asyncio.wait(running, timeout=grace_s)
        for task in self._running.values():
            task.cancel()
        if self._loops:
            await asyncio.gather(*self._loops, return_exceptions=True)
        await self._wait_jobs()
        await self._settle()

    async def _settle(self) -> None:
        """The writes still in flight in the background end before the worker does: a claim
        gives back the jobs nobody waits for any more, successes and confirms are written."""
        await self._claims.settle()
        await settle_confirms(self.sessions)
        await self.runner.settle()  # the writes the claims and confirms queued included

    # -- loops -------------------------------------------------------------------------------

    async def _loop(self, index: int, *, until_idle: bool) -> None:
        # The job this loop ran last waits to write its success until this loop's next claim
        # is over: a wave of calls coming back claims the next wave before the event loop
        # turns to their successes, so the provider is kept busy (bench/bench_phases.py).
        turn: asyncio.Future[None] | None = None
        try:
            while not self._stopping:
                wake = self._wake
                try:
                    claimed = await self._claim()
                except Exception:
                    log.exception("worker %s/%d: claim failed", self.owner, index)
                    claimed = None
                    if until_idle:
                        raise
                finally:
                    _give_turn(turn)
                if claimed is None:
                    if until_idle:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.idle_poll_s)
                    continue
                turn = await self._run_one(claimed)
        finally:
            _give_turn(turn)

    async def _claim(self) -> JobWithInputs | None:
        if isinstance(self._claims, Joined):
            return await self._claims()
        return await self._claims(None)

    async def _claim_in(self, session: Runner, count: int) -> list[JobWithInputs]:
        now = self.clock()
        return await claim_in(session, owner=self.owner, lease_s=self.lease_s, count=count, now=now)

    async def _claim_batch(self, waiting: list[None]) -> list[JobWithInputs | None]:
        """One claim for every loop waiting: a job each while there are enough."""
        claimed: list[JobWithInputs | None] = []
        # On PostgreSQL the claim is one statement (storage.claims): no transaction around it.
        claimed += await write_one(self.sessions, partial(self._claim_in, count=len(waiting)))
        return claimed + [None] * (len(waiting) - len(claimed))

    async def _give_back(self, claimed: JobWithInputs | None) -> None:
        """A job claimed for a loop that stopped waiting (a stop) goes back to the queue."""
        if claimed is not None:
            await self._release(claimed.spec)

    async def _run_one(self, claimed: JobWithInputs) -> asyncio.Future[None]:
        """Start the job; return once its provider call is over (or the job is), with the
        future the job's success waits for (the loop's next claim over: `_give_turn`).

        What is left after the call (the outputs' blobs, the success write, the post) runs
        on in the job's task while this loop claims the next job: `concurrency` bounds the
        provider calls in flight, and a loop does not wait for the writer's turn between
        two of them. stop(), drain() and run() wait for those tails."""
        job_id = claimed.spec.id
        loop = asyncio.get_running_loop()
        called: asyncio.Future[None] = loop.create_future()
        turn: asyncio.Future[None] = loop.create_future()

        def over() -> None:
            if not called.done():
                called.set_result(None)

        def over_then_turn() -> asyncio.Future[None]:
            over()
            return turn

        task = asyncio.create_task(self._job(claimed, over, over_then_turn), name=f"job-{job_id}")
        self._running[job_id] = task
        task.add_done_callback(partial(self._ended, job_id))
        task.add_done_callback(lambda _: over())  # even one cancelled before it ran
        try:
            await asyncio.shield(called)  # a cancelled loop leaves `called` as it is
        except asyncio.CancelledError:
            if not called.done():  # the loop was cancelled mid-call: so is its job
                task.cancel()
            _give_turn(turn)
            raise
        return turn

    async def _job(
        self, claimed: JobWithInputs, over: Callable[[], None], on_called: OnCalled
    ) -> None:
        try:
            await self._process(claimed, on_called)
        except asyncio.CancelledError:
            # stop() cancelled the job, or its loop did while it called the provider: the
            # job goes back to the queue for another worker (or a restart).
            await self._release(claimed.spec)
            raise
        finally:
            over()

    def _ended(self, job_id: str, task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("job %s: failed", job_id, exc_info=error)

    async def _wait_jobs(self) -> None:
        """Until every job's task has ended (the tails the loops left running included)."""
        while self._running:
            await asyncio.wait(list(self._running.values()))

    async def _process(self, claimed: JobWithInputs, on_called: OnCalled) -> None:
        outcome = await self.runner.run(claimed, on_called=on_called)
        self.outcomes.append(outcome)
        if outcome.delivery is None:
            return  # lease lost, or no client here for its platform: the sweep delivers it
        chat = self.chats[outcome.delivery.place.platform]
        try:
            await post_once(
                self.sessions,
                chat,
                outcome.delivery,
                failures=self.delivery_failures,
                wait_confirm=False,
            )
        except Exception:  # taking the mark back failed too; the result stays in `versions`
            log.exception("job %s: delivery failed", outcome.job_id)

    async def _release(self, job: JobSpec) -> None:
        # Cut short mid-call: the provider bills the call, so it is recorded as lost and its
        # claim stays counted (storage.lost); else the claim is taken back.
        lost = job.id in self.runner.cut_short
        self.runner.cut_short.discard(job.id)
        try:
            async with write_session(self.sessions) as session:
                if lost:
                    await record_lost(session, job_id=job.id, attempts=job.attempts)
                await release(session, job_id=job.id, owner=self.owner, keep_attempt=lost)
        except Exception:  # the lease runs out on its own; another worker takes the job then
            log.warning("job %s: release failed", job.id, exc_info=True)

    async def _deliver_pending(self) -> None:
        try:
            await deliver_pending(
                sessions=self.sessions,
                blobs=self.blobs,
                chats=self.chats,
                defaults=self.defaults,
                owner=self.owner,
                failures=self.delivery_failures,
            )
        except Exception:
            log.exception("worker %s: delivering pending results failed", self.owner)

    def sweep_soon(self) -> None:
        """Deliveries came back (a dead process's unconfirmed posts): sweep now, not at the
        next tick."""
        self._sweep_now.set()

    async def _tick(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_now.wait(), self.periodic_s)
            self._sweep_now.clear()
            await self._deliver_pending()
            if self.periodic is not None:
                try:
                    await self.periodic()
                except Exception:
                    log.exception("worker %s: periodic hook failed", self.owner)


def _give_turn(turn: asyncio.Future[None] | None) -> None:
    """The job waiting for its loop's next claim goes on (a cancelled job's future is done)."""
    if turn is not None and not turn.done():
        turn.set_result(None)
