"""A worker's idle claim loops share one claim, and every post is confirmed by the time a
drain ends (the confirms are written in the background, in batches)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event

from bot.core.jobs import JobStatus
from storage.blobs import FileBlobStore
from storage.db import Sessions
from storage.deliveries import delivery_state
from tests.bot.jobs.test_worker import BASE, edits_for, make_worker
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider
from tests.kit.emulator import ProviderEmulator
from tests.kit.workers import all_jobs, enqueue_jobs


def count_statements(sessions: Sessions, prefix: str, has: str = "") -> list[str]:
    """Every statement the sessions' engine runs from now on that starts with `prefix` (and
    holds `has`), upper-cased."""
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.upper().split())
        if text.startswith(prefix) and has in text:
            seen.append(text)

    return seen


async def test_twelve_idle_loops_take_twelve_jobs_in_a_few_claims_and_confirm_every_post(
    sessions: Sessions, blobs: FileBlobStore, emu: ProviderEmulator, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=12, chat=chat)
    claims = count_statements(sessions, "WITH FIRST_QUEUED")
    confirms = count_statements(sessions, "UPDATE JOBS SET", has="POSTED_AT=")
    worker = make_worker(sessions, blobs, chat, openai_provider(client, BASE), concurrency=12)
    await worker.drain()
    jobs = await all_jobs(sessions)
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    assert all(edits_for(emu, j.prompt) == 1 for j in jobs)
    assert sorted(r.actions[0].job_id for r in chat.results("T1")) == sorted(
        q.job_id for q in queued
    )
    # The loops started together: one claim took all twelve (one claim time), where one
    # claim each would have taken one job each.
    assert len({j.started_at for j in jobs}) == 1
    assert len(claims) <= 13  # and the empty answers: one each at most
    assert 1 <= len(confirms) <= 12
    async with sessions() as session:
        for job in jobs:
            state = await delivery_state(session, job_id=job.id)
            assert state is not None and state.posted_at is not None and not state.maybe_posted
