"""Lost attempts: a provider call whose answer died with its process is still billed.

Each one is a LOST ledger row at the job's reserved estimate, added to the spent of the
usage rows the reservation went to (channel and user), so the ledger and the budget agree
with the provider's invoice. The job's own settle or refund comes later, as usual.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.budgets import user_scope
from storage.columns import utcnow
from storage.models import LedgerEntry, LedgerKind, Usage
from storage.sql import table_of

_ledger = table_of(LedgerEntry)
_usage = table_of(Usage)


async def record_lost(
    session: AsyncSession, *, job_id: str, attempts: int, now: datetime | None = None
) -> int:
    """Make the job's LOST rows number `attempts` (attempts that died); how many were added.

    Idempotent: a second call with the same count adds nothing. A job without a reservation
    (nothing was reserved, so nothing reached the provider) adds nothing.
    """
    reserve = (
        await session.exec(
            select(_ledger.c.scope, _ledger.c.user, _ledger.c.amount_micros, _ledger.c.period_key)
            .where(_ledger.c.job_id == job_id, _ledger.c.kind == LedgerKind.RESERVE)
            .limit(1)
        )
    ).first()
    if reserve is None:
        return 0
    known = (
        await session.exec(
            select(func.count())
            .select_from(_ledger)
            .where(_ledger.c.job_id == job_id, _ledger.c.kind == LedgerKind.LOST)
        )
    ).one()
    missing = attempts - int(known)
    if missing <= 0:
        return 0
    scope, user, amount, key = reserve
    now = now or utcnow()
    for _ in range(missing):
        session.add(
            LedgerEntry(
                job_id=job_id,
                scope=scope,
                user=user,
                kind=LedgerKind.LOST,
                amount_micros=amount,
                period_key=key,
                created_at=now,
            )
        )
    # User row first, then the channel's: the order reservations lock them in.
    for row_scope in (user_scope(scope, user), scope):
        await session.exec(
            update(_usage)
            .where(_usage.c.scope == row_scope, _usage.c.period_key == key)
            .values(spent_micros=_usage.c.spent_micros + amount * missing)
        )
    return missing


async def lost_attempts(session: AsyncSession, *, job_id: str) -> int:
    """LOST rows of a job."""
    count = await session.exec(
        select(func.count())
        .select_from(_ledger)
        .where(_ledger.c.job_id == job_id, _ledger.c.kind == LedgerKind.LOST)
    )
    return int(count.one())
