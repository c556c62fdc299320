"""Configuration: read once by the entrypoint from the environment and `.env`, passed down."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.budgets import BudgetDefaults
from bot.core.domain import ProviderName


class Settings(BaseSettings):
    """Every knob editbot has. Names are the environment variables (DESIGN.md, Contracts)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    # Chat platforms.
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    # Multi-workspace installs (OAuth): with these and SLACK_SIGNING_SECRET, and no
    # SLACK_BOT_TOKEN, each workspace's bot token comes from its install (/slack/install).
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_guild_id: int | None = Field(None, alias="DISCORD_GUILD_ID")
    # Shards: this process runs DISCORD_SHARD_IDS (e.g. "0,1") of DISCORD_SHARD_COUNT; a
    # guild's events go to shard (guild_id >> 22) % count. Unset: one process, every guild.
    discord_shard_count: int | None = Field(None, alias="DISCORD_SHARD_COUNT", ge=1)
    discord_shard_ids: str | None = Field(None, alias="DISCORD_SHARD_IDS")
    # REST base (a rate-limit-sharing proxy in front of Discord), default Discord's.
    discord_api_url: str = Field("https://discord.com/api/v10", alias="DISCORD_API_URL")

    # Providers.
    provider: ProviderName = Field(ProviderName.OPENAI, alias="EDITBOT_PROVIDER")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str = Field("https://api.openai.com/v1", alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-image-2", alias="EDITBOT_OPENAI_MODEL")
    wavespeed_api_key: SecretStr | None = Field(None, alias="WAVESPEED_API_KEY")
    wavespeed_base_url: str = Field("https://api.wavespeed.ai", alias="WAVESPEED_BASE_URL")
    job_deadline_s: float = Field(180.0, alias="EDITBOT_JOB_DEADLINE_S", gt=0)
    provider_max_retries: int = Field(4, alias="EDITBOT_PROVIDER_MAX_RETRIES", ge=0)
    poll_interval_s: float = Field(1.0, alias="EDITBOT_POLL_INTERVAL_S", gt=0)
    # OpenAI partial images streamed while an edit renders, shown in the status message.
    previews: int = Field(2, alias="EDITBOT_PREVIEWS", ge=0, le=3)

    # Input limits.
    max_n: int = Field(4, alias="EDITBOT_MAX_N", ge=1, le=10)
    max_input_bytes: int = Field(50 * 1024 * 1024, alias="EDITBOT_MAX_INPUT_BYTES", gt=0)
    max_input_side: int = Field(2048, alias="EDITBOT_MAX_INPUT_SIDE", ge=256)
    max_input_pixels: int = Field(89_478_485, alias="EDITBOT_MAX_INPUT_PIXELS", gt=0)

    # Prices: overrides of bot.core.pricing's table, e.g. {"openai.output_per_mtok": 30000000}.
    # NoDecode: the JSON is read by _prices_json, so a typo is a validation error like any other.
    prices: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, alias="EDITBOT_PRICES"
    )

    # State.
    data_dir: Path = Field(Path("./editbot-data"), alias="EDITBOT_DATA_DIR")
    database_url: str | None = Field(None, alias="EDITBOT_DATABASE_URL")
    http_port: int = Field(3000, alias="EDITBOT_HTTP_PORT", ge=1, le=65535)
    # /healthz answers 503 once a configured platform has been disconnected this long.
    health_grace_s: float = Field(30.0, alias="EDITBOT_HEALTH_GRACE_S", ge=0)
    # 0: `editbot run` serves the platforms only; `editbot worker` processes run the jobs.
    workers: int = Field(8, alias="EDITBOT_WORKERS", ge=0)
    # A worker renews its lease well before this; a dead process's jobs are picked up after it.
    lease_s: float = Field(60.0, alias="EDITBOT_LEASE_S", ge=1)
    retention_days: int = Field(30, alias="EDITBOT_RETENTION_DAYS", ge=1)
    # Images: unset or file:///path = the filesystem, s3://bucket/prefix = object storage
    # (storage.blobs.open_blob_store), with the standard AWS variables below.
    blob_url: str | None = Field(None, alias="EDITBOT_BLOB_URL")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    aws_access_key_id: SecretStr | None = Field(None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(None, alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str | None = Field(None, alias="AWS_REGION")

    # Budgets.
    default_budget_usd: Decimal = Field(Decimal("20"), alias="EDITBOT_DEFAULT_BUDGET_USD", ge=0)
    budget_period: Literal["day", "week", "month", "none"] = Field(
        "month", alias="EDITBOT_BUDGET_PERIOD"
    )
    admins: str = Field("", alias="EDITBOT_ADMINS")
    confirm_above_usd: Decimal = Field(Decimal("0.50"), alias="EDITBOT_CONFIRM_ABOVE_USD", ge=0)

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError(
                    'not JSON; expected an object like {"openai.output_per_mtok": 30000000}'
                ) from None
        return value

    @property
    def admin_ids(self) -> frozenset[str]:
        """User ids from EDITBOT_ADMINS (comma or space separated)."""
        return frozenset(p for p in self.admins.replace(",", " ").split() if p)

    @property
    def slack_oauth(self) -> bool:
        """Multi-workspace mode: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, no SLACK_BOT_TOKEN."""
        return bool(
            self.slack_client_id and self.slack_client_secret and self.slack_bot_token is None
        )

    @property
    def slack_configured(self) -> bool:
        """Slack is on: one workspace's bot token, or OAuth installs."""
        return self.slack_bot_token is not None or self.slack_oauth

    @property
    def default_budget_micros(self) -> int:
        return usd_to_micros(self.default_budget_usd)

    @property
    def confirm_above_micros(self) -> int:
        return usd_to_micros(self.confirm_above_usd)

    @property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL: EDITBOT_DATABASE_URL, else SQLite in the data dir."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'editbot.db').resolve()}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        if url.startswith("sqlite://") and not url.startswith("sqlite+"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`; bad values are one ConfigError naming each
    variable (one line each), never their values (secrets)."""
    from bot.core.errors import ConfigError

    settings, problems = read_settings(**overrides)
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def read_settings(**overrides: object) -> tuple[Settings, list[str]]:
    """Settings and what is wrong with them, one line per bad variable.

    A bad value falls back to its default, so the settings that come back can still be
    checked for what else is missing: an operator hears about every problem in one run.
    """
    try:
        return Settings(**overrides), []  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
    problems = [_problem(err["loc"], err["msg"]) for err in errors]
    bad = {str(err["loc"][0]) for err in errors if err["loc"]}
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
        if name in bad or field.alias in bad
    }
    try:
        return Settings(**{**overrides, **defaults}), problems
    except ValidationError:
        return Settings.model_construct(), problems


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    """`EDITBOT_X: should be ...`: the variable first, pydantic's words made plain."""
    variable = str(loc[0]) if loc else "settings"
    detail = " ".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc[1:])
    msg = msg.removeprefix("Value error, ").replace("Input should be", "should be")
    return f"{variable}{' ' + detail if detail else ''}: {msg}"


def usd_to_micros(usd: Decimal | int | str) -> int:
    """Dollars (a decimal string or Decimal, never a float) to integer micro-dollars."""
    return int((Decimal(usd) * 1_000_000).to_integral_value())


def budget_defaults(settings: Settings) -> BudgetDefaults:
    """The cap and period of channels with no budget policy of their own."""
    return BudgetDefaults(cap_micros=settings.default_budget_micros, period=settings.budget_period)
