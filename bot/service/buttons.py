"""The buttons: retry, high quality, undo, confirm and cancel, each acting on a job id."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.access import may_act_for
from bot.core.budgets import Refusal, Reservation
from bot.core.domain import Quality
from bot.core.jobs import FINISHED, JobStatus
from bot.core.messages import cancelled, confirm_expired, status_queued, thread_title
from bot.core.ports import Action, ActionPress, MessageRef
from bot.jobs.codec import job_options, load_request, place_of
from bot.service.enqueue import (
    Conversation,
    JobOrigin,
    ServiceContext,
    queue_edit,
    refusal_text,
    warning_text,
)
from bot.service.prepare import prepare_from_images
from bot.service.versions import undo_thread
from storage.budgets import reserve_many
from storage.db import write_session
from storage.models import Job
from storage.queue import (
    CONFIRM_TIMEOUT,
    cancel,
    confirm,
    expire_unconfirmed,
    get_job,
    jobs_ahead,
)
from storage.sql import table_of

log = logging.getLogger(__name__)

UNKNOWN_JOB = "That button belongs to an edit editbot no longer knows about."
NOT_WAITING = "That edit is no longer waiting for a yes: it was already confirmed or dropped."
STILL_RUNNING = "That edit has not finished yet; retry it once its result is in."
INPUTS_GONE = (
    "The images of that edit are no longer stored (past retention). Attach them again to edit."
)
NO_THREAD = "That edit has no versions to undo."


def only_requester(requester: str, verb: str) -> str:
    """Said when someone else presses Confirm or Cancel."""
    return f"Only <@{requester}> (who asked for this edit) or an admin can {verb} it."


async def handle_press(ctx: ServiceContext, press: ActionPress) -> None:
    """Run one button press (already deduped by its event key)."""
    async with ctx.sessions() as session:
        job = await get_job(session, press.job_id)
    chat = ctx.chat(press.place.platform)
    if job is None or job.scope != press.place.scope:
        await chat.post_text(press.place, UNKNOWN_JOB)
        return
    # Answers go to the job's thread, from the person who pressed.
    place = replace(place_of(job), user=press.place.user)
    convo = Conversation(chat, place, title=thread_title(job.prompt), anchor=None)
    if press.action in (Action.RETRY, Action.HIGH_QUALITY):
        await _rerun(ctx, convo, job=job, high=press.action is Action.HIGH_QUALITY)
    elif press.action is Action.UNDO:
        if job.edit_thread_id is None:
            await convo.say(NO_THREAD)
        else:
            await convo.say(await undo_thread(ctx, thread_id=job.edit_thread_id))
    elif press.action in (Action.CONFIRM, Action.CANCEL):
        verb = "confirm" if press.action is Action.CONFIRM else "cancel"
        if not may_act_for(
            requester=job.user,
            user=press.place.user,
            platform_admin=press.platform_admin,
            admin_ids=ctx.settings.admin_ids,
        ):
            await convo.say(only_requester(job.user, verb))
        elif job.status is not JobStatus.AWAITING_CONFIRM:
            await convo.say(NOT_WAITING)
        elif press.action is Action.CONFIRM:
            await _confirm(ctx, convo, job=job)
        else:
            await _cancel(ctx, convo, job=job)
    else:
        raise ValueError(f"unknown action {press.action!r}")


async def _rerun(ctx: ServiceContext, convo: Conversation, *, job: Job, high: bool) -> None:
    """The same inputs and options again as a new job (a new sample), or at quality=high."""
    if job.status not in FINISHED:
        await convo.say(STILL_RUNNING)
        return
    try:
        async with ctx.sessions() as session:
            request = await load_request(session, ctx.blobs, job)
    except FileNotFoundError:
        await convo.say(INPUTS_GONE)
        return
    options = job_options(job)
    if high:
        options = replace(options, quality=Quality.HIGH)
    prepared = prepare_from_images(
        prompt=job.prompt,
        options=options,
        images=request.images,
        mask=request.mask,
        provider=ctx.provider,
        table=ctx.table,
    )
    place = await convo.place()
    origin = JobOrigin(
        user=place.user,
        edit_thread_id=job.edit_thread_id,
        base_version=job.base_version,
        parent_job_id=job.id,
    )
    await queue_edit(ctx, convo, prepared=prepared, origin=origin)


class _Stale(Exception):
    """A job of the batch left awaiting_confirm meanwhile: roll the reservation back."""


async def _batch(session: AsyncSession, job: Job) -> list[Job]:
    """The job and the others of its mode=each batch, which confirm and cancel together."""
    if job.batch_id is None:
        fresh = await get_job(session, job.id)
        return [fresh] if fresh is not None else []
    jobs = table_of(Job)
    rows = await session.exec(
        select(Job)
        .where(jobs.c.batch_id == job.batch_id)
        .order_by(jobs.c.created_at, jobs.c.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


def _status_ref(job: Job) -> MessageRef | None:
    if job.status_message_id is None:
        return None
    return MessageRef(place=place_of(job), message_id=job.status_message_id)


async def _update_or_say(convo: Conversation, job: Job, text: str) -> None:
    """Replace the confirm question (and its buttons) by `text`, or post it."""
    ref = _status_ref(job)
    if ref is None:
        await convo.say(text)
    else:
        await convo.chat.update_text(ref, text)


async def _confirm(ctx: ServiceContext, convo: Conversation, *, job: Job) -> None:
    """Reserve the batch's estimates and queue it, all in one transaction, or refuse."""
    now = ctx.clock()
    outcome: Reservation | Refusal | None = None
    expired = False
    ahead = 0
    try:
        async with write_session(ctx.sessions) as session:
            batch = await _batch(session, job)
            if now - job.created_at >= CONFIRM_TIMEOUT:
                # The sweep has not run yet; silence past the timeout still drops the edit.
                expired = True
                for member in batch:
                    await cancel(session, job_id=member.id, error="confirm expired", now=now)
            else:
                outcome = await reserve_many(
                    session,
                    estimates={member.id: member.estimate_micros for member in batch},
                    scope=job.scope,
                    user=job.user,
                    defaults=ctx.defaults,
                    now=now,
                )
                if isinstance(outcome, Refusal):
                    for member in batch:
                        await cancel(session, job_id=member.id, error="budget refused", now=now)
                else:
                    for member in batch:
                        if not await confirm(session, job_id=member.id, now=now):
                            raise _Stale()
                    ahead = await jobs_ahead(session, job_id=batch[0].id)
    except _Stale:
        await convo.say(NOT_WAITING)
        return
    if expired:
        await _update_or_say(convo, job, confirm_expired())
    elif isinstance(outcome, Refusal):
        await _update_or_say(convo, job, refusal_text(outcome))
    elif isinstance(outcome, Reservation):
        await _update_or_say(convo, job, status_queued(ahead))
        if outcome.warn:
            await convo.say(warning_text(outcome))
        ctx.wake_workers()


async def _cancel(ctx: ServiceContext, convo: Conversation, *, job: Job) -> None:
    now: datetime = ctx.clock()
    async with write_session(ctx.sessions) as session:
        batch = await _batch(session, job)
        done = [await cancel(session, job_id=m.id, error="cancelled", now=now) for m in batch]
    if any(done):
        await _update_or_say(convo, job, cancelled())
    else:
        await convo.say(NOT_WAITING)


async def sweep_expired(ctx: ServiceContext) -> int:
    """Drop edits nobody confirmed within 10 minutes; say so on their confirm messages."""
    async with write_session(ctx.sessions) as session:
        expired = await expire_unconfirmed(session, now=ctx.clock())
    told: set[str] = set()
    for job in expired:
        ref = _status_ref(job)
        if ref is None or ref.message_id in told:
            continue
        told.add(ref.message_id)
        try:
            await ctx.chat(job.platform).update_text(ref, confirm_expired())
        except Exception:
            log.exception("could not mark job %s's confirm message as expired", job.id)
    return len(expired)
