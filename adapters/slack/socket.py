"""Socket Mode: Slack pushes payloads over a WebSocket opened with the app token (xapp-)."""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.metrics import Histogram, Registry


def uses_socket_mode(settings: Settings) -> bool:
    """Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode."""
    return settings.slack_app_token is not None


class _TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's handler, timing each envelope from its receipt to its ack (`ack_seconds`)."""

    ack_seconds: Histogram

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.perf_counter()
        try:
            await super().handle(client, req)  # returns once the ack was sent
        finally:
            self.ack_seconds.observe(time.perf_counter() - start, platform="slack")


def socket_mode_handler(
    app: AsyncApp, settings: Settings, *, metrics: Registry | None = None
) -> AsyncSocketModeHandler:
    """A handler whose connections.open goes through the app's injected client (SLACK_API_URL);
    it times its acks in `metrics` (ack_seconds, platform="slack")."""
    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set")
    handler = _TimedSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    handler.ack_seconds = (metrics or Registry()).histogram(
        "ack_seconds", "Seconds to answer (ack) a platform's event"
    )
    return handler
