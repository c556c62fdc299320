"""The budget command: `show`, `chart`, `set <usd> [period] [user=<usd>] [warn=<percent>]`,
`usage`.

Parsing is pure; the actions take the session factory, so `/edit-budget` in chat and
`editbot budget` / `editbot usage` on the command line run the same code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from bot.core.budgets import PERIODS, BudgetDefaults, workspace_scope
from bot.core.domain import Place
from bot.core.errors import UserInputError
from bot.core.messages import budget_set_done, not_admin
from bot.core.ports import BudgetReply, ChatPort
from bot.service.budget_views import chart_reply, show_reply, usage_reply, who_can_raise
from storage.budget_reports import ledger_csv_rows, ledger_since
from storage.db import Sessions, write_session
from storage.policies import effective_policy, set_policy

USAGE = (
    "Usage: `/edit-budget show` (only you see it), `/edit-budget chart` (posts a chart here), "
    "and for admins `/edit-budget set <usd> [day|week|month|none] [user=<usd>] "
    "[warn=<percent>]` (e.g. `/edit-budget set 50 month user=10`) and "
    "`/edit-budget usage [since YYYY-MM-DD]` (a CSV only you get)."
)
USAGE_DAYS = 30
"""`usage` without a date exports this many days."""
MAX_USD = Decimal(1_000_000)


@dataclass(frozen=True)
class BudgetChange:
    """A parsed `set`: the new cap, and the period / per-user cap / warn threshold if given.

    `user_cap_micros` is None to keep the current per-user cap; `clear_user_cap` drops it.
    """

    cap_micros: int
    period: str | None = None
    user_cap_micros: int | None = None
    clear_user_cap: bool = False
    warn_percent: int | None = None


def parse_usd(text: str) -> int:
    """`12.50`, `$12.5` or `12` dollars as micro-dollars (Decimal, never float)."""
    cleaned = text.strip().removeprefix("$").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise UserInputError(f"`{text[:20]}` is not an amount in dollars. {USAGE}") from None
    if not value.is_finite() or value < 0 or value > MAX_USD:
        raise UserInputError(f"`{text[:20]}` is not an amount between $0 and $1,000,000.")
    return int((value * 1_000_000).to_integral_value())


def parse_budget_set(words: list[str]) -> BudgetChange:
    """The words after `set`; UserInputError with the usage line on anything else."""
    if not words:
        raise UserInputError(f"Say the new cap in dollars. {USAGE}")
    cap = parse_usd(words[0])
    period: str | None = None
    user_cap: int | None = None
    clear_user = False
    warn: int | None = None
    for word in words[1:]:
        key, eq, value = word.lower().partition("=")
        if not eq and key in PERIODS:
            period = key
        elif eq and key == "user":
            if value in ("none", "off", ""):
                clear_user = True
            else:
                user_cap = parse_usd(value)
        elif eq and key == "warn":
            digits = value.removesuffix("%")
            if not digits.isdigit() or not 1 <= int(digits) <= 100:
                raise UserInputError("`warn=` takes a percentage from 1 to 100, e.g. `warn=80`.")
            warn = int(digits)
        else:
            raise UserInputError(f"I don't understand `{word[:30]}`. {USAGE}")
    return BudgetChange(
        cap_micros=cap,
        period=period,
        user_cap_micros=user_cap,
        clear_user_cap=clear_user,
        warn_percent=warn,
    )


def parse_since(words: list[str], *, today: date) -> date:
    """`[since] YYYY-MM-DD` -> that date; nothing -> USAGE_DAYS ago."""
    if words and words[0].lower() == "since":
        words = words[1:]
    if not words:
        return today - timedelta(days=USAGE_DAYS)
    try:
        return date.fromisoformat(words[0])
    except ValueError:
        raise UserInputError(f"`{words[0][:20]}` is not a date like 2026-05-01. {USAGE}") from None


async def show_budget(
    sessions: Sessions, *, scope: str, defaults: BudgetDefaults, now: datetime, title: str
) -> BudgetReply:
    """For operators (`editbot budget show`): the summary with ids, and the daily chart."""
    platform, workspace, channel = (scope.split(":", 2) + ["", ""])[:3]
    place = Place(platform=platform, workspace=workspace, channel=channel, user="cli")
    shown = await show_reply(sessions, chat=None, place=place, defaults=defaults, now=now)
    chart = await chart_reply(
        sessions, chat=None, place=place, defaults=defaults, now=now, is_admin=True
    )
    return BudgetReply(
        text=shown.text.split("\n`/edit-budget chart`")[0], chart_png=chart.chart_png
    )


async def set_budget(
    sessions: Sessions,
    *,
    scope: str,
    change: BudgetChange,
    defaults: BudgetDefaults,
    by: str | None,
    now: datetime,
) -> str:
    """Write the policy of `scope`; unspecified parts keep the current policy's values."""
    async with write_session(sessions) as session:
        current = await effective_policy(
            session,
            scope=scope,
            workspace_scope=workspace_scope(scope),
            default_cap_micros=defaults.cap_micros,
            default_period=defaults.period,
        )
        period = change.period or current.period
        user_cap = None if change.clear_user_cap else change.user_cap_micros
        if user_cap is None and not change.clear_user_cap:
            user_cap = current.user_cap_micros
        await set_policy(
            session,
            scope=scope,
            period=period,
            cap_micros=change.cap_micros,
            user_cap_micros=user_cap,
            warn_percent=change.warn_percent or current.warn_percent,
            updated_by=by,
            now=now,
        )
    return budget_set_done(
        cap_micros=change.cap_micros, period=period, per_user_cap_micros=user_cap
    )


async def usage_csv(
    sessions: Sessions, *, scope_prefix: str, since: date, exact: bool = False
) -> tuple[bytes, int]:
    """Ledger rows since `since` as CSV bytes, and how many rows.

    Args:
        exact: only the scope itself (a channel), not every scope that starts with it
            (`slack:T1:C1` must not include `slack:T1:C10`).
    """
    start = datetime.combine(since, time(), tzinfo=UTC)
    async with sessions() as session:
        entries = await ledger_since(session, scope_prefix=scope_prefix, since=start)
    if exact:
        entries = [e for e in entries if e.scope == scope_prefix]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(ledger_csv_rows(entries))
    return out.getvalue().encode(), len(entries)


async def budget_command(
    sessions: Sessions,
    *,
    place: Place,
    args: str,
    is_admin: bool,
    defaults: BudgetDefaults,
    now: datetime,
    chat: ChatPort | None = None,
    admin_ids: Collection[str] = (),
) -> BudgetReply:
    """`/edit-budget ARGS` for the channel of `place`; bad input gets the usage line.

    Args:
        chat: the platform's ChatPort, for people's and channels' names (never mentions).
        admin_ids: EDITBOT_ADMINS, named to non-admins as the people who can change things.
    """
    words = args.split()
    verb = words[0].lower() if words else "show"
    try:
        if verb == "show":
            return await show_reply(sessions, chat=chat, place=place, defaults=defaults, now=now)
        if verb == "chart":
            return await chart_reply(
                sessions, chat=chat, place=place, defaults=defaults, now=now, is_admin=is_admin
            )
        if verb in ("help", "?"):
            return BudgetReply(text=USAGE)
        if verb in ("set", "usage") and not is_admin:
            who = await who_can_raise(chat, place, admin_ids)
            return BudgetReply(text=not_admin(who, verb))
        if verb == "set":
            change = parse_budget_set(words[1:])
            text = await set_budget(
                sessions,
                scope=place.scope,
                change=change,
                defaults=defaults,
                by=place.user,
                now=now,
            )
            return BudgetReply(text=text)
        if verb == "usage":
            since = parse_since(words[1:], today=now.astimezone(UTC).date())
            return await usage_reply(sessions, chat=chat, place=place, since=since)
    except UserInputError as exc:
        return BudgetReply(text=str(exc))
    return BudgetReply(text=f"Unknown budget command `{verb[:20]}`. {USAGE}")
