"""Installs in many workspaces: bolt's OAuth flow on slack_sdk's SQLAlchemy stores.

When SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set (with SLACK_SIGNING_SECRET and no
SLACK_BOT_TOKEN), editbot runs in this mode: `GET /slack/install` starts an install,
`GET /slack/oauth_redirect` finishes it (oauth.v2.access), and each workspace's bot token is
kept in editbot's database (storage/slack_installs.py, an Alembic-owned schema). bolt picks the
token of the workspace each request comes from, rotating it when token rotation is on; the
workers deliver through `adapters.slack.teams.TeamChatPort`, which looks it up the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.http import Handler
from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "users:read",
    "channels:read",
    "groups:read",
    "im:write",
)
"""What editbot asks a workspace for (docs/slack.md says what each is for; the manifest lists
the same)."""
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRATION_S = 600
ROTATE_MINUTES_BEFORE = 120
"""A rotating token is renewed when it has less than this left (bolt's default)."""


class SlackInstalls:
    """A workspace's bot token from its install: the stores bolt's OAuth flow fills.

    Args:
        engine: editbot's database engine (storage.db.Database.engine), which slack_sdk's
            SQLAlchemy stores run their statements on.
        client: the Web API client, whose base URL oauth.v2.access calls (token rotation) use.
    """

    def __init__(self, *, settings: Settings, engine: Any, client: AsyncWebClient) -> None:
        if not (settings.slack_client_id and settings.slack_client_secret):
            raise ConfigError("set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth installs")
        self.client_id = settings.slack_client_id
        self.client_secret = settings.slack_client_secret.get_secret_value()
        self.installations = AsyncSQLAlchemyInstallationStore(
            client_id=self.client_id, engine=engine, logger=log
        )
        self.states = AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_S, engine=engine, logger=log
        )
        self.rotator = AsyncTokenRotator(
            client_id=self.client_id, client_secret=self.client_secret, client=client
        )
        self._client = client
        self._locks: dict[str, asyncio.Lock] = {}

    def oauth_settings(self) -> AsyncOAuthSettings:
        """bolt's install flow on these stores: /slack/install, /slack/oauth_redirect."""
        return AsyncOAuthSettings(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scopes=list(BOT_SCOPES),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            installation_store=self.installations,
            installation_store_bot_only=True,
            state_store=self.states,
            state_expiration_seconds=STATE_EXPIRATION_S,
            token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
            logger=log,
        )

    def authorize(self) -> AsyncInstallationStoreAuthorize:
        """bolt's per-request authorize on the installation store, rotating tokens through
        `client` (so SLACK_API_URL holds for oauth.v2.access too)."""
        return AsyncInstallationStoreAuthorize(
            installation_store=self.installations,
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
            bot_only=True,
            client=self._client,
            logger=log,
        )

    async def bot_token(self, team: str) -> str | None:
        """The workspace's current bot token, renewed first when it is about to expire; None
        when editbot is not installed there."""
        # One renewal at a time per workspace: a refresh token is good for one renewal.
        async with self._locks.setdefault(team, asyncio.Lock()):
            bot: Bot | None = await self.installations.async_find_bot(
                enterprise_id=None, team_id=team or None
            )
            if bot is None:
                return None
            if bot.bot_refresh_token:
                rotated = await self.rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE
                )
                if rotated is not None:
                    await self.installations.async_save_bot(rotated)
                    bot = rotated
            return bot.bot_token


def oauth_handler(app: AsyncApp) -> Handler:
    """The aiohttp handler for GET /slack/install and GET /slack/oauth_redirect (bolt's flow)."""
    flow = app.oauth_flow
    if flow is None:
        raise ConfigError("the Slack app has no OAuth flow (SLACK_CLIENT_ID / SECRET unset)")

    async def handle(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        if request.path == flow.install_path:
            bolt_response = await flow.handle_installation(bolt_request)
        else:
            bolt_response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle
