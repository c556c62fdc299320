"""The private side of DiscordChatPort: ephemeral answers, direct messages, people's names.

Discord has ephemeral messages only as answers to an interaction. The bot remembers the latest
interaction of each person in each channel for the 15 minutes its token lives
(`remember_interaction`), so an answer to a button press or a command goes to that person
only; a mistake in a plain message is answered in the place, pinging nobody.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import discord

from adapters.discord.buttons import actions_view
from bot.core.domain import Place
from bot.core.errors import PlatformError
from bot.core.ports import ActionButton, PrivateFile

TOKEN_LIFETIME_S = 14 * 60
"""An interaction token lives 15 minutes; a minute is kept in hand."""
_KEPT = 1000
NO_PINGS = discord.AllowedMentions.none()


class DiscordPeople:
    """post_private, send_direct, display_names, channel_name, thread_link and admins over
    discord.py."""

    _client: discord.Client
    _interactions: dict[tuple[str, str], tuple[float, discord.Interaction]]
    _public_replies: set[int]
    _thread_replies: dict[str, tuple[float, discord.Interaction]]

    def remember_interaction(
        self, interaction: discord.Interaction, *, public_reply: bool = False
    ) -> None:
        """Answers to this person in this channel go to the interaction, ephemerally.

        `public_reply`: the interaction's response is public (`/edit`'s "Editing: ..."); a
        private answer replaces it, so no public reply is left saying the edit is running.
        """
        recent = self._recent_interactions()
        key = (str(interaction.channel_id or ""), str(interaction.user.id))
        recent.pop(key, None)
        recent[key] = (time.monotonic(), interaction)
        if not hasattr(self, "_public_replies"):
            self._public_replies = set()
        if public_reply:
            self._public_replies.add(interaction.id)
        while len(recent) > _KEPT:
            recent.pop(next(iter(recent)))

    def _recent_interactions(self) -> dict[tuple[str, str], tuple[float, discord.Interaction]]:
        if not hasattr(self, "_interactions"):
            self._interactions = {}
        return self._interactions

    def _interaction_for(self, place: Place) -> discord.Interaction | None:
        recent = self._recent_interactions()
        for channel in (place.thread, place.channel):
            found = recent.get((str(channel or ""), place.user))
            if found is not None and time.monotonic() - found[0] < TOKEN_LIFETIME_S:
                return found[1]
        return None

    async def post_private(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """An ephemeral followup when the person just used a command or button here; else a
        message in the place that pings nobody."""
        view = actions_view(actions)
        interaction = self._interaction_for(place)
        try:
            if interaction is not None:
                if interaction.id in getattr(self, "_public_replies", set()):
                    self._public_replies.discard(interaction.id)
                    await interaction.delete_original_response()
                kwargs: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_PINGS}
                if view is not None:
                    kwargs["view"] = view
                await interaction.followup.send(text[:2000], **kwargs)
                return
            target = await self._channel_of(place.thread or place.channel)
            if view is None:
                await target.send(text[:2000], allowed_mentions=NO_PINGS)
            else:
                await target.send(text[:2000], allowed_mentions=NO_PINGS, view=view)
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused a message: {exc}") from exc

    def adopt_reply(self, place: Place, thread: str) -> None:
        """A thread opened for `/edit`: its public reply ("Editing: ...") is the thread's, so
        the edit's outcome can replace it (tell_outcome)."""
        interaction = self._interaction_for(replace(place, thread=None))
        if interaction is None or interaction.id not in getattr(self, "_public_replies", set()):
            return
        if not hasattr(self, "_thread_replies"):
            self._thread_replies = {}
        self._thread_replies[thread] = (time.monotonic(), interaction)
        while len(self._thread_replies) > _KEPT:
            self._thread_replies.pop(next(iter(self._thread_replies)))

    async def tell_outcome(self, place: Place, outcome: str) -> None:
        """The `/edit` reply the thread was opened on says how the edit ended (once)."""
        found = getattr(self, "_thread_replies", {}).pop(str(place.thread or ""), None)
        if found is None or time.monotonic() - found[0] >= TOKEN_LIFETIME_S:
            return
        interaction = found[1]
        try:
            await interaction.edit_original_response(
                content=outcome[:2000], allowed_mentions=NO_PINGS
            )
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused to edit the /edit reply: {exc}") from exc

    async def send_direct(
        self, place: Place, user: str, text: str, *, file: PrivateFile | None = None
    ) -> None:
        try:
            person = self._client.get_user(int(user)) or await self._client.fetch_user(int(user))
            if file is None:
                await person.send(text[:2000], allowed_mentions=NO_PINGS)
            else:
                upload = discord.File(io.BytesIO(file.data), filename=file.filename)
                await person.send(text[:2000], file=upload, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, ValueError) as exc:
            raise PlatformError(f"Discord refused a direct message: {exc}") from exc

    async def display_names(self, place: Place, users: Sequence[str]) -> Mapping[str, str]:
        guild = self._client.get_guild(int(place.workspace)) if place.workspace.isdigit() else None
        names: dict[str, str] = {}
        for user in dict.fromkeys(users):
            names[user] = await self._name_of(guild, user)
        return names

    async def _name_of(self, guild: discord.Guild | None, user: str) -> str:
        if not user.isdigit():
            return user
        member = guild.get_member(int(user)) if guild is not None else None
        if member is not None:
            return member.display_name
        person = self._client.get_user(int(user))
        if person is None:
            try:
                person = await self._client.fetch_user(int(user))
            except discord.HTTPException:
                return user
        return person.display_name

    async def admins(self, place: Place) -> list[str]:
        """The guild's owner and the cached members with Manage Server (or Administrator),
        bots left out. Without the members intent the cache holds only people editbot saw."""
        guild = self._client.get_guild(int(place.workspace)) if place.workspace.isdigit() else None
        if guild is None:
            return []
        me = self._client.user.id if self._client.user is not None else None
        found = [str(guild.owner_id)] if guild.owner_id else []
        for member in guild.members:
            perms = member.guild_permissions
            person = not member.bot and member.id != me
            if person and (perms.manage_guild or perms.administrator):
                found.append(str(member.id))
        return list(dict.fromkeys(found))

    async def channel_name(self, place: Place) -> str:
        channel = self._client.get_channel(int(place.channel)) if place.channel.isdigit() else None
        name = getattr(channel, "name", None)
        return f"#{name}" if name else place.channel

    async def thread_link(self, place: Place) -> str | None:
        if not place.workspace:
            return None
        return f"https://discord.com/channels/{place.workspace}/{place.thread or place.channel}"

    async def _channel_of(self, channel_id: str) -> Any:
        channel = self._client.get_channel(int(channel_id))
        if channel is None:
            try:
                channel = await self._client.fetch_channel(int(channel_id))
            except discord.HTTPException as exc:
                raise PlatformError(f"Discord channel {channel_id} is not reachable") from exc
        return channel
