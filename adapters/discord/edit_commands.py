"""`/edit` and the "Edit image" message menu: store, defer, then hand an IncomingEdit to
`submit`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Optional

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from adapters.discord.acks import accept_then_defer
from adapters.discord.downloads import CdnDownloads
from adapters.discord.modals import EditImageModal
from adapters.discord.originals import original_anchor
from adapters.discord.translate import command_picks, interaction_edit
from bot.core.domain import ASPECTS, IncomingEdit, OptionPicks, Quality, Resolution
from bot.core.metrics import Histogram

log = logging.getLogger(__name__)

QUALITY_CHOICES = [Choice(name=q.value, value=q.value) for q in Quality]
ASPECT_CHOICES = [Choice(name="auto", value="auto")] + [Choice(name=a, value=a) for a in ASPECTS]
RESOLUTION_CHOICES = [Choice(name=r.value, value=r.value) for r in Resolution]

SHOWN_PROMPT_MAX = 1900
"""How much of the prompt the deferred response repeats (a message holds 2000 characters)."""

SubmitEdit = Callable[[IncomingEdit], Awaitable[None]]
"""Hands an edit to the core; never raises into discord.py (EditBot.submit)."""
AcceptEdit = Callable[[IncomingEdit], Awaitable[bool]]
"""Stores an edit in the core's inbox before the defer; False when seen before."""


async def _not_stored(edit: IncomingEdit) -> bool:
    return True


def _value(choice: Choice[str] | None) -> str | None:
    return choice.value if choice is not None else None


class EditCommands(commands.Cog):
    """`/edit` and the "Edit image" menu; what they build goes to `submit`.

    Args:
        tree: the tree the menu is added to (a context menu cannot live inside a Cog).
        downloads: turns the interaction's discord.Attachments into core Attachments.
        submit: where the finished IncomingEdit goes.
        accept: the core's inbox, written before the defer (EditServicePort.accept).
    """

    def __init__(
        self,
        *,
        tree: app_commands.CommandTree[Any],
        downloads: CdnDownloads,
        submit: SubmitEdit,
        accept: AcceptEdit = _not_stored,
        max_n: int = 10,
        remember: Callable[[discord.Interaction], None] | None = None,
        acks: Histogram | None = None,
    ) -> None:
        self._tree = tree
        self._acks = acks  # ack_seconds: the defers timed
        self._downloads = downloads
        self._submit = submit
        self._accept = accept
        self._remember = remember
        # `n` offers exactly 1..EDITBOT_MAX_N: a choice Discord shows is one editbot takes.
        n = self.edit._params["n"]
        n.choices = [Choice(name=str(i), value=i) for i in range(1, max(1, max_n) + 1)]
        n.min_value = n.max_value = None
        self._edit_image_menu = app_commands.ContextMenu(
            name="Edit image", callback=self.edit_image
        )

    async def cog_load(self) -> None:
        self._tree.add_command(self._edit_image_menu)

    async def cog_unload(self) -> None:
        self._tree.remove_command(self._edit_image_menu.name, type=self._edit_image_menu.type)

    @app_commands.command(name="edit", description="Edit images with gpt-image-2")
    @app_commands.describe(
        prompt="What to change",
        image="The image to edit (in an edit thread: leave empty to refine the current version)",
        image2="A second input image",
        image3="A third input image",
        quality="low, medium (default), high or auto",
        aspect="Output aspect ratio (default: nearest to the first image)",
        resolution="1k (default), 2k or 4k",
        n="How many variants",
    )
    @app_commands.choices(
        quality=QUALITY_CHOICES, aspect=ASPECT_CHOICES, resolution=RESOLUTION_CHOICES
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: Optional[discord.Attachment] = None,  # noqa: UP045 - discord.py reads it at runtime
        image2: Optional[discord.Attachment] = None,  # noqa: UP045
        image3: Optional[discord.Attachment] = None,  # noqa: UP045
        quality: Optional[Choice[str]] = None,  # noqa: UP045
        aspect: Optional[Choice[str]] = None,  # noqa: UP045
        resolution: Optional[Choice[str]] = None,  # noqa: UP045
        n: Optional[app_commands.Range[int, 1, 10]] = None,  # noqa: UP045
    ) -> None:
        picks = command_picks(
            quality=_value(quality), aspect=_value(aspect), resolution=_value(resolution), n=n
        )
        images = [a for a in (image, image2, image3) if a is not None]
        await self.submit_interaction(interaction, prompt.strip(), images, picks)

    async def edit_image(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message menu: ask for the prompt; the modal's submission is the edit."""
        await interaction.response.send_modal(
            EditImageModal(attachments=message.attachments, on_prompt=self.submit_interaction)
        )

    async def submit_interaction(
        self,
        interaction: discord.Interaction,
        text: str,
        sources: Sequence[discord.Attachment],
        picks: OptionPicks | None = None,
    ) -> None:
        """Store the request, defer, repeat the prompt as the response (the thread's anchor),
        then submit. Stored before the defer, it is answered by a restart from then on: its
        anchor is the original response's webhook until the response has an id."""
        attachments = self._downloads.attachments(sources)
        edit = interaction_edit(
            interaction, text=text, attachments=attachments, anchor_message_id=None, picks=picks
        )
        edit = replace(edit, message_id=original_anchor(interaction))
        # The 3-second window: nothing slow before the defer (the inbox write is bounded).
        if not await accept_then_defer(
            interaction, self._acks, lambda: self._accept(edit), thinking=True
        ):
            return  # delivered before (the gateway sent it again): answered there
        if self._remember is not None:
            self._remember(interaction)  # a mistake is answered to this person only
        try:
            shown = text if len(text) <= SHOWN_PROMPT_MAX else text[: SHOWN_PROMPT_MAX - 1] + "…"
            original = await interaction.edit_original_response(
                content=f"Editing: {shown}", allowed_mentions=discord.AllowedMentions.none()
            )
            edit = replace(edit, message_id=str(original.id))
        except discord.HTTPException:
            log.warning("could not edit the deferred response of interaction %s", interaction.id)
        await self._submit(edit)
