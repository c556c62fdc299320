"""The Discord adapter over the real core: EditBot + EditService + Worker on one database.

The core (database, blob store, provider emulator) outlives a bot instance, as it outlives a
process: `start_instance` builds a fresh EditBot, EditService and Worker on it, in a dpytest
world whose guild, channel, people and threads carry the ids given (Discord keeps them across
a bot restart), so a button posted by one instance can be pressed on the next.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.ext.test as dpytest
import httpx
from discord.ext.test import backend as back
from discord.ext.test import factories as facts

from adapters.discord.bot import EditBot, build_discord_bot
from adapters.discord.chat import DiscordChatPort
from adapters.discord.downloads import CdnDownloads
from bot.core.config import Settings
from bot.core.ports import ChatPort, Provider
from bot.jobs.worker import Worker
from bot.service.edit_service import EditService
from storage.blobs import FileBlobStore
from storage.db import Sessions
from tests.kit.core import EMULATOR, openai_provider, real_core
from tests.kit.discord.backend import CaptionKeepingHttp, install, make_thread, next_id
from tests.kit.emulator import ProviderEmulator

CHEAP = "quality=low size=1024x640"
"""The smallest gpt-image-2 output: keeps the emulator's Pillow work (and the cost) low."""


@dataclass
class Core:
    """What survives a bot restart: database, blobs, the provider (emulator) and settings."""

    sessions: Sessions
    blobs: FileBlobStore
    emu: ProviderEmulator
    provider_http: httpx.AsyncClient
    settings: Settings


@dataclass(frozen=True)
class WorldIds:
    """Ids Discord keeps across a bot restart."""

    guild: int
    channel: int
    alice: int
    bob: int


@dataclass
class Instance:
    """One running bot process: its EditBot, its EditService and its Worker."""

    bot: EditBot
    service: EditService
    worker: Worker
    http: CaptionKeepingHttp
    channel: discord.TextChannel
    alice: discord.User
    bob: discord.User
    threads_opened: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def ids(self) -> WorldIds:
        return WorldIds(self.channel.guild.id, self.channel.id, self.alice.id, self.bob.id)

    def mention(self, text: str) -> str:
        assert self.bot.user is not None
        return f"<@{self.bot.user.id}> {text}"

    def thread(self, thread_id: int) -> discord.Thread:
        thread = self.channel.guild.get_thread(thread_id)
        assert thread is not None, f"no thread {thread_id}"
        return thread


def thread_create(
    parent: discord.TextChannel, *, thread_id: int, owner_id: int, name: str
) -> discord.Thread:
    """A public thread with a given id, through the real ConnectionState (THREAD_CREATE)."""
    return make_thread(parent, owner_id=owner_id, name=name, thread_id=thread_id)


def _world(ids: WorldIds | None) -> tuple[discord.TextChannel, discord.User, discord.User]:
    guild = back.make_guild("Test Guild", id_num=ids.guild if ids else -1)
    channel = back.make_text_channel("edits", guild, id_num=ids.channel if ids else -1)
    alice = back.make_user("alice", "0001", id_num=ids.alice if ids else -1)
    bob = back.make_user("bob", "0002", id_num=ids.bob if ids else -1)
    # Cached members, so dpytest can resolve an `<@id>` in what the bot sends (without the
    # members intent GUILD_MEMBER_ADD would not cache them; the cache is dpytest's need only).
    state = back.get_state()
    for user in (alice, bob):
        data = facts.make_member_dict(guild, user, [])
        guild._add_member(discord.Member(data=data, guild=guild, state=state))  # type: ignore[arg-type]
    return channel, alice, bob


async def start_instance(
    core: Core,
    *,
    ids: WorldIds | None = None,
    settings: Settings | None = None,
    provider: Provider | None = None,
) -> Instance:
    """A fresh bot process on `core`; the thread opener stands in for Message.create_thread.

    `provider` replaces the core's emulator client (e.g. one that streams previews)."""
    settings = settings or core.settings
    opened: list[tuple[int | None, str]] = []

    def chat_factory(client: discord.Client, downloads: CdnDownloads) -> DiscordChatPort:
        async def open_thread(channel: Any, anchor: int | None, name: str) -> int:
            opened.append((anchor, name))
            user = client.user
            assert user is not None
            return thread_create(channel, thread_id=next_id(), owner_id=user.id, name=name).id

        return DiscordChatPort(client, downloads=downloads, thread_opener=open_thread)

    # In the composition root's order: the core first, the bot on it, then the bot's ChatPort.
    chats: dict[str, ChatPort] = {}
    built = real_core(
        settings,
        sessions=core.sessions,
        blobs=core.blobs,
        chats=chats,
        provider=provider or openai_provider(core.provider_http, EMULATOR),
        owner=f"w-{next_id()}",
        concurrency=1,
    )
    service, worker = built.service, built.worker
    bot = build_discord_bot(settings=settings, service=service, chat_factory=chat_factory)
    chats["discord"] = bot.chat
    await bot._async_setup_hook()
    dpytest.configure(bot, guilds=0, text_channels=0, voice_channels=0, members=0)
    channel, alice, bob = _world(ids)
    http = install(bot)
    await bot.setup_hook()  # app commands and DynamicItem buttons, as on every start
    return Instance(bot, service, worker, http, channel, alice, bob, opened)


async def drain_sent() -> list[discord.Message]:
    """Every message the bot sent since the last call, oldest first."""
    out = []
    while not dpytest.sent_queue.empty():
        out.append(await dpytest.sent_queue.get())
    return out


def file_bytes(message: discord.Message, index: int = 0) -> bytes:
    """The bytes of a file the bot uploaded (dpytest keeps them at a file:// URL)."""
    return pathlib.Path(message.attachments[index].url.removeprefix("file://")).read_bytes()
