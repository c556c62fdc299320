"""Socket Mode: Slack pushes payloads over a WebSocket opened with the app token (xapp-)."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.core.config import Settings
from bot.core.errors import ConfigError


def uses_socket_mode(settings: Settings) -> bool:
    """Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode."""
    return settings.slack_app_token is not None


def socket_mode_handler(app: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    """A handler whose connections.open goes through the app's injected client (SLACK_API_URL)."""
    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set")
    return AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
