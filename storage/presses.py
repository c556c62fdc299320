"""Buttons acted on once: one conditional upsert per press, so it holds across processes."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import is_postgres
from storage.models import ButtonPress
from storage.sql import run, table_of

PRESS_WINDOW = timedelta(seconds=5)
"""A second press of the same button by the same person within this does nothing."""


@functools.cache
def _claim(postgres: bool) -> Executable:
    table = table_of(ButtonPress)
    insert = (pg_insert if postgres else sqlite_insert)(table).values(
        key=bindparam("key"), pressed_at=bindparam("now")
    )
    # The row is taken over only when its last press is older than the window: on PostgreSQL
    # a concurrent press waits for the row lock and then sees the new time, so one wins.
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={"pressed_at": insert.excluded.pressed_at},
        where=table.c.pressed_at < bindparam("cutoff"),
    ).returning(table.c.key)


async def claim_press(
    session: AsyncSession,
    *,
    job_id: str,
    action: str,
    user: str,
    now: datetime,
    window: timedelta = PRESS_WINDOW,
) -> bool:
    """True when this press is to be acted on; False for a repeat within `window`."""
    params = {"key": f"{job_id}:{action}:{user}"[:200], "now": now, "cutoff": now - window}
    return (await run(session, _claim(is_postgres(session)), params)).first() is not None
