"""Slack's OAuth tables: workspace installs, their bot tokens, and install states.

The rows are read and written by slack_sdk's own SQLAlchemy stores
(`slack_sdk.oauth.installation_store.sqlalchemy.AsyncSQLAlchemyInstallationStore`,
`...state_store.sqlalchemy.AsyncSQLAlchemyOAuthStateStore`), which bot.app builds on the
engine of storage.db.Database. The tables are declared here, with the columns those stores
use, so Alembic owns them like every other table (migrations/versions/0004_slack_oauth.py).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, func
from sqlmodel import SQLModel

INSTALLATIONS = "slack_installations"
BOTS = "slack_bots"
STATES = "slack_oauth_states"


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _team_columns() -> list[Column[object]]:
    return [
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]


def _bot_columns() -> list[Column[object]]:
    return [
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(200)),
        Column("bot_token_expires_at", DateTime),
    ]


# One row per install (and re-install) of the app in a workspace, with the installing user.
slack_installations = Table(
    INSTALLATIONS,
    SQLModel.metadata,
    _id(),
    *_team_columns(),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    *_bot_columns(),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        f"{INSTALLATIONS}_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"
    ),
)

# A workspace's bot token (rotated in place when token rotation is on): what editbot posts with.
slack_bots = Table(
    BOTS,
    SQLModel.metadata,
    _id(),
    *_team_columns(),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    *_bot_columns(),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{BOTS}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

# The state of an install that has started (/slack/install) and not yet come back.
slack_oauth_states = Table(
    STATES,
    SQLModel.metadata,
    _id(),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
