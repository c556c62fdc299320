"""Inline delivery on SQLite and PostgreSQL: a finished job is marked delivered in its finish
transaction and posted from memory; a failed post, or a process without the platform's chat,
leaves it to the sweep, which posts it exactly once. Also the caption's spent / cap, and
`standing`'s use of the settle's numbers (only when they are the current period's).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import update

from bot.core.budgets import BudgetDefaults
from bot.core.config import budget_defaults
from bot.core.domain import format_usd
from bot.core.jobs import JobStatus
from bot.core.messages import period_phrase
from bot.core.ports import Action, ChatPort
from bot.jobs.sweep import SWEEP_WINDOW, deliver_pending
from bot.jobs.worker import Worker
from storage.blobs import FileBlobStore
from storage.budget_reports import standing
from storage.budgets import Closed
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.models import Job, Usage
from storage.policies import set_policy
from storage.queue import undelivered as undelivered_ids
from storage.sql import table_of
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider
from tests.kit.emulator import ProviderEmulator
from tests.kit.settings import make_settings
from tests.kit.workers import enqueue_jobs, read_ledger, worker_for

BASE = "http://emulator"
SCOPE = "slack:W1:C1"


def make_worker(
    sessions: Sessions,
    blobs: FileBlobStore,
    chats: dict[str, ChatPort],
    client: httpx.AsyncClient,
    *,
    owner: str = "w1",
) -> Worker:
    provider = openai_provider(client, BASE)
    return worker_for(sessions, blobs, chats, provider, owner=owner, concurrency=1)


async def job_row(sessions: Sessions, job_id: str) -> Job:
    """The job's row as an auditor reads it (delivered_at and all)."""
    async with sessions() as session:
        job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


async def undelivered(sessions: Sessions, **kw: object) -> list[str]:
    """What the sweep would pick up now."""
    async with sessions() as session:
        return await undelivered_ids(session, since=utcnow() - SWEEP_WINDOW, **kw)  # type: ignore[arg-type]


async def sweep(sessions: Sessions, blobs: FileBlobStore, chat: ChatPort) -> list[str]:
    """One deliver_pending pass with `chat` for Slack; the ids it posted."""
    done = await deliver_pending(
        sessions=sessions,
        blobs=blobs,
        chats={"slack": chat},
        defaults=budget_defaults(make_settings(default_budget_usd="1000")),
    )
    return [d.job_id for d in done if d.posted]


def marked_inline(job: Job) -> bool:
    """Whether the finish UPDATE set delivered_at (a later mark_delivered stamps its own time)."""
    return job.delivered_at is not None and job.delivered_at == job.finished_at


async def test_a_result_whose_post_fails_is_left_to_the_sweep_which_posts_it_once(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    chat.down.add("post_result")  # down for the inline post and the drain's own closing sweep
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    await make_worker(sessions, blobs, {"slack": chat}, client).drain()

    job = await job_row(sessions, q.job_id)
    assert job.status is JobStatus.SUCCEEDED and job.finished_at is not None
    assert job.delivered_at is None  # the finish marked it; the failed post took the mark back
    assert chat.attempts["post_result"] >= 1 and chat.results() == []

    chat.down.clear()
    assert await sweep(sessions, blobs, chat) == [q.job_id]
    [result] = chat.results("T1")
    assert result.actions[0].job_id == q.job_id
    cost = job.cost_micros or 0
    assert cost > 0 and f" · {format_usd(cost)} · " in result.text and " left " in result.text
    job = await job_row(sessions, q.job_id)
    assert job.delivered_at is not None and not marked_inline(job)  # marked by the sweep
    # One message for the edit: the result replaced (removed) its status message.
    assert [m for m in chat.messages if not m.images] == []
    assert chat.removed == [job.status_message_id]

    assert await sweep(sessions, blobs, chat) == []
    assert len(chat.results()) == 1


async def test_a_post_that_fails_once_is_posted_once_by_the_drains_closing_sweep(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    chat.fail_next["post_result"] = 1
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    await make_worker(sessions, blobs, {"slack": chat}, client).drain()

    assert chat.attempts["post_result"] == 2  # inline (raised), then the sweep
    assert [r.actions[0].job_id for r in chat.results()] == [q.job_id]
    job = await job_row(sessions, q.job_id)
    assert job.status is JobStatus.SUCCEEDED and not marked_inline(job)
    assert job.delivered_at is not None
    assert await sweep(sessions, blobs, chat) == [] and len(chat.results()) == 1


async def test_a_refused_job_is_posted_inline_as_the_status_message_error_once(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    emu.fail_next("refuse", on="openai_edit")
    chat = FakeChat()
    [q] = await enqueue_jobs(sessions, blobs, count=1, chat=chat)
    await make_worker(sessions, blobs, {"slack": chat}, client).drain()

    job = await job_row(sessions, q.job_id)
    assert job.status is JobStatus.FAILED and job.error
    assert "safety system refused this edit" in job.error  # the moderation refusal
    assert marked_inline(job)
    assert len(emu.routes("openai_edit")) == 1
    # One message: the error, posted new (it notifies the requester) with a Retry button, in
    # place of the status message.
    [status] = chat.messages
    assert chat.removed == [job.status_message_id]
    assert status.text == job.error and status.notify == job.user
    assert [(a.action, a.job_id) for a in status.actions] == [(Action.RETRY, job.id)]
    assert await sweep(sessions, blobs, chat) == []
    assert chat.texts() == [job.error]
    ledger = await read_ledger(sessions, SCOPE)
    assert (ledger.reserved, ledger.spent, ledger.refunded) == (0, 0, {q.job_id})


async def test_captions_show_the_channel_spend_growing_by_each_cost_against_its_policy_cap(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    cap = 7_250_000  # the default in worker_settings is $1,000 a month: this is not it
    async with write_session(sessions) as session:
        await set_policy(session, scope=SCOPE, period="week", cap_micros=cap)
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=2, chat=chat)
    await make_worker(sessions, blobs, {"slack": chat}, client).drain()

    first, second = [await job_row(sessions, q.job_id) for q in queued]
    assert marked_inline(first) and marked_inline(second)  # the captions are the inline ones
    results = chat.results("T1")
    assert [r.actions[0].job_id for r in results] == [first.id, second.id]
    c1, c2 = first.cost_micros or 0, second.cost_micros or 0
    assert c1 > 0 and c2 > 0 and format_usd(c1) != format_usd(c1 + c2)
    per = f"left {period_phrase('week')}"
    assert results[0].text.startswith(f"v{first.version} · ")
    # Each caption: what that edit cost, and what is left of the cap after it.
    assert f" · {format_usd(c1)} · {format_usd(cap - c1)} {per}" in results[0].text
    assert f" · {format_usd(c2)} · {format_usd(cap - c1 - c2)} {per}" in results[1].text
    ledger = await read_ledger(sessions, SCOPE)
    assert ledger.settled == {first.id: c1, second.id: c2} and ledger.spent == c1 + c2


async def test_a_worker_without_the_platforms_chat_leaves_jobs_to_one_that_has_it(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient, emu: ProviderEmulator
) -> None:
    chat = FakeChat()
    ok, refused = await enqueue_jobs(
        sessions, blobs, count=2, chat=chat, prompts=["a blue sky", "a forbidden thing"]
    )
    await make_worker(sessions, blobs, {}, client, owner="discord-only").drain()

    jobs = [await job_row(sessions, q.job_id) for q in (ok, refused)]
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.FAILED]
    assert [j.delivered_at for j in jobs] == [None, None]
    # Nothing posted by the chat-less worker: the two status messages still say "Queued".
    assert [t.split(" - ")[0] for t in chat.texts()] == ["Queued", "Queued"]

    with_chat = make_worker(sessions, blobs, {"slack": chat}, client, owner="slack")
    await with_chat.drain()
    await with_chat.drain()
    assert with_chat.outcomes == []  # it ran nothing: it only delivered
    assert [r.actions[0].job_id for r in chat.results()] == [ok.job_id]
    ok_job, refused_job = [await job_row(sessions, q.job_id) for q in (ok, refused)]
    assert ok_job.delivered_at is not None and refused_job.delivered_at is not None
    assert sorted(chat.removed) == sorted([ok_job.status_message_id, refused_job.status_message_id])
    [refusal] = [m for m in chat.messages if not m.images]
    assert refusal.text == refused_job.error and chat.texts().count(refusal.text) == 1
    assert len(emu.routes("openai_edit")) == 2


async def test_another_platforms_backlog_does_not_hide_this_platforms_jobs_from_the_sweep(
    sessions: Sessions, blobs: FileBlobStore, client: httpx.AsyncClient
) -> None:
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=3, chat=chat)
    await make_worker(sessions, blobs, {}, client, owner="no-chat").drain()
    # The two that finished first belong to a platform this process has no client for.
    jobs = sorted([await job_row(sessions, q.job_id) for q in queued], key=finish_order)
    others, mine = [j.id for j in jobs[:2]], jobs[2].id
    async with write_session(sessions) as session:
        await session.exec(
            update(table_of(Job)).where(table_of(Job).c.id.in_(others)).values(platform="discord")
        )

    assert await undelivered(sessions, limit=1) == [others[0]]  # oldest of any platform
    assert await undelivered(sessions, platforms=["slack"], limit=1) == [mine]
    assert await sweep(sessions, blobs, chat) == [mine]
    assert [r.actions[0].job_id for r in chat.results()] == [mine]


def finish_order(job: Job) -> tuple[datetime, str]:
    assert job.finished_at is not None
    return job.finished_at, job.id


# -- standing: the settle's numbers only when they are this period's -----------------------------

NOVEMBER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MONTHLY = BudgetDefaults(cap_micros=5_000_000, period="month")


async def add_usage(sessions: Sessions, scope: str, key: str, spent: int, reserved: int) -> None:
    async with write_session(sessions) as session:
        session.add(
            Usage(scope=scope, period_key=key, spent_micros=spent, reserved_micros=reserved)
        )


async def test_standing_reads_this_periods_row_when_known_is_from_another_period(
    sessions: Sessions,
) -> None:
    # A job reserved in October and settled on 2 November: the settle closed October's row.
    await add_usage(sessions, SCOPE, "2026-10", 900_000, 0)
    await add_usage(sessions, SCOPE, "2026-11", 120_000, 30_000)
    october = Closed(scope=SCOPE, period_key="2026-10", spent_micros=900_000, reserved_micros=0)
    async with sessions() as session:
        now = await standing(session, scope=SCOPE, defaults=MONTHLY, now=NOVEMBER, known=october)
    assert (now.period_key, now.spent_micros, now.reserved_micros) == ("2026-11", 120_000, 30_000)
    assert now.cap_micros == 5_000_000 and now.policy.period == "month"


async def test_standing_uses_known_only_for_this_periods_row_of_the_same_scope(
    sessions: Sessions,
) -> None:
    await add_usage(sessions, SCOPE, "2026-11", 120_000, 30_000)
    # Numbers unlike the row's, so the answer shows which one was used.
    this_month = Closed(scope=SCOPE, period_key="2026-11", spent_micros=777, reserved_micros=1)
    other_channel = Closed(
        scope="slack:W1:C2", period_key="2026-11", spent_micros=555, reserved_micros=2
    )
    async with sessions() as session:
        used = await standing(
            session, scope=SCOPE, defaults=MONTHLY, now=NOVEMBER, known=this_month
        )
        read = await standing(
            session, scope=SCOPE, defaults=MONTHLY, now=NOVEMBER, known=other_channel
        )
        # The channel's policy is weekly: a monthly key is not this period's.
        await set_policy(session, scope=SCOPE, period="week", cap_micros=2_000_000)
        weekly = await standing(
            session, scope=SCOPE, defaults=MONTHLY, now=NOVEMBER, known=this_month
        )
    assert (used.spent_micros, used.reserved_micros) == (777, 1)
    assert (read.spent_micros, read.reserved_micros) == (120_000, 30_000)
    assert (weekly.period_key, weekly.spent_micros, weekly.reserved_micros) == ("2026-W45", 0, 0)
    assert weekly.cap_micros == 2_000_000
