"""What /metrics reads from the database at scrape time: the same answer from every process.

Jobs by status, the queue's depth and the age of its oldest job, finished jobs not yet
delivered, and money spent per scope. Four small aggregate queries; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from bot.core.jobs import JobStatus
from storage.db import Sessions
from storage.models import Job, LedgerEntry, LedgerKind
from storage.sql import table_of

_jobs = table_of(Job)
_ledger = table_of(LedgerEntry)
_DELIVERED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED)


@dataclass(frozen=True)
class OpsStats:
    """One scrape's worth of facts from the database."""

    jobs_by_status: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    oldest_queued_age_s: float = 0.0
    undelivered: int = 0
    spend_micros_by_scope: dict[str, int] = field(default_factory=dict)


async def ops_stats(sessions: Sessions, *, now: datetime) -> OpsStats:
    """Read the counts: every status (zero included), the queue, the undelivered, the spend."""
    async with sessions() as session:
        by_status: dict[str, int] = dict(
            (
                await session.exec(select(_jobs.c.status, func.count()).group_by(_jobs.c.status))
            ).all()
        )
        oldest = (
            await session.exec(
                select(func.min(_jobs.c.created_at)).where(_jobs.c.status == JobStatus.QUEUED)
            )
        ).one()
        undelivered = (
            await session.exec(
                select(func.count()).where(
                    _jobs.c.status.in_(_DELIVERED_STATUSES),
                    _jobs.c.delivered_at.is_(None),
                )
            )
        ).one()
        spend = (
            await session.exec(
                select(_ledger.c.scope, func.sum(_ledger.c.amount_micros))
                .where(_ledger.c.kind.in_((LedgerKind.SETTLE, LedgerKind.LOST)))
                .group_by(_ledger.c.scope)
            )
        ).all()
    jobs = {str(s.value): 0 for s in JobStatus}
    jobs.update({str(JobStatus(s)): int(n) for s, n in by_status.items()})
    oldest_at = oldest[0] if isinstance(oldest, tuple) else oldest
    return OpsStats(
        jobs_by_status=jobs,
        queued=jobs[JobStatus.QUEUED.value],
        oldest_queued_age_s=max(0.0, (now - oldest_at).total_seconds()) if oldest_at else 0.0,
        undelivered=int(undelivered[0] if isinstance(undelivered, tuple) else undelivered),
        spend_micros_by_scope={str(scope): int(total or 0) for scope, total in spend},
    )
