"""From a prepared edit to job rows: reserve and enqueue in one transaction, or ask first.

Shared by the EditService's submit and by the buttons (retry, high quality, confirm), so a
job is created, paid for and announced the same way whichever path made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import BudgetDefaults, Refusal, Reservation
from bot.core.config import Settings, budget_defaults
from bot.core.domain import NormalizedImage, Place, ProviderName
from bot.core.edits import EditRequest
from bot.core.jobs import JobStatus
from bot.core.messages import budget_refused, budget_warning, status_confirm, status_queued
from bot.core.ports import Action, ActionButton, BlobStore, ChatPort, MessageRef, ResultImage
from bot.core.pricing import PriceTable
from bot.jobs.codec import request_json
from bot.service.prepare import PreparedEdit
from storage.budgets import reserve_many
from storage.db import Sessions, write_session
from storage.images import add_job_images
from storage.models import ImageRole, Job, new_job_id
from storage.queue import enqueue, jobs_ahead
from storage.threads import VersionImage, get_or_create_thread

log = logging.getLogger(__name__)

WHO_CAN_RAISE = "a workspace admin"
"""Named in refusals; the message itself says the command (`/edit-budget set`)."""


@dataclass(frozen=True)
class ServiceContext:
    """Everything the service's parts share: injected resources and configuration."""

    sessions: Sessions
    blobs: BlobStore
    chats: Mapping[str, ChatPort]
    settings: Settings
    table: PriceTable
    provider: ProviderName
    clock: Callable[[], datetime]
    on_enqueued: Callable[[], None] | None = None

    def chat(self, platform: str) -> ChatPort:
        """The ChatPort of a platform; KeyError names it when the adapter was not wired."""
        return self.chats[platform]

    @property
    def defaults(self) -> BudgetDefaults:
        return budget_defaults(self.settings)

    def wake_workers(self) -> None:
        if self.on_enqueued is not None:
            self.on_enqueued()


class Conversation:
    """Where the answers to one request go; the thread is opened on the first message."""

    def __init__(self, chat: ChatPort, place: Place, *, title: str, anchor: str | None) -> None:
        self.chat = chat
        self._place = place
        self._title = title
        self._anchor = anchor

    async def place(self) -> Place:
        """The place with its thread, opening the thread now if there is none yet."""
        if self._place.thread is None:
            self._place = await self.chat.open_thread(
                self._place, title=self._title, anchor=self._anchor
            )
        return self._place

    async def say(self, text: str, *, actions: Sequence[ActionButton] = ()) -> MessageRef:
        return await self.chat.post_text(await self.place(), text, actions=actions)

    async def show(self, image: ResultImage, *, caption: str, alt_text: str) -> MessageRef:
        return await self.chat.post_images(
            await self.place(), images=[image], caption=caption, alt_text=alt_text
        )


@dataclass(frozen=True)
class JobOrigin:
    """Who asks for the jobs and what they build on: thread, base version, parent job."""

    user: str
    edit_thread_id: int | None = None
    base_version: int | None = None
    parent_job_id: str | None = None


@dataclass(frozen=True)
class Queued:
    """The outcome of queue_edit: the jobs made (none when refused) and their status."""

    job_ids: tuple[str, ...]
    status: JobStatus | None
    message: MessageRef | None = None


class _Refused(Exception):
    """Raised inside the write transaction so a refusal rolls everything back."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__("budget refused")
        self.refusal = refusal


def refusal_text(refusal: Refusal) -> str:
    """The message for a refused reservation."""
    return budget_refused(
        spent_micros=refusal.spent_micros,
        reserved_micros=refusal.reserved_micros,
        cap_micros=refusal.cap_micros,
        estimate_micros=refusal.estimate_micros,
        period=refusal.policy.period,
        who_can_raise=WHO_CAN_RAISE,
        per_user=refusal.limit == "user",
    )


def warning_text(reservation: Reservation) -> str:
    return budget_warning(
        spent_micros=reservation.spent_micros,
        cap_micros=reservation.cap_micros,
        percent=reservation.policy.warn_percent,
        period=reservation.policy.period,
    )


def confirm_buttons(job_id: str) -> tuple[ActionButton, ...]:
    return (
        ActionButton(Action.CONFIRM, job_id, "Confirm"),
        ActionButton(Action.CANCEL, job_id, "Cancel"),
    )


async def queue_edit(
    ctx: ServiceContext, convo: Conversation, *, prepared: PreparedEdit, origin: JobOrigin
) -> Queued:
    """Create the jobs of `prepared`: queued and paid for, or waiting for a confirm.

    Reservation, job rows, their images, the enqueue and the status message id are one write
    transaction, so a refusal leaves no job and no charge, and a worker that claims a job
    always finds the message it edits (progress, "Done"). Then the workers are woken.
    """
    place = await convo.place()
    assert place.thread is not None
    images = await _store_blobs(ctx.blobs, prepared.requests)
    estimates = [e.micros for e in prepared.estimates]
    total = sum(estimates)
    ask_first = total > ctx.settings.confirm_above_micros
    now = ctx.clock()
    batch_id = new_job_id() if len(prepared.requests) > 1 else None
    reservation: Reservation | None = None
    try:
        async with write_session(ctx.sessions) as session:
            thread_id = origin.edit_thread_id
            if thread_id is None:
                thread = await get_or_create_thread(
                    session,
                    platform=place.platform,
                    workspace=place.workspace,
                    channel=place.channel,
                    thread=place.thread,
                )
                thread_id = thread.id
            jobs = [
                Job(
                    id=new_job_id(),
                    platform=place.platform,
                    workspace=place.workspace,
                    channel=place.channel,
                    thread=place.thread,
                    user=origin.user,
                    scope=place.scope,
                    prompt=prepared.prompt,
                    options_json=request_json(request),
                    provider=ctx.provider.value,
                    status=JobStatus.AWAITING_CONFIRM if ask_first else JobStatus.QUEUED,
                    estimate_micros=micros,
                    parent_job_id=origin.parent_job_id,
                    batch_id=batch_id,
                    edit_thread_id=thread_id,
                    base_version=origin.base_version,
                    created_at=now,
                    updated_at=now,
                )
                for request, micros in zip(prepared.requests, estimates, strict=True)
            ]
            if not ask_first:
                outcome = await reserve_many(
                    session,
                    estimates={job.id: job.estimate_micros for job in jobs},
                    scope=place.scope,
                    user=origin.user,
                    defaults=ctx.defaults,
                    now=now,
                )
                if isinstance(outcome, Refusal):
                    raise _Refused(outcome)
                reservation = outcome
            await enqueue(session, jobs)
            for job, request in zip(jobs, prepared.requests, strict=True):
                await _record_images(session, job_id=job.id, request=request, images=images)
            # Posted before the commit: once committed the jobs are claimable by any worker
            # process, which reads status_message_id from the row it claims. A refusal has
            # raised above, so it posts nothing here. The price is one chat call inside the
            # transaction (on SQLite, this process's write turn); if that call fails, the
            # transaction rolls back and nothing is queued or charged.
            if ask_first:
                text = status_confirm(total, ctx.settings.confirm_above_micros)
                ref = await convo.say(text, actions=confirm_buttons(jobs[0].id))
            else:
                ahead = await jobs_ahead(session, job_id=jobs[0].id)
                ref = await convo.say(status_queued(ahead))
            for job in jobs:
                job.status_message_id = ref.message_id
    except _Refused as refused:
        await convo.say(refusal_text(refused.refusal))
        return Queued(job_ids=(), status=None)

    job_ids = tuple(job.id for job in jobs)
    if reservation is not None:
        if reservation.warn:
            await convo.say(warning_text(reservation))
        ctx.wake_workers()
    status = JobStatus.AWAITING_CONFIRM if ask_first else JobStatus.QUEUED
    return Queued(job_ids=job_ids, status=status, message=ref)


async def _store_blobs(
    blobs: BlobStore, requests: Sequence[EditRequest]
) -> dict[int, VersionImage]:
    """Put every input and mask in the blob store before the transaction (file I/O outside
    the write lock); keyed by id() of the NormalizedImage."""
    unique: dict[int, NormalizedImage] = {}
    for request in requests:
        for image in (*request.images, *((request.mask,) if request.mask else ())):
            unique[id(image)] = image
    hashes = await asyncio.gather(*(blobs.put(im.data) for im in unique.values()))
    return {
        key: VersionImage(sha256=sha, mime=im.mime, width=im.width, height=im.height)
        for (key, im), sha in zip(unique.items(), hashes, strict=True)
    }


async def _record_images(
    session: AsyncSession,
    *,
    job_id: str,
    request: EditRequest,
    images: Mapping[int, VersionImage],
) -> None:
    inputs = [images[id(im)] for im in request.images]
    await add_job_images(session, job_id=job_id, role=ImageRole.INPUT, images=inputs)
    if request.mask is not None:
        mask = [images[id(request.mask)]]
        await add_job_images(session, job_id=job_id, role=ImageRole.MASK, images=mask)
