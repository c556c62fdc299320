"""Edits that wait for a yes: Confirm, Cancel, and the sweep that drops them after 10 minutes.

A mode=each batch is confirmed or cancelled as a whole, in one transaction with its
reservation, so a refusal or a stale press leaves nothing half done.
"""

from __future__ import annotations

import logging

from bot.core.budgets import Refusal, Reservation
from bot.core.jobs import JobSpec
from bot.core.messages import cancelled, confirm_expired, status_queued
from bot.core.ports import MessageRef
from bot.service.budget_alerts import announce_warning, refusal_message
from bot.service.context import Conversation, ServiceContext
from storage.budgets import reserve_many
from storage.db import Session, write_session
from storage.queue import (
    CONFIRM_TIMEOUT,
    batch_of,
    cancel,
    confirm,
    expire_unconfirmed,
    jobs_ahead,
)
from storage.refused import REFUSED

log = logging.getLogger(__name__)

NOT_WAITING = "That edit is no longer waiting for a yes: it was already confirmed or dropped."


class _Stale(Exception):
    """A job of the batch left awaiting_confirm meanwhile: roll the reservation back."""


def _status_ref(job: JobSpec) -> MessageRef | None:
    if job.status_message_id is None:
        return None
    return MessageRef(place=job.place, message_id=job.status_message_id)


async def _update_or_say(convo: Conversation, job: JobSpec, text: str) -> None:
    """Replace the confirm question (and its buttons) by `text`, or post it."""
    ref = _status_ref(job)
    if ref is None:
        await convo.say(text)
    else:
        await convo.chat.update_text(ref, text)


async def confirm_edit(ctx: ServiceContext, convo: Conversation, *, job: JobSpec) -> None:
    """Reserve the batch's estimates and queue it, all in one transaction, or refuse."""
    now = ctx.clock()
    outcome: Reservation | Refusal | None = None
    ahead = 0
    try:
        async with write_session(ctx.sessions) as session:
            batch = await batch_of(session, job)
            if now - job.created_at >= CONFIRM_TIMEOUT:
                # The sweep has not run yet; silence past the timeout still drops the edit.
                await _cancel_all(session, batch, error="confirm expired", ctx=ctx)
            else:
                outcome = await reserve_many(
                    session,
                    estimates={member.id: member.estimate_micros for member in batch},
                    scope=job.scope,
                    user=job.place.user,
                    defaults=ctx.defaults,
                    now=now,
                )
                if isinstance(outcome, Refusal):
                    await _cancel_all(session, batch, error=REFUSED, ctx=ctx)
                else:
                    ahead = await _queue_all(session, batch, ctx=ctx)
    except _Stale:
        await convo.say(NOT_WAITING)
        return
    if outcome is None:
        await _update_or_say(convo, job, confirm_expired())
    elif isinstance(outcome, Refusal):
        await _update_or_say(convo, job, await refusal_message(ctx, job.place, outcome))
    else:
        await _update_or_say(convo, job, status_queued(ahead))
        if outcome.warn:
            await announce_warning(ctx, job.place, outcome)
        ctx.wake_workers()


async def _cancel_all(
    session: Session, batch: list[JobSpec], *, error: str, ctx: ServiceContext
) -> list[bool]:
    now = ctx.clock()
    return [await cancel(session, job_id=m.id, error=error, now=now) for m in batch]


async def _queue_all(session: Session, batch: list[JobSpec], *, ctx: ServiceContext) -> int:
    """Move the batch to the queue; how many jobs are ahead of its first."""
    now = ctx.clock()
    for member in batch:
        if not await confirm(session, job_id=member.id, now=now):
            raise _Stale()
    return await jobs_ahead(session, job_id=batch[0].id)


async def cancel_edit(ctx: ServiceContext, convo: Conversation, *, job: JobSpec) -> None:
    """Drop a waiting edit (its whole batch); nothing was reserved, so nothing is refunded."""
    async with write_session(ctx.sessions) as session:
        done = await _cancel_all(session, await batch_of(session, job), error="cancelled", ctx=ctx)
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
            await ctx.chat(job.place.platform).update_text(ref, confirm_expired())
        except Exception:
            log.exception("could not mark job %s's confirm message as expired", job.id)
    return len(expired)
