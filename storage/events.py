"""Platform event dedupe: the first to insert an event key handles the event."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import utcnow
from storage.models import ProcessedEvent
from storage.sql import insert_ignore


async def claim_event(session: AsyncSession, key: str, *, now: datetime | None = None) -> bool:
    """Record `key` as handled; False when it already was (a retry or a duplicate).

    Race-safe: the primary key decides. Call it in the write transaction that creates the job,
    so a crash before commit leaves the key free for the platform's retry.
    """
    return await insert_ignore(
        session,
        model=ProcessedEvent,
        values={"key": key, "created_at": now or utcnow()},
        conflict=["key"],
    )
