"""App commands: `/edit`, `/edit-budget show|set|usage` and the "Edit image" message menu."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

import discord
from discord import app_commands
from discord.app_commands import Choice

from adapters.discord.modals import EditImageModal
from adapters.discord.translate import (
    command_picks,
    interaction_edit,
    interaction_place,
    platform_admin,
)
from bot.core.domain import ASPECTS, OptionPicks, Quality, Resolution

if TYPE_CHECKING:
    from adapters.discord.bot import EditBot

log = logging.getLogger(__name__)

QUALITY_CHOICES = [Choice(name=q.value, value=q.value) for q in Quality]
ASPECT_CHOICES = [Choice(name="auto", value="auto")] + [Choice(name=a, value=a) for a in ASPECTS]
RESOLUTION_CHOICES = [Choice(name=r.value, value=r.value) for r in Resolution]
PERIOD_CHOICES = [Choice(name=p, value=p) for p in ("day", "week", "month", "none")]

AnyCommand = app_commands.Command | app_commands.ContextMenu | app_commands.Group

_FAILED = "Something went wrong on editbot's side; the error was logged. Nothing was charged."


def _value(choice: Choice[str] | None) -> str | None:
    return choice.value if choice is not None else None


def edit_commands(bot: EditBot) -> list[AnyCommand]:
    """The app commands, bound to `bot` (its downloads, core service and settings)."""

    async def submit_from_interaction(
        interaction: discord.Interaction,
        text: str,
        sources: Sequence[discord.Attachment],
        picks: OptionPicks | None = None,
    ) -> None:
        # The 3-second window: defer before anything else, then do the slow part.
        await interaction.response.defer(thinking=True)
        attachments = bot.downloads.attachments(sources)
        anchor: int | None = None
        try:
            shown = text if len(text) <= 1900 else text[:1899] + "…"
            original = await interaction.edit_original_response(content=f"Editing: {shown}")
            anchor = original.id
        except discord.HTTPException:
            log.warning("could not edit the deferred response of interaction %s", interaction.id)
        edit = interaction_edit(
            interaction, text=text, attachments=attachments, anchor_message_id=anchor, picks=picks
        )
        await bot.submit(edit)

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
        await submit_from_interaction(interaction, prompt.strip(), images, picks)

    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(
            EditImageModal(attachments=message.attachments, on_prompt=submit_from_interaction)
        )

    edit_image_menu = app_commands.ContextMenu(name="Edit image", callback=edit_image)

    budget = app_commands.Group(name="edit-budget", description="This channel's image-edit budget")

    async def answer_budget(interaction: discord.Interaction, args: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        admin = platform_admin(interaction)
        try:
            reply = await bot.service.budget(
                interaction_place(interaction), args, platform_admin=admin
            )
        except Exception:
            log.exception("/edit-budget %s failed in the core", args.split(" ", 1)[0])
            await interaction.followup.send(_FAILED, ephemeral=True)
            return
        if reply.csv is not None:
            csv_file = discord.File(io.BytesIO(reply.csv), filename="editbot-usage.csv")
            await interaction.followup.send(reply.text, file=csv_file, ephemeral=True)
        else:
            await interaction.followup.send(reply.text, ephemeral=True)
        if reply.chart_png is not None:
            # The chart is for the channel: a non-ephemeral followup.
            chart = discord.File(io.BytesIO(reply.chart_png), filename="editbot-budget.png")
            await interaction.followup.send(file=chart)

    @budget.command(name="show", description="Spent, cap and period, with a chart of daily spend")
    async def budget_show(interaction: discord.Interaction) -> None:
        await answer_budget(interaction, "show")

    @budget.command(name="set", description="Set this channel's cap (needs Manage Server)")
    @app_commands.describe(
        cap_usd="Cap in dollars, e.g. 25",
        period="Budget period (default: unchanged)",
        user_cap_usd="Optional per-person cap in dollars",
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def budget_set(
        interaction: discord.Interaction,
        cap_usd: str,
        period: Optional[Choice[str]] = None,  # noqa: UP045
        user_cap_usd: Optional[str] = None,  # noqa: UP045
    ) -> None:
        parts = ["set", cap_usd.strip()]
        if period is not None:
            parts.append(period.value)
        if user_cap_usd:
            parts.append(f"user={user_cap_usd.strip()}")
        await answer_budget(interaction, " ".join(parts))

    @budget.command(name="usage", description="Usage of this channel as a CSV file")
    @app_commands.describe(since="First day, YYYY-MM-DD")
    async def budget_usage(
        interaction: discord.Interaction,
        since: Optional[str] = None,  # noqa: UP045
    ) -> None:
        await answer_budget(interaction, f"usage since {since.strip()}" if since else "usage")

    return [edit, edit_image_menu, budget]
