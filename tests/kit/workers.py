"""Worker test helpers: queue jobs through the real EditService, build workers, read the ledger.

Also a subprocess entry point, `python -m tests.kit.workers work ...`, that runs a Worker
against a database and the emulator server and records what it posts to a JSON-lines file
(one per process), for the multi-process tests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image
from sqlalchemy import func
from sqlmodel import select

from bot.core.config import Settings
from bot.core.domain import (
    EditOptions,
    IncomingEdit,
    NormalizedImage,
    OutputFormat,
    Place,
    ProviderName,
    Quality,
)
from bot.core.edits import EditRequest
from bot.core.jobs import JobStatus
from bot.core.ports import ActionButton, BlobStore, ChatPort, MessageRef, Provider, ResultImage
from bot.core.pricing import PriceTable
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from bot.providers.wavespeed import WaveSpeedProvider
from bot.service.edit_service import EditService
from storage.blobs import FileBlobStore
from storage.db import Sessions, create_engine, session_factory
from storage.models import Job, LedgerEntry, LedgerKind, Usage
from storage.sql import table_of

OPENAI_KEY = "sk-emulator-openai-key"
WAVESPEED_KEY = "ws-emulator-wavespeed-key"
SMALL_SIZE = (1024, 640)
"""The smallest output gpt-image-2 takes (655,360 px): keeps the emulator's Pillow work low."""


def small_png(seed: int = 0, size: tuple[int, int] = (64, 64)) -> NormalizedImage:
    """A tiny input image whose colour depends on `seed` (so outputs differ per job)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120)).save(buf, "PNG")
    data = buf.getvalue()
    return NormalizedImage(data, "image/png", *size, hashlib.sha256(data).hexdigest(), "in.png")


def small_request(prompt: str, *, seed: int = 0, n: int = 1) -> EditRequest:
    """A low-quality, small, JPEG-output request: cheap for the emulator to answer."""
    options = EditOptions(quality=Quality.LOW, aspect="16:9", n=n, format=OutputFormat.JPEG)
    return EditRequest(
        prompt=prompt, images=(small_png(seed),), options=options, size=SMALL_SIZE, aspect="16:9"
    )


def worker_settings(**overrides: object) -> Settings:
    """Settings for worker tests: a $1,000 monthly default cap."""
    values: dict[str, object] = {"EDITBOT_DEFAULT_BUDGET_USD": "1000"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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
    from tests.kit.chat import FakeChat, attachment

    settings = settings or worker_settings()
    service = EditService(
        sessions=sessions,
        blobs=blobs,
        chats={"slack": chat or FakeChat()},
        settings=settings,
        table=PriceTable.from_settings(settings),
        provider=provider,
    )
    place = Place(platform="slack", workspace="W1", channel=channel, user="U1", thread=thread)
    queued = []
    for i in range(count):
        prompt = prompts[i] if prompts else f"{channel} edit {i}"
        options = f"quality=low size={SMALL_SIZE[0]}x{SMALL_SIZE[1]} format=jpeg n={n}"
        image = small_png(i)
        before = {job.id for job in await all_jobs(sessions)}
        await service.submit(
            IncomingEdit(
                place=place,
                text=f"{prompt} {options}",
                event_key=f"test:{channel}:{prompt}:{i}:{uuid.uuid4().hex}",
                attachments=(attachment(image.name, image.data),),
                message_id=f"msg-{uuid.uuid4().hex[:12]}",
            )
        )
        [job] = [job for job in await all_jobs(sessions) if job.id not in before]
        assert job.status is JobStatus.QUEUED, (job.status, job.error)
        queued.append(Queued(job.id, place, job.estimate_micros))
    return queued


def openai_provider(client: httpx.AsyncClient, base_url: str, **kw: object) -> OpenAIProvider:
    """An OpenAI client on the emulator with fast, bounded retries."""
    return OpenAIProvider(
        client=client,
        base_url=f"{base_url}/v1",
        api_key=OPENAI_KEY,
        model="gpt-image-2",
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=float(kw.pop("deadline_s", 10.0)),  # type: ignore[arg-type]
    )


def wavespeed_provider(client: httpx.AsyncClient, base_url: str) -> WaveSpeedProvider:
    """A WaveSpeed client on the emulator polling every 10 ms."""
    return WaveSpeedProvider(
        client=client,
        base_url=base_url,
        api_key=WAVESPEED_KEY,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=10.0,
        poll_interval_s=0.01,
        max_poll_interval_s=0.02,
    )


@dataclass(frozen=True)
class Ledger:
    """The money as the database has it."""

    reserved: int
    spent: int
    settled: dict[str, int]
    refunded: set[str]


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
    )


async def all_jobs(sessions: Sessions) -> list[Job]:
    """Every job row, fresh."""
    async with sessions() as session:
        return list(
            (await session.exec(select(Job).execution_options(populate_existing=True))).all()
        )


# -- subprocess worker ------------------------------------------------------------------------


class RecordingChat:
    """A ChatPort that appends one JSON line per call to a file (read by the parent test)."""

    def __init__(self, path: Path, platform: str = "slack") -> None:
        self.platform = platform
        self.path = path
        self._n = 0

    def _write(self, record: dict[str, object]) -> str:
        self._n += 1
        message_id = f"{os.getpid()}-{self._n}"
        record["id"] = message_id
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        return message_id

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        return place

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        return MessageRef(place, self._write({"kind": "text", "text": text}))

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        self._write({"kind": "update", "ref": ref.message_id, "text": text})

    async def post_images(
        self,
        place: Place,
        *,
        images: Sequence[ResultImage],
        caption: str,
        alt_text: str,
        actions: Sequence[ActionButton] = (),
    ) -> MessageRef:
        record = {
            "kind": "images",
            "job": actions[0].job_id if actions else None,
            "caption": caption,
            "alt": alt_text,
            "sha": [hashlib.sha256(im.data).hexdigest() for im in images],
        }
        return MessageRef(place, self._write(record))

    async def thread_images(self, place: Place) -> Sequence[object]:  # type: ignore[override]
        return []


async def _work(args: argparse.Namespace) -> None:
    engine = create_engine(args.url, pool_size=args.concurrency + 2, max_overflow=0)
    sessions = session_factory(engine)
    from bot.jobs.worker import Worker

    settings = worker_settings()
    async with httpx.AsyncClient(timeout=30) as client:
        provider: Provider = (
            wavespeed_provider(client, args.base_url)
            if args.provider == "wavespeed"
            else openai_provider(client, args.base_url)
        )
        worker = Worker(
            sessions=sessions,
            blobs=FileBlobStore(Path(args.blobs)),
            chats={"slack": RecordingChat(Path(args.out))},
            provider=provider,
            table=PriceTable.from_settings(settings),
            settings=settings,
            owner=args.owner,
            concurrency=args.concurrency,
            lease_s=args.lease_s,
            idle_poll_s=0.05,
        )
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
