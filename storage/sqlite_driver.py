"""aiosqlite with one thread hop per statement.

aiosqlite runs each SQLite call on the connection's own thread and hands the result back to
the event loop. SQLAlchemy's adapter makes four such calls per statement: open a cursor,
execute, fetch the rows, close the cursor. Each waits for the event loop to come round again,
so under load (a hundred claim loops) a statement takes several loop turns, and SQLite's one
writer holds the database meanwhile: bench/bench_queue.py measured the write transactions
holding it for most of the run. This cursor does all four in one call on the connection's
thread and keeps the rows, description, rowcount and lastrowid it read there.

Inside a write transaction that asks for it (`write_session(inline=True)`: the hot path's
transactions of a few small statements), once BEGIN IMMEDIATE is done, this connection holds
SQLite's write lock and, in WAL mode, readers never block it: a statement cannot wait for
anyone, so it runs on the calling thread with no trip at all. A success's few small writes
take microseconds each, less than the trip and the event loop's turn it costs, and they are
what the one writer's turn is held for (bench/bench_queue.py). The BEGIN, which may wait for another
process, and the COMMIT, which may checkpoint the WAL to disk, still go to the thread. The
connection is opened with check_same_thread=False for that; its uses never overlap.

`create_engine` (storage/db.py) uses it for every `sqlite+aiosqlite` URL. It builds on
SQLAlchemy 2.1's asyncio adapter classes; pyproject.toml pins SQLAlchemy to 2.1.x for that.
Server-side cursors (`stream()`) keep SQLAlchemy's own adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Ran = tuple[Any, int, int | None, list[Any]]


def _run(
    connection: aiosqlite.Connection,
    operation: str,
    parameters: Any,
    many: bool,
    begin: str | None = None,
) -> _Ran:
    """On the connection's thread: BEGIN first when one is deferred to this statement, then
    execute, read everything, close the cursor."""
    if begin is not None:
        connection._conn.execute(begin)
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        # rowcount is only final once RETURNING rows are all read.
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def run_inline(
    adapted: OneHopConnection, operation: str, parameters: Any
) -> tuple[Any, int, list[Any]]:
    """One statement on the calling thread, in a transaction that `can_run_inline`: its
    description, rowcount and rows (storage.direct)."""
    adapted.ran = True
    try:
        description, rowcount, _, rows = _run(adapted._connection, operation, parameters, False)  # type: ignore[arg-type]
    except Exception as error:
        adapted._handle_exception(error)
    return description, rowcount, rows


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose execute is a single call on aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No super().__init__(): that opens an aiosqlite cursor, one more thread hop.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._call(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._call(operation, seq_of_parameters, many=True)

    def _call(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        inline = adapted.inline_next
        begin = adapted.take_begin()
        adapted.ran = True
        if begin is None and adapted.writing:
            # Inside a write transaction: this connection holds SQLite's write lock, so the
            # statement cannot wait for another writer. It runs here, without the trip.
            try:
                ran = _run(connection, operation, parameters, many)
            except Exception as error:
                self._adapt_connection._handle_exception(error)
            self._description, self._rowcount, self._lastrowid, rows = ran
            self._rows = collections.deque(rows)
            return
        try:
            ran = await_(connection._execute(_run, connection, operation, parameters, many, begin))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        adapted.writing = adapted.writing or (inline and begin == "BEGIN IMMEDIATE")
        self._description, self._rowcount, self._lastrowid, rows = ran
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the SQLite cursor was closed where it ran."""

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection with OneHopCursors, and a BEGIN that waits for the
    transaction's first statement to go with it in the same hop (`defer_begin`).

    A commit or rollback with no statement run since the last one has nothing to end and
    makes no hop either: the pool's reset-on-return rollback, after every commit, is one.
    """

    __slots__ = ("_begin", "inline_next", "ran", "writing")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None
        self.inline_next = False
        """The deferred BEGIN's transaction runs its statements inline (`defer_begin`)."""
        self.writing = False
        self.ran = True
        """A statement may have run since the last commit or rollback (so a transaction may
        be open): set by every cursor, cleared by commit and rollback."""

    def defer_begin(self, statement: str, *, inline: bool = False) -> None:
        """Run `statement` (BEGIN or BEGIN IMMEDIATE) right before the next statement, on the
        same trip to the connection's thread: one hop less per transaction. A transaction
        that runs no statement then never begins, and its commit or rollback has nothing to
        do. `inline`: once that BEGIN IMMEDIATE is done, the transaction's further
        statements run on the calling thread (this module's doc)."""
        self._begin = statement
        self.inline_next = inline

    def take_begin(self) -> str | None:
        """The deferred BEGIN, if any, now handed to the statement that runs it."""
        begin, self._begin = self._begin, None
        self.inline_next = False
        return begin

    def can_run_inline(self) -> bool:
        """Whether a statement may run on the calling thread now: inside a write transaction
        that runs its statements inline, its BEGIN IMMEDIATE done (storage.direct)."""
        return self.writing and self._begin is None

    def cursor(self, server_side: bool = False) -> Any:
        self.ran = self.ran or server_side
        if server_side and self._begin is not None:
            # A server-side cursor runs its own hops: the BEGIN goes first, on its own.
            self.cursor().execute("SELECT 1")
        return super().cursor(server_side)

    def commit(self) -> None:
        self.writing = False
        if self.take_begin() is None and self.ran:
            super().commit()
        self.ran = False

    def rollback(self) -> None:
        self.writing = False
        if self.take_begin() is None and self.ran:
            super().rollback()
        self.ran = False


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module object SQLAlchemy's aiosqlite dialect is given (`module=`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    """Pass as `module=` to create_async_engine for a sqlite+aiosqlite URL."""
    return OneHopDBAPI(aiosqlite, sqlite3)
