"""DiscordChatPort: the core's outbound ChatPort over discord.py, by channel ids only.

Interaction tokens die after 15 minutes and a worker may deliver from another process, so every
message the core sends goes through `channel.send` on the ids in the Place, never a token.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import discord

from adapters.discord.buttons import CUSTOM_ID_TEMPLATE, actions_view
from adapters.discord.downloads import CdnDownloads
from adapters.discord.fit import DEFAULT_UPLOAD_LIMIT, fit_images
from adapters.discord.mentions import requester_only
from adapters.discord.originals import anchor_message
from adapters.discord.people import DiscordPeople
from adapters.discord.translate import PLATFORM
from bot.core.domain import Attachment, Place
from bot.core.errors import PlatformError
from bot.core.messages import thread_title
from bot.core.ports import RESULT_ACTIONS, ActionButton, MessageRef, ResultImage

log = logging.getLogger(__name__)

MESSAGE_MAX = 2000
"""Discord's limit on a message's content."""

THREAD_NAME_MAX = 100
"""Discord's limit on a thread name."""

THREAD_HISTORY_LIMIT = 100
"""How far back thread_images looks."""

ThreadOpener = Callable[[Any, int | None, str], Awaitable[int]]
"""(channel, anchor message id or None, name) -> the new thread's id."""


async def create_thread(channel: Any, anchor: int | None, name: str) -> int:
    """Open a public thread on the anchor message (or a bare one in the channel when none)."""
    if anchor is not None:
        thread = await channel.get_partial_message(anchor).create_thread(
            name=name, auto_archive_duration=1440
        )
    else:
        thread = await channel.create_thread(
            name=name, type=discord.ChannelType.public_thread, auto_archive_duration=1440
        )
    return int(thread.id)


def _kids(row: Any) -> Sequence[Any]:
    return list(getattr(row, "children", None) or [row])


def _result_of(job_id: str, component: Any) -> bool:
    """Whether `component` is a result's button (RESULT_ACTIONS) for `job_id`."""
    found = re.fullmatch(CUSTOM_ID_TEMPLATE, str(getattr(component, "custom_id", None) or ""))
    if found is None or found["job"] != job_id:
        return False
    return found["action"] in {a.value for a in RESULT_ACTIONS}


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


class DiscordChatPort(DiscordPeople):
    """ChatPort for Discord. `thread_opener` exists so tests can stand in for thread creation."""

    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client,
        *,
        downloads: CdnDownloads,
        thread_opener: ThreadOpener = create_thread,
    ) -> None:
        self._client = client
        self._downloads = downloads
        self._previews: dict[str, bytes] = {}
        """The preview each status message shows now (by message id)."""
        self._open = thread_opener

    async def _channel(self, channel_id: str) -> Any:
        cid = int(channel_id)
        channel = self._client.get_channel(cid)
        if channel is None:
            try:
                channel = await self._client.fetch_channel(cid)
            except discord.HTTPException as exc:
                raise PlatformError(f"Discord channel {cid} is not reachable: {exc}") from exc
        return channel

    async def _target(self, place: Place) -> Any:
        return await self._channel(place.thread or place.channel)

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        """Return `place` with its thread set, creating one on `anchor` (a message id) if needed."""
        if place.thread:
            return place
        channel = await self._channel(place.channel)
        name = thread_title(title, limit=THREAD_NAME_MAX)
        message = await anchor_message(self._client, anchor, title=name)  # also after a restart
        try:
            thread_id = await self._open(channel, message, name)
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused to open a thread: {exc}") from exc
        self.adopt_reply(place, str(thread_id))
        return replace(place, thread=str(thread_id))

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        """Post a message in the place's thread (or channel when it has none)."""
        target = await self._target(place)
        view = actions_view(actions)
        try:
            pings = requester_only(place)
            if view is None:
                message = await target.send(_clip(text), allowed_mentions=pings)
            else:
                message = await target.send(_clip(text), view=view, allowed_mentions=pings)
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused a message: {exc}") from exc
        return MessageRef(place=place, message_id=str(message.id))

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """Edit a message editbot posted in place; no actions removes its buttons."""
        target = await self._target(ref.place)
        partial = target.get_partial_message(int(ref.message_id))
        try:
            await partial.edit(
                content=_clip(text),
                view=actions_view(actions),
                allowed_mentions=requester_only(ref.place),
            )
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused a message edit: {exc}") from exc

    async def mark_pressed(self, ref: MessageRef, note: str) -> None:
        """Edit the pressed message: its buttons give way to one disabled button saying `note`."""
        target = await self._target(ref.place)
        partial = target.get_partial_message(int(ref.message_id))
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label=note[:80], disabled=True))
        try:
            await partial.edit(view=view)
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused a message edit: {exc}") from exc

    async def post_images(
        self,
        place: Place,
        *,
        images: Sequence[ResultImage],
        caption: str,
        alt_text: str,
        actions: Sequence[ActionButton] = (),
    ) -> MessageRef:
        """Upload results (re-encoded to fit the guild's upload limit) with caption and buttons."""
        target = await self._target(place)
        guild = getattr(target, "guild", None)
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        fitted = await fit_images(images, limit=limit)
        note = fitted.note(limit)
        text = f"{caption} {note}" if note else caption
        files = [
            discord.File(
                io.BytesIO(image.data), filename=image.filename, description=alt_text[:1024]
            )
            for image in fitted.images
        ]
        view = actions_view(actions)
        try:
            pings = requester_only(place)
            if view is None:
                message = await target.send(_clip(text), files=files, allowed_mentions=pings)
            else:
                message = await target.send(
                    _clip(text), files=files, view=view, allowed_mentions=pings
                )
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused an upload: {exc}") from exc
        return MessageRef(place=place, message_id=str(message.id))

    async def update_status(
        self, ref: MessageRef, text: str, *, preview: ResultImage | None = None
    ) -> None:
        """Edit the status message's text; a new preview replaces its attachment (discord.py
        keeps within Discord's edit buckets, 5 per 5 s a channel)."""
        target = await self._target(ref.place)
        partial = target.get_partial_message(int(ref.message_id))
        fields: dict[str, Any] = {
            "content": _clip(text),
            "allowed_mentions": requester_only(ref.place),
        }
        if preview is not None and self._previews.get(ref.message_id) != preview.data:
            fields["attachments"] = [
                discord.File(io.BytesIO(preview.data), filename=preview.filename)
            ]
        try:
            await partial.edit(**fields)
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused a status edit: {exc}") from exc
        if "attachments" in fields and preview is not None:
            self._previews[ref.message_id] = preview.data

    async def post_result(
        self,
        place: Place,
        *,
        text: str,
        images: Sequence[ResultImage] = (),
        alt_text: str = "",
        actions: Sequence[ActionButton] = (),
        notify: str | None = None,
        replaces: MessageRef | None = None,
    ) -> MessageRef:
        """One new message with the attachments, caption and buttons (or text and buttons)
        that pings `notify`; then the status message `replaces` is deleted."""
        if notify and f"<@{notify}>" not in text:
            text = f"<@{notify}> {text}"
        if images:
            ref = await self.post_images(
                place, images=images, caption=text, alt_text=alt_text, actions=actions
            )
        else:
            ref = await self.post_text(place, text, actions=actions)
        if replaces is not None:
            self._previews.pop(replaces.message_id, None)
            target = await self._target(replaces.place)
            try:
                await target.get_partial_message(int(replaces.message_id)).delete()
            except discord.HTTPException:  # the result is posted: a leftover status is cosmetic
                log.warning("could not delete status message %s", replaces.message_id)
        return ref

    async def find_posted(self, place: Place, job_id: str) -> bool:
        """Whether one of the thread's recent messages (GET /channels/{id}/messages) carries a
        result button for `job_id`: the buttons' custom_id say which job a result is."""
        target = await self._target(place)
        try:
            async for message in target.history(limit=THREAD_HISTORY_LIMIT):
                if any(_result_of(job_id, c) for row in message.components for c in _kids(row)):
                    return True
        except discord.HTTPException as exc:
            raise PlatformError(f"Discord refused to list messages: {exc}") from exc
        return False

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        """Image attachments in the place's thread, newest first."""
        if not place.thread:
            return ()
        thread = await self._channel(place.thread)
        found: list[Attachment] = []
        async for message in thread.history(limit=THREAD_HISTORY_LIMIT):
            for attachment in message.attachments:
                if (attachment.content_type or "").startswith("image/"):
                    found.append(self._downloads.attachment(attachment))
        return found
