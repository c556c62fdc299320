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

from aiohttp import web

from adapters.discord.bot import build_discord_bot, default_chat
from adapters.discord.downloads import CdnDownloads
from adapters.slack.app import build_slack_app, build_slack_client, make_chat_port
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from adapters.slack.http import slack_events_handler
from adapters.slack.serve import serve_slack
from adapters.slack.socket import uses_socket_mode
from bot.app.root import App
from bot.app.web import build_web_app
from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

Runner = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None]]


def need_chat(settings: Settings) -> None:
    """`editbot run` needs at least one platform; say which variables to set."""
    if settings.slack_bot_token is None and settings.discord_token is None:
        raise ConfigError(
            "no chat platform configured: set SLACK_BOT_TOKEN (with SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET) and/or DISCORD_TOKEN. `editbot doctor` checks the setup."
        )


def wire_platforms(app: App) -> tuple[list[Runner], list[Closer]]:
    """Every configured platform on the App's EditService, and the web endpoints.

    Returns what to run (Slack's web/socket server or the bare web server, the Discord bot)
    and what to close on the way out.
    """
    settings = app.settings
    runners: list[Runner] = []
    closers: list[Closer] = []
    slack_handler = None
    slack_serve: Callable[[web.Application], Coroutine[Any, Any, None]] | None = None
    if settings.slack_bot_token is not None:
        slack_handler, slack_serve = _wire_slack(app)
    web_app = build_web_app(health=_health(app), metrics=app.metrics, slack_handler=slack_handler)
    if slack_serve is not None:
        serve_with_slack = slack_serve
        runners.append(lambda: serve_with_slack(web_app))
    else:
        runners.append(lambda: serve_web(web_app, port=settings.http_port))
    if settings.discord_token is not None:
        runner, closer = _wire_discord(app)
        runners.append(runner)
        closers.append(closer)
    return runners, closers


async def register_delivery_chats(app: App) -> list[Closer]:
    """ChatPorts over the platforms' REST APIs (no event intake) in `app.chats`: what
    workers deliver with. Returns what to close on the way out."""
    settings = app.settings
    closers: list[Closer] = []
    if settings.slack_bot_token is not None:
        app.chats["slack"] = make_chat_port(
            client=build_slack_client(settings, session=app.slack_session),
            downloader=_slack_downloader(app),
        )
    if settings.discord_token is not None:
        import discord

        client = discord.Client(intents=discord.Intents.none())
        await client.login(settings.discord_token.get_secret_value())
        downloads = CdnDownloads.create(max_bytes=settings.max_input_bytes)
        app.chats["discord"] = default_chat(client, downloads)
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


def _wire_slack(app: App) -> tuple[Any, Callable[[web.Application], Coroutine[Any, Any, None]]]:
    settings = app.settings
    client = build_slack_client(settings, session=app.slack_session)
    downloader = _slack_downloader(app)
    app.chats["slack"] = make_chat_port(client=client, downloader=downloader)
    slack = build_slack_app(
        settings=settings,
        client=client,
        service=app.service,
        downloader=downloader,
        metrics=app.metrics,
    )
    handler = None if uses_socket_mode(settings) else slack_events_handler(slack)

    async def serve(web_app: web.Application) -> None:
        await serve_slack(app=slack, settings=settings, web_app=web_app)

    return handler, serve


def _wire_discord(app: App) -> tuple[Runner, Closer]:
    settings = app.settings
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    discord_bot = build_discord_bot(settings=settings, service=app.service)
    app.chats["discord"] = discord_bot.chat

    async def run() -> None:
        await discord_bot.start(token)

    return run, discord_bot.close


def _health(app: App) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def check() -> dict[str, Any]:
        await app.database.ping()
        return {"platforms": sorted(app.chats), "provider": app.settings.provider.value}

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
