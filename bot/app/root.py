"""Composition root: open every resource once, wire the core to the chat adapters, run.

`editbot run` = adapters + workers in one process; `editbot worker` (bot/app/cli/worker.py) =
workers only, delivering through `delivery_chats`, the platforms' REST APIs (so any worker can
finish any job). Nothing below main opens
a client, an engine or a session of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.web import build_web_app
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.metrics import Registry
from bot.core.ports import ChatPort, Provider
from bot.core.pricing import PriceTable
from bot.jobs.worker import Worker
from bot.providers.factory import build_provider
from bot.providers.transport import pooled_client
from bot.service.edit_service import EditService
from storage.blobs import FileBlobStore, blob_root
from storage.db import Sessions, create_engine, session_factory, upgrade

log = logging.getLogger(__name__)

HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass
class Core:
    """The platform-neutral core of one process, with the resources it was built on."""

    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    provider: Provider
    worker: Worker
    service: EditService
    chats: dict[str, ChatPort]
    metrics: Registry = field(default_factory=Registry)


def owner_name() -> str:
    """This process's lease owner name: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.asynccontextmanager
async def open_core(
    settings: Settings, http: httpx.AsyncClient, *, owner: str | None = None
) -> AsyncIterator[Core]:
    """Migrate the database and build provider, workers and EditService over `http`."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    provider = build_provider(settings, http)
    table = PriceTable.from_settings(settings)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        blobs = FileBlobStore(blob_root(settings.data_dir))
        chats: dict[str, ChatPort] = {}
        worker = Worker(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            provider=provider,
            table=table,
            settings=settings,
            owner=owner or owner_name(),
            lease_s=settings.lease_s,
        )
        service = EditService(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            settings=settings,
            table=table,
            provider=settings.provider,
            on_enqueued=worker.wake,
        )

        async def sweep() -> None:
            await service.sweep_expired()

        # Unconfirmed edits expire on the workers' periodic tick (any process may do it).
        worker.periodic = sweep
        yield Core(
            settings=settings,
            engine=engine,
            sessions=sessions,
            provider=provider,
            worker=worker,
            service=service,
            chats=chats,
        )
    finally:
        await engine.dispose()


Runner = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None]]


def _need_chat(settings: Settings) -> None:
    if settings.slack_bot_token is None and settings.discord_token is None:
        raise ConfigError(
            "no chat platform configured: set SLACK_BOT_TOKEN (with SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET) and/or DISCORD_TOKEN. `editbot doctor` checks the setup."
        )


async def run_bot(settings: Settings) -> None:
    """`editbot run`: the chat adapters, the web endpoints and the workers, until a signal."""
    _need_chat(settings)
    async with (
        pooled_client(timeout=HTTP_TIMEOUT, max_connections=max(100, settings.workers * 2)) as http,
        aiohttp.ClientSession() as slack_session,
        open_core(settings, http) as core,
    ):
        runners, closers = wire_adapters(core, http, slack_session)
        await _run_until_signal([core.worker.run, *runners], closers=[*closers, core.worker.stop])


def wire_adapters(
    core: Core, http: httpx.AsyncClient, slack_session: aiohttp.ClientSession
) -> tuple[list[Runner], list[Closer]]:
    """Build every configured adapter on `core`'s one EditService; register their ChatPorts.

    Returns what to run (Slack's web/socket server or the bare web server, the Discord bot)
    and what to close on the way out.
    """
    settings = core.settings
    runners: list[Runner] = []
    closers: list[Closer] = []
    slack_handler = None
    slack_serve: Callable[[web.Application], Coroutine[Any, Any, None]] | None = None
    if settings.slack_bot_token is not None:
        slack_handler, slack_serve = _wire_slack(core, http, slack_session)
    web_app = build_web_app(health=_health(core), metrics=core.metrics, slack_handler=slack_handler)
    if slack_serve is not None:
        serve_with_slack = slack_serve
        runners.append(lambda: serve_with_slack(web_app))
    else:
        runners.append(lambda: serve_web(web_app, port=settings.http_port))
    if settings.discord_token is not None:
        runner, closer = _wire_discord(core)
        runners.append(runner)
        closers.append(closer)
    return runners, closers


async def delivery_chats(
    settings: Settings, http: httpx.AsyncClient, slack_session: aiohttp.ClientSession
) -> tuple[dict[str, ChatPort], list[Closer]]:
    """ChatPorts over the platforms' REST APIs (no event intake): what workers deliver with.

    Returns the ports by platform and what to close on the way out.
    """
    chats: dict[str, ChatPort] = {}
    closers: list[Closer] = []
    if settings.slack_bot_token is not None:
        from adapters.slack.app import build_slack_client, make_chat_port

        chats["slack"] = make_chat_port(
            client=build_slack_client(settings, session=slack_session),
            downloader=_slack_downloader(settings, http),
        )
    if settings.discord_token is not None:
        chats["discord"], close = await _discord_rest_chat(settings)
        closers.append(close)
    if not chats:
        log.warning("no SLACK_BOT_TOKEN or DISCORD_TOKEN: results wait for a process that has one")
    return chats, closers


def _slack_downloader(settings: Settings, http: httpx.AsyncClient) -> Any:
    from adapters.slack.downloads import SlackDownloader, allowed_hosts

    assert settings.slack_bot_token is not None
    return SlackDownloader(
        http=http,
        token=settings.slack_bot_token.get_secret_value(),
        max_bytes=settings.max_input_bytes,
        hosts=allowed_hosts(settings.slack_api_url),
    )


def _wire_slack(
    core: Core, http: httpx.AsyncClient, session: aiohttp.ClientSession
) -> tuple[Any, Callable[[web.Application], Coroutine[Any, Any, None]]]:
    from adapters.slack.app import build_slack_app, build_slack_client, make_chat_port
    from adapters.slack.http import slack_events_handler
    from adapters.slack.serve import serve_slack
    from adapters.slack.socket import uses_socket_mode

    settings = core.settings
    # One aiohttp session for every Web API call (the SDK opens one per call without it).
    client = build_slack_client(settings, session=session)
    downloader = _slack_downloader(settings, http)
    core.chats["slack"] = make_chat_port(client=client, downloader=downloader)
    app = build_slack_app(
        settings=settings,
        client=client,
        service=core.service,
        downloader=downloader,
        metrics=core.metrics,
    )
    handler = None if uses_socket_mode(settings) else slack_events_handler(app)

    async def serve(web_app: web.Application) -> None:
        await serve_slack(app=app, settings=settings, web_app=web_app)

    return handler, serve


def _wire_discord(core: Core) -> tuple[Runner, Closer]:
    from adapters.discord.bot import build_discord_bot

    settings = core.settings
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    discord_bot = build_discord_bot(settings=settings, service=core.service)
    core.chats["discord"] = discord_bot.chat

    async def run() -> None:
        await discord_bot.start(token)

    return run, discord_bot.close


async def _discord_rest_chat(settings: Settings) -> tuple[ChatPort, Closer]:
    """A Discord ChatPort over REST only (no gateway): enough to deliver results."""
    import discord

    from adapters.discord.bot import default_chat
    from adapters.discord.downloads import CdnDownloads

    assert settings.discord_token is not None
    client = discord.Client(intents=discord.Intents.none())
    await client.login(settings.discord_token.get_secret_value())
    downloads = CdnDownloads.create(max_bytes=settings.max_input_bytes)
    return default_chat(client, downloads), client.close


def _health(core: Core) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def check() -> dict[str, Any]:
        async with core.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        return {"platforms": sorted(core.chats), "provider": core.settings.provider.value}

    return check


async def serve_web(web_app: web.Application, *, port: int, host: str = "0.0.0.0") -> None:
    """Serve /healthz and /metrics until cancelled (when Slack does not serve them)."""
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("web: /healthz and /metrics on port %d", port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _run_until_signal(runners: list[Runner], *, closers: list[Closer]) -> None:
    """Run every runner; on SIGINT/SIGTERM or the first one failing, close all and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(r()) for r in runners]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception()]
    finally:
        log.info("stopping")
        for close in closers:
            with contextlib.suppress(Exception):
                await close()
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if failed:
        raise failed[0].exception()  # type: ignore[misc]
