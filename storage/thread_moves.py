"""Moving a thread's current version by hand (`use v2`, `redo`), and the edits `cancel` drops.

Each move is one conditional UPDATE: two moves at once never leave a version that does not
exist current.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobStatus
from storage.models import EditThread, Job, ThreadVersion
from storage.sql import rowcount, table_of

_threads = table_of(EditThread)
_versions = table_of(ThreadVersion)
_jobs = table_of(Job)


async def _has_version(session: AsyncSession, *, thread_id: int, version: int) -> bool:
    found = (
        await session.exec(
            select(_versions.c.version)
            .where(_versions.c.thread_id == thread_id, _versions.c.version == version)
            .limit(1)
        )
    ).first()
    return found is not None


async def set_current(session: AsyncSession, *, thread_id: int, version: int) -> bool:
    """Make `version` current; False when the thread has no such version."""
    if not await _has_version(session, thread_id=thread_id, version=version):
        return False
    result = await session.exec(
        update(_threads)
        .where(_threads.c.id == thread_id, _threads.c.last_version >= version)
        .values(current_version=version)
    )
    return rowcount(result) == 1


async def redo(session: AsyncSession, *, thread_id: int) -> int | None:
    """Make the first version after the current one current; its number, or None."""
    thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None:
        return None
    following = (
        await session.exec(
            select(_versions.c.version)
            .where(
                _versions.c.thread_id == thread_id,
                _versions.c.version > thread.current_version,
            )
            .order_by(_versions.c.version)
            .limit(1)
        )
    ).first()
    if following is None:
        return None
    result = await session.exec(
        update(_threads)
        .where(_threads.c.id == thread_id, _threads.c.current_version == thread.current_version)
        .values(current_version=following)
    )
    return int(following) if rowcount(result) == 1 else None


async def waiting_jobs(session: AsyncSession, *, thread_id: int, user: str) -> list[str]:
    """Ids of `user`'s jobs in the thread that have not started (awaiting a yes or queued)."""
    rows = (
        await session.exec(
            select(_jobs.c.id).where(
                _jobs.c.edit_thread_id == thread_id,
                _jobs.c.user == user,
                _jobs.c.status.in_([JobStatus.AWAITING_CONFIRM, JobStatus.QUEUED]),
            )
        )
    ).all()
    return [str(r) for r in rows]
