"""`/edit-budget show|set|usage`: each subcommand becomes the core's budget text command."""

from __future__ import annotations

import io
import logging
from typing import Optional

import discord
from discord import app_commands
from discord.app_commands import Choice

from adapters.discord.acks import timed_defer
from adapters.discord.translate import interaction_place, platform_admin
from bot.core.metrics import Histogram
from bot.core.ports import EditServicePort

log = logging.getLogger(__name__)

PERIOD_CHOICES = [Choice(name=p, value=p) for p in ("day", "week", "month", "none")]

BUDGET_FAILED = "Something went wrong on editbot's side; the error was logged. Nothing was charged."


class EditBudget(
    app_commands.Group, name="edit-budget", description="This channel's image-edit budget"
):
    """The budget group; the core decides who may change what and words every answer."""

    def __init__(self, *, service: EditServicePort, acks: Histogram | None = None) -> None:
        super().__init__()
        self._service = service
        self._acks = acks  # ack_seconds: the defers timed

    @app_commands.command(name="show", description="Spent, cap and period (only you see it)")
    async def show(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, "show")

    @app_commands.command(
        name="chart", description="Post a chart of this channel's daily spend in the channel"
    )
    async def chart(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, "chart")

    @app_commands.command(name="set", description="Set this channel's cap (needs Manage Server)")
    @app_commands.describe(
        cap_usd="Cap in dollars, e.g. 25",
        period="Budget period (default: unchanged)",
        user_cap_usd="Optional per-person cap in dollars",
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def set_cap(
        self,
        interaction: discord.Interaction,
        cap_usd: str,
        period: Optional[Choice[str]] = None,  # noqa: UP045 - discord.py reads it at runtime
        user_cap_usd: Optional[str] = None,  # noqa: UP045
    ) -> None:
        parts = ["set", cap_usd.strip()]
        if period is not None:
            parts.append(period.value)
        if user_cap_usd:
            parts.append(f"user={user_cap_usd.strip()}")
        await self._answer(interaction, " ".join(parts))

    @app_commands.command(
        name="usage", description="Admins: this channel's usage as a CSV only you get"
    )
    @app_commands.describe(since="First day, YYYY-MM-DD")
    async def usage(
        self,
        interaction: discord.Interaction,
        since: Optional[str] = None,  # noqa: UP045
    ) -> None:
        await self._answer(interaction, f"usage since {since.strip()}" if since else "usage")

    async def _answer(self, interaction: discord.Interaction, args: str) -> None:
        """Defer (ephemeral) inside the 3 s window, ask the core, post its reply and files."""
        await timed_defer(interaction, self._acks, ephemeral=True, thinking=True)
        admin = platform_admin(interaction)
        try:
            reply = await self._service.budget(
                interaction_place(interaction), args, platform_admin=admin
            )
        except Exception:
            log.exception("/edit-budget %s failed in the core", args.split(" ", 1)[0])
            await interaction.followup.send(BUDGET_FAILED, ephemeral=True)
            return
        if reply.csv is not None:
            csv_file = discord.File(io.BytesIO(reply.csv), filename=reply.csv_name)
            await interaction.followup.send(reply.text, file=csv_file, ephemeral=True)
        else:
            await interaction.followup.send(reply.text, ephemeral=reply.private)
        if reply.chart_png is not None:
            # Only `/edit-budget chart` makes one: it is for the channel, a public followup.
            chart = discord.File(io.BytesIO(reply.chart_png), filename="editbot-budget.png")
            await interaction.followup.send(
                reply.chart_text, file=chart, allowed_mentions=discord.AllowedMentions.none()
            )
