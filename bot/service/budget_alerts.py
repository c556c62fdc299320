"""What a budget says to people: the refusal (with cheaper edits that would fit), and the
warning once a period passes its threshold (to the channel and to each admin directly)."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.budgets import Refusal, Reservation
from bot.core.domain import EditOptions, Place, Quality, format_usd
from bot.core.messages import budget_refused, budget_warning
from bot.core.ports import Action, ActionButton
from bot.core.pricing import estimate
from bot.service.budget_views import platform_admins, who_can_raise
from bot.service.context import ServiceContext
from bot.service.prepare import PreparedEdit

log = logging.getLogger(__name__)


def warning_text(reservation: Reservation) -> str:
    return budget_warning(
        spent_micros=reservation.spent_micros,
        reserved=reservation.reserved_micros,
        cap_micros=reservation.cap_micros,
        percent=reservation.policy.warn_percent,
        period=reservation.policy.period,
    )


_CHEAPER_QUALITY = {Quality.HIGH: Quality.MEDIUM, Quality.AUTO: Quality.MEDIUM}


def cheaper_options(options: EditOptions) -> list[tuple[str, EditOptions]]:
    """The cheaper variants of an edit's options that exist, each with what it changes: a
    lower quality (never offered to someone already at quality=low) and a single image
    instead of several. Their order is what a Cheaper button's index counts."""
    variants: list[tuple[str, EditOptions]] = []
    if options.quality is not Quality.LOW:
        lower = _CHEAPER_QUALITY.get(options.quality)
        if lower is not None:
            variants.append((f"quality={lower.value}", replace(options, quality=lower)))
        variants.append(("quality=low", replace(options, quality=Quality.LOW)))
    if options.n > 1:
        variants.append(("n=1", replace(options, n=1)))
    return variants


def cheaper_edits(ctx: ServiceContext, prepared: PreparedEdit) -> list[tuple[str, int]]:
    """The cheaper variants of an edit (cheaper_options), each with its estimate."""
    priced = []
    for label, changed in cheaper_options(prepared.options):
        micros = 0
        for request in prepared.requests:
            request_options = replace(request.options, quality=changed.quality, n=changed.n)
            cheaper = replace(request, options=request_options)
            micros += estimate(provider=ctx.provider, request=cheaper, table=ctx.table).micros
        priced.append((label, micros))
    return priced


def fitting(refusal: Refusal, cheaper: list[tuple[str, int]]) -> list[tuple[int, str, int]]:
    """The cheaper edits that fit what the refusal leaves: (1-based index in `cheaper`, what
    to change, estimate)."""
    left = max(0, refusal.cap_micros - refusal.spent_micros - refusal.reserved_micros)
    return [(i, what, micros) for i, (what, micros) in enumerate(cheaper, 1) if micros <= left]


def cheaper_buttons(job_id: str, fits: list[tuple[int, str, int]]) -> tuple[ActionButton, ...]:
    """One button per cheaper edit that fits: `Run at quality=low ~$0.043`."""
    return tuple(
        ActionButton(Action.CHEAPER, job_id, f"Run at {what} ~{format_usd(micros)}", index=i)
        for i, what, micros in fits
    )


async def refusal_message(
    ctx: ServiceContext,
    place: Place,
    refusal: Refusal,
    *,
    cheaper: list[tuple[str, int]] | None = None,
    buttons: bool = False,
) -> str:
    """The refusal, naming who can raise the cap and only cheaper edits that would fit.

    Args:
        cheaper: (what to change, e.g. `quality=low`, its estimate) of the edits the caller
            could price; those that fit what is left are offered.
        buttons: the message carries their buttons (the words say to press one).
    """
    fits = [(what, micros) for _, what, micros in fitting(refusal, cheaper or [])]
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
        buttons=buttons,
    )


async def announce_warning(ctx: ServiceContext, place: Place, reservation: Reservation) -> None:
    """Once per period (the reservation says when): tell the channel, and each admin in a DM
    (EDITBOT_ADMINS and the platform's admins of the workspace).

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
    # EDITBOT_ADMINS and the platform's own admins (who can raise the cap too), each once.
    admins = dict.fromkeys([*sorted(ctx.settings.admin_ids), *await platform_admins(chat, place)])
    for admin in admins:
        try:
            await chat.send_direct(place, admin, f"{name}: {text}")
        except Exception:
            # EDITBOT_ADMINS may list people of another platform; they are told there.
            log.info("could not tell admin %s about the budget of %s", admin, place.scope)
