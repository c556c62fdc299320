"""Retention: forget the images and prompts of finished jobs; the ledger keeps the amounts.

Also sweeps the blob store for images nothing refers to any more (inputs of refused requests,
for one: they are stored before the budget says no).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import FINISHED
from bot.core.ports import BlobStore
from storage.blobs import SweepableBlobStore
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.models import Job, JobImage, ThreadVersion
from storage.sql import rowcount, table_of

_jobs = table_of(Job)
_images = table_of(JobImage)
_versions = table_of(ThreadVersion)
# Hashes per IN (...) query: well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 500


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed."""

    jobs: int
    images: int
    thread_versions: int
    blobs: int
    orphan_blobs: int
    """Blobs older than the cut-off that no job image or thread version referred to."""


async def prune(
    sessions: Sessions, *, blobs: BlobStore, older_than: timedelta, now: datetime | None = None
) -> PruneReport:
    """Delete images (rows and blobs no longer referenced) and blank prompts of jobs that
    finished before now - older_than. Their thread versions go too: they point at the images.
    Then delete stored blobs older than the same cut-off that nothing references."""
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
    # Both of storage's stores can be listed by age; a BlobStore that cannot is not swept.
    orphans = 0
    if isinstance(blobs, SweepableBlobStore):
        orphans = await prune_orphan_blobs(sessions, store=blobs, cutoff=cutoff)
    return PruneReport(
        jobs=jobs,
        images=images,
        thread_versions=versions,
        blobs=len(doomed),
        orphan_blobs=orphans,
    )


async def prune_orphan_blobs(
    sessions: Sessions, *, store: SweepableBlobStore, cutoff: datetime
) -> int:
    """Delete blobs last written before `cutoff` that no job image or thread version
    references; returns how many. On S3 this is one listing of the prefix.

    The age cut-off is what keeps an enqueue in progress safe: it puts its blobs before the
    transaction that writes the rows naming them, so for a moment a new blob is stored and
    referenced by nothing. It is younger than any retention, so it is never a candidate.
    A put of bytes already stored refreshes the blob's age (a file's mtime, an object's
    last-modified), and each blob's age is checked again just before it is removed.
    """
    old = await store.older_than(cutoff)
    if not old:
        return 0
    async with sessions() as session:
        used = await _referenced(session, set(old))
    return await store.delete_older_than(sorted(set(old) - used), cutoff)


async def _referenced(session: AsyncSession, hashes: set[str]) -> set[str]:
    """The hashes among `hashes` that a job image or a thread version names."""
    ordered = sorted(hashes)
    used: set[str] = set()
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        for table in (_images, _versions):
            rows = await session.exec(select(table.c.sha256).where(table.c.sha256.in_(chunk)))
            used |= set(rows.all())
    return used
