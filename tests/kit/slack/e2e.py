"""The Slack adapter over the real core: signed requests into the real Bolt app, the real
EditService and Worker (bot.app.root.build_core) on a test database, the emulator as provider.

`real_slack` is what the end-to-end Slack tests share: the harness (tests.kit.slack.harness)
with `make_service` building the real core, a file `photo.png` the fake Web API serves, and
the database and the emulator to read back what happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.slack.chat import SlackChatPort
from bot.app.root import Core
from bot.core.config import Settings
from bot.core.ports import ChatPort, EditServicePort, Provider
from storage.blobs import FileBlobStore
from storage.columns import utcnow
from storage.db import Sessions, create_engine, session_factory
from tests.kit.core import EMULATOR, emulated, openai_provider, real_core
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import Harness, slack_harness

PHOTO = "photo.png"
"""The file every world's fake Web API serves (320x256), for `file_object(api, PHOTO)`."""


@dataclass
class SlackWorld:
    """The harness, the fake Web API, the emulator, the database and the core built for them."""

    h: Harness
    api: FakeSlackApi
    emu: ProviderEmulator
    sessions: Sessions
    cores: list[Core]

    @property
    def core(self) -> Core:
        """The core the harness built (one per harness)."""
        return self.cores[0]

    async def drain(self) -> None:
        """Let the worker finish everything queued."""
        await self.core.worker.drain()


@asynccontextmanager
async def real_slack(
    sqlite_url: str,
    tmp_path: Path,
    *,
    emu: ProviderEmulator | None = None,
    provider: Callable[[ProviderEmulator], Provider] | None = None,
    harness: Callable[..., AbstractAsyncContextManager[Harness]] = slack_harness,
    clock: Callable[[], datetime] = utcnow,
    **settings: Any,
) -> AsyncIterator[SlackWorld]:
    """A SlackWorld; `provider` builds the provider from the emulator (default: OpenAI over an
    in-process transport), `harness` wraps slack_harness (a test's own people or channels),
    `clock` is the core's, `settings` are EDITBOT_* settings and harness arguments (admins=,
    update_interval=)."""
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    blobs = FileBlobStore(tmp_path / "blobs")
    emu = emu or ProviderEmulator()
    provider_http = emulated(emu)
    cores: list[Core] = []

    def make_service(chat: SlackChatPort, s: Settings) -> EditServicePort:
        chats: dict[str, ChatPort] = {"slack": chat}
        made = provider(emu) if provider else openai_provider(provider_http, EMULATOR)
        core = real_core(s, sessions=sessions, blobs=blobs, chats=chats, provider=made, clock=clock)
        cores.append(core)
        return cores[0].service

    settings.setdefault("update_interval", 0.01)
    settings.setdefault("EDITBOT_DATA_DIR", str(tmp_path))
    before = asyncio.all_tasks()
    try:
        async with provider_http, harness(make_service=make_service, **settings) as h:
            h.api.files[PHOTO] = split((320, 256))
            yield SlackWorld(h, h.api, emu, sessions, cores)
    finally:
        await _settle(asyncio.all_tasks() - before)
        await engine.dispose()


async def _settle(tasks: set[asyncio.Task[Any]], timeout: float = 5.0) -> None:
    """Let what the app still runs for a request (Bolt's listeners answer after the ack: the
    last writes of a refusal, say) end before the database goes: a connection it holds would
    otherwise be left to the garbage collector. What is still running then is cancelled."""
    tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
