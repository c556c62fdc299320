"""Budget policies: the cap a channel (or a workspace default) follows, looked up and set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import DEFAULT_WARN_PERCENT, PERIODS, Policy
from storage.columns import utcnow
from storage.direct import prebuilt
from storage.models import BudgetPolicy
from storage.sql import run, table_of, upsert

_policies = table_of(BudgetPolicy)
_POLICIES = prebuilt(
    select(
        _policies.c.scope,
        _policies.c.period,
        _policies.c.cap_micros,
        _policies.c.user_cap_micros,
        _policies.c.warn_percent,
    ).where(_policies.c.scope.in_([bindparam("scope"), bindparam("workspace")]))
)
"""The channel's row and the workspace's: two fixed parameters, no IN list to expand per run."""


async def effective_policy(
    session: AsyncSession,
    *,
    scope: str,
    workspace_scope: str,
    default_cap_micros: int,
    default_period: str,
) -> Policy:
    """The channel's policy, else the workspace default, else the configured default."""
    params = {"scope": scope, "workspace": workspace_scope}
    rows = (await run(session, _POLICIES, params)).all()
    by_scope = {row.scope: row for row in rows}
    for key, source in ((scope, "channel"), (workspace_scope, "workspace")):
        row = by_scope.get(key)
        if row is not None:
            return Policy(
                scope=row.scope,
                period=row.period,
                cap_micros=row.cap_micros,
                user_cap_micros=row.user_cap_micros,
                warn_percent=row.warn_percent,
                source=source,  # type: ignore[arg-type]
            )
    return Policy(scope=workspace_scope, period=default_period, cap_micros=default_cap_micros)


async def set_policy(
    session: AsyncSession,
    *,
    scope: str,
    period: str,
    cap_micros: int,
    user_cap_micros: int | None = None,
    warn_percent: int = DEFAULT_WARN_PERCENT,
    updated_by: str | None = None,
    now: datetime | None = None,
) -> None:
    """Create or replace the policy of a channel scope or a workspace default (`...:*`)."""
    if period not in PERIODS:
        raise ValueError(f"unknown budget period {period!r}")
    if cap_micros < 0 or (user_cap_micros is not None and user_cap_micros < 0):
        raise ValueError("caps cannot be negative")
    await upsert(
        session,
        model=BudgetPolicy,
        values={
            "scope": scope,
            "period": period,
            "cap_micros": cap_micros,
            "user_cap_micros": user_cap_micros,
            "warn_percent": warn_percent,
            "updated_by": updated_by,
            "updated_at": now or utcnow(),
        },
        conflict=["scope"],
    )
