"""Read-only budget views for `budget show`, the daily spend chart and the CSV export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import bindparam
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import BudgetDefaults, Policy, period_key, user_scope, workspace_scope
from storage.budgets import Closed
from storage.columns import utcnow
from storage.db import Runner
from storage.direct import prebuilt
from storage.models import BudgetPolicy, LedgerEntry, LedgerKind, Usage
from storage.policies import PolicyRow, chosen_policy, effective_policy
from storage.sql import run, table_of

_usage = table_of(Usage)
_ledger = table_of(LedgerEntry)
_policies = table_of(BudgetPolicy)
_USAGE_NOW = prebuilt(
    select(_usage.c.spent_micros, _usage.c.reserved_micros).where(
        _usage.c.scope == bindparam("scope"), _usage.c.period_key == bindparam("key")
    )
)


@dataclass(frozen=True)
class UsageSummary:
    """A channel's money this period: spent, reserved, its policy, and the top spenders."""

    scope: str
    policy: Policy
    period_key: str
    spent_micros: int
    reserved_micros: int
    top_users: tuple[tuple[str, int], ...]

    @property
    def cap_micros(self) -> int:
        return self.policy.cap_micros


@dataclass(frozen=True)
class Standing:
    """A channel's spent and cap in its current period: what a result caption shows."""

    policy: Policy
    period_key: str
    spent_micros: int
    reserved_micros: int

    @property
    def cap_micros(self) -> int:
        return self.policy.cap_micros


async def channel_policy(session: Runner, *, scope: str, defaults: BudgetDefaults) -> Policy:
    """The policy a channel's budget follows: its own, its workspace's, else the defaults."""
    return await effective_policy(
        session,
        scope=scope,
        workspace_scope=workspace_scope(scope),
        default_cap_micros=defaults.cap_micros,
        default_period=defaults.period,
    )


def channel_policy_of(rows: Sequence[PolicyRow], *, scope: str, defaults: BudgetDefaults) -> Policy:
    """`channel_policy` from the policy rows a statement read (storage.policies.policy_rows)."""
    return chosen_policy(
        rows,
        scope=scope,
        workspace_scope=workspace_scope(scope),
        default_cap_micros=defaults.cap_micros,
        default_period=defaults.period,
    )


async def standing(
    session: Runner,
    *,
    scope: str,
    defaults: BudgetDefaults,
    now: datetime | None = None,
    known: Closed | None = None,
    policy: Policy | None = None,
) -> Standing:
    """The channel's policy and usage now. `known`: its usage row as a settle just left it,
    used instead of reading the row again when it is the current period's; `policy`: the
    channel's policy when it was read already (`channel_policy`)."""
    if policy is None:
        policy = await channel_policy(session, scope=scope, defaults=defaults)
    key = period_key(policy.period, now or utcnow())
    if known is not None and (known.scope, known.period_key) == (scope, key):
        return Standing(policy, key, known.spent_micros, known.reserved_micros)
    row = (await run(session, _USAGE_NOW, {"scope": scope, "key": key})).first()
    return Standing(policy, key, int(row[0]) if row else 0, int(row[1]) if row else 0)


async def usage_summary(
    session: AsyncSession,
    *,
    scope: str,
    defaults: BudgetDefaults,
    now: datetime | None = None,
    top: int = 5,
) -> UsageSummary:
    """Spent / reserved / cap of the channel's current period and its `top` users by spend."""
    now_ = await standing(session, scope=scope, defaults=defaults, now=now)
    prefix = user_scope(scope, "")
    users = (
        await session.exec(
            select(_usage.c.scope, _usage.c.spent_micros)
            .where(
                _usage.c.scope.startswith(prefix, autoescape=True),
                _usage.c.period_key == now_.period_key,
                _usage.c.spent_micros > 0,
            )
            .order_by(_usage.c.spent_micros.desc(), _usage.c.scope)
            .limit(top)
        )
    ).all()
    return UsageSummary(
        scope=scope,
        policy=now_.policy,
        period_key=now_.period_key,
        spent_micros=now_.spent_micros,
        reserved_micros=now_.reserved_micros,
        top_users=tuple((s[len(prefix) :], int(spent)) for s, spent in users),
    )


async def daily_spend(
    session: AsyncSession, *, scope: str, since: date, until: date
) -> list[tuple[date, int]]:
    """Settled spend per UTC day from `since` to `until` inclusive, zero-filled (for the chart)."""
    start = datetime.combine(since, time(), tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
    rows = (
        await session.exec(
            select(_ledger.c.created_at, _ledger.c.amount_micros).where(
                _ledger.c.scope == scope,
                _ledger.c.kind == LedgerKind.SETTLE,
                _ledger.c.created_at >= start,
                _ledger.c.created_at < end,
            )
        )
    ).all()
    days = {since + timedelta(days=i): 0 for i in range((until - since).days + 1)}
    for created, amount in rows:
        days[created.astimezone(UTC).date()] += int(amount)
    return sorted(days.items())


async def ledger_since(
    session: AsyncSession, *, scope_prefix: str, since: datetime
) -> Sequence[LedgerEntry]:
    """Ledger rows of scopes starting with `scope_prefix` since `since`, oldest first (CSV)."""
    return (
        await session.exec(
            select(LedgerEntry)
            .where(
                _ledger.c.scope.startswith(scope_prefix, autoescape=True),
                _ledger.c.created_at >= since,
            )
            .order_by(_ledger.c.created_at, _ledger.c.id)
        )
    ).all()


CSV_HEADER = ("created_at", "scope", "user", "job_id", "kind", "amount_micros", "period")


def ledger_csv_rows(entries: Sequence[LedgerEntry]) -> list[tuple[str, ...]]:
    """Ledger rows as CSV cells (header first); amounts stay integer micro-dollars."""
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    rows += [
        (
            e.created_at.astimezone(UTC).isoformat(),
            e.scope,
            e.user,
            e.job_id,
            str(e.kind),
            str(e.amount_micros),
            e.period_key,
        )
        for e in entries
    ]
    return rows


async def channel_scopes(session: AsyncSession, *, prefix: str, limit: int = 50) -> list[str]:
    """Channel scopes under `prefix` (`slack:T1:`) with spend or a budget of their own, sorted;
    per-user usage rows and workspace defaults (`:*`) are not channels."""
    used = select(_usage.c.scope).where(
        _usage.c.scope.startswith(prefix, autoescape=True),
        ~_usage.c.scope.contains("|", autoescape=True),
    )
    capped = select(_policies.c.scope).where(
        _policies.c.scope.startswith(prefix, autoescape=True),
        ~_policies.c.scope.endswith(":*", autoescape=True),
    )
    rows = (await session.exec(used.union(capped).limit(limit))).all()  # type: ignore[call-overload]
    return sorted(str(r[0]) for r in rows)
