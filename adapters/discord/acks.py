"""An interaction's ack (its defer) timed in `ack_seconds`, platform="discord", and the
inbox write that goes before it for requests a restart must still answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bot.core.metrics import Histogram

log = logging.getLogger(__name__)

ACCEPT_BEFORE_DEFER_S = 1.5
"""How long the defer waits for the inbox write; a slower database does not cost the person
Discord's 3-second window (the defer goes out and the write finishes after it)."""


async def timed_defer(
    interaction: discord.Interaction,
    acks: Histogram | None,
    *,
    start: float | None = None,
    **options: bool,
) -> None:
    """Defer `interaction` (Discord's 3 s window) and time it, from `start` (default: this
    call, the handler's first step, scheduled as the interaction arrives) to Discord's answer."""
    start = time.perf_counter() if start is None else start
    await interaction.response.defer(**options)
    if acks is not None:
        acks.observe(time.perf_counter() - start, platform="discord")


async def accept_then_defer(
    interaction: discord.Interaction,
    acks: Histogram | None,
    accept: Callable[[], Awaitable[bool]],
    **options: bool,
) -> bool:
    """The request into the inbox, then the defer: once Discord has the defer, a process
    killed at any later point leaves the request for the next one (bot.service.intake).

    False when the inbox saw the request before (nothing deferred then: its first delivery
    answers it). A failing write is logged and the request goes on, as before the inbox.
    """
    start = time.perf_counter()
    stored = asyncio.ensure_future(accept())
    done, _ = await asyncio.wait({stored}, timeout=ACCEPT_BEFORE_DEFER_S)
    if stored in done and stored.exception() is None and not stored.result():
        return False
    try:
        await timed_defer(interaction, acks, start=start, **options)
    except discord.HTTPException:
        # Too late or already answered: the request is stored all the same, so it runs.
        log.warning("could not defer interaction %s", interaction.id, exc_info=True)
    try:
        return await stored
    except Exception:
        log.exception("inbox: could not store interaction %s; going on", interaction.id)
        return True
