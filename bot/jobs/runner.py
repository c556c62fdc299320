"""Run one claimed job to its final row: provider call, outputs, versions, money, status.

Everything a success writes (output images, thread versions, the budget settle and the
SUCCEEDED status) goes in ONE write transaction that only commits while this worker still
holds the lease; a failure writes the refund and FAILED the same way. A worker that lost its
lease (it stalled, another worker reclaimed the job) therefore changes nothing.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from PIL import Image
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import BudgetDefaults
from bot.core.edits import EditRequest, EditResult, OnProgress, Progress, Stage
from bot.core.errors import DeadlineExceeded, ProviderError, ProviderRejected, UserError
from bot.core.jobs import JobStatus
from bot.core.messages import FailureKind, failure_for_user, status_running, thread_title
from bot.core.ports import BlobStore, ChatPort, MessageRef, Provider
from bot.core.pricing import PriceTable, settle
from bot.jobs.codec import load_request, place_of, request_of
from bot.jobs.delivery import Ready, caption_of, named_images
from storage import budgets
from storage.budget_reports import channel_policy, standing
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.images import add_job_images
from storage.models import ImageRole, Job, JobImage
from storage.queue import finish, renew, set_provider_task
from storage.threads import VersionImage, add_versions, add_versions_to_thread

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Claims a job gets; past this (it keeps killing its worker) it fails for good."""
PROGRESS_EVERY_S = 2.0
"""Least seconds between two status updates of the same stage (the adapters throttle too)."""


class LeaseLost(Exception):
    """This worker no longer holds the job's lease; whatever it was writing is dropped."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: SUCCEEDED / FAILED as written, or None when the lease was lost.

    `ready`: the job was marked delivered as it finished; post this now (bot.delivery).
    """

    job_id: str
    status: JobStatus | None
    message: str | None = None
    ready: Ready | None = None


def _probe(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


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

    async def run(self, job: Job, images: Sequence[JobImage] | None = None) -> RunOutcome:
        """Run `job` (claimed by `owner`) to SUCCEEDED or FAILED, renewing the lease meanwhile."""
        if job.attempts > self.max_attempts:
            log.error("job %s: %d claims, giving up", job.id, job.attempts)
            return await self._fail(job, failure_for_user(FailureKind.INTERNAL, job.id))
        lost = asyncio.Event()
        work = asyncio.create_task(self._attempt(job, images), name=f"job-{job.id}")
        keeper = asyncio.create_task(self._keep_lease(job, work, lost))
        try:
            return await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if lost.is_set() and task is not None and not task.cancelling():
                log.warning("job %s: lease lost to another worker; dropped", job.id)
                return RunOutcome(job.id, None)
            raise
        finally:
            keeper.cancel()

    async def _keep_lease(
        self, job: Job, work: asyncio.Task[RunOutcome], lost: asyncio.Event
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

    async def _attempt(self, job: Job, images: Sequence[JobImage] | None) -> RunOutcome:
        try:
            if images is None:
                async with self.sessions() as session:
                    request = await load_request(session, self.blobs, job)
            else:  # read with the claim
                request = await request_of(self.blobs, job, images)
            result = await self._call_provider(job, request)
            return await self._succeed(job, request, result)
        except LeaseLost:
            return RunOutcome(job.id, None)
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

    async def _call_provider(self, job: Job, request: EditRequest) -> EditResult:
        on_progress = self._progress_reporter(job)
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
                raise LeaseLost(job.id)

        return await self.provider.edit(request, on_progress=on_progress, on_task_id=on_task_id)

    def _progress_reporter(self, job: Job) -> OnProgress | None:
        chat = self.chats.get(job.platform)
        if chat is None or job.status_message_id is None:
            return None
        ref = MessageRef(place_of(job), job.status_message_id)
        last: dict[str, float] = {}

        async def report(progress: Progress) -> None:
            now = time.monotonic()
            stage = progress.stage.value
            if now - last.get(stage, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
                return
            last[stage] = now
            label = "editing" if progress.stage in (Stage.QUEUED, Stage.RUNNING) else stage
            try:
                await chat.update_text(ref, status_running(progress.elapsed_s, label))
            except Exception:  # a status line must never fail the edit
                log.warning("job %s: status update failed", job.id, exc_info=True)

        return report

    async def _succeed(self, job: Job, request: EditRequest, result: EditResult) -> RunOutcome:
        outputs = []
        for image in result.images:
            sha = await self.blobs.put(image.data)
            width, height = await asyncio.to_thread(_probe, image.data)
            outputs.append(VersionImage(sha256=sha, mime=image.mime, width=width, height=height))
        cost = settle(provider=result.provider, request=request, result=result, table=self.table)
        thread = await self._thread_of(job)
        deliver_now = job.platform in self.chats
        now = self.clock()
        async with write_session(self.sessions) as session:
            await add_job_images(session, job_id=job.id, role=ImageRole.OUTPUT, images=outputs)
            version, edit_thread = None, job.edit_thread_id
            if thread is not None:
                version, edit_thread = await _add_versions(session, job, thread, outputs)
            held = await finish(
                session,
                job_id=job.id,
                owner=self.owner,
                status=JobStatus.SUCCEEDED,
                cost_micros=cost.micros,
                version=version,
                delivered=deliver_now,
                also={"thread": thread, "edit_thread_id": edit_thread} if thread else None,
                now=now,
            )
            if not held:
                raise LeaseLost(job.id)  # rolls back the outputs and versions
            # The settle goes last: on PostgreSQL it locks the user's and the channel's usage
            # rows, which every success and reservation in the channel waits for, until the
            # commit. The caption's policy is read before it, its spent / cap from its RETURNING.
            policy = None
            if deliver_now:
                policy = await channel_policy(session, scope=job.scope, defaults=self.defaults)
            closed = await budgets.settle_usage(session, job_id=job.id, cost_micros=cost.micros)
            money = None
            if policy is not None:
                money = await standing(
                    session, scope=job.scope, defaults=self.defaults, known=closed, policy=policy
                )
        log.info("job %s: succeeded, v%s, %d micro-dollars", job.id, version, cost.micros)
        if thread is not None:
            job.thread, job.edit_thread_id = thread, edit_thread
        job.status, job.version, job.cost_micros, job.finished_at = (
            JobStatus.SUCCEEDED,
            version,
            cost.micros,
            now,
        )
        ready = None
        if money is not None:
            pairs = zip(result.images, outputs, strict=True)
            files = [(i.data, o.mime, o.width, o.height) for i, o in pairs]
            caption = caption_of(job, money, n_images=len(files))
            ready = Ready(job, named_images(job, files), caption)
        return RunOutcome(job.id, JobStatus.SUCCEEDED, ready=ready)

    async def _thread_of(self, job: Job) -> str | None:
        if job.thread is not None:
            return job.thread
        chat = self.chats.get(job.platform)
        if chat is None:
            log.warning("job %s: no thread and no %s chat port; no versions", job.id, job.platform)
            return None
        place = await chat.open_thread(
            place_of(job), title=thread_title(job.prompt), anchor=job.status_message_id
        )
        return place.thread

    async def _fail(self, job: Job, message: str) -> RunOutcome:
        deliver_now = job.platform in self.chats
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
                    raise LeaseLost(job.id)  # rolls back the refund
        except LeaseLost:
            return RunOutcome(job.id, None)
        job.status, job.error, job.finished_at = JobStatus.FAILED, message, now
        ready = Ready(job) if deliver_now else None
        return RunOutcome(job.id, JobStatus.FAILED, message, ready=ready)


async def _add_versions(
    session: AsyncSession, job: Job, thread: str, outputs: list[VersionImage]
) -> tuple[int, int]:
    """The job's outputs as the next versions of its edit thread (found or created in the
    same upsert when the job has none yet): (the last new version, the edit thread id)."""
    if job.edit_thread_id is None:
        edit_thread, added = await add_versions_to_thread(
            session,
            platform=job.platform,
            workspace=job.workspace,
            channel=job.channel,
            thread=thread,
            job_id=job.id,
            images=outputs,
            prompt=job.prompt,
        )
    else:
        edit_thread = job.edit_thread_id
        added = await add_versions(
            session, thread_id=edit_thread, job_id=job.id, images=outputs, prompt=job.prompt
        )
    return added[-1].version, edit_thread
