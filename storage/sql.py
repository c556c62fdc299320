"""Small dialect-aware SQL helpers shared by the storage modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import is_postgres


def table_of(model: Any) -> Table:
    """The Core table of a SQLModel table class."""
    table: Table = model.__table__
    return table


async def insert_ignore(
    session: AsyncSession, *, model: Any, values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; True when the row was inserted."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    table = table_of(model)
    # RETURNING tells inserted from skipped on every driver; rowcount is -1 under psycopg
    # when SQLAlchemy adds its implicit RETURNING of a serial key.
    stmt = (
        insert(table)
        .values(dict(values))
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*(table.c[name] for name in conflict))
    )
    result = await session.exec(stmt)
    return result.first() is not None


async def upsert(
    session: AsyncSession,
    *,
    model: Any,
    values: Mapping[str, Any],
    conflict: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET every other given column."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = insert(table_of(model)).values(dict(values))
    changes = {k: stmt.excluded[k] for k in values if k not in conflict}
    await session.exec(stmt.on_conflict_do_update(index_elements=list(conflict), set_=changes))


def rowcount(result: Any) -> int:
    """Rows an UPDATE/INSERT/DELETE touched."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
