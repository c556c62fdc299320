"""Configuration: read once by the entrypoint from the environment and `.env`, passed down."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_guild_id: int | None = Field(None, alias="DISCORD_GUILD_ID")

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

    # Input limits.
    max_n: int = Field(4, alias="EDITBOT_MAX_N", ge=1, le=10)
    max_input_bytes: int = Field(50 * 1024 * 1024, alias="EDITBOT_MAX_INPUT_BYTES", gt=0)
    max_input_side: int = Field(2048, alias="EDITBOT_MAX_INPUT_SIDE", ge=256)
    max_input_pixels: int = Field(89_478_485, alias="EDITBOT_MAX_INPUT_PIXELS", gt=0)

    # Prices: overrides of bot.core.pricing's table, e.g. {"openai.output_per_mtok": 30000000}.
    prices: dict[str, int] = Field(default_factory=dict, alias="EDITBOT_PRICES")

    # State.
    data_dir: Path = Field(Path("./editbot-data"), alias="EDITBOT_DATA_DIR")
    database_url: str | None = Field(None, alias="EDITBOT_DATABASE_URL")
    http_port: int = Field(3000, alias="EDITBOT_HTTP_PORT")
    workers: int = Field(8, alias="EDITBOT_WORKERS", ge=1)
    # A worker renews its lease well before this; a dead process's jobs are picked up after it.
    lease_s: float = Field(60.0, alias="EDITBOT_LEASE_S", ge=1)
    retention_days: int = Field(30, alias="EDITBOT_RETENTION_DAYS", ge=1)

    # Budgets.
    default_budget_usd: Decimal = Field(Decimal("20"), alias="EDITBOT_DEFAULT_BUDGET_USD", ge=0)
    budget_period: Literal["day", "week", "month", "none"] = Field(
        "month", alias="EDITBOT_BUDGET_PERIOD"
    )
    admins: str = Field("", alias="EDITBOT_ADMINS")
    confirm_above_usd: Decimal = Field(Decimal("0.50"), alias="EDITBOT_CONFIRM_ABOVE_USD", ge=0)

    @property
    def admin_ids(self) -> frozenset[str]:
        """User ids from EDITBOT_ADMINS (comma or space separated)."""
        return frozenset(p for p in self.admins.replace(",", " ").split() if p)

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
    """Settings from the environment and `.env`; a bad value is a ConfigError naming the variable.

    The message names variables and what is wrong with them, never their values (secrets).
    """
    from pydantic import ValidationError

    from bot.core.errors import ConfigError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors(include_input=False)
        )
        raise ConfigError(f"bad settings: {problems}") from None


def usd_to_micros(usd: Decimal | int | str) -> int:
    """Dollars (a decimal string or Decimal, never a float) to integer micro-dollars."""
    return int((Decimal(usd) * 1_000_000).to_integral_value())


def budget_defaults(settings: Settings) -> BudgetDefaults:
    """The cap and period of channels with no budget policy of their own."""
    return BudgetDefaults(cap_micros=settings.default_budget_micros, period=settings.budget_period)
