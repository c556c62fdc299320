"""Nothing Discord was told "got it" is lost: a real `editbot run` killed right after its defer.

The process talks to the kit's fake Discord over real sockets (gateway and REST, with
DISCORD_API_URL pointing discord.py at it) and to the provider emulator over HTTP. The fake
holds the answer to the interaction callback: Discord has the defer, the process waits for
the answer, and is SIGKILLed there. A new `editbot run` on the same data directory finishes
the edit where the first would have: in a thread on the `/edit`'s original response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit.discord.live import PERSON, LiveFakeDiscord, Posted, discord_env
from tests.kit.editbot import OPENAI_KEY, editbot, wait_until
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split

pytestmark = pytest.mark.slow

TOKEN = "discord-durable-0001"
LONG_LEASE = {"EDITBOT_LEASE_S": "600", "EDITBOT_PREVIEWS": "0"}


@pytest.fixture
async def fake() -> AsyncIterator[LiveFakeDiscord]:
    async with LiveFakeDiscord(token=TOKEN) as discord:
        discord.cdn["photo.png"] = split((320, 240), fmt="PNG")
        yield discord


@pytest.fixture
def emu() -> ProviderEmulator:
    return ProviderEmulator(openai_key=OPENAI_KEY)


@pytest.fixture
async def env(
    fake: LiveFakeDiscord, emu: ProviderEmulator, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """`editbot run`'s environment: Discord on the fake, OpenAI on the emulator over HTTP."""
    async with EmulatorServer(emu) as emulator_url:
        yield discord_env(fake, emulator_url, tmp_path / "data", **LONG_LEASE)


def served(emu: ProviderEmulator) -> int:
    """Edits the provider worked on (and bills)."""
    return sum(1 for r in emu.routes("openai_edit") if r.authorized)


async def restart_until_answered(
    fake: LiveFakeDiscord, env: dict[str, str], tmp_path: Path
) -> None:
    """A new `editbot run` on the same data directory, until a result is posted; stopped."""
    async with editbot(["run"], env, tmp_path, "second", http=True) as second:
        await wait_until(lambda: results(fake), timeout=120, what="the result")
        assert await second.stop() == 0, second.output()


def results(fake: LiveFakeDiscord) -> list[Posted]:
    """Every message with an image editbot posted anywhere that is still there."""
    return [m for m in fake.messages if m.files and not m.deleted]


async def test_an_edit_killed_right_after_its_defer_is_answered_once_by_the_restart(
    fake: LiveFakeDiscord, emu: ProviderEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    fake.hold_callbacks = asyncio.Event()
    async with editbot(["run"], env, tmp_path, "first", http=True) as first:
        await wait_until(lambda: fake.live_sessions() == 1, timeout=60, what="the gateway")
        token = await fake.slash_edit(
            "make the sky purple", image="photo.png", options="quality=low"
        )
        await asyncio.wait_for(fake.deferred.wait(), 30)
        first.kill()  # Discord has the defer: it will not send this interaction again
        await first.proc.wait()
    assert [p.get("type") for _, p in fake.callbacks] == [5]
    assert not results(fake) and served(emu) == 0
    fake.hold_callbacks.set()
    fake.hold_callbacks = None
    await restart_until_answered(fake, env, tmp_path)
    # Posted once, in the thread on the /edit's original response, pinging the person.
    original = fake.originals[token]
    assert original.content == "Editing: make the sky purple" and not original.deleted
    [result] = results(fake)
    assert result.channel == original.id  # the thread started on that message
    assert fake.threads[result.channel]["parent_id"] == str(fake.channel)
    assert f"<@{PERSON}>" in result.content
    assert (result.allowed_mentions or {}).get("users") == [PERSON]
    assert served(emu) == 1


async def test_a_mention_taken_then_killed_is_answered_once_by_the_restart(
    fake: LiveFakeDiscord, emu: ProviderEmulator, env: dict[str, str], tmp_path: Path
) -> None:
    fake.hold_threads = asyncio.Event()
    async with editbot(["run"], env, tmp_path, "first", http=True) as first:
        await wait_until(lambda: fake.live_sessions() == 1, timeout=60, what="the gateway")
        mention = await fake.mention_with("make it teal quality=low", image="photo.png")
        await asyncio.wait_for(fake.thread_asked.wait(), 60)  # its first answer, on its way
        first.kill()
        await first.proc.wait()
    assert not results(fake) and served(emu) == 0
    fake.hold_threads.set()
    fake.hold_threads = None
    await restart_until_answered(fake, env, tmp_path)
    [result] = results(fake)
    assert result.channel == mention  # in the thread on the mention itself
    assert fake.threads[mention]["parent_id"] == str(fake.channel)
    assert (result.allowed_mentions or {}).get("users") == [PERSON]
    assert served(emu) == 1
