"""Budgets: reserving, settling and refunding money in single conditional UPDATEs.

The functions that change money take a session inside `write_session`; the caller commits, so
a reservation and the job it pays for can be written in one transaction. A refusal leaves the
usage rows as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, bindparam, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import (
    BudgetDefaults,
    Policy,
    Refusal,
    Reservation,
    period_key,
    user_scope,
    workspace_scope,
)
from storage.closes import CLOSE_AND_MOVE_PG, CLOSE_SQLITE, MOVE_SQLITE
from storage.columns import utcnow
from storage.db import is_postgres
from storage.direct import prebuilt
from storage.models import LedgerEntry, LedgerKind, Usage
from storage.policies import effective_policy
from storage.sql import insert_ignore, rowcount, run, table_of


async def reserve_many(
    session: AsyncSession,
    *,
    estimates: Mapping[str, int],
    scope: str,
    user: str,
    defaults: BudgetDefaults,
    now: datetime | None = None,
) -> Reservation | Refusal:
    """Reserve several jobs' estimates (job id -> micros) all together or not at all."""
    if not estimates or any(e < 0 for e in estimates.values()):
        raise ValueError("estimates must be a non-empty mapping of non-negative amounts")
    now = now or utcnow()
    policy = await effective_policy(
        session,
        scope=scope,
        workspace_scope=workspace_scope(scope),
        default_cap_micros=defaults.cap_micros,
        default_period=defaults.period,
    )
    key = period_key(policy.period, now)
    total = sum(estimates.values())
    limit = await _take_from_usage(
        session, scope=scope, user=user, key=key, policy=policy, amount=total
    )
    if limit is not None:
        return await _refusal(
            session, limit=limit, scope=scope, user=user, key=key, policy=policy, estimate=total
        )
    await _write_reserve_entries(
        session, estimates=estimates, scope=scope, user=user, key=key, now=now
    )
    return await _reservation(
        session,
        job_ids=tuple(estimates),
        scope=scope,
        key=key,
        policy=policy,
        estimate=total,
        now=now,
    )


_Limit = Literal["channel", "user"]


async def _take_from_usage(
    session: AsyncSession, *, scope: str, user: str, key: str, policy: Policy, amount: int
) -> _Limit | None:
    """Reserve `amount` on the user's and the channel's usage rows, each within its cap.

    Returns the limit that refused, both rows' amounts as they were; None when both took it.
    """
    per_user = user_scope(scope, user)
    # User row first, then the channel's: _close locks them in the same order, so on PostgreSQL
    # a reservation and a settle in the same channel never wait on each other in a cycle.
    # The user row is always kept (for "top users"); it is capped only when a user cap is set.
    user_cap = policy.user_cap_micros
    if not await _reserve_row(session, scope=per_user, key=key, amount=amount, cap=user_cap):
        return "user"
    if not await _reserve_row(session, scope=scope, key=key, amount=amount, cap=policy.cap_micros):
        # Give the user row back what was just taken: same transaction, row already locked.
        await _add_usage(session, scope=per_user, key=key, reserved=-amount)
        return "channel"
    return None


async def _refusal(
    session: AsyncSession,
    *,
    limit: _Limit,
    scope: str,
    user: str,
    key: str,
    policy: Policy,
    estimate: int,
) -> Refusal:
    """Why `limit` refused: the amounts on its usage row, against its cap."""
    if limit == "user":
        row_scope, cap = user_scope(scope, user), policy.user_cap_micros
        # Only a capped user row can refuse: without a cap the UPDATE always matches.
        assert cap is not None
    else:
        row_scope, cap = scope, policy.cap_micros
    spent, reserved = await _usage_numbers(session, scope=row_scope, key=key)
    return Refusal(
        scope=scope,
        limit=limit,
        spent_micros=spent,
        reserved_micros=reserved,
        cap_micros=cap,
        estimate_micros=estimate,
        period_key=key,
        policy=policy,
    )


async def _write_reserve_entries(
    session: AsyncSession,
    *,
    estimates: Mapping[str, int],
    scope: str,
    user: str,
    key: str,
    now: datetime,
) -> None:
    """One RESERVE ledger row per job: what settle_usage and refund later close."""
    for job_id, amount in estimates.items():
        session.add(
            LedgerEntry(
                job_id=job_id,
                scope=scope,
                user=user,
                kind=LedgerKind.RESERVE,
                amount_micros=amount,
                period_key=key,
                created_at=now,
            )
        )
    await session.flush()


async def _reservation(
    session: AsyncSession,
    *,
    job_ids: tuple[str, ...],
    scope: str,
    key: str,
    policy: Policy,
    estimate: int,
    now: datetime,
) -> Reservation:
    """The reservation just made, with the channel's amounts after it and whether to warn."""
    warn = await _claim_warning(session, scope=scope, key=key, policy=policy, now=now)
    spent, reserved = await _usage_numbers(session, scope=scope, key=key)
    return Reservation(
        job_ids=job_ids,
        scope=scope,
        period_key=key,
        estimate_micros=estimate,
        spent_micros=spent,
        reserved_micros=reserved,
        cap_micros=policy.cap_micros,
        policy=policy,
        warn=warn,
    )


@dataclass(frozen=True)
class Closed:
    """A job's reservation closed: the channel's usage row of that period right after."""

    scope: str
    period_key: str
    spent_micros: int
    reserved_micros: int


async def settle_usage(
    session: AsyncSession, *, job_id: str, cost_micros: int, now: datetime | None = None
) -> Closed | None:
    """Replace a job's reservation by its actual cost; the channel's usage after it, or None
    when the job was already settled or refunded (closing happens once)."""
    if cost_micros < 0:
        raise ValueError("cost cannot be negative")
    return await _close(
        session, job_id=job_id, kind=LedgerKind.SETTLE, cost_micros=cost_micros, now=now
    )


async def refund(session: AsyncSession, *, job_id: str, now: datetime | None = None) -> bool:
    """Release a job's reservation; False if it was already settled or refunded."""
    closed = await _close(session, job_id=job_id, kind=LedgerKind.REFUND, cost_micros=0, now=now)
    return closed is not None


async def _close(
    session: AsyncSession,
    *,
    job_id: str,
    kind: LedgerKind,
    cost_micros: int,
    now: datetime | None,
) -> Closed | None:
    """The close row, then the usage rows (storage.closes); None when there is nothing to
    close (no reservation, or settled / refunded already)."""
    amount = cost_micros if kind is LedgerKind.SETTLE else None
    params = {"job_id": job_id, "kind": kind, "amount": amount, "now": now or utcnow()}
    if is_postgres(session):
        params["spent"] = cost_micros
        row = (await run(session, CLOSE_AND_MOVE_PG, params)).first()
        if row is None:
            return None
        scope, key, spent, reserved = row
        return Closed(scope, key, int(spent or 0), int(reserved or 0))
    written = (await run(session, CLOSE_SQLITE, params)).first()
    if written is None:
        return None
    scope, user, key = written
    both = {"job_id": job_id, "spent": cost_micros, "u_key": key}
    both |= {"u_user": user_scope(scope, user), "u_scope": scope}
    for row_scope, spent, reserved in (await run(session, MOVE_SQLITE, both)).all():
        if row_scope == scope:
            return Closed(scope, key, int(spent), int(reserved))
    return Closed(scope, key, 0, 0)  # the channel has no usage row of that period


async def _reserve_row(
    session: AsyncSession, *, scope: str, key: str, amount: int, cap: int | None
) -> bool:
    await insert_ignore(
        session,
        model=Usage,
        values={"scope": scope, "period_key": key, "spent_micros": 0, "reserved_micros": 0},
        conflict=["scope", "period_key"],
    )
    usage = table_of(Usage)
    where = [usage.c.scope == scope, usage.c.period_key == key]
    if cap is not None:
        where.append(usage.c.spent_micros + usage.c.reserved_micros + amount <= cap)
    result = await session.exec(
        update(usage).where(and_(*where)).values(reserved_micros=usage.c.reserved_micros + amount)
    )
    return rowcount(result) == 1


async def _add_usage(
    session: AsyncSession, *, scope: str, key: str, reserved: int = 0, spent: int = 0
) -> None:
    usage = table_of(Usage)
    await session.exec(
        update(usage)
        .where(usage.c.scope == scope, usage.c.period_key == key)
        .values(
            reserved_micros=usage.c.reserved_micros + reserved,
            spent_micros=usage.c.spent_micros + spent,
        )
    )


_usage = table_of(Usage)
_USAGE_NUMBERS = prebuilt(
    select(_usage.c.spent_micros, _usage.c.reserved_micros).where(
        _usage.c.scope == bindparam("scope"), _usage.c.period_key == bindparam("key")
    )
)


async def _usage_numbers(session: AsyncSession, *, scope: str, key: str) -> tuple[int, int]:
    row = (await run(session, _USAGE_NUMBERS, {"scope": scope, "key": key})).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def _claim_warning(
    session: AsyncSession, *, scope: str, key: str, policy: Policy, now: datetime
) -> bool:
    usage = table_of(Usage)
    crossed = (usage.c.spent_micros + usage.c.reserved_micros) * 100 >= (
        policy.cap_micros * policy.warn_percent
    )
    result = await session.exec(
        update(usage)
        .where(usage.c.scope == scope, usage.c.period_key == key, usage.c.warned_at.is_(None))
        .where(crossed)
        .values(warned_at=now)
    )
    return rowcount(result) == 1
