"""Retention: forget the images and prompts of finished jobs; the ledger keeps the amounts.

Also sweeps the blob store for images nothing refers to any more (inputs of refused requests,
for one: they are stored before the budget says no).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import FINISHED
from bot.core.ports import BlobStore
from storage.blobs import FileBlobStore
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.models import Job, JobImage, ThreadVersion
from storage.sql import rowcount, table_of

_jobs = table_of(Job)
_images = table_of(JobImage)
_versions = table_of(ThreadVersion)
_SHA256 = re.compile(r"[0-9a-f]{64}")
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
    # Only the file store can be listed; another store would need a listing of its own.
    orphans = 0
    if isinstance(blobs, FileBlobStore):
        orphans = await prune_orphan_blobs(sessions, store=blobs, cutoff=cutoff)
    return PruneReport(
        jobs=jobs,
        images=images,
        thread_versions=versions,
        blobs=len(doomed),
        orphan_blobs=orphans,
    )


async def prune_orphan_blobs(sessions: Sessions, *, store: FileBlobStore, cutoff: datetime) -> int:
    """Delete blobs whose file is older than `cutoff` and that no job image or thread version
    references; returns how many.

    The age cut-off is what keeps an enqueue in progress safe: it puts its blobs before the
    transaction that writes the rows naming them, so for a moment a new blob is stored and
    referenced by nothing. Its file is younger than any retention, so it is never a candidate.
    A put of bytes already stored refreshes the file's mtime, and each file's age is checked
    again just before it is removed.
    """
    limit = cutoff.timestamp()
    old = await asyncio.to_thread(_blobs_older_than, store, limit)
    if not old:
        return 0
    async with sessions() as session:
        used = await _referenced(session, set(old))
    unused = [store.path_of(sha) for sha in sorted(set(old) - used)]
    return await asyncio.to_thread(_unlink_older_than, unused, limit)


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


def _blobs_older_than(store: FileBlobStore, limit: float) -> list[str]:
    """Hashes of the blobs in the store whose file's mtime is before `limit`."""
    found: list[str] = []
    for path in store.root.glob("*/*/*"):
        sha = path.name
        # Skips a put's temp files and anything that is not at its own address.
        if not _SHA256.fullmatch(sha) or store.path_of(sha) != path:
            continue
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                found.append(sha)
        except FileNotFoundError:
            continue
    return found


def _unlink_older_than(paths: Sequence[Path], limit: float) -> int:
    deleted = 0
    for path in paths:
        try:
            if path.stat().st_mtime >= limit:
                continue  # stored again since it was listed
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted
