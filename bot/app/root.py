"""The composition root: open every resource once, build the core on them.

`open_app` is the one place that opens the HTTP client, the database, the blob store and the
aiohttp session the Slack Web API clients share, then builds the provider, the Worker and the
EditService over them. `editbot run` and `editbot worker` both start from it
(bot.app.processes); which chat platforms it talks to is added by bot.app.platforms.
Nothing below opens a client, an engine or a session of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import httpx

from bot.app.metered import MeteredProvider
from bot.core.config import Settings
from bot.core.metrics import Registry
from bot.core.ports import BlobStore, ChatPort, Provider
from bot.core.pricing import PriceTable
from bot.jobs.heartbeat import Heartbeat
from bot.jobs.worker import Worker
from bot.providers.factory import build_provider
from bot.providers.transport import pooled_client
from bot.service.edit_service import EditService
from storage.blobs import open_blob_store
from storage.columns import utcnow
from storage.db import Database, Sessions, open_database

CONNECT_TIMEOUT_S = 10.0


@dataclass
class Core:
    """The platform-neutral core of one process: provider, workers and the EditService.

    `chats` starts empty; bot.app.platforms registers a ChatPort per configured platform
    (the service and the workers answer through the same mapping).
    """

    settings: Settings
    sessions: Sessions
    blobs: BlobStore
    provider: Provider
    worker: Worker
    service: EditService
    chats: dict[str, ChatPort]
    heartbeat: Heartbeat
    """This process's liveness row; it frees what dead processes held (bot.jobs.heartbeat)."""


@dataclass
class App:
    """One process: the resources open_app opened, and the core built on them."""

    settings: Settings
    http: httpx.AsyncClient
    slack_session: aiohttp.ClientSession
    database: Database
    core: Core
    metrics: Registry = field(default_factory=Registry)

    @property
    def service(self) -> EditService:
        return self.core.service

    @property
    def worker(self) -> Worker:
        return self.core.worker

    @property
    def chats(self) -> dict[str, ChatPort]:
        return self.core.chats


def owner_name() -> str:
    """This process's lease owner name: host, pid and a per-start token (a container that
    restarts as the same pid is another owner, so its predecessor's leases are taken over)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    concurrency: int | None = None,
    lease_s: float | None = None,
    owner: str | None = None,
) -> AsyncIterator[App]:
    """Open the resources (migrating the database) and build the core; close all on exit.

    Args:
        concurrency: jobs this process runs at once (default EDITBOT_WORKERS).
        lease_s: the workers' lease (default EDITBOT_LEASE_S).
    """
    concurrency = settings.workers if concurrency is None else concurrency
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # An OpenAI edit is one long POST: a read may take up to the whole job deadline.
    timeout = httpx.Timeout(settings.job_deadline_s, connect=CONNECT_TIMEOUT_S)
    async with (
        pooled_client(timeout=timeout, max_connections=max(100, concurrency * 2)) as http,
        # One aiohttp session for every Slack Web API call (the SDK opens one per call else).
        aiohttp.ClientSession() as slack_session,
        # Sessions are short (claim, renew, finish), so far fewer connections than jobs do.
        open_database(
            settings.sqlalchemy_url, pool_size=min(concurrency, 20) + 5, max_overflow=10
        ) as database,
    ):
        metrics = Registry()  # /metrics: the provider's calls are timed and counted
        core = build_core(
            settings,
            sessions=database.sessions,
            blobs=open_blob_store(settings),  # EDITBOT_BLOB_URL: files or S3
            provider=MeteredProvider(build_provider(settings, http), metrics),
            metrics=metrics,
            concurrency=concurrency,
            lease_s=lease_s or settings.lease_s,
            owner=owner or owner_name(),
        )
        yield App(
            settings=settings,
            http=http,
            slack_session=slack_session,
            database=database,
            core=core,
            metrics=metrics,
        )


def build_core(
    settings: Settings,
    *,
    sessions: Sessions,
    blobs: BlobStore,
    provider: Provider,
    chats: dict[str, ChatPort] | None = None,
    owner: str | None = None,
    concurrency: int | None = None,
    lease_s: float | None = None,
    idle_poll_s: float = 0.5,
    clock: Callable[[], datetime] = utcnow,
    on_enqueued: Callable[[], None] | None = None,
    metrics: Registry | None = None,
) -> Core:
    """The Worker and the EditService on the given resources, sharing `chats` and a clock.

    open_app calls it on what it opened, the test kit on its own (fake chats, a fake clock), so
    tests run the real wiring. `on_enqueued` runs after workers are woken; `metrics` counts.
    """
    chats = {} if chats is None else chats
    table = PriceTable.from_settings(settings)
    owner = owner or owner_name()
    worker = Worker(
        sessions=sessions,
        blobs=blobs,
        chats=chats,
        provider=provider,
        table=table,
        settings=settings,
        owner=owner,
        concurrency=concurrency or settings.workers,
        lease_s=lease_s or settings.lease_s,
        idle_poll_s=idle_poll_s,
        clock=clock,
        metrics=metrics,
    )
    service = EditService(
        sessions=sessions,
        blobs=blobs,
        chats=chats,
        settings=settings,
        table=table,
        provider=settings.provider,
        on_enqueued=_then(worker.wake, on_enqueued),
        clock=clock,
        owner=owner,
    )
    # Unconfirmed edits expire on the workers' periodic tick (any process may do it).
    worker.periodic = _sweep_of(service)
    return Core(
        settings=settings,
        sessions=sessions,
        blobs=blobs,
        provider=provider,
        worker=worker,
        service=service,
        chats=chats,
        heartbeat=_heartbeat(sessions, owner, clock, worker=worker, service=service),
    )


def _heartbeat(
    sessions: Sessions,
    owner: str,
    clock: Callable[[], datetime],
    *,
    worker: Worker,
    service: EditService,
) -> Heartbeat:
    """This process's heartbeat: a dead process's jobs go to the workers at once, and so do
    its unconfirmed posts (to the sweep); its inbox to the EditService."""
    heartbeat = Heartbeat(sessions=sessions, owner=owner, clock=clock)
    heartbeat.on_freed.append(worker.wake)
    heartbeat.on_posts_freed.append(worker.sweep_soon)
    heartbeat.on_dead.append(service.adopt_intake)
    return heartbeat


def _then(first: Callable[[], None], then: Callable[[], None] | None) -> Callable[[], None]:
    """`first`, then `then` when there is one."""

    def both() -> None:
        first()
        if then is not None:
            then()

    return both


def _sweep_of(service: EditService) -> Callable[[], Awaitable[None]]:
    async def sweep() -> None:
        await service.sweep_expired()

    return sweep
