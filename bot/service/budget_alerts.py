"""What a budget says to people: the refusal (with cheaper edits that would fit), and the
warning once a period passes its threshold (to the channel and to each admin directly)."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.budgets import Refusal, Reservation
from bot.core.domain import EditOptions, Place, Quality
from bot.core.messages import budget_refused, budget_warning
from bot.core.pricing import estimate
from bot.service.budget_views import who_can_raise
from bot.service.context import ServiceContext
from bot.service.prepare import PreparedEdit

log = logging.getLogger(__name__)


def warning_text(reservation: Reservation) -> str:
    return budget_warning(
        spent_micros=reservation.spent_micros,
        cap_micros=reservation.cap_micros,
        percent=reservation.policy.warn_percent,
        period=reservation.policy.period,
    )


_CHEAPER_QUALITY = {Quality.HIGH: Quality.MEDIUM, Quality.AUTO: Quality.MEDIUM}


def cheaper_edits(ctx: ServiceContext, prepared: PreparedEdit) -> list[tuple[str, int]]:
    """The cheaper variants of an edit that exist, each with its estimate: a lower quality
    (never offered to someone already at quality=low) and a single image instead of several."""
    options = prepared.options
    variants: list[tuple[str, EditOptions]] = []
    if options.quality is not Quality.LOW:
        lower = _CHEAPER_QUALITY.get(options.quality)
        if lower is not None:
            variants.append((f"quality={lower.value}", replace(options, quality=lower)))
        variants.append(("quality=low", replace(options, quality=Quality.LOW)))
    if options.n > 1:
        variants.append(("n=1", replace(options, n=1)))
    priced = []
    for label, changed in variants:
        micros = 0
        for request in prepared.requests:
            request_options = replace(request.options, quality=changed.quality, n=changed.n)
            cheaper = replace(request, options=request_options)
            micros += estimate(provider=ctx.provider, request=cheaper, table=ctx.table).micros
        priced.append((label, micros))
    return priced


async def refusal_message(
    ctx: ServiceContext,
    place: Place,
    refusal: Refusal,
    *,
    cheaper: list[tuple[str, int]] | None = None,
) -> str:
    """The refusal, naming who can raise the cap and only cheaper edits that would fit.

    Args:
        cheaper: (what to change, e.g. `quality=low`, its estimate) of the edits the caller
            could price; those that fit what is left are offered.
    """
    left = max(0, refusal.cap_micros - refusal.spent_micros - refusal.reserved_micros)
    fits = [(what, micros) for what, micros in cheaper or [] if micros <= left]
    chat = ctx.chats.get(place.platform)
    who = await who_can_raise(chat, place, ctx.settings.admin_ids)
    return budget_refused(
        spent_micros=refusal.spent_micros,
        reserved_micros=refusal.reserved_micros,
        cap_micros=refusal.cap_micros,
        estimate_micros=refusal.estimate_micros,
        period=refusal.policy.period,
        who_can_raise=who,
        per_user=refusal.limit == "user",
        cheaper=fits,
    )


async def announce_warning(ctx: ServiceContext, place: Place, reservation: Reservation) -> None:
    """Once per period (the reservation says when): tell the channel, and each admin in a DM.

    A failed post is logged, never raised: the edit it came with is already queued.
    """
    chat = ctx.chats.get(place.platform)
    if chat is None:
        return
    text = warning_text(reservation)
    channel = replace(place, thread=None)
    try:
        await chat.post_text(channel, text)
    except Exception:
        log.exception("could not post the budget warning in %s", place.scope)
    name = await chat.channel_name(place)
    for admin in sorted(ctx.settings.admin_ids):
        try:
            await chat.send_direct(place, admin, f"{name}: {text}")
        except Exception:
            # EDITBOT_ADMINS may list people of another platform; they are told there.
            log.info("could not tell admin %s about the budget of %s", admin, place.scope)
