"""Discord shards: two editbot processes with different DISCORD_SHARD_IDS split the guilds.

Real discord.py clients over real sockets against the kit's fake Discord, which routes a
guild's events to the session running `(guild_id >> 22) % DISCORD_SHARD_COUNT`, as Discord
does. Each bot's REST goes to DISCORD_API_URL (the fake, standing in for a REST proxy).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from adapters.discord.bot import EditBot, ShardedEditBot, build_discord_bot, shard_ids
from bot.core.errors import ConfigError
from tests.kit.discord.shards import ShardedFakeDiscord, shard_of
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings

TOKEN = "discord-shard-test-token"
SHARDS = 3
# Two guilds per shard: Discord's routing looks at the id's timestamp bits (>> 22).
GUILDS = [(k << 22) | 7 for k in range(2 * SHARDS)]
START_TIMEOUT_S = 60
_running: set[asyncio.Task[None]] = set()


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ShardedFakeDiscord]:
    async with ShardedFakeDiscord(token=TOKEN, guilds=GUILDS) as fake:
        # Where a sharded client opens its sessions: Discord's gateway, here the fake's.
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored
        yield fake


async def _start(fake: ShardedFakeDiscord, ids: str) -> tuple[EditBot, FakeEditService]:
    settings = make_settings(
        DISCORD_TOKEN=TOKEN,
        DISCORD_SHARD_COUNT=str(SHARDS),
        DISCORD_SHARD_IDS=ids,
        DISCORD_API_URL=fake.api_url,
    )
    service = FakeEditService(chats={}, hold=True)
    bot = build_discord_bot(settings=settings, service=service)
    async with asyncio.timeout(START_TIMEOUT_S):
        await bot.login(TOKEN)  # what bot.start does first: REST, at DISCORD_API_URL
        _running.add(asyncio.create_task(bot.connect()))
        await bot.wait_until_ready()
    return bot, service


async def _until(done: object, timeout_s: float = 30.0) -> None:
    """Until `done()` holds: the bots hand mentions to the core in tasks of their own."""
    async with asyncio.timeout(timeout_s):
        while not done():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_each_guild_reaches_exactly_one_of_two_processes(
    fake_discord: ShardedFakeDiscord,
) -> None:
    first, first_core = await _start(fake_discord, "0,1")
    second, second_core = await _start(fake_discord, "2")
    try:
        assert isinstance(first, ShardedEditBot) and isinstance(second, ShardedEditBot)
        assert sorted(s.shard for s in fake_discord.shards) == [(0, 3), (1, 3), (2, 3)]

        for guild in GUILDS:
            assert await fake_discord.mention(guild) == 1
        await _until(lambda: len(first_core.accepted) + len(second_core.accepted) == len(GUILDS))

        def guilds_of(core: FakeEditService) -> list[int]:
            return sorted(int(edit.place.workspace) for edit in core.accepted)

        assert guilds_of(first_core) == [g for g in GUILDS if shard_of(g, SHARDS) in (0, 1)]
        assert guilds_of(second_core) == [g for g in GUILDS if shard_of(g, SHARDS) == 2]
        assert {g.id for g in first.guilds} == set(guilds_of(first_core))
        assert all(e.text == "make it purple" for e in first_core.accepted)
        # Every REST call went to DISCORD_API_URL, with the bot's token.
        assert ("GET", "/users/@me", True) in fake_discord.calls
    finally:
        await first.close()
        await second.close()


def test_shard_settings_are_checked() -> None:
    assert shard_ids(make_settings()) is None
    assert shard_ids(make_settings(DISCORD_SHARD_COUNT="4")) == (4, None)
    assert shard_ids(make_settings(DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS="3, 1")) == (
        4,
        [1, 3],
    )
    for count, ids, says in [
        (None, "0", "needs DISCORD_SHARD_COUNT"),
        ("2", "2", "from 0 to 1"),
        ("2", "one", "shard numbers"),
    ]:
        extra = {"DISCORD_SHARD_COUNT": count} if count else {}
        with pytest.raises(ConfigError, match=says):
            shard_ids(make_settings(DISCORD_SHARD_IDS=ids, **extra))
