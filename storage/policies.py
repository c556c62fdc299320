"""Budget policies: the cap a channel (or a workspace default) follows, looked up and set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, func, select, type_coerce
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import DEFAULT_WARN_PERCENT, PERIODS, Policy
from storage.columns import utcnow
from storage.db import Runner
from storage.direct import prebuilt
from storage.models import BudgetPolicy
from storage.sql import run, table_of, upsert

_policies = table_of(BudgetPolicy)
_COLUMNS = (
    _policies.c.scope,
    _policies.c.period,
    _policies.c.cap_micros,
    _policies.c.user_cap_micros,
    _policies.c.warn_percent,
)
_POLICIES = prebuilt(
    select(*_COLUMNS).where(_policies.c.scope.in_([bindparam("scope"), bindparam("workspace")]))
)
"""The channel's row and the workspace's: two fixed parameters, no IN list to expand per run."""

PolicyRow = Sequence[Any]
"""A policy's scope, period, cap_micros, user_cap_micros and warn_percent (`policy_rows`)."""


async def effective_policy(
    session: Runner,
    *,
    scope: str,
    workspace_scope: str,
    default_cap_micros: int,
    default_period: str,
) -> Policy:
    """The channel's policy, else the workspace default, else the configured default."""
    return chosen_policy(
        await policy_rows(session, scope=scope, workspace_scope=workspace_scope),
        scope=scope,
        workspace_scope=workspace_scope,
        default_cap_micros=default_cap_micros,
        default_period=default_period,
    )


async def policy_rows(session: Runner, *, scope: str, workspace_scope: str) -> list[PolicyRow]:
    """The policy rows of the channel and of its workspace (none, one or both)."""
    params = {"scope": scope, "workspace": workspace_scope}
    return list((await run(session, _POLICIES, params)).all())


def policy_rows_json(
    scope: BindParameter[str], workspace: BindParameter[str]
) -> ColumnElement[Any]:
    """`policy_rows` as a column for a statement that reads them beside its writes
    (storage.successes): a JSON array of the rows' arrays, NULL for none."""
    row = func.json_build_array(*_COLUMNS)
    rows = select(func.json_agg(row)).where(_policies.c.scope.in_([scope, workspace]))
    return type_coerce(rows.scalar_subquery(), JSON)


def chosen_policy(
    rows: Iterable[PolicyRow],
    *,
    scope: str,
    workspace_scope: str,
    default_cap_micros: int,
    default_period: str,
) -> Policy:
    """Of a channel's `policy_rows`: its own, else its workspace's, else the default."""
    by_scope = {row[0]: row for row in rows}
    for key, source in ((scope, "channel"), (workspace_scope, "workspace")):
        row = by_scope.get(key)
        if row is not None:
            return Policy(
                scope=row[0],
                period=row[1],
                cap_micros=row[2],
                user_cap_micros=row[3],
                warn_percent=row[4],
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
