"""Shared setup for the Discord adapter tests: a real EditBot driven by dpytest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend as back

from adapters.discord.bot import EditBot, build_discord_bot
from adapters.discord.chat import DiscordChatPort
from adapters.discord.downloads import CdnDownloads
from bot.core.config import Settings
from bot.core.metrics import Registry
from bot.core.ports import ChatPort
from tests.kit.discord.backend import CaptionKeepingHttp, install, make_thread
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings


@dataclass
class Rig:
    bot: EditBot
    service: FakeEditService
    http: CaptionKeepingHttp
    channel: discord.TextChannel
    member: discord.User
    other: discord.User
    threads_opened: list[tuple[int | None, str]]


async def start_rig(
    settings: Settings, *, metrics: Registry | None = None, **service_kw: Any
) -> Rig:
    """A fresh bot + dpytest world; the thread opener stands in for Message.create_thread.
    `metrics` gets what the bot records (its acks)."""
    opened: list[tuple[int | None, str]] = []

    def chat_factory(client: discord.Client, downloads: CdnDownloads) -> DiscordChatPort:
        async def open_thread(channel: Any, anchor: int | None, name: str) -> int:
            opened.append((anchor, name))
            user = client.user
            assert user is not None
            return make_thread(channel, owner_id=user.id, name=name).id

        return DiscordChatPort(client, downloads=downloads, thread_opener=open_thread)

    chats: dict[str, ChatPort] = {}
    service = FakeEditService(chats=chats, **{"charts": True, **service_kw})
    bot = build_discord_bot(
        settings=settings, service=service, chat_factory=chat_factory, metrics=metrics
    )
    chats["discord"] = bot.chat
    await bot._async_setup_hook()
    dpytest.configure(bot)
    http = install(bot)
    # What login runs: the app commands join the tree. Tests that look at the sync run it again.
    await bot.setup_hook()
    http.synced.clear()
    config = dpytest.get_config()
    alice = back.make_user("alice", "0001")
    bob = back.make_user("bob", "0002")
    return Rig(bot, service, http, config.channels[0], alice, bob, opened)


@pytest.fixture(name="rig")
async def rig_fixture() -> AsyncIterator[Rig]:
    r = await start_rig(make_settings())
    yield r
    await dpytest.empty_queue()
