"""Worker test helpers: queue jobs through the real EditService, build workers, read the ledger.

Also a subprocess entry point, `python -m tests.kit.workers work ...`, that runs a Worker
against a database and the emulator server and journals what it posts (a FakeChat with a
JSON-lines journal, one per process), for the multi-process tests.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import select

from bot.core.config import Settings
from bot.core.domain import (
    EditOptions,
    IncomingEdit,
    OutputFormat,
    Place,
    ProviderName,
    Quality,
)
from bot.core.edits import EditRequest
from bot.core.jobs import JobStatus
from bot.core.ports import BlobStore, ChatPort, Provider
from bot.jobs.worker import Worker
from storage.blobs import FileBlobStore
from storage.db import Sessions, create_engine, session_factory
from storage.models import Job, LedgerEntry, LedgerKind, Usage
from storage.sql import table_of
from tests.kit.chat import FakeChat
from tests.kit.core import openai_provider, real_core, wavespeed_provider
from tests.kit.images import normalized, seeded
from tests.kit.settings import make_settings

WORKER_CAP_USD = "1000"
"""The default channel cap of worker tests: high enough that no job is refused."""
SMALL_SIZE = (1024, 640)
"""The smallest output gpt-image-2 takes (655,360 px): keeps the emulator's Pillow work low."""


def small_request(prompt: str, *, seed: int = 0, n: int = 1) -> EditRequest:
    """A low-quality, small, JPEG-output request: cheap for the emulator to answer."""
    options = EditOptions(quality=Quality.LOW, aspect="16:9", n=n, format=OutputFormat.JPEG)
    return EditRequest(
        prompt=prompt,
        images=(normalized(seeded(seed), name="in.png"),),
        options=options,
        size=SMALL_SIZE,
        aspect="16:9",
    )


@dataclass(frozen=True)
class Queued:
    """A job the helper queued: its id, place and reserved estimate."""

    job_id: str
    place: Place
    estimate_micros: int


async def enqueue_jobs(
    sessions: Sessions,
    blobs: BlobStore,
    *,
    count: int,
    channel: str = "C1",
    prompts: Sequence[str] | None = None,
    provider: ProviderName = ProviderName.OPENAI,
    settings: Settings | None = None,
    chat: ChatPort | None = None,
    thread: str | None = "T1",
    n: int = 1,
) -> list[Queued]:
    """Queue `count` small edits in one channel through the real EditService (options,
    intake, estimate, reservation, enqueue, status message), one mention each.

    `chat` gets the status messages (so progress updates and the final "done" line have
    something to edit); without one they go to a throwaway FakeChat.
    """
    from tests.kit.chat import attachment

    settings = settings or make_settings(default_budget_usd=WORKER_CAP_USD)
    if provider is not settings.provider:
        settings = settings.model_copy(update={"provider": provider})
    core = real_core(settings, sessions=sessions, blobs=blobs, chats={"slack": chat or FakeChat()})
    place = Place(platform="slack", workspace="W1", channel=channel, user="U1", thread=thread)
    queued = []
    seen = await _job_ids(sessions)
    for i in range(count):
        prompt = prompts[i] if prompts else f"{channel} edit {i}"
        options = f"quality=low size={SMALL_SIZE[0]}x{SMALL_SIZE[1]} format=jpeg n={n}"
        await core.service.submit(
            IncomingEdit(
                place=place,
                text=f"{prompt} {options}",
                event_key=f"test:{channel}:{prompt}:{i}:{uuid.uuid4().hex}",
                attachments=(attachment("in.png", seeded(i)),),
                message_id=f"msg-{uuid.uuid4().hex[:12]}",
            )
        )
        [new] = await _job_ids(sessions) - seen
        seen.add(new)
        async with sessions() as session:
            job = await session.get(Job, new)
        assert job is not None and job.status is JobStatus.QUEUED, job and job.status
        queued.append(Queued(job.id, place, job.estimate_micros))
    return queued


def worker_for(
    sessions: Sessions,
    blobs: BlobStore,
    chats: dict[str, ChatPort],
    provider: Provider,
    *,
    owner: str = "w1",
    **kw: Any,
) -> Worker:
    """The Worker the composition root builds, on a test's resources (WORKER_CAP_USD caps)."""
    settings = make_settings(default_budget_usd=WORKER_CAP_USD)
    core = real_core(
        settings, sessions=sessions, blobs=blobs, chats=chats, provider=provider, owner=owner, **kw
    )
    return core.worker


@dataclass(frozen=True)
class Ledger:
    """The money as the database has it."""

    reserved: int
    spent: int
    settled: dict[str, int]
    refunded: set[str]
    lost: int = 0
    """Attempts lost with their process (storage.lost), in micro-dollars."""


async def read_ledger(sessions: Sessions, scope: str) -> Ledger:
    """Usage of a channel scope (all periods) and the settle / refund rows per job."""
    usage = table_of(Usage)
    ledger = table_of(LedgerEntry)
    async with sessions() as session:
        row = (
            await session.exec(
                select(
                    func.coalesce(func.sum(usage.c.reserved_micros), 0),
                    func.coalesce(func.sum(usage.c.spent_micros), 0),
                ).where(usage.c.scope == scope)
            )
        ).one()
        entries = (await session.exec(select(LedgerEntry).where(ledger.c.scope == scope))).all()
    return Ledger(
        reserved=int(row[0]),
        spent=int(row[1]),
        settled={e.job_id: e.amount_micros for e in entries if e.kind is LedgerKind.SETTLE},
        refunded={e.job_id for e in entries if e.kind is LedgerKind.REFUND},
        lost=sum(e.amount_micros for e in entries if e.kind is LedgerKind.LOST),
    )


async def _job_ids(sessions: Sessions) -> set[str]:
    async with sessions() as session:
        return set((await session.exec(select(table_of(Job).c.id))).all())


async def all_jobs(sessions: Sessions) -> list[Job]:
    """Every job row, fresh."""
    async with sessions() as session:
        return list(
            (await session.exec(select(Job).execution_options(populate_existing=True))).all()
        )


async def committed_jobs(sessions: Sessions, count: int, timeout_s: float = 5.0) -> list[Job]:
    """The job rows once `count` of them are committed. An edit's status message is posted
    inside the transaction that queues it (bot.service.enqueue), so seeing the post does not
    mean the rows are there yet."""
    async with asyncio.timeout(timeout_s):
        while len(jobs := await all_jobs(sessions)) < count:
            await asyncio.sleep(0.01)
    return jobs


# -- subprocess worker ------------------------------------------------------------------------


async def _work(args: argparse.Namespace) -> None:
    engine = create_engine(args.url, pool_size=args.concurrency + 2, max_overflow=0)
    sessions = session_factory(engine)
    settings = make_settings(default_budget_usd=WORKER_CAP_USD)
    async with httpx.AsyncClient(timeout=30) as client:
        provider: Provider = (
            wavespeed_provider(client, args.base_url)
            if args.provider == "wavespeed"
            else openai_provider(client, args.base_url)
        )
        worker = real_core(
            settings,
            sessions=sessions,
            blobs=FileBlobStore(Path(args.blobs)),
            chats={"slack": FakeChat(journal=Path(args.out))},
            provider=provider,
            owner=args.owner,
            concurrency=args.concurrency,
            lease_s=args.lease_s,
            idle_poll_s=0.05,
        ).worker
        if args.drain:
            await worker.drain()
        else:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(worker.stop()))
            await worker.run()
    await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kit.workers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("work", help="run a Worker; posts go to --out as JSON lines")
    w.add_argument("url")
    w.add_argument("--base-url", required=True)
    w.add_argument("--blobs", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--owner", required=True)
    w.add_argument("--provider", default="openai")
    w.add_argument("--concurrency", type=int, default=8)
    w.add_argument("--lease-s", type=float, default=60.0)
    w.add_argument("--drain", action="store_true", help="stop when the queue is empty")
    args = parser.parse_args(argv)
    asyncio.run(_work(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
