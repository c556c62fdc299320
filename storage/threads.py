"""Edit threads and their numbered versions: add, undo, choose, look up.

A job's outputs are ONE version: one image, or a batch (n=2..4) of several, one row per
image (`position`), with one of them `chosen` (the first until someone presses Use N). What
refines, undoes or compares a version reads its chosen image.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import JobSpec, StoredImage
from storage.columns import utcnow
from storage.db import is_postgres
from storage.direct import prebuilt
from storage.models import EditThread, ThreadVersion
from storage.next_version import next_version_pg
from storage.sql import insert_ignore, rowcount, run, table_of

_threads = table_of(EditThread)
_versions = table_of(ThreadVersion)


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


async def add_versions_to_thread(
    session: AsyncSession,
    *,
    platform: str,
    workspace: str,
    channel: str,
    thread: str,
    job_id: str,
    images: Sequence[StoredImage],
    prompt: str,
    author: str | None = None,
    now: datetime | None = None,
) -> tuple[int, list[ThreadVersion]]:
    """`add_versions` to the edit thread of a platform thread, created on first use: one
    upsert finds (or makes) the thread and takes the version number. Returns its id too."""
    if not images:
        raise ValueError("no images to add")
    now = now or utcnow()
    params = {
        "platform": platform,
        "workspace": workspace,
        "channel": channel,
        "thread": thread,
        "count": 1,
        "created_at": now,
    }
    upsert = _UPSERT_PG if is_postgres(session) else _UPSERT_SQLITE
    found, last = (await run(session, upsert, params)).one()
    thread_id = int(found)
    rows = version_rows(
        thread_id, int(last), job_id=job_id, images=images, prompt=prompt, author=author, now=now
    )
    await run(session, _INSERT_VERSION, rows)
    return thread_id, [ThreadVersion(**row) for row in rows]


def _upsert_thread(insert: Any) -> Any:
    count = bindparam("count", type_=Integer())
    stmt = insert(_threads).values(
        platform=bindparam("platform"),
        workspace=bindparam("workspace"),
        channel=bindparam("channel"),
        thread=bindparam("thread"),
        current_version=count,
        last_version=count,
        created_at=bindparam("created_at", type_=_threads.c.created_at.type),
    )
    bumped = _threads.c.last_version + stmt.excluded.last_version
    return stmt.on_conflict_do_update(
        index_elements=["platform", "workspace", "channel", "thread"],
        set_={"last_version": bumped, "current_version": bumped},
    ).returning(_threads.c.id, _threads.c.last_version)


_UPSERT_PG = _upsert_thread(pg_insert)
_UPSERT_SQLITE = _upsert_thread(sqlite_insert)
_BUMP = prebuilt(
    update(_threads)
    .where(_threads.c.id == bindparam("thread_id"))
    .values(
        last_version=_threads.c.last_version + bindparam("count"),
        current_version=_threads.c.last_version + bindparam("count"),
    )
    .returning(_threads.c.last_version)
)
_INSERT_VERSION = prebuilt(insert(_versions))


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
    images: Sequence[StoredImage],
    prompt: str,
    author: str | None = None,
    now: datetime | None = None,
) -> list[ThreadVersion]:
    """Add a job's outputs as the next version (one image, or a batch); it becomes current.

    One UPDATE bumps last_version, so concurrent jobs in a thread get distinct numbers.
    """
    rows = await _add_next_version(
        session,
        thread_id=thread_id,
        job_id=job_id,
        images=images,
        prompt=prompt,
        author=author,
        now=now,
    )
    return [ThreadVersion(**row) for row in rows]


async def _add_next_version(
    session: AsyncSession,
    *,
    thread_id: int,
    job_id: str,
    images: Sequence[StoredImage],
    prompt: str,
    author: str | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """`add_versions` as Core rows: what a job's success writes, without ORM objects."""
    if not images:
        raise ValueError("no images to add")
    at = now or utcnow()

    def rows_of(last: int) -> list[dict[str, Any]]:
        return version_rows(
            thread_id, last, job_id=job_id, images=images, prompt=prompt, author=author, now=at
        )

    if is_postgres(session):  # the bump and the rows in one statement (storage.next_version)
        statement, params = next_version_pg(rows_of(0))
        last = int((await run(session, statement, params)).scalars().first() or 0)
        if not last:
            raise LookupError(f"edit thread {thread_id} does not exist")
        return rows_of(last)
    result = await run(session, _BUMP, {"thread_id": thread_id, "count": 1})
    rows = rows_of(int(result.scalar_one()))
    await run(session, _INSERT_VERSION, rows)
    return rows


def version_rows(
    thread_id: int,
    last: int,
    *,
    job_id: str,
    images: Sequence[StoredImage],
    prompt: str,
    author: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows of `images` as version `last` of a thread, the first image chosen."""
    return [
        {
            "thread_id": thread_id,
            "version": last,
            "job_id": job_id,
            "position": i,
            "chosen": i == 0,
            "author": author,
            "sha256": image.sha256,
            "mime": image.mime,
            "width": image.width,
            "height": image.height,
            "prompt": prompt,
            "created_at": now,
        }
        for i, image in enumerate(images)
    ]


async def undo(session: AsyncSession, *, thread_id: int) -> ThreadVersion | None:
    """Make the version before the current one current; None when there is none before it."""
    thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None:
        return None
    previous = (
        await session.exec(
            select(ThreadVersion)
            .where(
                _versions.c.thread_id == thread_id,
                _versions.c.version < thread.current_version,
                _versions.c.chosen,
            )
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
    """One version of a thread (its chosen image), or None."""
    return (
        await session.exec(
            select(ThreadVersion).where(
                _versions.c.thread_id == thread_id,
                _versions.c.version == version,
                _versions.c.chosen,
            )
        )
    ).first()


async def version_images(
    session: AsyncSession, *, thread_id: int, version: int
) -> list[ThreadVersion]:
    """Every image of one version (a batch has several), in position order."""
    return list(
        (
            await session.exec(
                select(ThreadVersion)
                .where(_versions.c.thread_id == thread_id, _versions.c.version == version)
                .order_by(_versions.c.position)
            )
        ).all()
    )


async def choose_image(
    session: AsyncSession, *, thread_id: int, version: int, position: int
) -> ThreadVersion | None:
    """Make image `position` the chosen one of a version, and that version the thread's
    current one (Use N). None when the version has no such image."""
    rows = await version_images(session, thread_id=thread_id, version=version)
    picked = next((row for row in rows if row.position == position), None)
    if picked is None:
        return None
    await session.exec(
        update(_versions)
        .where(_versions.c.thread_id == thread_id, _versions.c.version == version)
        .values(chosen=_versions.c.position == position)
    )
    await session.exec(
        update(_threads).where(_threads.c.id == thread_id).values(current_version=version)
    )
    picked.chosen = True
    return picked


async def current_version(session: AsyncSession, *, thread_id: int) -> ThreadVersion | None:
    """The thread's current version, or None (no versions yet, or pruned)."""
    thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None or thread.current_version == 0:
        return None
    return await get_version(session, thread_id=thread_id, version=thread.current_version)


async def list_versions(session: AsyncSession, *, thread_id: int) -> list[ThreadVersion]:
    """Every image of every version of a thread, oldest first (a batch in position order)."""
    return list(
        (
            await session.exec(
                select(ThreadVersion)
                .where(_versions.c.thread_id == thread_id)
                .order_by(_versions.c.version, _versions.c.position)
            )
        ).all()
    )


async def add_job_versions(
    session: AsyncSession,
    *,
    job: JobSpec,
    thread: str,
    outputs: Sequence[StoredImage],
    now: datetime | None = None,
) -> tuple[int, int]:
    """A job's outputs as the next version of its edit thread (found or created in the same
    upsert when the job has none yet): (the new version, the edit thread's id)."""
    if job.edit_thread_id is None:
        edit_thread, added = await add_versions_to_thread(
            session,
            platform=job.place.platform,
            workspace=job.place.workspace,
            channel=job.place.channel,
            thread=thread,
            job_id=job.id,
            images=outputs,
            prompt=job.prompt,
            author=job.place.user,
            now=now,
        )
        return added[-1].version, edit_thread
    rows = await _add_next_version(
        session,
        thread_id=job.edit_thread_id,
        job_id=job.id,
        images=outputs,
        prompt=job.prompt,
        author=job.place.user,
        now=now,
    )
    return int(rows[-1]["version"]), job.edit_thread_id
