"""Retention: forget the images and prompts of finished jobs; the ledger keeps the amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ports import BlobStore
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.models import FINISHED, Job, JobImage, ThreadVersion
from storage.sql import rowcount, table_of

_jobs = table_of(Job)
_images = table_of(JobImage)
_versions = table_of(ThreadVersion)


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed."""

    jobs: int
    images: int
    thread_versions: int
    blobs: int


async def prune(
    sessions: Sessions, *, blobs: BlobStore, older_than: timedelta, now: datetime | None = None
) -> PruneReport:
    """Delete images (rows and blobs no longer referenced) and blank prompts of jobs that
    finished before now - older_than. Their thread versions go too: they point at the images."""
    cutoff = (now or utcnow()) - older_than
    async with write_session(sessions) as session:
        old = (
            select(_jobs.c.id)
            .where(_jobs.c.status.in_(FINISHED))
            .where(_jobs.c.finished_at.is_not(None), _jobs.c.finished_at < cutoff)
        )
        hashes = set(
            (await session.exec(select(_images.c.sha256).where(_images.c.job_id.in_(old)))).all()
        )
        hashes |= set(
            (
                await session.exec(select(_versions.c.sha256).where(_versions.c.job_id.in_(old)))
            ).all()
        )
        images = rowcount(await session.exec(delete(_images).where(_images.c.job_id.in_(old))))
        versions = rowcount(
            await session.exec(delete(_versions).where(_versions.c.job_id.in_(old)))
        )
        jobs = rowcount(
            await session.exec(
                update(_jobs).where(_jobs.c.id.in_(old), _jobs.c.prompt != "").values(prompt="")
            )
        )
        # Content addressing shares blobs between jobs: keep any still referenced.
        still_used = await _referenced(session, hashes)
    doomed = sorted(hashes - still_used)
    for sha in doomed:
        await blobs.delete(sha)
    return PruneReport(jobs=jobs, images=images, thread_versions=versions, blobs=len(doomed))


async def _referenced(session: AsyncSession, hashes: set[str]) -> set[str]:
    if not hashes:
        return set()
    used = set(
        (await session.exec(select(_images.c.sha256).where(_images.c.sha256.in_(hashes)))).all()
    )
    used |= set(
        (await session.exec(select(_versions.c.sha256).where(_versions.c.sha256.in_(hashes)))).all()
    )
    return used
