"""The inbox: requests acknowledged to a platform and not handled yet.

`accept` records the event key and the request in one transaction, before the platform is
told "got it"; the row is deleted in the transaction that queues the request's jobs (or once it
was answered otherwise). A row left by a process that died is `adopt`ed by a live one and run
again, so what was acknowledged is never lost and never queued twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.columns import utcnow
from storage.events import claim_event
from storage.models import Heartbeat, InboxEntry
from storage.sql import table_of

_inbox = table_of(InboxEntry)
_beats = table_of(Heartbeat)


async def accept(
    session: AsyncSession,
    *,
    key: str,
    platform: str,
    payload: str,
    owner: str,
    now: datetime | None = None,
) -> bool:
    """Claim `key` and keep `payload` for `owner`; False when the key was seen before."""
    now = now or utcnow()
    if not await claim_event(session, key, now=now):
        return False
    session.add(
        InboxEntry(key=key, platform=platform, payload=payload, owner=owner, created_at=now)
    )
    await session.flush()
    return True


async def done(session: AsyncSession, *, key: str) -> None:
    """The request was handled: forget it (a no-op when it is not in the inbox)."""
    await session.exec(delete(_inbox).where(_inbox.c.key == key))


async def adopt(
    session: AsyncSession,
    *,
    owners: Sequence[str],
    owner: str,
    platforms: Sequence[str],
    orphans_before: datetime | None = None,
    limit: int = 100,
) -> list[tuple[str, str, int]]:
    """Take over the entries of `owners` (dead processes) on `platforms`, and those older
    than `orphans_before` whose owner never beat (it died before its first heartbeat);
    (key, payload, attempts) of each, attempts counting this one."""
    if not platforms:
        return []
    whose: ColumnElement[bool] = _inbox.c.owner.in_(list(owners))
    if orphans_before is not None:
        beating = select(_beats.c.owner)
        orphan = and_(_inbox.c.owner.not_in(beating), _inbox.c.created_at < orphans_before)
        whose = or_(whose, orphan)
    mine = and_(whose, _inbox.c.platform.in_(list(platforms)))
    keys = select(_inbox.c.key).where(mine).limit(limit)
    # `mine` again outside: PostgreSQL re-checks it on a row another process just took.
    result = await session.exec(
        update(_inbox)
        .where(mine, _inbox.c.key.in_(keys.scalar_subquery()))
        .values(owner=owner, attempts=_inbox.c.attempts + 1)
        .returning(_inbox.c.key, _inbox.c.payload, _inbox.c.attempts)
    )
    return [(str(k), str(p), int(a)) for k, p, a in result.all()]


async def pending(session: AsyncSession) -> list[InboxEntry]:
    """Every entry not handled yet, oldest first (for tests and operators)."""
    rows = await session.exec(select(InboxEntry).order_by(_inbox.c.created_at))
    return list(rows.all())
