"""The job queue on SQLite and PostgreSQL: claims, leases, fairness, delivery once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.domain import EditOptions, Place
from bot.core.jobs import JobSpec, JobStatus, JobWithInputs, new_job_id
from storage.db import Sessions, create_engine, session_factory, write_session
from storage.models import Job
from storage.queue import (
    cancel,
    confirm,
    enqueue,
    expire_unconfirmed,
    finish,
    get_job,
    jobs_ahead,
    mark_delivered,
    release,
    renew,
    set_provider_task,
)
from tests.kit.paths import REPO as REPO_ROOT

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOT = REPO_ROOT


def make_job(channel: str, i: int, *, status: JobStatus = JobStatus.QUEUED) -> JobSpec:
    """A job in `channel`, created i seconds after T0 (so creation order is explicit)."""
    return JobSpec(
        id=new_job_id(),
        place=Place(platform="slack", workspace="T1", channel=channel, user="U1"),
        prompt=f"{channel} edit {i}",
        options=EditOptions(),
        size=(1024, 1024),
        aspect="1:1",
        provider="openai",
        status=status,
        estimate_micros=1000,
        created_at=T0 + timedelta(seconds=i),
    )


async def add(sessions: Sessions, jobs: list[JobSpec]) -> None:
    async with write_session(sessions) as session:
        await enqueue(session, [JobWithInputs(job) for job in jobs])


async def claim(sessions: Sessions, **kw: object) -> JobSpec | None:
    """The spec of the job a claim took, or None."""
    from storage.claims import claim as claim_job

    claimed = await claim_job(sessions, **kw)  # type: ignore[arg-type]
    return None if claimed is None else claimed.spec


async def row(sessions: Sessions, job_id: str) -> Job:
    """The job's row as an auditor reads it (lease, fair_seq, delivered_at)."""
    async with sessions() as session:
        found = await session.get(Job, job_id, populate_existing=True)
    assert found is not None
    return found


async def test_a_batch_does_not_starve_another_channel(sessions: Sessions) -> None:
    await add(sessions, [make_job("A", i) for i in range(40)])
    single = make_job("B", 100)
    await add(sessions, [single])

    order = []
    while job := await claim(sessions, owner="w", lease_s=60, now=T0 + timedelta(hours=1)):
        order.append(job.place.channel)
    assert len(order) == 41
    # B's one edit goes second (fair_seq 0 after A's first), not 41st.
    assert order.index("B") == 1
    b = await row(sessions, single.id)
    assert b.fair_seq == 0 and b.status is JobStatus.RUNNING


async def test_jobs_ahead_counts_what_will_be_claimed_first(sessions: Sessions) -> None:
    a_jobs = [make_job("A", i) for i in range(5)]
    await add(sessions, a_jobs)
    b = make_job("B", 10)
    await add(sessions, [b])
    async with sessions() as session:
        assert await jobs_ahead(session, job_id=b.id) == 1  # only A's fair_seq 0
        assert await jobs_ahead(session, job_id=a_jobs[4].id) == 5
        assert await jobs_ahead(session, job_id=a_jobs[0].id) == 0


async def test_expired_lease_is_reclaimed_and_the_old_owner_loses_it(sessions: Sessions) -> None:
    job = make_job("A", 0)
    await add(sessions, [job])
    first = await claim(sessions, owner="dead", lease_s=30, now=T0)
    assert first is not None and first.id == job.id and first.attempts == 1
    assert await claim(sessions, owner="other", lease_s=30, now=T0 + timedelta(seconds=29)) is None

    async with write_session(sessions) as session:
        assert await renew(session, job_id=job.id, owner="dead", lease_s=30, now=T0)
        assert await set_provider_task(session, job_id=job.id, owner="dead", task_id="task-1")
    # The renewal above was made at T0 for 30 s, so the lease is gone at T0+31.
    again = await claim(sessions, owner="new", lease_s=30, now=T0 + timedelta(seconds=31))
    assert again is not None and again.id == job.id
    assert (again.attempts, again.provider_task_id) == (2, "task-1")
    assert (await row(sessions, job.id)).lease_owner == "new"

    async with write_session(sessions) as session:
        assert not await renew(session, job_id=job.id, owner="dead", lease_s=30)
        assert not await finish(
            session, job_id=job.id, owner="dead", status=JobStatus.SUCCEEDED, cost_micros=5
        )
        assert await finish(
            session, job_id=job.id, owner="new", status=JobStatus.FAILED, error="provider down"
        )
        done = await get_job(session, job.id)
    assert done is not None and done.status is JobStatus.FAILED and done.error == "provider down"
    assert done.finished_at is not None and done.finished_at.tzinfo is not None
    assert await claim(sessions, owner="new", lease_s=30, now=T0 + timedelta(hours=2)) is None


async def test_renewing_keeps_a_lease_alive(sessions: Sessions) -> None:
    job = make_job("A", 0)
    await add(sessions, [job])
    assert await claim(sessions, owner="w1", lease_s=30, now=T0) is not None
    async with write_session(sessions) as session:
        assert await renew(
            session, job_id=job.id, owner="w1", lease_s=30, now=T0 + timedelta(seconds=20)
        )
    # Without the renewal the lease would have ended at T0+30.
    assert await claim(sessions, owner="w2", lease_s=30, now=T0 + timedelta(seconds=40)) is None
    assert await claim(sessions, owner="w2", lease_s=30, now=T0 + timedelta(seconds=51))


async def test_release_puts_a_job_back(sessions: Sessions) -> None:
    job = make_job("A", 0)
    await add(sessions, [job])
    assert await claim(sessions, owner="w1", lease_s=30, now=T0) is not None
    async with write_session(sessions) as session:
        assert await release(session, job_id=job.id, owner="w1")
    again = await claim(sessions, owner="w2", lease_s=30, now=T0)
    # A released claim does not count: a job released at every shutdown never runs out.
    assert again is not None and again.id == job.id and again.attempts == 1


async def test_delivered_is_set_once_under_concurrency(sessions: Sessions) -> None:
    job = make_job("A", 0)
    await add(sessions, [job])

    async def deliver() -> bool:
        async with write_session(sessions) as session:
            return await mark_delivered(session, job_id=job.id)

    results = await asyncio.gather(*(deliver() for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_confirm_cancel_and_expiry_of_waiting_jobs(sessions: Sessions) -> None:
    waiting = [make_job("A", i, status=JobStatus.AWAITING_CONFIRM) for i in range(3)]
    await add(sessions, waiting)
    assert await claim(sessions, owner="w", lease_s=30, now=T0) is None  # nothing queued

    async with write_session(sessions) as session:
        assert await confirm(session, job_id=waiting[0].id)
        assert not await confirm(session, job_id=waiting[0].id)
        assert await cancel(session, job_id=waiting[1].id)
        expired = await expire_unconfirmed(session, now=T0 + timedelta(minutes=11))
        assert not await confirm(session, job_id=waiting[2].id)
    assert [j.id for j in expired] == [waiting[2].id]
    assert expired[0].status is JobStatus.CANCELLED
    claimed = await claim(sessions, owner="w", lease_s=30, now=T0)
    assert claimed is not None and claimed.id == waiting[0].id


async def test_expiry_keeps_recent_waiting_jobs(sessions: Sessions) -> None:
    await add(sessions, [make_job("A", 0, status=JobStatus.AWAITING_CONFIRM)])
    async with write_session(sessions) as session:
        assert await expire_unconfirmed(session, now=T0 + timedelta(minutes=9)) == []


async def test_concurrent_claims_in_one_process_take_each_job_once(sessions: Sessions) -> None:
    jobs = [make_job(f"C{i % 5}", i) for i in range(60)]
    await add(sessions, jobs)
    claimed: list[str] = []

    async def worker(w: int) -> None:
        while (job := await claim(sessions, owner=f"w{w}", lease_s=60)) is not None:
            claimed.append(job.id)

    await asyncio.gather(*(worker(w) for w in range(10)))
    assert sorted(claimed) == sorted(j.id for j in jobs)


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_claim_200_jobs_each_exactly_once(pg_url: str) -> None:
    engine = create_engine(pg_url)
    sessions = session_factory(engine)
    jobs = [make_job(f"C{i % 7}", i) for i in range(200)]
    try:
        await add(sessions, jobs)
    finally:
        await engine.dispose()
    cmd = [sys.executable, "-m", "tests.kit.pg", "claim", pg_url, "--workers", "4"]
    procs = [
        subprocess.Popen([*cmd, "--tag", f"p{p}"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for p in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    per_process = [json.loads(out)["claimed"] for out in outputs]
    every = per_process[0] + per_process[1]
    assert sorted(every) == sorted(j.id for j in jobs)  # all claimed, none twice
    assert all(len(ids) > 0 for ids in per_process)  # both processes really took part
