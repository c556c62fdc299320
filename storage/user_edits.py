"""A person's recent edits, newest first (their Home view)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Job
from storage.sql import table_of

_jobs = table_of(Job)


async def recent_jobs(
    session: AsyncSession, *, platform: str, workspace: str, user: str, limit: int
) -> Sequence[Job]:
    """The person's last `limit` jobs in the workspace, newest first."""
    return (
        await session.exec(
            select(Job)
            .where(
                _jobs.c.platform == platform,
                _jobs.c.workspace == workspace,
                _jobs.c.user == user,
            )
            .order_by(_jobs.c.created_at.desc(), _jobs.c.id)
            .limit(limit)
        )
    ).all()
