"""Workers in one process, on SQLite and PostgreSQL, against the provider emulator (MockTransport).

Jobs are queued straight through storage (tests/kit/workers.py), so these tests need no
EditService: from "a queued job row exists" to "the result is delivered once".
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.core.domain import ProviderName
from bot.core.jobs import JobStatus, short_ref
from bot.core.ports import Action, Provider
from bot.jobs.worker import Worker
from storage.blobs import FileBlobStore
from storage.claims import claim
from storage.db import Sessions, write_session
from storage.queue import get_job, set_provider_task
from storage.threads import find_thread, list_versions
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider, real_core, wavespeed_provider
from tests.kit.emulator import ProviderEmulator
from tests.kit.settings import make_settings
from tests.kit.workers import WORKER_CAP_USD, all_jobs, enqueue_jobs, read_ledger, worker_for

BASE = "http://emulator"
SCOPE = "slack:W1:C1"


def make_worker(
    sessions: Sessions, blobs: FileBlobStore, chat: FakeChat, provider: Provider, **kw: Any
) -> Worker:
    return worker_for(sessions, blobs, {"slack": chat}, provider, **kw)


def edits_for(emu: ProviderEmulator, prompt: str) -> int:
    """OpenAI edit requests the emulator received with this exact prompt."""
    return sum(1 for r in emu.routes("openai_edit") if r.fields.get("prompt") == prompt)


async def test_drain_runs_each_job_once_and_delivers_it_with_caption_and_buttons(
    sessions: Sessions, blobs: FileBlobStore, emu: ProviderEmulator, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=6, chat=chat)
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=3)
    await worker.drain()

    jobs = {j.id: j for j in await all_jobs(sessions)}
    assert {j.status for j in jobs.values()} == {JobStatus.SUCCEEDED}
    assert all(edits_for(emu, jobs[q.job_id].prompt) == 1 for q in queued)
    results = chat.results("T1")
    assert sorted(r.actions[0].job_id for r in results) == sorted(q.job_id for q in queued)
    # Versions 1..6 in the thread, each result captioned with its own version and cost.
    assert sorted(j.version or 0 for j in jobs.values()) == [1, 2, 3, 4, 5, 6]
    ledger = await read_ledger(sessions, SCOPE)
    for r in results:
        job = jobs[r.actions[0].job_id]
        assert r.text.startswith(f"v{job.version} · ") and " low · $" in r.text
        assert "left this month" in r.text
        # Undo only where there is a version before this one.
        undo = [Action.UNDO] if (job.version or 0) > 1 else []
        assert [b.action for b in r.actions] == [Action.RETRY, *undo, Action.HIGH_QUALITY]
        assert r.alt_text == job.prompt
        assert r.images[0].mime == "image/jpeg" and r.images[0].width == 1024
        assert job.cost_micros == ledger.settled[job.id] and 0 < job.cost_micros
        assert job.cost_micros <= next(q.estimate_micros for q in queued if q.job_id == job.id)
    # Each result replaced its status message; money: nothing held, spent = sum of settles.
    assert [m for m in chat.messages if not m.images] == []
    assert len(chat.removed) == 6
    assert ledger.reserved == 0 and ledger.spent == sum(ledger.settled.values())
    async with sessions() as session:
        thread = await find_thread(
            session, platform="slack", workspace="W1", channel="C1", thread="T1"
        )
        assert thread is not None and thread.current_version == 6
        versions = await list_versions(session, thread_id=thread.id or 0)
    assert {v.job_id for v in versions} == set(jobs)


async def test_faults_end_every_job_succeeded_or_failed_and_only_successes_are_charged(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    emu.fail_rate = {"429": 0.15, "500": 0.1, "gateway": 0.05, "timeout": 0.1, "refuse": 0.1}
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=100, chat=chat)
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=8)
    await worker.drain()

    jobs = await all_jobs(sessions)
    by_status = {s: [j for j in jobs if j.status is s] for s in JobStatus}
    ok, failed = by_status[JobStatus.SUCCEEDED], by_status[JobStatus.FAILED]
    assert len(ok) + len(failed) == 100 and ok and failed  # the seed gives both kinds
    ledger = await read_ledger(sessions, SCOPE)
    assert set(ledger.settled) == {j.id for j in ok}
    assert ledger.refunded == {j.id for j in failed}
    assert all(j.cost_micros is None for j in failed)
    assert ledger.reserved == 0 and ledger.spent == sum(j.cost_micros or 0 for j in ok)
    # Every job delivered exactly once: a result for successes, a message for failures.
    assert sorted(r.actions[0].job_id for r in chat.results()) == sorted(j.id for j in ok)
    # Each status message was replaced by its job's one message (a failure's names the job).
    assert sorted(chat.removed) == sorted(j.status_message_id for j in (*ok, *failed))
    assert len(chat.removed) == len(queued)
    failures = {m.actions[0].job_id: m.text for m in chat.messages if not m.images}
    assert len(failures) == len(failed)
    for job in failed:
        assert job.error and job.delivered_at is not None
        assert failures[job.id] == job.error
        assert "Traceback" not in job.error
        refused = "safety system refused" in job.error  # a user error: the provider's words
        ref = f"(reference {short_ref(job.id)})"
        assert refused or ("nothing was charged" in job.error and ref in job.error)
    assert any("safety system refused" in (j.error or "") for j in failed)


async def test_a_refusal_is_shown_verbatim_and_not_retried(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, prompts=["a forbidden thing"], chat=chat)
    await make_worker(sessions, blobs, chat, openai_provider(client, BASE)).drain()
    async with sessions() as session:
        job = await get_job(session, q.job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert edits_for(emu, "a forbidden thing") == 1
    assert chat.messages[0].text == job.error
    assert "safety system" in (job.error or "") and "(job" not in (job.error or "")


async def test_a_stored_wavespeed_task_resumes_polling_without_a_second_submit(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, provider=ProviderName.WAVESPEED, chat=chat)
    provider = wavespeed_provider(client, BASE)
    # A worker that died after submitting: the task id is stored, the lease has run out.
    dead = await claim(sessions, owner="dead", lease_s=0)
    assert dead is not None
    seen: list[str] = []

    async def store(task_id: str) -> None:
        async with write_session(sessions) as session:
            assert await set_provider_task(session, job_id=q.job_id, owner="dead", task_id=task_id)
        seen.append(task_id)

    from tests.kit.workers import small_request

    run = asyncio.create_task(provider.edit(small_request("C1 edit 0"), on_task_id=store))
    while not seen:
        await asyncio.sleep(0.001)
    run.cancel()
    assert len(emu.routes("submit")) == 1

    await make_worker(sessions, blobs, chat, provider).drain()
    async with sessions() as session:
        job = await get_job(session, q.job_id)
    assert job is not None and job.status is JobStatus.SUCCEEDED and job.attempts == 2
    assert len(emu.routes("submit")) == 1  # resumed, not paid for twice
    assert job.provider_task_id == seen[0]
    assert len(chat.results()) == 1


async def test_a_batch_of_40_does_not_starve_another_channels_single_edit(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=40, channel="A", chat=chat)
    [single] = await enqueue_jobs(sessions, blobs, count=1, channel="B", chat=chat)
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=1)
    await worker.drain()
    order = [o.job_id for o in worker.outcomes]
    assert len(order) == 41
    assert single.job_id in order[:2]


async def test_lease_renewal_keeps_a_long_job_from_being_reclaimed(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    # Three lease lengths. A lease well under a second is at the mercy of a loaded CI machine
    # (one stalled renewal of a 0.3 s lease let the rival take the job); 1 s leaves room.
    emu.latency_s = 3.0
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    provider = openai_provider(client, BASE)
    first = make_worker(sessions, blobs, chat, provider, owner="w1", lease_s=1.0, concurrency=1)
    rival = make_worker(sessions, blobs, chat, provider, owner="w2", lease_s=1.0, idle_poll_s=0.02)
    rival_run = asyncio.create_task(rival.run())
    await first.drain()
    await rival.stop()
    await rival_run
    async with sessions() as session:
        job = await get_job(session, q.job_id)
    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert (job.attempts, edits_for(emu, job.prompt), rival.outcomes) == (1, 1, [])
    assert len(chat.results()) == 1


async def test_a_finished_job_left_undelivered_is_delivered_once_by_the_sweep(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    provider = openai_provider(client, BASE)
    # The job runs to SUCCEEDED in a process with no Slack client (so it is left unmarked for
    # one that has it), and that process goes away before anyone delivers it.
    job = await claim(sessions, owner="gone", lease_s=60)
    assert job is not None
    settings = make_settings(default_budget_usd=WORKER_CAP_USD)
    gone = real_core(
        settings, sessions=sessions, blobs=blobs, chats={}, provider=provider, owner="gone"
    )
    assert (await gone.worker.runner.run(job)).status is JobStatus.SUCCEEDED
    assert chat.results() == []

    # Two restarted workers sweep at once: one posts, the other sees it delivered.
    workers = [make_worker(sessions, blobs, chat, provider, owner=f"r{i}") for i in range(2)]
    await asyncio.gather(*(w.drain() for w in workers))
    await workers[0].drain()
    assert [r.actions[0].job_id for r in chat.results()] == [q.job_id]


async def test_a_job_that_keeps_killing_its_worker_fails_for_good(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    for _ in range(3):  # three workers died holding it (leases of 0 s run out at once)
        assert await claim(sessions, owner="crashy", lease_s=0) is not None
    await make_worker(sessions, blobs, chat, openai_provider(client, BASE)).drain()
    async with sessions() as session:
        job = await get_job(session, q.job_id)
    assert job is not None and job.status is JobStatus.FAILED and job.attempts == 4
    assert emu.routes("openai_edit") == []
    assert "went wrong on editbot's side" in chat.messages[0].text
    ledger = await read_ledger(sessions, SCOPE)
    # Each dead claim may have reached the provider, which bills it: charged as lost.
    lost = 3 * q.estimate_micros
    assert (ledger.reserved, ledger.spent, ledger.refunded) == (0, lost, {q.job_id})


async def test_stop_releases_running_jobs_back_to_the_queue(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    emu.latency_s = 5
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=2, chat=chat)
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=2)
    running = asyncio.create_task(worker.run())
    while len(emu.routes("openai_edit")) < 2:
        await asyncio.sleep(0.01)
    await worker.stop(graceful=True, grace_s=0.05)
    await running
    jobs = await all_jobs(sessions)
    assert {j.status for j in jobs} == {JobStatus.QUEUED}
    assert {j.lease_owner for j in jobs} == {None}
    ledger = await read_ledger(sessions, SCOPE)
    assert ledger.reserved == sum(q.estimate_micros for q in queued)  # still held for the rerun
    assert chat.results() == []


async def test_wake_starts_a_new_job_without_waiting_for_the_poll(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    worker = make_worker(
        sessions, blobs, chat, openai_provider(client, BASE), idle_poll_s=3600, concurrency=2
    )
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.1)  # both loops found nothing and now wait (for an hour)
    await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    worker.wake()
    try:
        async with asyncio.timeout(10):
            while not chat.results():
                await asyncio.sleep(0.01)
    finally:
        await worker.stop()
        await running
    assert len(chat.results()) == 1
