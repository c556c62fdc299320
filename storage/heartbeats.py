"""Process heartbeats: one row per live editbot process, refreshed every few seconds.

A process whose row went stale (or that the same host knows is gone) is dead; its job leases
(storage.queue.expire_leases_of) and inbox entries (storage.inbox.adopt) are taken over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import utcnow
from storage.models import Heartbeat
from storage.sql import table_of, upsert

FORGET_AFTER = timedelta(days=1)
"""Rows of dead processes are kept this long (what they held is taken over meanwhile)."""

_beats = table_of(Heartbeat)


@dataclass(frozen=True)
class Beat:
    """A process's last sign of life."""

    owner: str
    host: str
    pid: int
    beat_at: datetime


async def beat(
    session: AsyncSession,
    *,
    owner: str,
    host: str,
    pid: int,
    started_at: datetime,
    now: datetime | None = None,
) -> None:
    """Say `owner` is alive now."""
    values = {"owner": owner, "host": host, "pid": pid, "started_at": started_at}
    await upsert(
        session, model=Heartbeat, values={**values, "beat_at": now or utcnow()}, conflict=["owner"]
    )


async def beats(session: AsyncSession) -> list[Beat]:
    """Every process's last beat (the table holds one row per process of the last day)."""
    rows = await session.exec(select(_beats.c.owner, _beats.c.host, _beats.c.pid, _beats.c.beat_at))
    return [Beat(str(o), str(h), int(p), b) for o, h, p, b in rows.all()]


async def forget(
    session: AsyncSession, *, owners: Sequence[str] = (), now: datetime | None = None
) -> None:
    """Drop the rows of `owners`, and those of processes dead for FORGET_AFTER."""
    old = (now or utcnow()) - FORGET_AFTER
    await session.exec(delete(_beats).where(_beats.c.beat_at < old))
    if owners:
        await session.exec(delete(_beats).where(_beats.c.owner.in_(list(owners))))
