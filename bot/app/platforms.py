"""Wire the chat platforms to an App: event intake plus a ChatPort each, or REST only.

`wire_platforms` is `editbot run`'s: Slack's AsyncApp (HTTP mode or Socket Mode) and the
Discord bot on the App's one EditService, each registering its ChatPort in `app.chats`.
`register_delivery_chats` is `editbot worker`'s: ChatPorts over the platforms' REST APIs only,
so any worker can finish any job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket

from adapters.discord.bot import EditBot, build_discord_bot, default_chat
from adapters.discord.downloads import CdnDownloads
from adapters.slack.app import build_slack_app, build_slack_client, make_chat_port
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from adapters.slack.http import slack_events_handler
from adapters.slack.serve import first_socket_url, serve_slack
from adapters.slack.socket import socket_mode_handler, uses_socket_mode
from bot.app.health import CONNECTED, CONNECTING, DISCONNECTED, PlatformHealth
from bot.app.metered import scrape_database
from bot.app.root import App
from bot.app.slack_oauth import delivery_chat_oauth, wire_slack_oauth
from bot.app.web import build_web_app
from bot.core.config import Settings
from bot.core.domain import Attachment
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

DISCORD_API_URL = str(Settings.model_fields["discord_api_url"].default)
"""Discord's own REST base, DISCORD_API_URL's default."""
DISCORD_LOGIN_S = 30.0
"""How long the start waits for Discord's login (REST) before serving without it."""
SOCKET_WATCH_S = 0.5
"""How often Slack's Socket Mode connection is looked at for /healthz."""

Runner = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None]]


def need_chat(settings: Settings) -> None:
    """`editbot run` needs at least one platform; say which variables to set."""
    if not settings.slack_configured and settings.discord_token is None:
        raise ConfigError(
            "no chat platform configured: set SLACK_BOT_TOKEN (with SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET), or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET + "
            "SLACK_SIGNING_SECRET for installs in many workspaces, and/or DISCORD_TOKEN. "
            "`editbot doctor` checks the setup."
        )


def wire_platforms(
    app: App, *, board: PlatformHealth | None = None
) -> tuple[list[Runner], list[Closer]]:
    """Every configured platform on the App's EditService, and the web endpoints.

    Returns what to run (Slack's web/socket server or the bare web server, the Discord bot)
    and what to close on the way out. `board` (made here when not given) is what /healthz
    reports; run its `start()` before the runners.
    """
    settings = app.settings
    runners: list[Runner] = []
    closers: list[Closer] = []
    slack_handler = None
    slack_serve: Callable[[web.Application], Coroutine[Any, Any, None]] | None = None
    slack_oauth_handler = None
    board = board or PlatformHealth(grace_s=settings.health_grace_s)
    if settings.slack_oauth:
        slack_handler, slack_serve, slack_oauth_handler = wire_slack_oauth(app)
        board.set("slack", CONNECTED)  # HTTP mode: nothing to stay connected to
    elif settings.slack_bot_token is not None:
        slack_handler, slack_serve = _wire_slack(app, board, runners)
    web_app = build_web_app(
        health=_health(app, board),
        metrics=app.metrics,
        scrape=scrape_database(app.core.sessions, app.metrics),
        slack_handler=slack_handler,
        slack_oauth_handler=slack_oauth_handler,
    )
    if slack_serve is not None:
        serve_with_slack = slack_serve
        runners.append(lambda: serve_with_slack(web_app))
    else:
        runners.append(lambda: serve_web(web_app, port=settings.http_port))
    if settings.discord_token is not None:
        runner, closer = _wire_discord(app, board)
        # Discord failing after the start leaves Slack, the workers and /healthz running.
        runners.append(board.supervise("discord", runner))
        closers.append(closer)
    return runners, closers


async def register_delivery_chats(app: App) -> list[Closer]:
    """ChatPorts over the platforms' REST APIs (no event intake) in `app.chats`: what
    workers deliver with. Returns what to close on the way out."""
    settings = app.settings
    closers: list[Closer] = []
    if settings.slack_bot_token is not None:
        downloader = _slack_downloader(app)
        app.chats["slack"] = make_chat_port(
            client=build_slack_client(settings, session=app.slack_session),
            downloader=downloader,
        )
        app.service.intake.reattach["slack"] = _slack_reattach(downloader)
    elif settings.slack_oauth:
        app.chats["slack"] = delivery_chat_oauth(app)
    if settings.discord_token is not None:
        _discord_rest_base(settings)
        # Nothing a worker posts pings anyone unless a send says whom (DiscordChatPort).
        client = discord.Client(
            intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
        )
        await client.login(settings.discord_token.get_secret_value())
        downloads = CdnDownloads.create(
            max_bytes=settings.max_input_bytes, extra_hosts=_discord_proxy(settings), http=app.http
        )
        app.chats["discord"] = default_chat(client, downloads)
        app.service.intake.reattach["discord"] = _discord_reattach(downloads)
        closers.append(client.close)
    if not app.chats:
        log.warning("no SLACK_BOT_TOKEN or DISCORD_TOKEN: results wait for a process that has one")
    return closers


def _slack_downloader(app: App) -> SlackDownloader:
    settings = app.settings
    assert settings.slack_bot_token is not None
    return SlackDownloader(
        http=app.http,
        token=settings.slack_bot_token.get_secret_value(),
        max_bytes=settings.max_input_bytes,
        hosts=allowed_hosts(settings.slack_api_url),
    )


def _slack_reattach(downloader: SlackDownloader) -> Callable[[Attachment], Attachment]:
    """How a request taken over from a dead process fetches its Slack files again."""

    def reattach(attachment: Attachment) -> Attachment:
        file = {
            "url_private_download": attachment.url,
            "name": attachment.name,
            "size": attachment.size,
            "mimetype": attachment.mime,
        }
        return downloader.attachment(file) or attachment  # type: ignore[arg-type]

    return reattach


def _discord_reattach(downloads: CdnDownloads) -> Callable[[Attachment], Attachment]:
    """How a request taken over from a dead process fetches its Discord files again (the
    CDN URL it came with, through the same origin and size checks)."""

    def reattach(attachment: Attachment) -> Attachment:
        url, name = attachment.url, attachment.name
        if url is None or downloads.http is None:
            return attachment

        async def fetch() -> bytes:
            return await downloads.fetch(url, name=name)

        return Attachment(
            name=name, fetch=fetch, size=attachment.size, mime=attachment.mime, url=url
        )

    return reattach


def _wire_slack(
    app: App, board: PlatformHealth, runners: list[Runner]
) -> tuple[Any, Callable[[web.Application], Coroutine[Any, Any, None]]]:
    """Slack on the App; in Socket Mode a watcher of its connection joins `runners`."""
    settings = app.settings
    client = build_slack_client(settings, session=app.slack_session)
    downloader = _slack_downloader(app)
    app.chats["slack"] = make_chat_port(client=client, downloader=downloader)
    app.service.intake.reattach["slack"] = _slack_reattach(downloader)
    slack = build_slack_app(
        settings=settings,
        client=client,
        service=app.service,
        downloader=downloader,
        metrics=app.metrics,
    )
    handler = None if uses_socket_mode(settings) else slack_events_handler(slack)
    socket = (
        socket_mode_handler(slack, settings, metrics=app.metrics)
        if uses_socket_mode(settings)
        else None
    )
    if socket is None:
        board.set("slack", CONNECTED)  # HTTP mode: the token was accepted at start
    else:
        board.set("slack", CONNECTING)
        board.before_start(lambda: first_socket_url(socket))
        probe = socket.client.is_connected
        runners.append(lambda: board.watch("slack", probe, every_s=SOCKET_WATCH_S))

    async def serve(web_app: web.Application) -> None:
        await serve_slack(app=slack, settings=settings, web_app=web_app, socket_handler=socket)

    return handler, serve


def _wire_discord(app: App, board: PlatformHealth) -> tuple[Runner, Closer]:
    settings = app.settings
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    _discord_rest_base(settings)
    discord_bot = build_discord_bot(
        settings=settings,
        service=app.service,
        http=app.http,
        metrics=app.metrics,
        extra_cdn_hosts=_discord_proxy(settings),
    )
    app.chats["discord"] = discord_bot.chat
    app.service.intake.reattach["discord"] = _discord_reattach(discord_bot.downloads)
    _watch_discord(discord_bot, board)
    login: list[asyncio.Future[None]] = []

    async def log_in() -> None:
        # REST before the first heartbeat: a request taken over from a dead process is
        # answered through it. A slow Discord does not hold the start up past DISCORD_LOGIN_S;
        # a failing one fails in `run` (the platform's "failed" state), not the process.
        login.append(asyncio.ensure_future(discord_bot.login(token)))
        await asyncio.wait(login, timeout=DISCORD_LOGIN_S)

    async def run() -> None:
        # What bot.start does, with the gateway asked of DISCORD_API_URL in between.
        await (login[0] if login else discord_bot.login(token))
        await _discord_gateway(discord_bot, settings)
        await discord_bot.connect()

    board.before_start(log_in)
    return run, discord_bot.close


def _watch_discord(discord_bot: EditBot, board: PlatformHealth) -> None:
    """The gateway connection's state, for /healthz."""
    board.set("discord", CONNECTING)

    async def up() -> None:
        board.set("discord", CONNECTED)

    async def down() -> None:
        board.set("discord", DISCONNECTED, "gateway connection lost")

    discord_bot.add_listener(up, "on_ready")
    discord_bot.add_listener(up, "on_resumed")
    discord_bot.add_listener(down, "on_disconnect")


def _discord_rest_base(settings: Settings) -> None:
    """discord.py's REST base is a class attribute: DISCORD_API_URL sets it (also for tests'
    fake Discord; the token was tried there at start by bot.app.health.verify_tokens)."""
    import discord.http

    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")


def _discord_proxy(settings: Settings) -> tuple[str, ...]:
    """DISCORD_API_URL's origin when it is not Discord's own (a proxy the operator runs, or a
    test's fake Discord): attachments are downloaded from it too, as Slack's are from
    SLACK_API_URL's origin."""
    url = settings.discord_api_url.rstrip("/")
    return () if url == DISCORD_API_URL else (url,)


async def _discord_gateway(bot: discord.Client, settings: Settings) -> None:
    """With DISCORD_API_URL not Discord's own, the gateway is the one its `GET /gateway/bot`
    names (discord.py would open Discord's, whatever the REST base): process-wide, as
    `Route.BASE` is."""
    if not _discord_proxy(settings):
        return
    _, url, _ = await bot.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


def _health(app: App, board: PlatformHealth) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def check() -> dict[str, Any]:
        await app.database.ping()
        healthy, platforms = board.report()
        return {"ok": healthy, "platforms": platforms, "provider": app.settings.provider.value}

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
