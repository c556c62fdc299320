"""Deliver finished jobs exactly once: right after they finish, or by the sweep.

A job finished in a process without that platform's chat client, or whose post failed, is left
unmarked; the sweep (on start, then periodically) marks it, reads its result back and posts
it. See bot.jobs.delivery for why the mark comes before the post, and storage.deliveries for
the lease: the mark names the process posting, a second write confirms the post, and a mark
whose process died unconfirmed comes back to the sweep, which first asks the platform
whether the post landed (ChatPort.find_posted) so it is never posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.core.budgets import BudgetDefaults
from bot.core.jobs import JobSpec, JobStatus
from bot.core.metrics import Counter
from bot.core.ports import BlobStore, ChatPort, MessageRef
from bot.jobs.batched import Batched
from bot.jobs.delivery import (
    BATCH_DONE,
    DONE,
    Delivery,
    failure_delivery,
    post,
    result_delivery,
)
from bot.jobs.writer import write
from storage.budget_reports import standing
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.deliveries import confirm_posts, delivery_state
from storage.images import job_outputs
from storage.queue import get_job, mark_delivered, undelivered, unmark_delivered

log = logging.getLogger(__name__)

POST_FINISH_S = 5.0
"""How long a post in flight may still take once its task is cancelled (a stop)."""
SWEEP_WINDOW = timedelta(days=1)
"""Undelivered jobs finished longer ago than this are left alone (their channel may be gone)."""


@dataclass(frozen=True)
class Delivered:
    """What one delivery attempt did: posted (True), or why not."""

    job_id: str
    posted: bool
    reason: str = ""


async def post_once(
    sessions: Sessions,
    chat: ChatPort,
    delivery: Delivery,
    *,
    failures: Counter | None = None,
    wait_confirm: bool = True,
) -> Delivered:
    """Post a delivery whose job is marked delivered, then confirm the post; if posting
    fails, take the mark back (and count it in `failures`, by platform: /metrics'
    delivery_failures_total).

    Without `wait_confirm` the confirm is written in the background, with the next batch
    (`settle_confirms` waits for it): a claim loop goes on to its next job meanwhile.

    A post is not cut by cancellation (a stop whose grace ran out): it gets up to
    POST_FINISH_S more to end, since a half-made post could show twice. One that still has
    not ended is cancelled and its mark taken back before the cancellation goes on, so the
    next sweep (a restart's first) posts it: a paid result is never left marked and unposted.
    """
    posting = asyncio.ensure_future(post(chat, delivery))
    try:
        await asyncio.shield(posting)
    except asyncio.CancelledError:
        if await _finish_despite_cancel(posting, POST_FINISH_S):
            await _despite_cancel(_confirm(sessions, delivery.job_id))
        else:
            log.warning("job %s: post cut short by a stop; a sweep posts it", delivery.job_id)
            await _unmark_despite_cancel(sessions, delivery.job_id)
        raise
    except Exception:
        log.exception("job %s: posting to %s failed; will retry", delivery.job_id, chat.platform)
        if failures is not None:
            failures.inc(platform=chat.platform)
        await _unmark(sessions, delivery.job_id)
        return Delivered(delivery.job_id, False, "post failed")
    if wait_confirm:
        await _confirm(sessions, delivery.job_id)
    else:
        _confirms(sessions).submit(delivery.job_id)
    return Delivered(delivery.job_id, True)


async def _confirm(sessions: Sessions, job_id: str) -> None:
    """The post is in the thread: say so. Should this write fail, the lease stays with this
    process, and whoever takes it over finds the post in the thread (find_posted).

    Posts that land within CONFIRM_GATHER_S of each other, or while a confirm is being
    written, are confirmed together (bot.jobs.batched): one transaction for many posts."""
    await _confirms(sessions)(job_id)


async def settle_confirms(sessions: Sessions) -> None:
    """Wait for the confirms being written in the background (a drain's or a stop's end)."""
    confirms = _confirmers.get(sessions)
    if confirms is not None:
        await confirms.settle()


CONFIRM_GATHER_S = 0.1
"""How long a confirm waits for others to share its write: nobody waits for a confirm (an
unconfirmed post is found in the thread, not posted again), and each write is a transaction."""

_confirmers: weakref.WeakKeyDictionary[Sessions, Batched[str, None]] = weakref.WeakKeyDictionary()


def _confirms(sessions: Sessions) -> Batched[str, None]:
    """The database's confirm batches (one per session factory)."""
    confirms = _confirmers.get(sessions)
    if confirms is None:
        # A weak reference: the batches must not keep their own key (the factory) alive.
        factory = weakref.ref(sessions)

        async def confirm(job_ids: list[str]) -> list[None]:
            try:
                live = factory()
                if live is None:
                    raise RuntimeError("the session factory is gone")
                await write(live, partial(confirm_posts, job_ids=job_ids))
            except Exception:  # never raised: nobody need wait for a confirm
                log.warning("jobs %s: posted, but could not confirm them", job_ids, exc_info=True)
            return [None] * len(job_ids)

        confirms = _confirmers[sessions] = Batched(confirm, gather_s=CONFIRM_GATHER_S)
    return confirms


async def deliver(
    *,
    sessions: Sessions,
    blobs: BlobStore,
    chats: Mapping[str, ChatPort],
    defaults: BudgetDefaults,
    job_id: str,
    owner: str | None = None,
    failures: Counter | None = None,
) -> Delivered:
    """Post a finished job's result (or its failure) once; later calls post nothing.

    `owner` (this process's heartbeat owner) holds the delivery until the post is confirmed.
    When an earlier attempt died unconfirmed, the thread is looked at first: a post found
    there is confirmed, not posted again.
    """
    async with sessions() as session:
        job = await get_job(session, job_id)
    if job is None or job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return Delivered(job_id, False, "not finished")
    chat = chats.get(job.place.platform)
    if chat is None:
        # Another process (with this platform's client) may deliver it: leave it unmarked.
        return Delivered(job_id, False, f"no chat port for {job.place.platform}")
    async with write_session(sessions) as session:
        state = await delivery_state(session, job_id=job_id)
        if not await mark_delivered(session, job_id=job_id, owner=owner):
            return Delivered(job_id, False, "already delivered")
    if state is not None and state.maybe_posted:
        found = await _posted_before(sessions, chat, job)
        if found is not None:
            return found
    try:
        delivery = await _read_back(sessions, blobs, job, defaults)
    except asyncio.CancelledError:
        await _unmark_despite_cancel(sessions, job_id)
        raise
    except Exception:
        log.exception("job %s: reading its result failed; will retry", job_id)
        await _unmark(sessions, job_id)
        return Delivered(job_id, False, "read failed")
    return await post_once(sessions, chat, delivery, failures=failures)


async def _posted_before(sessions: Sessions, chat: ChatPort, job: JobSpec) -> Delivered | None:
    """After an attempt that died unconfirmed: the post found in the thread (confirmed now),
    or a look that failed (the mark goes back for a later sweep); None: post it."""
    try:
        found = await chat.find_posted(job.place, job.id)
    except asyncio.CancelledError:
        await _unmark_despite_cancel(sessions, job.id)
        raise
    except Exception:
        log.warning("job %s: could not look for an earlier post; will retry", job.id, exc_info=True)
        await _unmark(sessions, job.id)
        return Delivered(job.id, False, "look failed")
    if not found:
        log.warning("job %s: an earlier attempt's post is not in the thread; posting it", job.id)
        return None
    log.warning("job %s: an earlier attempt's post is in the thread; not posted again", job.id)
    await _confirm(sessions, job.id)
    await _settle_status(chat, job)
    return Delivered(job.id, False, "posted before")


async def _settle_status(chat: ChatPort, job: JobSpec) -> None:
    """The status message a post found in the thread may have left behind says it is done
    (cosmetic: it may be gone already)."""
    if job.status_message_id is None:
        return
    text = BATCH_DONE if job.batch_id is not None else DONE
    if job.status is JobStatus.FAILED:
        text = "Failed: the reason is in the thread"
    try:
        await chat.update_text(MessageRef(job.place, job.status_message_id), text)
    except Exception:
        log.info("job %s: its status message is gone or could not be updated", job.id)


async def _read_back(
    sessions: Sessions, blobs: BlobStore, job: JobSpec, defaults: BudgetDefaults
) -> Delivery:
    """What a finished job posts, read back from the database and the blob store."""
    if job.status is JobStatus.FAILED:
        return failure_delivery(job)
    async with sessions() as session:
        outputs = await job_outputs(session, job_id=job.id)
        money = await standing(session, scope=job.scope, defaults=defaults)
    data = [(await blobs.get(o.sha256), o.mime, o.width, o.height) for o in outputs]
    return result_delivery(job, data, money)


async def deliver_pending(
    *,
    sessions: Sessions,
    blobs: BlobStore,
    chats: Mapping[str, ChatPort],
    defaults: BudgetDefaults,
    now: datetime | None = None,
    owner: str | None = None,
    failures: Counter | None = None,
) -> list[Delivered]:
    """Deliver every finished job a crash left undelivered (run on start and periodically),
    holding each delivery as `owner` (this process's heartbeat owner) until it is confirmed.

    Only jobs of platforms this process has a client for: it cannot deliver the others, and
    another platform's backlog must not hide its own. Deliveries of dead processes come back
    here once a heartbeat took them back (bot.jobs.heartbeat).
    """
    since = (now or utcnow()) - SWEEP_WINDOW
    async with sessions() as session:
        ids = await undelivered(session, since=since, platforms=list(chats))
    return [
        await deliver(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            defaults=defaults,
            job_id=i,
            owner=owner,
            failures=failures,
        )
        for i in ids
    ]


async def _unmark(sessions: Sessions, job_id: str) -> None:
    async with write_session(sessions) as session:
        await unmark_delivered(session, job_id=job_id)


async def _unmark_despite_cancel(sessions: Sessions, job_id: str) -> None:
    """Take the mark back even while this task is being cancelled (again)."""
    if not await _despite_cancel(_unmark(sessions, job_id)):
        log.error("job %s: could not take its delivery mark back", job_id)


async def _despite_cancel(write: Coroutine[object, object, None]) -> bool:
    """Run `write` to its end even while this task is being cancelled (again): it runs in its
    own task, which a second cancellation does not stop; False if it raised."""
    task = asyncio.ensure_future(write)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    return task.cancelled() or task.exception() is None


async def _finish_despite_cancel(posting: asyncio.Future[None], timeout: float) -> bool:
    """Wait up to `timeout` for `posting` though this task is being cancelled; True when it
    posted. Still running then: it is cancelled (and False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not posting.done() and loop.time() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({posting}, timeout=deadline - loop.time())
    if not posting.done():
        posting.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.shield(posting)
        return False
    if posting.cancelled() or posting.exception() is not None:
        return False
    return True
