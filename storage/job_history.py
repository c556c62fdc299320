"""What an operator reads about one job: its row and its money, found by a short reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Job, LedgerEntry
from storage.sql import table_of

_jobs = table_of(Job)
_ledger = table_of(LedgerEntry)
MAX_MATCHES = 5


@dataclass(frozen=True)
class JobHistory:
    """A job row and its ledger rows (oldest first)."""

    job: Job
    ledger: Sequence[LedgerEntry]


async def jobs_by_ref(session: AsyncSession, ref: str) -> list[JobHistory]:
    """The jobs whose id starts with `ref` (a short reference or a whole id), at most
    MAX_MATCHES, newest first, each with its ledger rows."""
    prefix = ref.strip().lower().replace("-", "")
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        return []
    jobs = (
        await session.exec(
            select(Job)
            .where(_jobs.c.id.startswith(prefix, autoescape=True))
            .order_by(_jobs.c.created_at.desc())
            .limit(MAX_MATCHES)
        )
    ).all()
    found = []
    for job in jobs:
        ledger = (
            await session.exec(
                select(LedgerEntry)
                .where(_ledger.c.job_id == job.id)
                .order_by(_ledger.c.created_at, _ledger.c.id)
            )
        ).all()
        found.append(JobHistory(job, ledger))
    return found
