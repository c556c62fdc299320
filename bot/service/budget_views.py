"""What `/edit-budget show`, `chart` and `usage` answer, and who can raise a cap.

`show` and `usage` are for the asker only; people are named by display name, never mentioned.
`chart` is for the channel, and names people and their spend only when an admin asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

from bot.core.budgets import BudgetDefaults
from bot.core.domain import Place
from bot.core.messages import budget_show
from bot.core.ports import BudgetReply, ChatPort
from bot.images.render import spend_chart
from bot.service.usage_report import finance_csv
from storage.budget_reports import UsageSummary, daily_spend, usage_summary
from storage.db import Sessions

log = logging.getLogger(__name__)

TOP_USERS = 10

PLATFORM_ADMINS = {"slack": "a workspace admin", "discord": "someone with Manage Server"}


async def _named_top(chat: ChatPort | None, place: Place, summary: UsageSummary) -> list:
    users = [user for user, _ in summary.top_users]
    names = await chat.display_names(place, users) if chat is not None and users else {}
    return [(names.get(user, user), micros) for user, micros in summary.top_users]


def _show_text(summary: UsageSummary, top: list) -> str:
    return budget_show(
        spent_micros=summary.spent_micros,
        reserved_micros=summary.reserved_micros,
        cap_micros=summary.cap_micros,
        period=summary.policy.period,
        per_user_cap_micros=summary.policy.user_cap_micros,
        top_users=top,
        source=summary.policy.source,
    )


async def show_reply(
    sessions: Sessions,
    *,
    chat: ChatPort | None,
    place: Place,
    defaults: BudgetDefaults,
    now: datetime,
) -> BudgetReply:
    """Spent, held, cap, period and top spenders (display names), for the asker only."""
    async with sessions() as session:
        summary = await usage_summary(
            session, scope=place.scope, defaults=defaults, now=now, top=TOP_USERS + 1
        )
    text = _show_text(summary, await _named_top(chat, place, summary))
    return BudgetReply(text=text + "\n`/edit-budget chart` posts a chart of daily spend here.")


async def chart_reply(
    sessions: Sessions,
    *,
    chat: ChatPort | None,
    place: Place,
    defaults: BudgetDefaults,
    now: datetime,
    is_admin: bool,
) -> BudgetReply:
    """Daily spend as a PNG for the channel; its comment names spenders only for an admin."""
    async with sessions() as session:
        summary = await usage_summary(
            session, scope=place.scope, defaults=defaults, now=now, top=TOP_USERS + 1
        )
        today = now.astimezone(UTC).date()
        since = period_start(summary.policy.period, today)
        days = await daily_spend(session, scope=place.scope, since=since, until=today)
    channel = await chat.channel_name(place) if chat is not None else place.channel
    daily_cap = summary.cap_micros if summary.policy.period == "day" else None
    chart = await asyncio.to_thread(
        spend_chart,
        days,
        cap_micros=summary.cap_micros,
        title=f"{channel} - budget",
        daily_cap_micros=daily_cap,
    )
    top = await _named_top(chat, place, summary) if is_admin else []
    comment = _show_text(summary, top)
    if not is_admin:
        # Without per-person figures: drop the "Nobody has spent" / spenders lines.
        comment = "\n".join(
            line for line in comment.splitlines() if not line.startswith("Nobody has spent")
        )
    return BudgetReply(
        text="Posted this channel's spend chart here.", chart_png=chart, chart_text=comment
    )


async def usage_reply(
    sessions: Sessions, *, chat: ChatPort | None, place: Place, since: date
) -> BudgetReply:
    """The finance report of this channel since `since`, for the asking admin only."""
    data, count = await finance_csv(
        sessions, scope_prefix=place.scope, since=since, chat=chat, exact=True
    )
    plural = "edit" if count == 1 else "edits"
    text = f"Usage of this channel since {since.isoformat()}: {count} {plural} (CSV, in dollars)."
    return BudgetReply(text=text, csv=data, csv_name=f"editbot-usage-since-{since.isoformat()}.csv")


def period_start(period: str, today: date) -> date:
    """First day the chart shows: the period's start, or a recent window for day / none."""
    if period == "month":
        return today.replace(day=1)
    if period == "week":
        return today - timedelta(days=today.weekday())
    return today - timedelta(days=13 if period == "day" else 29)


async def platform_admins(chat: ChatPort, place: Place) -> list[str]:
    """The platform's admins of the place's workspace (ChatPort.admins); none when the
    platform cannot say (logged), so a budget message is never lost over it."""
    try:
        return list(await chat.admins(place))
    except Exception:
        log.warning("could not list the admins of %s", place.workspace, exc_info=True)
        return []


async def who_can_raise(chat: ChatPort | None, place: Place, admin_ids: Collection[str]) -> str:
    """The people who can raise this channel's cap, by name (never a mention): EDITBOT_ADMINS
    and the platform's admins of the workspace."""
    platform_admin = PLATFORM_ADMINS.get(place.platform, "an admin")
    if chat is None:
        return platform_admin
    ids = list(dict.fromkeys([*sorted(admin_ids), *await platform_admins(chat, place)]))
    if not ids:
        return platform_admin
    try:
        names = await chat.display_names(place, ids)
    except Exception:
        return platform_admin
    # EDITBOT_ADMINS may list people of the other platform: keep those this one knows.
    known = [names[i] for i in ids if names.get(i, i) != i]
    if not known:
        return platform_admin
    listed = ", ".join(known[:3]) + (" and others" if len(known) > 3 else "")
    return f"{listed} or {platform_admin}"
