"""Run one claimed job to its end: provider call, outputs, versions, money, status.

Everything a success writes (output images, thread versions, the budget settle and the
SUCCEEDED status) goes in ONE write transaction that only commits while this worker still
holds the lease; a failure writes the refund and FAILED the same way. A worker that lost its
lease (it stalled, another worker reclaimed the job) therefore changes nothing. A run returns
an Outcome value (bot.jobs.outcome): the job as finished and what to post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from bot.core.budgets import BudgetDefaults, Policy
from bot.core.edits import EditRequest, EditResult
from bot.core.errors import DeadlineExceeded, ProviderError, ProviderRejected, UserError
from bot.core.jobs import JobSpec, JobStatus, JobWithInputs, StoredImage
from bot.core.messages import FailureKind, failure_for_user, thread_title
from bot.core.ports import BlobStore, ChatPort, Provider
from bot.core.pricing import PriceTable, settle
from bot.images.stored import image_size, load_request
from bot.jobs.delivery import ButtonPrices, button_prices, failure_delivery, result_delivery
from bot.jobs.outcome import Failed, LeaseLost, Outcome, Succeeded
from bot.jobs.progress import QueueBoard, progress_reporter
from bot.jobs.writer import settle_writes, write, write_one
from storage import budgets
from storage.budget_reports import Standing, channel_policy_of, standing
from storage.budgets import Closed
from storage.columns import utcnow
from storage.db import Runner, Sessions, Write, write_session
from storage.lost import record_lost
from storage.queue import finish, renew, set_provider_task
from storage.successes import in_one_statement, write_success

log = logging.getLogger(__name__)
T = TypeVar("T")
OnCalled = Callable[[], Awaitable[None] | None]
"""Called once a job's provider call is over: what it returns, the job waits for."""

MAX_ATTEMPTS = 3
"""Claims a job gets; past this (it keeps killing its worker) it fails for good."""


@dataclass(frozen=True)
class _Record:
    """What a success writes, worked out before its write transaction."""

    job: JobSpec
    thread: str | None
    outputs: list[StoredImage]
    cost_micros: int
    deliver_now: bool
    now: datetime


class _LeaseLost(Exception):
    """Raised inside a write transaction when this worker no longer holds the lease."""


class JobRunner:
    """Runs claimed jobs for one worker identity (`owner`, the lease holder)."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        blobs: BlobStore,
        chats: Mapping[str, ChatPort],
        provider: Provider,
        table: PriceTable,
        defaults: BudgetDefaults,
        owner: str,
        lease_s: float,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.defaults = defaults
        self.blobs = blobs
        self.chats = chats
        self.provider = provider
        self.table = table
        self.owner = owner
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.clock = clock
        self.queue_board = QueueBoard(sessions=sessions, chats=chats)
        """Counts the queued edits' status lines down as jobs leave the queue."""
        self.cut_short: set[str] = set()
        """Jobs whose provider call was cancelled (a stop's grace ran out) while in flight."""

    async def run(self, claimed: JobWithInputs, *, on_called: OnCalled | None = None) -> Outcome:
        """Run a job `owner` claimed to SUCCEEDED or FAILED, renewing the lease meanwhile.
        `on_called` is called once the provider call is over (whatever its end); when the
        call succeeded, what it returns (if anything) is awaited before the success is
        written (the worker's loop claims its next job first)."""
        job = claimed.spec
        if job.attempts > 1 and not job.provider_task_id:
            await self._record_lost(job)
        if job.attempts > self.max_attempts:
            log.error("job %s: %d claims, giving up", job.id, job.attempts)
            return await self._fail(job, failure_for_user(FailureKind.INTERNAL, job.id))
        lost = asyncio.Event()
        work = asyncio.create_task(self._attempt(claimed, on_called), name=f"job-{job.id}")
        keeper = asyncio.create_task(self._keep_lease(job, work, lost))
        try:
            return await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if lost.is_set() and task is not None and not task.cancelling():
                log.warning("job %s: lease lost to another worker; dropped", job.id)
                self.cut_short.discard(job.id)  # the next holder's claim records it as lost
                return LeaseLost(job.id)
            raise
        finally:
            keeper.cancel()

    async def _record_lost(self, job: JobSpec) -> None:
        """Earlier claims of this job ended without a finish or a release: their processes
        died, most likely mid-call, and the provider bills such a call. Each is recorded once
        (storage.lost), at the estimate. A job with a provider task id resumes it instead."""
        try:
            async with write_session(self.sessions) as session:
                added = await record_lost(
                    session, job_id=job.id, attempts=job.attempts - 1, now=self.clock()
                )
        except Exception:
            log.exception("job %s: recording its lost attempts failed", job.id)
            return
        if added:
            log.warning("job %s: %d attempt(s) lost with their process; charged", job.id, added)

    async def _keep_lease(
        self, job: JobSpec, work: asyncio.Task[Outcome], lost: asyncio.Event
    ) -> None:
        # A third of the lease: two renewals can fail (a slow database) before it runs out.
        interval = self.lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with write_session(self.sessions) as session:
                    held = await renew(
                        session,
                        job_id=job.id,
                        owner=self.owner,
                        lease_s=self.lease_s,
                        now=self.clock(),
                    )
            except Exception:
                log.warning("job %s: lease renewal failed; retrying", job.id, exc_info=True)
                continue
            if not held:
                lost.set()
                work.cancel()
                return

    async def _attempt(self, claimed: JobWithInputs, on_called: OnCalled | None) -> Outcome:
        job = claimed.spec
        turn: Awaitable[None] | None = None
        try:
            try:
                request = await load_request(self.blobs, claimed)
                result = await self._call_provider(job, request)
            finally:
                if on_called is not None:
                    turn = on_called()
            if turn is not None:
                await turn
            return await self._succeed(job, request, result)
        except _LeaseLost:
            return LeaseLost(job.id)
        except UserError as exc:
            return await self._fail(job, str(exc))
        except ProviderRejected as exc:
            log.warning("job %s: provider rejected: %s", job.id, exc)
            detail = str(exc)
            return await self._fail(
                job, failure_for_user(FailureKind.REJECTED, job.id, detail=detail)
            )
        except DeadlineExceeded as exc:
            log.warning("job %s: deadline: %s", job.id, exc)
            return await self._fail(job, failure_for_user(FailureKind.TIMEOUT, job.id))
        except ProviderError as exc:
            log.warning("job %s: provider failed (status %s): %s", job.id, exc.status, exc)
            return await self._fail(job, failure_for_user(FailureKind.PROVIDER_DOWN, job.id))
        except Exception:
            log.exception("job %s: internal error", job.id)
            return await self._fail(job, failure_for_user(FailureKind.INTERNAL, job.id))

    async def _call_provider(self, job: JobSpec, request: EditRequest) -> EditResult:
        resumable: list[str] = [job.provider_task_id] if job.provider_task_id else []
        try:
            return await self._provider_call(job, request, resumable)
        except asyncio.CancelledError:
            if not resumable:  # the provider has it and bills it: the release records it lost
                self.cut_short.add(job.id)
            raise

    async def _provider_call(
        self, job: JobSpec, request: EditRequest, resumable: list[str]
    ) -> EditResult:
        on_progress = progress_reporter(
            self.chats.get(job.place.platform), job, board=self.queue_board
        )
        if job.provider_task_id:
            try:
                # A task a dead worker submitted: poll it, never pay for a second one.
                return await self.provider.resume(
                    job.provider_task_id, request, on_progress=on_progress
                )
            except NotImplementedError:
                log.info("job %s: %s cannot resume; submitting again", job.id, self.provider.name)

        async def on_task_id(task_id: str) -> None:
            async with write_session(self.sessions) as session:
                held = await set_provider_task(
                    session, job_id=job.id, owner=self.owner, task_id=task_id
                )
            if not held:
                raise _LeaseLost(job.id)
            resumable.append(task_id)

        return await self.provider.edit(request, on_progress=on_progress, on_task_id=on_task_id)

    async def _succeed(self, job: JobSpec, request: EditRequest, result: EditResult) -> Outcome:
        outputs = []
        for image in result.images:
            sha, (width, height) = await asyncio.gather(
                self.blobs.put(image.data), image_size(image.data)
            )
            outputs.append(StoredImage(sha256=sha, mime=image.mime, width=width, height=height))
        cost = settle(provider=result.provider, request=request, result=result, table=self.table)
        thread = await self._thread_of(job)
        deliver_now = job.place.platform in self.chats
        now = self.clock()
        record = _Record(job, thread, outputs, cost.micros, deliver_now, now)
        # One statement on PostgreSQL needs no transaction around it: no BEGIN, no COMMIT,
        # no session (bot.jobs.writer.write_one).
        work = partial(self._record, record)
        if in_one_statement(self.sessions, job=job, thread=thread):
            version, edit_thread, money = await write_one(self.sessions, work)
        else:
            version, edit_thread, money = await self._write(work)
        log.info("job %s: succeeded, v%s, %d micro-dollars", job.id, version, cost.micros)
        done = replace(
            job,
            place=replace(job.place, thread=thread or job.place.thread),
            edit_thread_id=edit_thread,
            status=JobStatus.SUCCEEDED,
            version=version,
            cost_micros=cost.micros,
            finished_at=now,
        )
        if money is None:
            return Succeeded(done, None)
        pairs = zip(result.images, outputs, strict=True)
        files = [(i.data, o.mime, o.width, o.height) for i, o in pairs]
        prices = self._prices(request, result, outputs[0])
        return Succeeded(done, result_delivery(done, files, money, prices=prices))

    async def _record(
        self, r: _Record, session: Runner
    ) -> tuple[int | None, int | None, Standing | None]:
        """A success's writes: outputs, versions, the finish, the settle
        (storage.successes); raises _LeaseLost (which rolls them back) when this worker no
        longer holds the job."""
        job = r.job
        # The caption's policy is read in the write (a read of its own would be two more
        # round trips, BEGIN and its end): storage.successes.
        written = await write_success(
            session,
            job=job,
            owner=self.owner,
            thread=r.thread,
            outputs=r.outputs,
            cost_micros=r.cost_micros,
            delivered=r.deliver_now,
            now=r.now,
            read_policy=r.deliver_now,
        )
        if written is None:
            raise _LeaseLost(job.id)
        money = None
        if written.policies is not None:
            # The caption's spent / cap come from the settle's RETURNING.
            policy = channel_policy_of(written.policies, scope=job.scope, defaults=self.defaults)
            money = await self._standing(session, job, written.closed, policy, r.now)
        return written.version, written.edit_thread_id, money

    async def _write(self, work: Write[T]) -> T:
        """`work` in a write transaction (on SQLite, shared: bot.jobs.writer)."""
        return await write(self.sessions, work)

    async def settle(self) -> None:
        """Wait for the writes queued in the background (a stop's end)."""
        await settle_writes(self.sessions)

    async def _standing(
        self, session: Runner, job: JobSpec, closed: Closed | None, policy: Policy, now: datetime
    ) -> Standing:
        """The channel's money after this settle, in the settle's period (the job's clock)."""
        return await standing(
            session, scope=job.scope, defaults=self.defaults, known=closed, policy=policy, now=now
        )

    def _prices(self, request: EditRequest, result: EditResult, first: StoredImage) -> ButtonPrices:
        """What the result's buttons would cost (Retry, High quality, Vary), estimated."""
        return button_prices(
            provider=result.provider,
            request=request,
            output_size=(first.width, first.height),
            table=self.table,
        )

    async def _thread_of(self, job: JobSpec) -> str | None:
        if job.place.thread is not None:
            return job.place.thread
        chat = self.chats.get(job.place.platform)
        if chat is None:
            log.warning(
                "job %s: no thread and no %s chat port; no versions", job.id, job.place.platform
            )
            return None
        place = await chat.open_thread(
            job.place, title=thread_title(job.prompt), anchor=job.status_message_id
        )
        return place.thread

    async def _fail(self, job: JobSpec, message: str) -> Outcome:
        deliver_now = job.place.platform in self.chats
        now = self.clock()
        try:
            async with write_session(self.sessions) as session:
                await budgets.refund(session, job_id=job.id)
                held = await finish(
                    session,
                    job_id=job.id,
                    owner=self.owner,
                    status=JobStatus.FAILED,
                    error=message,
                    delivered=deliver_now,
                    now=now,
                )
                if not held:
                    raise _LeaseLost(job.id)  # rolls back the refund
        except _LeaseLost:
            return LeaseLost(job.id)
        done = replace(job, status=JobStatus.FAILED, error=message, finished_at=now)
        return Failed(done, failure_delivery(done) if deliver_now else None)
