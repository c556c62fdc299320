"""What people read: every text editbot posts about edits and budgets, in plain words.

Pure functions from numbers to short strings. Money arrives as integer micro-dollars and leaves
through bot.core.domain.format_usd. Markup is kept to what Slack and Discord both show the same way
(`code` only). Every text is cut to MAX_CHARS: Discord refuses messages over 2,000 characters,
Slack sections over 3,000. Mentions in strings passed in (labels, provider messages) are the
adapter's to neutralise when it posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from bot.core.domain import format_usd
from bot.core.jobs import short_ref
from bot.core.options import clean_markup

MAX_CHARS = 2000
"""No text here is longer: Discord's message limit (Slack's section limit is 3,000)."""

_DETAIL_CHARS = 300
_LABEL_CHARS = 80
TOP_USERS_SHOWN = 10

_PERIOD_NOW = {"day": "today", "week": "this week", "month": "this month", "none": "in total"}
_PERIOD_RATE = {"day": "a day", "week": "a week", "month": "a month", "none": "in total"}
_SOURCES = {
    "channel": "set for this channel",
    "workspace": "the workspace default",
    "default": "editbot's default",
}


class FailureKind(StrEnum):
    """Why an edit failed, as far as the person needs to know."""

    PROVIDER_DOWN = "provider_down"
    """The image service kept failing or refusing connections (429, 5xx, network)."""
    TIMEOUT = "timeout"
    """The job ran past its deadline."""
    REJECTED = "rejected"
    """The image service refused the request; its message is shown."""
    INTERNAL = "internal"
    """editbot itself failed."""


def _fit(text: str, limit: int = MAX_CHARS) -> str:
    """`text` cut to `limit` characters, marked with "..." when cut."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _clean(text: str, limit: int) -> str:
    """Outside text on one line (whitespace collapsed), cut to `limit` characters."""
    return _fit(" ".join(text.split()), limit)


def period_phrase(period: str) -> str:
    """`month` -> `this month`, `day` -> `today`, `none` -> `in total`."""
    return _PERIOD_NOW.get(period, "this period")


def _rate(period: str) -> str:
    return _PERIOD_RATE.get(period, "per period")


def duration(seconds: float) -> str:
    """Elapsed time for status lines: `12s`, `1m 05s`, `1h 02m`."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _percent(part: int, whole: int) -> str:
    # Settling can overshoot a cap a little; a tiny cap should not print a 10-digit percentage.
    share = part * 100 // whole if whole > 0 else 100
    return f"{share}%" if share <= 999 else "over 999%"


def _edits(count: int) -> str:
    return "1 edit" if count == 1 else f"{count} edits"


TITLE_CHARS = 80
"""Longest thread name editbot gives (Discord allows 100, Slack shows about this much)."""


def thread_title(text: str, *, limit: int = TITLE_CHARS) -> str:
    """A thread name from the request text: chat markup cleaned, cut at `limit` with "..."."""
    title = clean_markup(text) or "Image edit"
    return title if len(title) <= limit else title[: limit - 3].rstrip() + "..."


# --- job status ----------------------------------------------------------------------------


def status_queued(ahead: int) -> str:
    """The status line of a queued edit: how many are in front of it."""
    if ahead <= 0:
        return "Queued - yours is next."
    return f"Queued - {_edits(ahead)} ahead of yours."


def status_running(elapsed_s: float, stage: str = "editing") -> str:
    """The status line while a job runs: `Editing... 12s`."""
    stage = _clean(stage, 40) or "editing"
    return f"{stage[0].upper()}{stage[1:]}... {duration(elapsed_s)}"


def status_retrying(attempt: int, *, max_attempts: int, wait_s: float | None = None) -> str:
    """The status line when the image service failed and the job tries again."""
    when = f" in {duration(wait_s)}" if wait_s is not None and wait_s >= 1 else ""
    return (
        f"The image service is busy; trying again{when} (attempt {attempt} of {max_attempts}). "
        "Failed attempts cost nothing."
    )


def status_confirm(estimate_micros: int, threshold_micros: int, *, expires_min: int = 10) -> str:
    """Asks to confirm an edit whose estimate is above the confirmation threshold."""
    return (
        f"This edit could cost up to {format_usd(estimate_micros)}, more than the "
        f"{format_usd(threshold_micros)} that needs a yes first. Press Confirm to run it or "
        f"Cancel to drop it. Nothing is charged until you confirm; this request expires in "
        f"{expires_min} minutes."
    )


def confirm_expired(*, minutes: int = 10) -> str:
    """Said when nobody confirmed in time and the request was dropped."""
    return (
        f"Nobody confirmed within {minutes} minutes, so this edit was dropped. "
        "Nothing was charged; send it again to run it."
    )


def cancelled() -> str:
    """Said when someone pressed Cancel on a waiting edit."""
    return "Cancelled. Nothing was charged."


# --- results -------------------------------------------------------------------------------


def _money_left(*, spent_micros: int, cap_micros: int | None, period: str) -> str:
    """`$4.85 left this month`, or what was spent when there is no cap."""
    if cap_micros is None:
        return f"{format_usd(spent_micros)} spent {period_phrase(period)} (no cap)"
    left = max(0, cap_micros - spent_micros)
    return f"{format_usd(left)} left {period_phrase(period)}"


CAPTION_PROMPT_CHARS = 60
"""How much of the prompt a caption quotes."""


def result_caption(
    *,
    version: int,
    prompt: str,
    requester: str | None,
    size: tuple[int, int],
    quality: str,
    cost_micros: int,
    spent_micros: int,
    cap_micros: int | None,
    period: str,
    n_images: int = 1,
    region: str | None = None,
    note: str | None = None,
) -> str:
    """The caption under a result, read at a glance:
    `v3 · "sunset glow" for <@U1> · 1808x1024 high · $0.15 · $4.85 left this month`.

    Args:
        requester: the mention of who asked (`<@U1>`: the adapter keeps only that one live).
        size: the real output size; quality as the provider ran it.
        region: what a `region=` mask covered, in words (`the top half`), when there was one.
    """
    quoted = _clean(prompt, CAPTION_PROMPT_CHARS).replace('"', "'")
    head = f'v{version} · "{quoted}"' if quoted else f"v{version}"
    if requester:
        head += f" for {requester}"
    parts = [head]
    if n_images > 1:
        parts.append(f"{n_images} images to choose from")
    parts.append(f"{size[0]}x{size[1]} {quality}")
    if region:
        parts.append(f"only {_clean(region, 60)} edited")
    parts.append(format_usd(cost_micros))
    parts.append(_money_left(spent_micros=spent_micros, cap_micros=cap_micros, period=period))
    text = " · ".join(parts)
    if note:
        text += "\n" + _clean(note, _DETAIL_CHARS)
    return _fit(text)


def failure_for_user(kind: str, job_id: str, *, detail: str | None = None) -> str:
    """Plain words for an edit that failed outside the person's control.

    Args:
        kind: a FailureKind value; anything unknown is treated as internal.
        job_id: the job (or the request's event key); people see only its short reference,
            which `editbot job REF` looks up.
        detail: for `rejected`, the image service's own message.
    """
    ref = f"(reference {short_ref(job_id)})"
    if kind == FailureKind.PROVIDER_DOWN:
        text = (
            "The image service is not answering right now; nothing was charged. "
            "Try again in a few minutes."
        )
    elif kind == FailureKind.TIMEOUT:
        text = (
            "The edit took too long and was stopped; nothing was charged. Try again, "
            "perhaps with quality=low or resolution=1k."
        )
    elif kind == FailureKind.REJECTED:
        said = _clean(detail or "", _DETAIL_CHARS).rstrip(".")
        reason = f": {said}." if said else " without saying why."
        text = (
            f"The image service refused this edit{reason} Nothing was charged. "
            "Change the request and try again."
        )
    else:
        text = (
            "Something went wrong on editbot's side; nothing was charged. Try again, and if "
            "it keeps failing, give this reference to whoever runs editbot."
        )
    return _fit(f"{text} {ref}")


# --- versions ------------------------------------------------------------------------------


def undo_done(version: int) -> str:
    """Said after `undo`: which version is current now."""
    return (
        f"Undone: v{version} is the current version again. Reply to keep editing from it, "
        "or say `versions` to see them all."
    )


def undo_nothing() -> str:
    """Said when `undo` has no earlier version to go back to."""
    return "Nothing to undo: this thread is at its first version."


def no_versions_yet() -> str:
    """Said for `undo`, `versions` or `compare` in a thread with no result yet."""
    return "There are no versions in this thread yet. Attach an image and say what to change."


def version_missing(n: int, latest: int) -> str:
    """Said for `vN ...` when the thread has no version N."""
    if latest < 1:
        return no_versions_yet()
    have = "only v1" if latest == 1 else f"v1 to v{latest}"
    return f"There is no v{n} in this thread; it has {have}."


# --- budgets -------------------------------------------------------------------------------


def budget_refused(
    *,
    spent_micros: int,
    reserved_micros: int,
    cap_micros: int,
    estimate_micros: int,
    period: str,
    who_can_raise: str,
    per_user: bool,
    cheaper: Sequence[tuple[str, int]] = (),
    buttons: bool = False,
) -> str:
    """Said instead of running an edit that would pass a cap; nothing was reserved.

    Args:
        who_can_raise: the people who may raise the cap, by name (used mid-sentence).
        per_user: the person's own cap in the channel was hit, not the channel's.
        cheaper: (option to add, its estimate) of cheaper edits that fit what is left.
        buttons: the message carries a button per cheaper edit (Action.CHEAPER).
    """
    whose = "your own budget in this channel" if per_user else "this channel's budget"
    left = max(0, cap_micros - spent_micros - reserved_micros)
    held = (
        f", and {format_usd(reserved_micros)} is held for edits in progress"
        if reserved_micros > 0
        else ""
    )
    offer = ""
    if cheaper:
        ways = " or ".join(f"`{what}` (up to {format_usd(micros)})" for what, micros in cheaper)
        how = "press its button to run it, or send it again" if buttons else "send it again"
        offer = f" It would fit with {ways}: {how} with that."
    return _fit(
        f"Not run: this edit could cost up to {format_usd(estimate_micros)}, and {whose} has "
        f"{format_usd(left)} left {period_phrase(period)} ({format_usd(spent_micros)} spent of "
        f"{format_usd(cap_micros)}{held}). Nothing was charged.{offer} "
        f"To raise the cap, ask {_clean(who_can_raise, _LABEL_CHARS * 2)}."
    )


def budget_warning(
    *, spent_micros: int, cap_micros: int, percent: int, period: str = "month", reserved: int = 0
) -> str:
    """Said once per period when spending and holds pass the warn threshold (`percent` of the
    cap); `reserved` (micros) is held for edits still running: it counts, so it is said."""
    held = f", {format_usd(reserved)} of it held for edits running," if reserved else ""
    return (
        f"Heads up: this channel has used {format_usd(spent_micros + reserved)}{held} "
        f"of its {format_usd(cap_micros)} budget {period_phrase(period)} (past {percent}%). "
        "Edits stop when it runs out; an admin can raise it with `/edit-budget set`, and "
        "`/edit-budget show` tells you where it stands."
    )


def budget_show(
    *,
    spent_micros: int,
    reserved_micros: int,
    cap_micros: int | None,
    period: str,
    per_user_cap_micros: int | None = None,
    top_users: Sequence[tuple[str, int]] = (),
    source: str | None = None,
) -> str:
    """The answer to `/edit-budget show`: spent, held, cap, period and the top spenders.

    Args:
        top_users: (label to show, e.g. a mention, micro-dollars spent), biggest first; the
            first ten are listed.
        source: where the cap comes from: `channel`, `workspace` or `default`.
    """
    now = period_phrase(period)
    if cap_micros is None:
        lines = [f"Channel spend {now}: {format_usd(spent_micros)} (no cap)."]
    else:
        left = max(0, cap_micros - spent_micros - reserved_micros)
        origin = f", {_SOURCES[source]}" if source in _SOURCES else ""
        lines = [
            f"Channel budget: {format_usd(cap_micros)} {_rate(period)}{origin}.",
            f"Spent {now}: {format_usd(spent_micros)} "
            f"({_percent(spent_micros, cap_micros)}); {format_usd(left)} left.",
        ]
    if reserved_micros > 0:
        lines.append(f"Held for edits in progress: {format_usd(reserved_micros)}.")
    if per_user_cap_micros is not None:
        lines.append(
            f"Each person may spend up to {format_usd(per_user_cap_micros)} {_rate(period)}."
        )
    if top_users:
        lines.append(f"Top spenders {now}:")
        for rank, (label, micros) in enumerate(top_users[:TOP_USERS_SHOWN], start=1):
            lines.append(f"{rank}. {_clean(label, _LABEL_CHARS)} - {format_usd(micros)}")
        if len(top_users) > TOP_USERS_SHOWN:
            lines.append(f"...and {len(top_users) - TOP_USERS_SHOWN} more.")
    else:
        lines.append(f"Nobody has spent anything {now}.")
    return _fit("\n".join(lines))


def budget_set_done(
    *, cap_micros: int | None, period: str, per_user_cap_micros: int | None = None
) -> str:
    """Confirms `/edit-budget set`: the new cap, its period and the per-person cap."""
    if cap_micros is None:
        text = "Budget removed: this channel has no spending cap."
        if per_user_cap_micros is not None:
            text += f" Each person may still spend up to {format_usd(per_user_cap_micros)} "
            text += f"{_rate(period)}."
    else:
        text = f"Budget set: {format_usd(cap_micros)} {_rate(period)} for this channel"
        if per_user_cap_micros is not None:
            text += f", at most {format_usd(per_user_cap_micros)} {_rate(period)} per person"
        text += "."
        if period != "none":
            text += f" What was already spent {period_phrase(period)} still counts."
    return text


def not_admin(who_can: str = "a workspace admin", verb: str = "set") -> str:
    """Said when someone who is not an admin tries to change the budget or export usage.

    Args:
        who_can: the people who can, by name (used mid-sentence).
    """
    what = "change the budget" if verb == "set" else "get the usage report"
    return (
        f"Only an admin can {what}: {_clean(who_can, _LABEL_CHARS * 2)}. "
        "You can see the budget with `/edit-budget show`."
    )
