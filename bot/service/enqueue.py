"""From a prepared edit to jobs: reserve and enqueue in one transaction, or ask first.

Shared by the EditService's submit and by the buttons (retry, high quality, cheaper), so a
job is created, paid for and announced the same way whichever path made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.core.budgets import Refusal, Reservation
from bot.core.domain import NormalizedImage, Place
from bot.core.edits import EditRequest
from bot.core.jobs import JobSpec, JobStatus, JobWithInputs, StoredImage, new_job_id
from bot.core.messages import status_confirm, status_queued
from bot.core.ports import Action, ActionButton, BlobStore, MessageRef
from bot.service.budget_alerts import (
    announce_warning,
    cheaper_buttons,
    cheaper_edits,
    fitting,
    refusal_message,
)
from bot.service.context import Conversation, ServiceContext
from bot.service.prepare import PreparedEdit
from storage.budgets import reserve_many
from storage.db import Session, write_session
from storage.inbox import done as inbox_done
from storage.queue import enqueue, jobs_ahead, set_status_message
from storage.refused import claim_refused, keep_refused
from storage.threads import get_or_create_thread

log = logging.getLogger(__name__)


def refused_outcome(refusal: Refusal) -> str:
    """What the request's own reply says after a budget refusal."""
    whose = "the channel's" if refusal.limit == "channel" else "your"
    return f"Refused: over {whose} budget; nothing was charged."


@dataclass(frozen=True)
class JobOrigin:
    """Who asks for the jobs and what they build on: thread, base version, parent job."""

    user: str
    edit_thread_id: int | None = None
    base_version: int | None = None
    parent_job_id: str | None = None
    event_key: str | None = None
    """The request's inbox entry (bot.service.intake): it goes with the jobs' transaction."""
    runs_refused: str | None = None
    """A refused job this edit runs cheaper (Action.CHEAPER): claimed in the jobs'
    transaction, so it runs once however often it is pressed, and a refusal unclaims it."""


@dataclass(frozen=True)
class Queued:
    """The outcome of queue_edit: the jobs made (none when refused) and their status."""

    job_ids: tuple[str, ...]
    status: JobStatus | None
    message: MessageRef | None = None
    already_ran: bool = False
    """`origin.runs_refused` was run by an earlier press: nothing was made."""


class _Refused(Exception):
    """Raised inside the write transaction so a refusal rolls everything back."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__("budget refused")
        self.refusal = refusal


class _AlreadyRan(Exception):
    """Raised inside the write transaction: the refused job was run cheaper already."""


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
    transaction, so a refusal queues nothing and charges nothing (the request is kept, as
    cancelled rows, only when a cheaper edit that fits is offered on a button), and a worker
    that claims a job always finds the message it edits (progress, "Done"). Then the workers
    are woken.
    """
    place = await convo.place()
    stored = await _store_blobs(ctx.blobs, prepared.requests)
    total = prepared.estimate.micros
    ask_first = total > ctx.settings.confirm_above_micros
    reservation: Reservation | None = None
    try:
        async with write_session(ctx.sessions) as session:
            if origin.runs_refused is not None and not await claim_refused(
                session, job_id=origin.runs_refused, now=ctx.clock()
            ):
                raise _AlreadyRan()
            thread_id = origin.edit_thread_id or await _edit_thread_id(session, place)
            status = JobStatus.AWAITING_CONFIRM if ask_first else JobStatus.QUEUED
            jobs = _new_jobs(
                ctx, place, prepared, replace(origin, edit_thread_id=thread_id), stored, status
            )
            if not ask_first:
                reservation = await _reserve(ctx, session, jobs, place=place, user=origin.user)
            await enqueue(session, jobs)
            # Posted before the commit: once committed the jobs are claimable by any worker
            # process, which reads status_message_id from the row it claims. A refusal has
            # raised above, so it posts nothing here. The price is one chat call inside the
            # transaction (on SQLite, this process's write turn); if that call fails, the
            # transaction rolls back and nothing is queued or charged.
            ref = await _announce(ctx, session, convo, first=jobs[0].spec.id, total=total)
            job_ids = tuple(job.spec.id for job in jobs)
            await set_status_message(session, job_ids=job_ids, message_id=ref.message_id)
            if origin.event_key is not None:  # queued exactly once, even across a crash
                await inbox_done(session, key=origin.event_key)
    except _AlreadyRan:
        return Queued(job_ids=(), status=None, already_ran=True)
    except _Refused as refused:
        await _refuse(ctx, convo, refused.refusal, prepared=prepared, origin=origin, stored=stored)
        return Queued(job_ids=(), status=None)
    if reservation is not None:
        if reservation.warn:
            await announce_warning(ctx, place, reservation)
        ctx.wake_workers()
    return Queued(job_ids=job_ids, status=status, message=ref)


async def _refuse(
    ctx: ServiceContext,
    convo: Conversation,
    refusal: Refusal,
    *,
    prepared: PreparedEdit,
    origin: JobOrigin,
    stored: Mapping[int, StoredImage],
) -> None:
    """Say the refusal; when a cheaper edit fits, keep the request (cancelled, nothing
    reserved) and offer a button per cheaper edit that runs it (Action.CHEAPER).

    A cheaper run refused in turn offers no new buttons: the refused request keeps its own
    (its claim rolled back), so it still runs at most once.
    """
    place = await convo.place()
    cheaper = cheaper_edits(ctx, prepared)
    fits = fitting(refusal, cheaper)
    actions: tuple[ActionButton, ...] = ()
    if fits and origin.runs_refused is None:
        jobs = _new_jobs(ctx, place, prepared, origin, stored, JobStatus.AWAITING_CONFIRM)
        try:
            async with write_session(ctx.sessions) as session:
                await keep_refused(session, jobs, now=ctx.clock())
            actions = cheaper_buttons(jobs[0].spec.id, fits)
        except Exception:  # the refusal is still said, its cheaper edits in words only
            log.exception("could not keep the refused edit for its buttons")
    text = await refusal_message(ctx, place, refusal, cheaper=cheaper, buttons=bool(actions))
    await convo.say(text, actions=actions)
    try:
        await convo.chat.tell_outcome(place, refused_outcome(refusal))
    except Exception:  # the refusal is said in the thread; the reply is cosmetic
        log.warning("could not update the request's reply after a refusal", exc_info=True)


async def _edit_thread_id(session: Session, place: Place) -> int:
    assert place.thread is not None
    thread = await get_or_create_thread(
        session,
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        thread=place.thread,
    )
    assert thread.id is not None
    return thread.id


def _new_jobs(
    ctx: ServiceContext,
    place: Place,
    prepared: PreparedEdit,
    origin: JobOrigin,
    stored: Mapping[int, StoredImage],
    status: JobStatus,
) -> list[JobWithInputs]:
    """One job per request, with its inputs and mask as stored; a batch shares a batch id."""
    now = ctx.clock()
    batch_id = new_job_id() if len(prepared.requests) > 1 else None
    jobs = []
    for request, estimate in zip(prepared.requests, prepared.estimates, strict=True):
        spec = JobSpec(
            id=new_job_id(),
            place=replace(place, user=origin.user),
            prompt=prepared.prompt,
            options=request.options,
            size=request.size,
            aspect=request.aspect,
            provider=ctx.provider.value,
            status=status,
            estimate_micros=estimate.micros,
            created_at=now,
            edit_thread_id=origin.edit_thread_id,
            base_version=origin.base_version,
            batch_id=batch_id,
            parent_job_id=origin.parent_job_id,
        )
        inputs = tuple(stored[id(im)] for im in request.images)
        mask = stored[id(request.mask)] if request.mask is not None else None
        jobs.append(JobWithInputs(spec, inputs, mask))
    return jobs


async def _reserve(
    ctx: ServiceContext, session: Session, jobs: Sequence[JobWithInputs], *, place: Place, user: str
) -> Reservation:
    """Reserve every job's estimate at once, or raise _Refused (rolling the transaction back)."""
    outcome = await reserve_many(
        session,
        estimates={job.spec.id: job.spec.estimate_micros for job in jobs},
        scope=place.scope,
        user=user,
        defaults=ctx.defaults,
        now=ctx.clock(),
    )
    if isinstance(outcome, Refusal):
        raise _Refused(outcome)
    return outcome


async def _announce(
    ctx: ServiceContext, session: Session, convo: Conversation, *, first: str, total: int
) -> MessageRef:
    """The status message of new jobs: the confirm question, or the queue position."""
    if total > ctx.settings.confirm_above_micros:
        text = status_confirm(total, ctx.settings.confirm_above_micros)
        return await convo.say(text, actions=confirm_buttons(first))
    return await convo.say(status_queued(await jobs_ahead(session, job_id=first)))


async def _store_blobs(blobs: BlobStore, requests: Sequence[EditRequest]) -> dict[int, StoredImage]:
    """Put every input and mask in the blob store before the transaction (file I/O outside
    the write lock); keyed by id() of the NormalizedImage."""
    unique: dict[int, NormalizedImage] = {}
    for request in requests:
        for image in (*request.images, *((request.mask,) if request.mask else ())):
            unique[id(image)] = image
    hashes = await asyncio.gather(*(blobs.put(im.data) for im in unique.values()))
    return {
        key: StoredImage(sha256=sha, mime=im.mime, width=im.width, height=im.height)
        for (key, im), sha in zip(unique.items(), hashes, strict=True)
    }
