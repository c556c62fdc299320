"""Edit threads and their numbered versions: add, undo, look up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import utcnow
from storage.models import EditThread, ThreadVersion
from storage.sql import insert_ignore, rowcount, table_of

_threads = table_of(EditThread)
_versions = table_of(ThreadVersion)


@dataclass(frozen=True)
class VersionImage:
    """An output image to add as a version: blob hash, mime and size."""

    sha256: str
    mime: str
    width: int
    height: int


async def get_or_create_thread(
    session: AsyncSession, *, platform: str, workspace: str, channel: str, thread: str
) -> EditThread:
    """The edit thread of a platform thread, created on first use (race-safe)."""
    await insert_ignore(
        session,
        model=EditThread,
        values={
            "platform": platform,
            "workspace": workspace,
            "channel": channel,
            "thread": thread,
            "current_version": 0,
            "last_version": 0,
            "created_at": utcnow(),
        },
        conflict=["platform", "workspace", "channel", "thread"],
    )
    found = await find_thread(
        session, platform=platform, workspace=workspace, channel=channel, thread=thread
    )
    assert found is not None
    return found


async def find_thread(
    session: AsyncSession, *, platform: str, workspace: str, channel: str, thread: str
) -> EditThread | None:
    """The edit thread of a platform thread, or None."""
    return (
        await session.exec(
            select(EditThread)
            .where(
                _threads.c.platform == platform,
                _threads.c.workspace == workspace,
                _threads.c.channel == channel,
                _threads.c.thread == thread,
            )
            .execution_options(populate_existing=True)
        )
    ).first()


async def add_versions(
    session: AsyncSession,
    *,
    thread_id: int,
    job_id: str,
    images: Sequence[VersionImage],
    prompt: str,
    now: datetime | None = None,
) -> list[ThreadVersion]:
    """Add a job's outputs as the next versions; the last becomes current.

    One UPDATE bumps last_version, so concurrent jobs in a thread get distinct numbers.
    """
    if not images:
        raise ValueError("no images to add")
    now = now or utcnow()
    result = await session.exec(
        update(_threads)
        .where(_threads.c.id == thread_id)
        .values(
            last_version=_threads.c.last_version + len(images),
            current_version=_threads.c.last_version + len(images),
        )
        .returning(_threads.c.last_version)
    )
    last = int(result.scalar_one())
    first = last - len(images) + 1
    versions = [
        ThreadVersion(
            thread_id=thread_id,
            version=first + i,
            job_id=job_id,
            position=i,
            sha256=image.sha256,
            mime=image.mime,
            width=image.width,
            height=image.height,
            prompt=prompt,
            created_at=now,
        )
        for i, image in enumerate(images)
    ]
    session.add_all(versions)
    await session.flush()
    return versions


async def undo(session: AsyncSession, *, thread_id: int) -> ThreadVersion | None:
    """Make the version before the current one current; None when there is none before it."""
    thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None:
        return None
    previous = (
        await session.exec(
            select(ThreadVersion)
            .where(_versions.c.thread_id == thread_id, _versions.c.version < thread.current_version)
            .order_by(_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    if previous is None:
        return None
    # Conditional on the current version we read: two undos at once step back one each.
    result = await session.exec(
        update(_threads)
        .where(_threads.c.id == thread_id, _threads.c.current_version == thread.current_version)
        .values(current_version=previous.version)
    )
    return previous if rowcount(result) == 1 else None


async def get_version(
    session: AsyncSession, *, thread_id: int, version: int
) -> ThreadVersion | None:
    """One version of a thread, or None."""
    return (
        await session.exec(
            select(ThreadVersion).where(
                _versions.c.thread_id == thread_id, _versions.c.version == version
            )
        )
    ).first()


async def current_version(session: AsyncSession, *, thread_id: int) -> ThreadVersion | None:
    """The thread's current version, or None (no versions yet, or pruned)."""
    thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None or thread.current_version == 0:
        return None
    return await get_version(session, thread_id=thread_id, version=thread.current_version)


async def list_versions(session: AsyncSession, *, thread_id: int) -> list[ThreadVersion]:
    """Every version of a thread, oldest first."""
    return list(
        (
            await session.exec(
                select(ThreadVersion)
                .where(_versions.c.thread_id == thread_id)
                .order_by(_versions.c.version)
            )
        ).all()
    )
