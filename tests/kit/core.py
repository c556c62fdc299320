"""The real core for tests: the composition root's build_core on a test's own resources.

A test gets the same Worker and EditService wiring `editbot run` has, over its database, a blob
store in its tmp_path, fake or adapter chats, an emulator provider and, where it wants, a clock
it moves by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from bot.app.root import Core, build_core
from bot.core.config import Settings
from bot.core.ports import BlobStore, ChatPort, Provider
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from bot.providers.wavespeed import WaveSpeedProvider
from storage.columns import utcnow
from storage.db import Sessions
from tests.kit.emulator import ProviderEmulator

OPENAI_KEY = "sk-emulator-openai-key"
WAVESPEED_KEY = "ws-emulator-wavespeed-key"
EMULATOR = "http://emulator"
"""The base URL of an emulator behind an httpx.MockTransport (no socket)."""


def real_core(
    settings: Settings,
    *,
    sessions: Sessions,
    blobs: BlobStore,
    chats: dict[str, ChatPort],
    provider: Provider | None = None,
    clock: Callable[[], datetime] = utcnow,
    **worker: Any,
) -> Core:
    """bot.app.root.build_core on these resources; the provider defaults to an emulator.

    `worker` goes to build_core: owner, concurrency, lease_s, idle_poll_s, on_enqueued.
    """
    return build_core(
        settings,
        sessions=sessions,
        blobs=blobs,
        provider=provider or openai_provider(emulated(ProviderEmulator()), EMULATOR),
        chats=chats,
        clock=clock,
        **worker,
    )


def emulated(emu: ProviderEmulator) -> httpx.AsyncClient:
    """An httpx client whose requests the emulator answers in process (MockTransport)."""
    return httpx.AsyncClient(transport=httpx.MockTransport(emu.handler))


def openai_provider(client: httpx.AsyncClient, base_url: str, **kw: object) -> OpenAIProvider:
    """An OpenAI client on the emulator with fast, bounded retries."""
    return OpenAIProvider(
        client=client,
        base_url=f"{base_url}/v1",
        api_key=OPENAI_KEY,
        model="gpt-image-2",
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=float(kw.pop("deadline_s", 10.0)),  # type: ignore[arg-type]
    )


def wavespeed_provider(client: httpx.AsyncClient, base_url: str) -> WaveSpeedProvider:
    """A WaveSpeed client on the emulator polling every 10 ms."""
    return WaveSpeedProvider(
        client=client,
        base_url=base_url,
        api_key=WAVESPEED_KEY,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=10.0,
        poll_interval_s=0.01,
        max_poll_interval_s=0.02,
    )
