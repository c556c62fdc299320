"""Deliver finished jobs to chat exactly once: the result images, or the failure message.

Trade-off, chosen on purpose: `mark_delivered` is written (and committed) BEFORE posting, so
two workers, or a worker and the restart sweep, never both post the same result: delivery is
at most once. If posting then raises (the platform said no, the network broke), the mark is
taken back so the sweep tries again later; only a process that dies between the mark and the
post loses that one message (the result stays in the thread's versions, `versions` shows it).
Posting first and marking after would instead post twice after such a crash, and a duplicate
paid-looking result is worse for the people in the channel than one missing message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from bot.config import Settings
from bot.domain import Quality
from bot.jobs import job_options, place_of
from bot.messages import result_caption
from bot.ports import Action, ActionButton, BlobStore, ChatPort, MessageRef, ResultImage
from storage.budget_reports import usage_summary
from storage.budgets import BudgetDefaults
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.images import job_images
from storage.models import ImageRole, Job, JobStatus
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


async def _result_images(sessions: Sessions, blobs: BlobStore, job: Job) -> list[ResultImage]:
    async with sessions() as session:
        rows = await job_images(session, job_id=job.id, role=ImageRole.OUTPUT)
    images = []
    for row in rows:
        ext = _EXTENSIONS.get(row.mime, "bin")
        version = (job.version or 0) - len(rows) + row.position + 1
        images.append(
            ResultImage(
                data=await blobs.get(row.sha256),
                mime=row.mime,
                filename=f"edit-v{version}.{ext}" if job.version else f"edit-{row.position}.{ext}",
                width=row.width,
                height=row.height,
            )
        )
    return images


async def _caption(sessions: Sessions, job: Job, *, settings: Settings, n_images: int) -> str:
    defaults = BudgetDefaults(
        cap_micros=settings.default_budget_micros, period=settings.budget_period
    )
    async with sessions() as session:
        summary = await usage_summary(session, scope=job.scope, defaults=defaults)
    return result_caption(
        version=job.version or 0,
        options=job_options(job),
        cost_micros=job.cost_micros or 0,
        spent_micros=summary.spent_micros,
        cap_micros=summary.cap_micros,
        period=summary.policy.period,
        n_images=n_images,
    )


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
        await _post(sessions, blobs, chat, job, settings=settings)
    except Exception:
        log.exception("job %s: posting to %s failed; will retry", job_id, job.platform)
        await _unmark(sessions, job_id)
        return Delivered(job_id, False, "post failed")
    return Delivered(job_id, True)


async def _post(
    sessions: Sessions, blobs: BlobStore, chat: ChatPort, job: Job, *, settings: Settings
) -> None:
    place = place_of(job)
    status = MessageRef(place, job.status_message_id) if job.status_message_id else None
    if job.status is JobStatus.FAILED:
        text = job.error or "The edit failed; nothing was charged."
        if status is not None:
            await chat.update_text(status, text)
        else:
            await chat.post_text(place, text)
        return
    images = await _result_images(sessions, blobs, job)
    caption = await _caption(sessions, job, settings=settings, n_images=len(images))
    await chat.post_images(
        place,
        images=images,
        caption=caption,
        alt_text=job.prompt[:1000],
        actions=result_buttons(job),
    )
    if status is not None:
        try:
            await chat.update_text(status, done_line(job))
        except Exception:  # the result is posted; a stale status line is cosmetic
            log.warning("job %s: could not update the status message", job.id, exc_info=True)


async def undelivered(
    sessions: Sessions, *, now: datetime | None = None, limit: int = 100
) -> Sequence[str]:
    """Ids of finished jobs (succeeded or failed) not delivered yet, oldest first."""
    since = (now or utcnow()) - SWEEP_WINDOW
    async with sessions() as session:
        rows = await session.exec(
            select(_jobs.c.id)
            .where(
                _jobs.c.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
                _jobs.c.delivered_at.is_(None),
                _jobs.c.finished_at >= since,
            )
            .order_by(_jobs.c.finished_at)
            .limit(limit)
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
    for job_id in await undelivered(sessions):
        done.append(
            await deliver(
                sessions=sessions, blobs=blobs, chats=chats, settings=settings, job_id=job_id
            )
        )
    return done
