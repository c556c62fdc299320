"""Build the configured provider client over the caller's httpx.AsyncClient."""

from __future__ import annotations

import httpx

from bot.core.config import Settings
from bot.core.domain import ProviderName
from bot.core.errors import ConfigError
from bot.core.ports import Provider
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from bot.providers.wavespeed import WaveSpeedProvider


def build_provider(
    settings: Settings, client: httpx.AsyncClient, *, name: ProviderName | None = None
) -> Provider:
    """The provider `name` (default: EDITBOT_PROVIDER) configured from `settings`.

    Raises ConfigError naming the environment variable when its API key is missing.
    """
    name = ProviderName(name or settings.provider)
    retry = RetryPolicy(max_retries=settings.provider_max_retries)
    if name is ProviderName.OPENAI:
        return OpenAIProvider(
            client=client,
            base_url=settings.openai_base_url,
            api_key=_key(settings.openai_api_key, "OPENAI_API_KEY", name),
            model=settings.openai_model,
            retry=retry,
            deadline_s=settings.job_deadline_s,
            partial_images=settings.previews,
        )
    return WaveSpeedProvider(
        client=client,
        base_url=settings.wavespeed_base_url,
        api_key=_key(settings.wavespeed_api_key, "WAVESPEED_API_KEY", name),
        retry=retry,
        deadline_s=settings.job_deadline_s,
        poll_interval_s=settings.poll_interval_s,
    )


def _key(secret: object, env: str, name: ProviderName) -> str:
    value = secret.get_secret_value() if secret is not None else ""  # type: ignore[attr-defined]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{env} is not set: the {name.value} provider needs an API key.")
    return value.strip()
