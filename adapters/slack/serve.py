"""Run the Slack side: the web app (health, metrics, HTTP-mode events) and Socket Mode if set."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.slack.socket import socket_mode_handler, uses_socket_mode
from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)


async def serve_slack(
    *,
    app: AsyncApp,
    settings: Settings,
    web_app: web.Application,
    host: str = "0.0.0.0",
    socket_handler: AsyncSocketModeHandler | None = None,
) -> None:
    """Serve until cancelled; the web app listens on EDITBOT_HTTP_PORT in both modes.

    In HTTP mode `web_app` must carry /slack/events (build_web_app(slack_handler=...)); in Socket
    Mode it only serves /healthz and /metrics; `socket_handler` is the Socket Mode handler
    to connect (built here when not given), so the caller can watch its connection.
    """
    runner = web.AppRunner(web_app)
    await runner.setup()
    handler = socket_handler
    if handler is None and uses_socket_mode(settings):
        handler = socket_mode_handler(app, settings)
    try:
        await web.TCPSite(runner, host, settings.http_port).start()
        if handler is not None:
            if handler.client.wss_uri is None:  # not asked by the caller already
                await first_socket_url(handler)
            await handler.connect_async()
            log.info("slack: socket mode connected")
        else:
            log.info("slack: HTTP mode on port %d", settings.http_port)
        await asyncio.Event().wait()
    finally:
        if handler is not None:
            await handler.close_async()
        await runner.cleanup()


async def first_socket_url(handler: AsyncSocketModeHandler) -> None:
    """Ask for the first WebSocket URL once, before the SDK's connect loop (which retries
    forever): an app token Slack rejects is a ConfigError with Slack's word. A failure to
    reach Slack is left to that loop."""
    try:
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as exc:
        word = exc.response.get("error") or "not ok"
        raise ConfigError(f"SLACK_APP_TOKEN: Slack rejected the token ({word})") from None
    except Exception as exc:  # not reachable now: the connect loop keeps trying
        log.warning("slack: apps.connections.open failed (%s); retrying", type(exc).__name__)
