"""Build editbot's Slack AsyncApp on an injected Web API client, listeners registered."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader
from adapters.slack.listeners import register
from adapters.slack.oauth import SlackInstalls
from adapters.slack.teams import Downloaders, TeamChatPort
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.metrics import Registry
from bot.core.ports import EditServicePort

RATE_LIMIT_RETRIES = 3


def build_slack_client(
    settings: Settings, *, session: Any = None, token: str | None = None
) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL as base, 429s waited out per Retry-After.

    In OAuth mode (Settings.slack_oauth) it has no token of its own: bolt gives each request a
    copy with its workspace's token, and the delivery ChatPort picks one per team.
    """
    if settings.slack_bot_token is None and not settings.slack_oauth:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def build_slack_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    service: EditServicePort,
    downloader: SlackDownloader | Downloaders,
    metrics: Registry | None = None,
    installs: SlackInstalls | None = None,
) -> AsyncApp:
    """An AsyncApp on the injected client whose listeners ack first and then call `service`.

    With `installs` (OAuth mode) bolt serves /slack/install and /slack/oauth_redirect and
    authorizes each request with its workspace's token from the installation store.
    """
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise ConfigError("set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
    secret = settings.slack_signing_secret
    oauth: dict[str, Any] = {}
    if installs is not None:
        oauth = {"oauth_settings": installs.oauth_settings(), "authorize": installs.authorize()}
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        # Socket Mode has no signatures to check; HTTP mode always verifies.
        request_verification_enabled=secret is not None,
        name="editbot",
        **oauth,
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


def make_team_chat_port(
    *, settings: Settings, installs: SlackInstalls, downloaders: Downloaders, session: Any = None
) -> TeamChatPort:
    """The ChatPort of OAuth mode: each workspace's results posted with its own bot token."""

    def port(token: str) -> SlackChatPort:
        client = build_slack_client(settings, session=session, token=token)
        return SlackChatPort(client=client, downloader=downloaders.for_token(token))

    return TeamChatPort(token_of=installs.bot_token, make_port=port)
