"""Small dialect-aware SQL helpers shared by the storage modules."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import direct
from storage.db import Runner, is_postgres
from storage.direct import is_prebuilt, prebuilt

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def table_of(model: Any) -> Table:
    """The Core table of a SQLModel table class."""
    table: Table = model.__table__
    return table


async def insert_ignore(
    session: AsyncSession, *, model: Any, values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; True when the row was inserted."""
    statement = _insert_ignore(is_postgres(session), table_of(model), tuple(conflict))
    return (await run(session, statement, dict(values))).first() is not None


@functools.cache
def _insert_ignore(postgres: bool, table: Table, conflict: tuple[str, ...]) -> Executable:
    # Built once per table: the inserted columns come from the parameters' keys.
    insert = pg_insert if postgres else sqlite_insert
    # RETURNING tells inserted from skipped on every driver; rowcount is -1 under psycopg
    # when SQLAlchemy adds its implicit RETURNING of a serial key.
    return prebuilt(  # cached: one per table
        insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*(table.c[name] for name in conflict))
    )


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


async def run(
    session: Runner, statement: Executable, params: Params = None
) -> CursorResult[*tuple[Any, ...]]:
    """Execute a prebuilt Core statement in the session's transaction (or on a connection
    in autocommit: storage.db.autocommit_connection).

    Cheaper than `session.exec` (no ORM execution layer), so the statements every job runs
    use it. Pending ORM objects are flushed first, as `session.exec` would autoflush them.
    """
    if isinstance(session, AsyncConnection):
        connection = session
    else:
        if session.new or session.dirty or session.deleted:
            await session.flush()
        # run_sync, not execute: inside a SQLite write transaction a statement may run
        # without a trip to the driver's thread (storage.sqlite_driver), which execute()
        # calls an error. Every result comes back buffered on both drivers.
        connection = await _connection(session)
    if is_prebuilt(statement):  # the hot path's: on the driver's connection (storage.direct)
        done = await direct.run(connection, statement, params)
        if done is not None:
            return done  # type: ignore[return-value]
    return await connection.run_sync(_execute, statement, params)


def _execute(
    connection: Connection, statement: Executable, params: Params
) -> CursorResult[*tuple[Any, ...]]:
    result: CursorResult[*tuple[Any, ...]] = connection.execute(statement, params)
    return result


async def _connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection, asked for once per transaction: asking is a trip into
    SQLAlchemy's greenlet, and every statement a job runs comes through here."""
    transaction = _innermost(session)
    held = session.info.get(_HELD)
    if held is not None and transaction is not None and held[0] is transaction:
        connection: AsyncConnection = held[1]
        return connection
    # Asked of a savepoint (begin_nested) for the first time, this is what emits SAVEPOINT:
    # the cache is per savepoint, or a statement would run outside the one it belongs to.
    connection = await session.connection()
    session.info[_HELD] = (_innermost(session), connection)
    return connection


def _innermost(session: AsyncSession) -> Any:
    """The session's transaction statements run in now: its savepoint, if one is open."""
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


_HELD = "editbot_connection"


def rowcount(result: Any) -> int:
    """Rows an UPDATE/INSERT/DELETE touched."""
    assert isinstance(result, CursorResult | direct.DirectResult)
    return int(result.rowcount)
