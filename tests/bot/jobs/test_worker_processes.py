"""Worker processes against one database and the threaded emulator server.

Each worker process records what it posts as JSON lines (a FakeChat journal),
so the test can count deliveries per job across processes; the emulator counts provider
requests per job (each job's prompt is unique).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from subprocess import Popen

import pytest

from bot.core.jobs import JobStatus
from storage.blobs import FileBlobStore
from storage.columns import utcnow
from storage.db import Sessions, create_engine, session_factory, upgrade
from tests.kit.chat import read_journal
from tests.kit.core import OPENAI_KEY
from tests.kit.emulator import EmulatorServer, ProviderEmulator
from tests.kit.paths import REPO as REPO_ROOT
from tests.kit.slack.api import FakeSlackApi, Upload
from tests.kit.workers import all_jobs, enqueue_jobs, read_ledger

SLACK_TOKEN = "xoxb-worker-test-0001"

ROOT = REPO_ROOT
SCOPE = "slack:W1:C1"


@pytest.fixture
async def pg_sessions(pg_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(pg_url, pool_size=5, max_overflow=0)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def base_url(emu: ProviderEmulator) -> Iterator[str]:
    with EmulatorServer(emu).in_thread() as url:
        yield url


def start_worker(
    url: str, base_url: str, tmp: Path, name: str, *, drain: bool, lease_s: float = 60
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-m", "tests.kit.workers", "work", url,
        "--base-url", base_url, "--blobs", str(tmp / "blobs"), "--out", str(tmp / f"{name}.jsonl"),
        "--owner", name, "--concurrency", "8", "--lease-s", str(lease_s),
    ]  # fmt: skip
    if drain:
        cmd.append("--drain")
    return subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)


def posted_jobs(tmp: Path, *names: str) -> Counter[str]:
    """Result posts per job id across the named processes' records."""
    counts: Counter[str] = Counter()
    for name in names:
        for record in read_journal(tmp / f"{name}.jsonl"):
            if record["call"] == "post_result" and record["sha"]:  # results, not failures
                counts[record["job"]] += 1
    return counts


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_worker_processes_drain_200_jobs_each_exactly_once(
    pg_url: str, pg_sessions: Sessions, emu: ProviderEmulator, base_url: str, tmp_path: Path
) -> None:
    emu.latency_s = 0.02
    queued = await enqueue_jobs(pg_sessions, FileBlobStore(tmp_path / "blobs"), count=200)
    procs = [start_worker(pg_url, base_url, tmp_path, f"p{i}", drain=True) for i in range(2)]
    for proc in procs:
        finish(proc)

    jobs = await all_jobs(pg_sessions)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED} and len(jobs) == 200
    assert {j.attempts for j in jobs} == {1}
    # One provider request per job, one result post per job, across both processes.
    per_prompt = Counter(r.fields["prompt"] for r in emu.routes("openai_edit"))
    assert per_prompt == Counter(j.prompt for j in jobs)
    posts = posted_jobs(tmp_path, "p0", "p1")
    assert posts == Counter(q.job_id for q in queued)
    assert all(posted_jobs(tmp_path, name) for name in ("p0", "p1"))  # both took part
    ledger = await read_ledger(pg_sessions, SCOPE)
    assert ledger.reserved == 0 and ledger.spent == sum(j.cost_micros or 0 for j in jobs)


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_worker_killed_mid_job_loses_nothing_after_a_restart(
    pg_url: str, pg_sessions: Sessions, emu: ProviderEmulator, base_url: str, tmp_path: Path
) -> None:
    emu.latency_s = 0.5
    queued = await enqueue_jobs(pg_sessions, FileBlobStore(tmp_path / "blobs"), count=40)
    victim = start_worker(pg_url, base_url, tmp_path, "victim", drain=False, lease_s=1.0)
    # Kill it once some jobs are done and eight more are in flight at the provider.
    deadline = time.monotonic() + 60
    while len(posted_jobs(tmp_path, "victim")) < 10:
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=10)
    killed_at = utcnow()
    before = await all_jobs(pg_sessions)
    assert any(j.status is JobStatus.RUNNING for j in before), "nothing was in flight"

    time.sleep(1.2)  # the dead process's leases (1 s) run out
    restarted = start_worker(pg_url, base_url, tmp_path, "restarted", drain=True)
    finish(restarted)

    jobs = {j.id: j for j in await all_jobs(pg_sessions)}
    assert {j.status for j in jobs.values()} == {JobStatus.SUCCEEDED}
    posts = posted_jobs(tmp_path, "victim", "restarted")
    assert max(posts.values()) == 1  # none delivered twice
    # Delivery marks before posting (at most once): a job without a post can only be one the
    # victim marked and then died before posting.
    for q in queued:
        job = jobs[q.job_id]
        assert job.delivered_at is not None
        if q.job_id not in posts:
            assert job.delivered_at <= killed_at
    assert sum(1 for q in queued if q.job_id not in posts) <= 8
    ledger = await read_ledger(pg_sessions, SCOPE)
    assert ledger.reserved == 0
    assert sum(ledger.settled.values()) == sum(j.cost_micros or 0 for j in jobs.values())
    assert set(ledger.settled) == set(jobs) and not ledger.refunded
    # The calls in flight at the kill were billed by the provider: charged as lost, at their
    # estimates, one per request the emulator served beyond one per job.
    estimates = {q.job_id: q.estimate_micros for q in queued}
    rerun = Counter(r.fields["prompt"] for r in emu.routes("openai_edit"))
    by_prompt = {j.prompt: j.id for j in jobs.values()}
    extra = sum(estimates[by_prompt[p]] * (n - 1) for p, n in rerun.items())
    assert ledger.lost >= extra
    assert ledger.spent == sum(ledger.settled.values()) + ledger.lost


@pytest.mark.slow
async def test_editbot_worker_runs_jobs_and_delivers_them_through_slack(
    emu: ProviderEmulator, base_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{data / 'editbot.db'}"
    data.mkdir()
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with FakeSlackApi(token=SLACK_TOKEN) as slack:
            queued = await enqueue_jobs(sessions, FileBlobStore(data / "blobs"), count=5)
            env = {
                **os.environ,
                "EDITBOT_DATA_DIR": str(data),
                "EDITBOT_PROVIDER": "openai",
                "OPENAI_API_KEY": OPENAI_KEY,
                "OPENAI_BASE_URL": f"{base_url}/v1",
                "EDITBOT_WORKERS": "3",
                "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_API_URL": slack.api_url,
            }
            env.pop("EDITBOT_DATABASE_URL", None)
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.app.cli", "worker", "--grace", "5"],
                cwd=tmp_path,
                env={**env, "PYTHONPATH": str(ROOT)},
                stderr=subprocess.PIPE,
                text=True,
            )
            # What a person sees is the result in the thread: wait for those five posts (a job
            # is marked delivered before it is posted, so the marks alone say nothing yet).
            # The fake Slack API serves from this event loop, so the process is waited for in
            # a thread.
            await slack.wait_for(lambda: len(thread_uploads(slack)) >= 5, timeout=120)
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.to_thread(proc.communicate, timeout=60)
            assert proc.returncode == 0, err[-3000:]
            jobs = await all_jobs(sessions)
            assert all(j.delivered_at is not None for j in jobs)
            assert sorted(j.id for j in jobs) == sorted(q.job_id for q in queued)
            assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
            # Delivered through Slack's REST API into each job's thread, once each.
            uploads = thread_uploads(slack)
            assert len(uploads) == len(jobs) == 5
            assert len({u.data for u in uploads}) == 5  # five different inputs, five results
            assert OPENAI_KEY not in err and SLACK_TOKEN not in err
    finally:
        await engine.dispose()


def thread_uploads(slack: FakeSlackApi) -> list[Upload]:
    """Results shared into the thread the kit's jobs live in."""
    return [u for u in slack.uploads if u.channel == "C1" and u.thread_ts == "T1"]


def editbot_worker(data: Path, base_url: str, slack: FakeSlackApi, *, grace: float) -> Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDITBOT_", "SLACK_"))}
    env |= {
        "EDITBOT_DATA_DIR": str(data),
        "EDITBOT_PROVIDER": "openai",
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"{base_url}/v1",
        "EDITBOT_WORKERS": "2",
        "EDITBOT_PREVIEWS": "0",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "worker", "--grace", str(grace)],
        cwd=data.parent,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
async def test_a_stop_whose_grace_runs_out_mid_post_leaves_the_result_to_the_restart(
    emu: ProviderEmulator, base_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{data / 'editbot.db'}"
    data.mkdir()
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with FakeSlackApi(token=SLACK_TOKEN) as slack:
            slack.upload_gate = asyncio.Event()  # Slack takes the file and does not answer
            [q] = await enqueue_jobs(sessions, FileBlobStore(data / "blobs"), count=1)
            first = editbot_worker(data, base_url, slack, grace=1)
            # No previews (EDITBOT_PREVIEWS=0): the one file uploaded is the result's.
            await slack.wait_for(lambda: bool(slack.named("upload")), timeout=120)
            assert first.poll() is None
            # The job is done and charged; its result is on its way to the thread when the
            # stop comes, and stays stuck past the grace period.
            first.send_signal(signal.SIGTERM)
            _, err = await asyncio.to_thread(first.communicate, timeout=60)
            assert first.returncode == 0, err[-3000:]
            [job] = await all_jobs(sessions)
            assert job.status is JobStatus.SUCCEEDED and job.cost_micros
            assert job.delivered_at is None, "marked delivered with nothing in the thread"
            assert thread_uploads(slack) == []

            # Slack is well again: the next process posts the paid result, once.
            slack.upload_gate.set()
            slack.upload_gate = None
            second = editbot_worker(data, base_url, slack, grace=5)
            await slack.wait_for(lambda: bool(thread_uploads(slack)), timeout=120)
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.to_thread(second.communicate, timeout=60)
            assert second.returncode == 0, err[-3000:]
            assert len(thread_uploads(slack)) == 1
            [job] = await all_jobs(sessions)
            assert job.id == q.job_id and job.delivered_at is not None
            assert len(emu.routes("openai_edit")) == 1  # paid once
            ledger = await read_ledger(sessions, SCOPE)
            assert ledger.spent == job.cost_micros and ledger.reserved == 0
    finally:
        await engine.dispose()
