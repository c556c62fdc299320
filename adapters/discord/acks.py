"""An interaction's ack (its defer) timed in `ack_seconds`, platform="discord"."""

from __future__ import annotations

import time

import discord

from bot.core.metrics import Histogram


async def timed_defer(
    interaction: discord.Interaction, acks: Histogram | None, **options: bool
) -> None:
    """Defer `interaction` (Discord's 3 s window) and time it, from this call (the handler's
    first step, scheduled as the interaction arrives) to Discord's answer to the defer."""
    start = time.perf_counter()
    await interaction.response.defer(**options)
    if acks is not None:
        acks.observe(time.perf_counter() - start, platform="discord")
