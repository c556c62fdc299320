"""The discord.py Bot: intents, the mention listener, app commands, buttons; built by bot.app.

Mentions go to the core's EditServicePort as they arrive (its submit stores them in the inbox
first); `/edit` is stored, deferred, then handed over; buttons are deferred first. Everything
the user sees afterwards comes back through DiscordChatPort.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import discord
import httpx
from discord.ext import commands

from adapters.discord.acks import timed_defer
from adapters.discord.budget_commands import EditBudget
from adapters.discord.buttons import EditbotButton
from adapters.discord.chat import DiscordChatPort
from adapters.discord.downloads import CdnDownloads
from adapters.discord.edit_commands import EditCommands
from adapters.discord.translate import action_press, is_edit_request, message_edit
from bot.core.config import Settings
from bot.core.domain import Attachment, IncomingEdit
from bot.core.errors import ConfigError
from bot.core.metrics import Registry
from bot.core.ports import Action, EditServicePort

log = logging.getLogger(__name__)

ChatFactory = Callable[[discord.Client, CdnDownloads], DiscordChatPort]


def default_chat(client: discord.Client, downloads: CdnDownloads) -> DiscordChatPort:
    return DiscordChatPort(client, downloads=downloads)


def editbot_intents() -> discord.Intents:
    """Guilds, guild messages and the privileged message content intent; nothing else."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


class EditBot(commands.Bot):
    """editbot on Discord. `service` is the core; `chat` the ChatPort it should be given.

    The service is fixed at construction: the app commands are handed it in `setup_hook`.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        service: EditServicePort,
        downloads: CdnDownloads,
        chat_factory: ChatFactory = default_chat,
        metrics: Registry | None = None,
        **client_options: Any,
    ) -> None:
        super().__init__(
            **client_options,  # shard_count / shard_ids for ShardedEditBot
            command_prefix=commands.when_mentioned,
            intents=editbot_intents(),
            help_command=None,
            # Nothing editbot sends pings anyone unless a send says whom (DiscordChatPort).
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.downloads = downloads
        self._service = service
        self.chat = chat_factory(self, downloads)
        self.acks = (metrics or Registry()).histogram(
            "ack_seconds", "Seconds to answer (ack) a platform's event"
        )

    @property
    def service(self) -> EditServicePort:
        """The core that mentions, commands and buttons are handed to."""
        return self._service

    async def setup_hook(self) -> None:
        # Registered on every start, so buttons posted before a restart still route.
        self.add_dynamic_items(EditbotButton)
        await self._add_app_commands()
        await self._sync_app_commands()

    async def _add_app_commands(self) -> None:
        # override=True: setup_hook runs on every login, and a second run replaces, not fails.
        edit_commands = EditCommands(
            tree=self.tree,
            downloads=self.downloads,
            submit=self.submit,
            accept=self._service.accept,
            max_n=self.settings.max_n,
            remember=functools.partial(self.chat.remember_interaction, public_reply=True),
            acks=self.acks,
        )
        await self.add_cog(edit_commands, override=True)
        self.tree.add_command(EditBudget(service=self._service, acks=self.acks), override=True)

    async def _sync_app_commands(self) -> None:
        """Sync to DISCORD_GUILD_ID when it is set, else globally."""
        guild_id = self.settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        # Replaces commands.Bot.on_message: editbot has no prefix commands to process.
        user = self.user
        if user is None:
            return
        if not is_edit_request(message, bot_user_id=user.id):
            return
        inputs = await self._message_inputs(message)
        await self.submit(message_edit(message, bot_user_id=user.id, attachments=inputs))

    async def _message_inputs(self, message: discord.Message) -> tuple[Attachment, ...]:
        """The message's own attachments; with none, those of the message it replies to."""
        if message.attachments:
            return self.downloads.attachments(message.attachments)
        reference = message.reference
        if reference is None or reference.message_id is None:
            return ()
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                log.info("replied-to message %s is gone", reference.message_id)
                return ()
        return self.downloads.attachments(replied.attachments)

    async def submit(self, edit: IncomingEdit) -> None:
        """Hand an edit to the core; a failure there is logged, never raised into discord.py."""
        try:
            await self._service.submit(edit)
        except Exception:
            log.exception("edit %s failed in the core", edit.event_key)

    async def handle_press(
        self,
        interaction: discord.Interaction,
        *,
        action: Action,
        job_id: str,
        index: int | None = None,
    ) -> None:
        """A button: acknowledge within 3 s, then let the core decide."""
        await timed_defer(interaction, self.acks)
        self.chat.remember_interaction(interaction)  # answers to this person: ephemeral
        press = action_press(interaction, action=action, job_id=job_id, index=index)
        try:
            await self._service.press(press)
        except Exception:
            log.exception("press %s on job %s failed in the core", action.value, job_id)


class ShardedEditBot(EditBot, commands.AutoShardedBot):
    """editbot running some of the bot's shards (DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT):
    Discord sends it only the events of guilds whose `(guild_id >> 22) % count` it runs."""


def shard_ids(settings: Settings) -> tuple[int, list[int] | None] | None:
    """(DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS or None for all of them), or None unsharded."""
    count = settings.discord_shard_count
    text = (settings.discord_shard_ids or "").replace(",", " ").split()
    if count is None:
        if text:
            raise ConfigError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the bot's total)")
        return None
    try:
        ids = sorted({int(part) for part in text})
    except ValueError:
        raise ConfigError("DISCORD_SHARD_IDS: expected shard numbers like 0,1") from None
    if any(not 0 <= i < count for i in ids):
        raise ConfigError(f"DISCORD_SHARD_IDS: each must be from 0 to {count - 1}")
    return count, ids or None


def use_api_url(settings: Settings) -> None:
    """Point discord.py's REST calls at DISCORD_API_URL (a rate-limit-sharing proxy).

    discord.py builds every REST URL from the class attribute `Route.BASE`, so this is
    process-wide: every client in the process talks to the same Discord (or proxy).
    """
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")


def build_discord_bot(
    *,
    settings: Settings,
    service: EditServicePort,
    chat_factory: ChatFactory = default_chat,
    extra_cdn_hosts: tuple[str, ...] = (),
    http: httpx.AsyncClient | None = None,
    metrics: Registry | None = None,
) -> EditBot:
    """The bot main runs with `await bot.start(token)`; `bot.chat` is its ChatPort for the core.

    `http` downloads attachments (redirects only onto Discord's CDN); without it discord.py does.
    `metrics` gets the interactions' ack times (ack_seconds, platform="discord").
    """
    downloads = CdnDownloads.create(
        max_bytes=settings.max_input_bytes, extra_hosts=extra_cdn_hosts, http=http
    )
    use_api_url(settings)
    shards = shard_ids(settings)
    if shards is None:
        return EditBot(
            settings=settings,
            service=service,
            downloads=downloads,
            chat_factory=chat_factory,
            metrics=metrics,
        )
    count, ids = shards
    return ShardedEditBot(
        settings=settings,
        service=service,
        downloads=downloads,
        chat_factory=chat_factory,
        metrics=metrics,
        shard_count=count,
        shard_ids=ids,
    )
