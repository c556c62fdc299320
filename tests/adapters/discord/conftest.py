"""The Discord adapter tests' `core`: what outlives a bot instance (tests.kit.discord.e2e.Core).

A test module that wants another emulator (a slow one, say) overrides `emulator`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord.ext.test as dpytest
import httpx
import pytest

from storage.blobs import FileBlobStore
from storage.db import create_engine, session_factory
from tests.kit.discord.e2e import Core
from tests.kit.emulator import ProviderEmulator
from tests.kit.settings import make_settings


@pytest.fixture
def emulator() -> ProviderEmulator:
    """The provider the `core` fixture's bots edit with."""
    return ProviderEmulator()


@pytest.fixture
async def core(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: ProviderEmulator
) -> AsyncIterator[Core]:
    # dpytest writes every uploaded file to ./dpytest_N.dat: keep them in this test's directory.
    monkeypatch.chdir(tmp_path)
    engine = create_engine(sqlite_url)
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(emulator.handler)) as http:
            yield Core(
                sessions=session_factory(engine),
                blobs=FileBlobStore(tmp_path / "blobs"),
                emu=emulator,
                provider_http=http,
                settings=make_settings(tmp_path),
            )
    finally:
        await dpytest.empty_queue()
        await engine.dispose()
