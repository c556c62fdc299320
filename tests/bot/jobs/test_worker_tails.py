"""A claim loop is free once its job's provider call is over: the rest of the job (the
outputs, the success write, the post) runs on while the loop takes the next job. On SQLite
and PostgreSQL, against the provider emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.core.jobs import JobStatus
from bot.core.ports import MessageRef, Place
from storage.blobs import FileBlobStore
from storage.db import Sessions
from tests.bot.jobs.test_worker import BASE, make_worker
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider
from tests.kit.editbot import wait_until
from tests.kit.emulator import ProviderEmulator
from tests.kit.workers import all_jobs, enqueue_jobs


class HeldPosts(FakeChat):
    """Results are posted only once `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.held = 0

    async def post_result(self, place: Place, **kwargs: Any) -> MessageRef:
        self.held += 1
        await self.gate.wait()
        return await super().post_result(place, **kwargs)


class Counted:
    """A provider that counts the edits in flight (and the most at once)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.in_flight = 0
        self.most = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def edit(self, request: Any, **kwargs: Any) -> Any:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await self._inner.edit(request, **kwargs)
        finally:
            self.in_flight -= 1


async def test_one_loop_calls_the_provider_for_the_next_job_while_a_result_waits_to_post(
    sessions: Sessions, blobs: FileBlobStore, emu: ProviderEmulator, client: httpx.AsyncClient
) -> None:
    chat = HeldPosts()
    await enqueue_jobs(sessions, blobs, count=3, chat=chat)
    provider = Counted(openai_provider(client, BASE))
    worker = make_worker(sessions, blobs, chat, provider, concurrency=1)  # type: ignore[arg-type]
    drained = asyncio.ensure_future(worker.drain())
    # With the loop waiting for each post, the second call would never come: the first
    # result's post is held until all three calls are done.
    await wait_until(lambda: len(emu.routes("openai_edit")) == 3, timeout=20, what="3 calls")
    await wait_until(lambda: chat.held == 3, timeout=20, what="3 results waiting to post")
    assert not drained.done()  # drain() waits for the jobs its loops left running
    assert chat.attempts["post_result"] == 0 and provider.most == 1  # one call at a time
    chat.gate.set()
    await asyncio.wait_for(drained, 20)
    results = [m for m in chat.messages if m.images]
    assert len(results) == 3 and chat.attempts["post_result"] == 3
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.SUCCEEDED}


async def test_a_stop_waits_for_the_jobs_past_their_call_then_ends(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = HeldPosts()
    await enqueue_jobs(sessions, blobs, count=2, chat=chat)
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=1)
    running = asyncio.ensure_future(worker.run())
    await wait_until(lambda: chat.held == 2, timeout=20, what="2 results waiting to post")
    stopping = asyncio.ensure_future(worker.stop(graceful=True, grace_s=10))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # a graceful stop lets the held posts finish
    chat.gate.set()
    await asyncio.wait_for(stopping, 20)
    await asyncio.wait_for(running, 20)
    assert chat.attempts["post_result"] == 2
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.SUCCEEDED}


def _one_loop(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, chat: FakeChat
) -> Any:
    return make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=1)


def _before_second_claim(worker: Any, before: Callable[[], Awaitable[Any]]) -> list[int]:
    """The worker's claims, counted; `before` runs ahead of the second (after the first
    job's call)."""
    claim, claims = worker._claim, []

    async def replaced() -> Any:
        claims.append(len(claims))
        if len(claims) == 2:
            await before()
        return await claim()

    worker._claim = replaced
    return claims


async def test_a_success_is_written_once_its_loop_has_claimed_the_next_job(
    sessions: Sessions, blobs: FileBlobStore, emu: ProviderEmulator, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=2, chat=chat)
    worker = _one_loop(sessions, blobs, client, chat)
    gate = asyncio.Event()
    claims = _before_second_claim(worker, gate.wait)  # the second claim held until the gate
    drained = asyncio.ensure_future(worker.drain())
    await wait_until(lambda: len(claims) == 2, timeout=20, what="the second claim")
    assert len(emu.routes("openai_edit")) == 1
    await asyncio.sleep(0.3)
    # The first call is over, but its success waits for the loop's next claim.
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.RUNNING, JobStatus.QUEUED}
    assert chat.attempts["post_result"] == 0
    gate.set()
    await asyncio.wait_for(drained, 20)
    assert chat.attempts["post_result"] == 2
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.SUCCEEDED}


async def test_a_failing_claim_lets_the_last_job_go_on(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    worker = _one_loop(sessions, blobs, client, chat)

    async def database_gone() -> None:
        raise RuntimeError("the database went away")

    _before_second_claim(worker, database_gone)
    running = asyncio.ensure_future(worker.run())
    await wait_until(lambda: chat.attempts["post_result"] == 1, timeout=20, what="the post")
    await worker.stop()
    await asyncio.wait_for(running, 20)
    assert {j.status for j in await all_jobs(sessions)} == {JobStatus.SUCCEEDED}
