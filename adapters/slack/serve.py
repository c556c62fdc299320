"""Run the Slack side: the web app (health, metrics, HTTP-mode events) and Socket Mode if set."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from adapters.slack.socket import socket_mode_handler, uses_socket_mode
from bot.core.config import Settings

log = logging.getLogger(__name__)


async def serve_slack(
    *, app: AsyncApp, settings: Settings, web_app: web.Application, host: str = "0.0.0.0"
) -> None:
    """Serve until cancelled; the web app listens on EDITBOT_HTTP_PORT in both modes.

    In HTTP mode `web_app` must carry /slack/events (build_web_app(slack_handler=...)); in Socket
    Mode it only serves /healthz and /metrics.
    """
    runner = web.AppRunner(web_app)
    await runner.setup()
    handler = socket_mode_handler(app, settings) if uses_socket_mode(settings) else None
    try:
        await web.TCPSite(runner, host, settings.http_port).start()
        if handler is not None:
            await handler.connect_async()
            log.info("slack: socket mode connected")
        else:
            log.info("slack: HTTP mode on port %d", settings.http_port)
        await asyncio.Event().wait()
    finally:
        if handler is not None:
            await handler.close_async()
        await runner.cleanup()
