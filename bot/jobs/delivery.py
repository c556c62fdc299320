"""Deliver finished jobs to chat exactly once: the result images, or the failure message.

Trade-off, chosen on purpose: `mark_delivered` is written (and committed) BEFORE posting, so
two workers, or a worker and the restart sweep, never both post the same result: delivery is
at most once. If posting then raises (the platform said no, the network broke), the mark is
taken back so the sweep tries again later; only a process that dies between the mark and the
post loses that one message (the result stays in the thread's versions, `versions` shows it).
Posting first and marking after would instead post twice after such a crash, and a duplicate
paid-looking result is worse for the people in the channel than one missing message.

Usually the mark is part of the transaction that finishes the job (bot.job_runner), and the
worker posts the `Ready` result it already holds (`deliver_ready`): no second transaction,
nothing read back. `deliver` (by job id) is the sweep's path, for jobs finished in a process
without that platform's client, or whose post failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from bot.core.config import Settings, budget_defaults
from bot.core.domain import Quality
from bot.core.jobs import JobStatus
from bot.core.messages import result_caption
from bot.core.ports import Action, ActionButton, BlobStore, ChatPort, MessageRef, ResultImage
from bot.jobs.codec import job_options, place_of
from storage.budget_reports import Standing, standing
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.images import job_images
from storage.models import ImageRole, Job
from storage.queue import get_job, mark_delivered
from storage.sql import table_of

log = logging.getLogger(__name__)

_jobs = table_of(Job)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
SWEEP_WINDOW = timedelta(days=1)
"""Undelivered jobs finished longer ago than this are left alone (their channel may be gone)."""


@dataclass(frozen=True)
class Delivered:
    """What one delivery attempt did: posted (True), or why not."""

    job_id: str
    posted: bool
    reason: str = ""


def result_buttons(job: Job) -> list[ActionButton]:
    """Retry, Undo and (unless it already was) High quality, each carrying the job id."""
    buttons = [
        ActionButton(action=Action.RETRY, job_id=job.id, label="Retry"),
        ActionButton(action=Action.UNDO, job_id=job.id, label="Undo"),
    ]
    if job_options(job).quality is not Quality.HIGH:
        buttons.append(
            ActionButton(action=Action.HIGH_QUALITY, job_id=job.id, label="High quality")
        )
    return buttons


def done_line(job: Job) -> str:
    """The status message's last words once the result is posted."""
    return f"Done: v{job.version} is below." if job.version else "Done."


@dataclass(frozen=True)
class Ready:
    """A finished job marked delivered in the transaction that finished it, with what to post:
    its result images and caption (a failed job has neither; its row has the message)."""

    job: Job
    images: Sequence[ResultImage] = ()
    caption: str = ""


def named_images(job: Job, images: Sequence[tuple[bytes, str, int, int]]) -> list[ResultImage]:
    """(data, mime, width, height) of a job's outputs, in order, as files named by version."""
    named = []
    for position, (data, mime, width, height) in enumerate(images):
        ext = _EXTENSIONS.get(mime, "bin")
        version = (job.version or 0) - len(images) + position + 1
        named.append(
            ResultImage(
                data=data,
                mime=mime,
                filename=f"edit-v{version}.{ext}" if job.version else f"edit-{position}.{ext}",
                width=width,
                height=height,
            )
        )
    return named


def caption_of(job: Job, standing: Standing, *, n_images: int) -> str:
    """The result caption: version, options, cost, and the channel's spent / cap."""
    return result_caption(
        version=job.version or 0,
        options=job_options(job),
        cost_micros=job.cost_micros or 0,
        spent_micros=standing.spent_micros,
        cap_micros=standing.cap_micros,
        period=standing.policy.period,
        n_images=n_images,
    )


async def _load(sessions: Sessions, blobs: BlobStore, job: Job, *, settings: Settings) -> Ready:
    """What a job's delivery posts, read back from the database and the blob store."""
    if job.status is JobStatus.FAILED:
        return Ready(job)
    async with sessions() as session:
        rows = await job_images(session, job_id=job.id, role=ImageRole.OUTPUT)
        now = await standing(session, scope=job.scope, defaults=budget_defaults(settings))
    data = [(await blobs.get(r.sha256), r.mime, r.width, r.height) for r in rows]
    return Ready(job, named_images(job, data), caption_of(job, now, n_images=len(rows)))


async def _unmark(sessions: Sessions, job_id: str) -> None:
    async with write_session(sessions) as session:
        await session.exec(update(_jobs).where(_jobs.c.id == job_id).values(delivered_at=None))


async def deliver(
    *,
    sessions: Sessions,
    blobs: BlobStore,
    chats: Mapping[str, ChatPort],
    settings: Settings,
    job_id: str,
) -> Delivered:
    """Post a finished job's result (or its failure) once; later calls post nothing."""
    async with sessions() as session:
        job = await get_job(session, job_id)
    if job is None or job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return Delivered(job_id, False, "not finished")
    chat = chats.get(job.platform)
    if chat is None:
        # Another process (with this platform's client) may deliver it: leave it unmarked.
        return Delivered(job_id, False, f"no chat port for {job.platform}")
    async with write_session(sessions) as session:
        if not await mark_delivered(session, job_id=job_id):
            return Delivered(job_id, False, "already delivered")
    try:
        ready = await _load(sessions, blobs, job, settings=settings)
    except Exception:
        log.exception("job %s: reading its result failed; will retry", job_id)
        await _unmark(sessions, job_id)
        return Delivered(job_id, False, "read failed")
    return await deliver_ready(sessions, chat, ready)


async def deliver_ready(sessions: Sessions, chat: ChatPort, ready: Ready) -> Delivered:
    """Post a job already marked delivered; if posting fails, unmark it for the sweep."""
    job = ready.job
    try:
        await _post(chat, ready)
    except Exception:
        log.exception("job %s: posting to %s failed; will retry", job.id, job.platform)
        await _unmark(sessions, job.id)
        return Delivered(job.id, False, "post failed")
    return Delivered(job.id, True)


async def _post(chat: ChatPort, ready: Ready) -> None:
    job = ready.job
    place = place_of(job)
    status = MessageRef(place, job.status_message_id) if job.status_message_id else None
    if job.status is JobStatus.FAILED:
        text = job.error or "The edit failed; nothing was charged."
        if status is not None:
            await chat.update_text(status, text)
        else:
            await chat.post_text(place, text)
        return
    await chat.post_images(
        place,
        images=ready.images,
        caption=ready.caption,
        alt_text=job.prompt[:1000],
        actions=result_buttons(job),
    )
    if status is not None:
        try:
            await chat.update_text(status, done_line(job))
        except Exception:  # the result is posted; a stale status line is cosmetic
            log.warning("job %s: could not update the status message", job.id, exc_info=True)


async def undelivered(
    sessions: Sessions,
    *,
    platforms: Sequence[str] | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Sequence[str]:
    """Ids of finished jobs (succeeded or failed) not delivered yet, oldest first; only those
    of `platforms` when given (a process cannot deliver to a platform it has no client for,
    and another platform's backlog must not hide its own)."""
    since = (now or utcnow()) - SWEEP_WINDOW
    where = [
        _jobs.c.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
        _jobs.c.delivered_at.is_(None),
        _jobs.c.finished_at >= since,
    ]
    if platforms is not None:
        where.append(_jobs.c.platform.in_(list(platforms)))
    async with sessions() as session:
        rows = await session.exec(
            select(_jobs.c.id).where(*where).order_by(_jobs.c.finished_at).limit(limit)
        )
        return [str(job_id) for job_id in rows.all()]


async def deliver_pending(
    *,
    sessions: Sessions,
    blobs: BlobStore,
    chats: Mapping[str, ChatPort],
    settings: Settings,
) -> list[Delivered]:
    """Deliver every finished job a crash left undelivered (run on start and periodically)."""
    done = []
    for job_id in await undelivered(sessions, platforms=list(chats)):
        done.append(
            await deliver(
                sessions=sessions, blobs=blobs, chats=chats, settings=settings, job_id=job_id
            )
        )
    return done
