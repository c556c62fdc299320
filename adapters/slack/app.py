"""Build editbot's Slack AsyncApp on an injected Web API client, listeners registered."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader
from adapters.slack.listeners import register
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.metrics import Registry
from bot.core.ports import EditServicePort

RATE_LIMIT_RETRIES = 3


def build_slack_client(settings: Settings, *, session: Any = None) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL as base, 429s waited out per Retry-After."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def build_slack_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    service: EditServicePort,
    downloader: SlackDownloader,
    metrics: Registry | None = None,
) -> AsyncApp:
    """An AsyncApp on the injected client whose listeners ack first and then call `service`."""
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise ConfigError("set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        # Socket Mode has no signatures to check; HTTP mode always verifies.
        request_verification_enabled=secret is not None,
        name="editbot",
    )
    register(
        app,
        service=service,
        client=client,
        downloader=downloader,
        settings=settings,
        metrics=metrics or Registry(),
    )
    return app


def make_chat_port(*, client: AsyncWebClient, downloader: SlackDownloader) -> SlackChatPort:
    """The ChatPort the core (and its workers) deliver Slack results through."""
    return SlackChatPort(client=client, downloader=downloader)
