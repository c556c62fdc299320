"""Pure translation of Discord messages and interactions into editbot's core types.

No I/O here: attachment downloaders are built by the caller (downloads.py) and passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.core.domain import Attachment, IncomingEdit, OptionPicks, Place, Quality, Resolution
from bot.core.ports import Action, ActionPress

PLATFORM = "discord"


def channel_place(channel: object, *, guild_id: int | None, user_id: int) -> Place:
    """The Place of `channel`: in a thread, the parent channel (budgets are per channel)."""
    if isinstance(channel, discord.Thread):
        return Place(
            platform=PLATFORM,
            workspace=str(guild_id or ""),
            channel=str(channel.parent_id),
            user=str(user_id),
            thread=str(channel.id),
        )
    channel_id = getattr(channel, "id", 0)
    return Place(
        platform=PLATFORM, workspace=str(guild_id or ""), channel=str(channel_id), user=str(user_id)
    )


def message_place(message: discord.Message) -> Place:
    """Where a message was posted, with its author as the user."""
    guild_id = message.guild.id if message.guild else None
    return channel_place(message.channel, guild_id=guild_id, user_id=message.author.id)


def interaction_place(interaction: discord.Interaction) -> Place:
    """Where an interaction happened, with the person who invoked it as the user."""
    return channel_place(
        interaction.channel, guild_id=interaction.guild_id, user_id=interaction.user.id
    )


def is_edit_request(message: discord.Message, *, bot_user_id: int) -> bool:
    """A guild message from a person that mentions the bot; bots (itself included) never count."""
    if message.author.bot or message.guild is None:
        return False
    return any(user.id == bot_user_id for user in message.mentions)


def prompt_text(content: str, *, bot_user_id: int) -> str:
    """The message text without the bot's mention(s), whitespace collapsed."""
    stripped = re.sub(rf"<@!?{bot_user_id}>", " ", content)
    return " ".join(stripped.split())


def message_edit(
    message: discord.Message, *, bot_user_id: int, attachments: Sequence[Attachment]
) -> IncomingEdit:
    """A mention as an IncomingEdit; `attachments` are the inputs the caller chose."""
    return IncomingEdit(
        place=message_place(message),
        text=prompt_text(message.content, bot_user_id=bot_user_id),
        event_key=f"{PLATFORM}:{message.id}",
        attachments=tuple(attachments),
        message_id=str(message.id),
    )


def command_picks(
    *, quality: str | None, aspect: str | None, resolution: str | None, n: int | None
) -> OptionPicks:
    """The options a person picked from /edit's choices (None: not picked)."""
    return OptionPicks(
        quality=Quality(quality) if quality else None,
        aspect=aspect if aspect and aspect != "auto" else None,
        resolution=Resolution(resolution) if resolution else None,
        n=n,
    )


def interaction_edit(
    interaction: discord.Interaction,
    *,
    text: str,
    attachments: Sequence[Attachment],
    anchor_message_id: int | None,
    picks: OptionPicks | None = None,
) -> IncomingEdit:
    """An app command or modal submission as an IncomingEdit (keyed on the interaction id)."""
    return IncomingEdit(
        place=interaction_place(interaction),
        text=text,
        event_key=f"{PLATFORM}:i:{interaction.id}",
        attachments=tuple(attachments),
        message_id=str(anchor_message_id) if anchor_message_id else None,
        picks=picks or OptionPicks(),
    )


def platform_admin(interaction: discord.Interaction) -> bool:
    """What Discord says: Manage Server in this guild (the core adds EDITBOT_ADMINS)."""
    return bool(interaction.permissions.manage_guild)


def action_press(
    interaction: discord.Interaction,
    *,
    action: Action,
    job_id: str,
    index: int | None = None,
) -> ActionPress:
    """A button press as an ActionPress; the core decides who may do what."""
    return ActionPress(
        action=action,
        job_id=job_id,
        place=interaction_place(interaction),
        event_key=f"{PLATFORM}:i:{interaction.id}",
        platform_admin=platform_admin(interaction),
        message_id=str(interaction.message.id) if interaction.message is not None else None,
        index=index,
    )
