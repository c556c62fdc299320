"""The delivery lease on SQLite and PostgreSQL: a finished job's mark names the process
posting it and is confirmed after the post; a mark whose process died unconfirmed is taken
back by a live process's heartbeat, and the sweep posts it once, or, when the post is in the
thread already, confirms it without posting again.

A kill is stood in for by the row it leaves: marked by a process whose heartbeat went stale,
never confirmed (tests/bot/app/test_delivery_kills.py kills real processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import update

from bot.core.config import budget_defaults
from bot.jobs.heartbeat import Heartbeat
from bot.jobs.sweep import deliver_pending
from storage.blobs import FileBlobStore
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.deliveries import confirm_posts
from storage.heartbeats import beat
from storage.models import Job
from storage.sql import table_of
from tests.bot.jobs.test_delivery import job_row, make_worker, marked_inline
from tests.kit.chat import FakeChat
from tests.kit.settings import make_settings
from tests.kit.workers import enqueue_jobs

DEAD, ALIVE, LIVE = "host-b:41:dead", "host-b:42:alive", "host-a:7:live"


async def finished(
    sessions: Sessions,
    blobs: FileBlobStore,
    client: httpx.AsyncClient,
    chat: FakeChat,
    count: int,
    *,
    posted: bool = True,
) -> list[str]:
    """`count` jobs run and posted inline to `chat` (or, not `posted`, their posts failed and
    nothing reached the thread); their ids."""
    queued = await enqueue_jobs(sessions, blobs, count=count, chat=chat)
    if not posted:
        chat.down.add("post_result")
    await make_worker(sessions, blobs, {"slack": chat}, client).drain()
    chat.down.clear()
    return [q.job_id for q in queued]


async def left_unconfirmed(sessions: Sessions, job_id: str, owner: str) -> None:
    """The row a SIGKILL between the mark and the confirm leaves: marked by `owner`."""
    jobs = table_of(Job)
    async with write_session(sessions) as session:
        await session.exec(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(delivered_at=utcnow(), delivering_by=owner, posted_at=None)
        )


async def beats_of(
    sessions: Sessions,
    *,
    dead: str,
    alive: str | None = None,
    on_posts_freed: Callable[[], None] | None = None,
) -> list[str]:
    """`dead` last beat a minute ago, `alive` just now; a live process's beat (with its
    `on_posts_freed` hook) then runs: the owners it found dead."""
    now = utcnow()
    async with write_session(sessions) as session:
        await beat(
            session,
            owner=dead,
            host="host-b",
            pid=41,
            started_at=now,
            now=now - timedelta(minutes=1),
        )
        if alive is not None:
            await beat(session, owner=alive, host="host-b", pid=42, started_at=now, now=now)
    live = Heartbeat(sessions=sessions, owner=LIVE, alive=lambda pid: True)
    if on_posts_freed is not None:
        live.on_posts_freed.append(on_posts_freed)
    return await live.beat_once()


async def sweep(sessions: Sessions, blobs: FileBlobStore, chat: FakeChat) -> list[str]:
    """One deliver_pending pass of the live process; the ids it posted."""
    done = await deliver_pending(
        sessions=sessions,
        blobs=blobs,
        chats={"slack": chat},
        defaults=budget_defaults(make_settings(default_budget_usd="1000")),
        owner=LIVE,
    )
    return [d.job_id for d in done if d.posted]


async def test_an_inline_post_is_confirmed_and_ends_the_lease(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    [job_id] = await finished(sessions, blobs, client, FakeChat(), 1)
    job = await job_row(sessions, job_id)
    assert marked_inline(job) and job.posted_at is not None and job.delivering_by is None


async def test_a_dead_processes_post_that_never_landed_is_posted_once_by_a_live_one(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    empty = FakeChat()  # a thread where the dead process's post never arrived
    [job_id] = await finished(sessions, blobs, client, empty, 1, posted=False)
    await left_unconfirmed(sessions, job_id, DEAD)
    assert await sweep(sessions, blobs, empty) == []  # held: nobody said its owner died
    assert await beats_of(sessions, dead=DEAD) == [DEAD]
    job = await job_row(sessions, job_id)
    assert job.delivered_at is None and job.delivering_by == DEAD  # back, "maybe posted"

    looked = empty.attempts["find_posted"]
    assert await sweep(sessions, blobs, empty) == [job_id]
    assert empty.attempts["find_posted"] == looked + 1  # it looked in the thread first
    [result] = empty.results("T1")
    assert result.actions[0].job_id == job_id and result.notify == "U1"
    job = await job_row(sessions, job_id)
    assert job.posted_at is not None and job.delivering_by is None
    assert await sweep(sessions, blobs, empty) == [] and len(empty.results()) == 1


async def test_a_dead_processes_post_found_in_the_thread_is_confirmed_not_posted_again(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    [job_id] = await finished(sessions, blobs, client, chat, 1)
    await left_unconfirmed(sessions, job_id, DEAD)  # posted, then killed before the confirm
    await beats_of(sessions, dead=DEAD)

    assert await sweep(sessions, blobs, chat) == []
    assert chat.attempts["find_posted"] == 1
    assert chat.attempts["post_result"] == 1 and len(chat.results()) == 1
    job = await job_row(sessions, job_id)
    assert job.posted_at is not None and job.delivering_by is None
    assert job.delivered_at is not None


async def test_a_look_that_fails_leaves_the_delivery_to_a_later_sweep(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    empty = FakeChat()
    [job_id] = await finished(sessions, blobs, client, empty, 1, posted=False)
    await left_unconfirmed(sessions, job_id, DEAD)
    await beats_of(sessions, dead=DEAD)
    empty.fail_next["find_posted"] = 1  # the platform cannot say: do not guess
    looked = empty.attempts["find_posted"]

    assert await sweep(sessions, blobs, empty) == [] and empty.results() == []
    job = await job_row(sessions, job_id)
    assert job.delivered_at is None and job.delivering_by == LIVE  # the next one looks too
    assert await sweep(sessions, blobs, empty) == [job_id]
    assert empty.attempts["find_posted"] == looked + 2 and len(empty.results()) == 1


async def test_only_dead_processes_deliveries_are_taken_over(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    empty = FakeChat()
    mine, theirs = await finished(sessions, blobs, client, empty, 2, posted=False)
    await left_unconfirmed(sessions, mine, ALIVE)  # still posting: its process is alive
    await left_unconfirmed(sessions, theirs, DEAD)
    assert await beats_of(sessions, dead=DEAD, alive=ALIVE) == [DEAD]

    assert await sweep(sessions, blobs, empty) == [theirs]
    held = await job_row(sessions, mine)
    assert held.delivering_by == ALIVE and held.delivered_at is not None and held.posted_at is None


async def test_a_confirm_after_the_takeover_keeps_the_sweep_from_posting_it_again(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    empty = FakeChat()
    [job_id] = await finished(sessions, blobs, client, empty, 1, posted=False)
    await left_unconfirmed(sessions, job_id, DEAD)
    await beats_of(sessions, dead=DEAD)  # taken back: it looked dead...
    async with write_session(sessions) as session:  # ...but its post landed and it says so
        assert await confirm_posts(session, job_ids=[job_id]) == 1

    assert await sweep(sessions, blobs, empty) == [] and empty.results() == []
    job = await job_row(sessions, job_id)
    assert job.posted_at is not None and job.delivered_at is not None


async def test_a_running_worker_posts_what_a_beat_took_back_at_once_not_at_its_next_tick(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    empty = FakeChat()
    [job_id] = await finished(sessions, blobs, client, empty, 1, posted=False)
    await left_unconfirmed(sessions, job_id, DEAD)
    worker = make_worker(sessions, blobs, {"slack": empty}, client, owner=LIVE)
    worker.periodic_s = 3600.0  # its own tick would come in an hour
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.2)  # its start-up sweep ran: the delivery is still held
        assert empty.results("T1") == []
        await beats_of(sessions, dead=DEAD, on_posts_freed=worker.sweep_soon)
        async with asyncio.timeout(10):
            while not empty.results("T1"):
                await asyncio.sleep(0.02)
        [result] = empty.results("T1")
        assert result.actions[0].job_id == job_id
    finally:
        await worker.stop()
        await running
