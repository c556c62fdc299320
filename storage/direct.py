"""The hot path's statements run on the driver's own connection, below SQLAlchemy's execution.

Every job runs a few statements (a claim and its inputs, a success's writes). Through
`Connection.execute` one cost about 220 us of CPU, the same statement on psycopg's
connection about 110 us (bench/bench_queue.py, `--profile`): half of a statement's cost was
SQLAlchemy's per-execution work (the cache key, the execution context, the result's
metadata), done again for a statement that never changes. A statement marked `prebuilt` is
compiled here once per dialect and set of parameter names, by SQLAlchemy's own compiler (the
same SQL, casts, bind and result processors), and each run is the driver's execute and those
processors.

Where it runs: on PostgreSQL in any transaction (psycopg's AsyncConnection, awaited here,
with no trip into SQLAlchemy's greenlet); on SQLite only once a write transaction's
statements run inline (storage.sqlite_driver): there the statement runs on the calling
thread. Anything else goes SQLAlchemy's way (`run` returns None): a SQLite read, a
transaction whose BEGIN is still deferred, several parameter sets, a statement whose
compiled form needs Python-side defaults or escaped names.

What stays as SQLAlchemy does it: errors come out as its exceptions (IntegrityError,
OperationalError, ...), `before_cursor_execute` listeners see every statement, and the
result answers `first`, `one`, `all`, `scalars`, `mappings` and `rowcount` as a
CursorResult does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from psycopg.pq import ExecStatus
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from storage.sqlite_driver import OneHopConnection, run_inline

E = TypeVar("E", bound=Executable)

_PREBUILT: dict[int, Executable] = {}


def prebuilt(statement: E) -> E:
    """Mark a statement built once (a module's constant, a cached builder's answer) as one
    `storage.sql.run` may run directly. Marked statements are kept for good: never mark
    one built per call."""
    _PREBUILT[id(statement)] = statement
    return statement


def is_prebuilt(statement: Executable) -> bool:
    return _PREBUILT.get(id(statement)) is statement


class DirectResult(IteratorResult[Any]):
    """The rows a direct statement returned, with the rowcount its driver reported."""

    def __init__(self, metadata: SimpleResultMetaData, rows: list[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


@dataclass
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None
    """The parameters' order on a positional driver (SQLite's qmark)."""
    binds: Mapping[str, Callable[[Any], Any]]
    compiled: SQLCompiler
    expands: bool
    """IN (...) of a list: the SQL is expanded per run (construct_expanded_state)."""
    metadata: SimpleResultMetaData | None = None
    rows: Callable[[list[Any]], list[Any]] | None = None
    """The result processors, as a function of the rows; set at the first run, from the
    driver's description of its columns."""
    usable: bool = field(default=True)


_compiled: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _compile(statement: Executable, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
    key = (id(statement), dialect.name, names)
    found = _compiled.get(key)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    usable = not (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.escaped_bind_names
        or compiled.literal_execute_params
    )
    made = _Compiled(
        sql=compiled.string,
        positions=tuple(compiled.positiontup) if compiled.positional else None,  # type: ignore[arg-type]
        binds=compiled._bind_processors,  # type: ignore[arg-type]
        compiled=compiled,
        expands=bool(compiled.post_compile_params),
        usable=usable,
    )
    _compiled[key] = made
    return made


async def run(
    connection: AsyncConnection, statement: Executable, params: Any
) -> DirectResult | None:
    """`statement` (marked `prebuilt`) run on the driver's connection, or None when it must
    go SQLAlchemy's way (the module doc)."""
    if isinstance(params, Sequence):
        if len(params) != 1:
            return None
        params = params[0]
    params = params or {}
    sync = connection.sync_connection
    fairy = sync._dbapi_connection if sync is not None else None
    if sync is None or fairy is None:
        return None
    dialect = sync.dialect
    adapted: Any = fairy.dbapi_connection
    sqlite = isinstance(adapted, OneHopConnection)
    if sqlite and not adapted.can_run_inline():
        return None
    if not sqlite and dialect.name != "postgresql":
        return None
    entry = _compile(statement, dialect, tuple(sorted(params)))
    if not entry.usable:
        return None
    try:
        sql, args = _arguments(entry, params)
    except Exception as error:  # a bind processor's refusal, wrapped as SQLAlchemy wraps it
        raise exc.StatementError(str(error), entry.sql, params, error) from error
    if sync._has_events or sync.engine._has_events:
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    error_class = dialect.loaded_dbapi.Error
    try:
        if sqlite:
            description, rowcount, rows = run_inline(adapted, sql, args)
        else:
            driver, describe = fairy.driver_connection, entry.rows is None
            description, rowcount, rows = await _run_psycopg(driver, sql, args, describe=describe)
    except error_class as error:
        raise exc.DBAPIError.instance(sql, args, error, error_class, dialect=dialect) from error
    if entry.rows is None:
        _learn_results(entry, dialect, description)
    assert entry.metadata is not None and entry.rows is not None
    return DirectResult(entry.metadata, entry.rows(rows) if rows else rows, rowcount)


def _arguments(entry: _Compiled, params: Mapping[str, Any]) -> tuple[str, Any]:
    """The SQL and the driver's parameters, processed as SQLAlchemy would process them."""
    compiled = entry.compiled
    values: Mapping[str, Any] = compiled.construct_params(params, escape_names=False)
    sql, binds, positions = entry.sql, entry.binds, entry.positions
    if entry.expands:
        state = compiled._process_parameters_for_postcompile(dict(values))
        sql, values = state.statement, state.parameters
        binds = {**binds, **state.processors}
        positions = tuple(state.positiontup) if state.positiontup is not None else None
    if positions is not None:
        return sql, tuple(
            binds[name](values[name]) if name in binds else values[name] for name in positions
        )
    return sql, {
        name: binds[name](value) if name in binds else value for name, value in values.items()
    }


async def _run_psycopg(
    driver: Any, sql: str, args: Any, *, describe: bool
) -> tuple[Any, int, list[Any]]:
    """(the description when `describe`, the rowcount, the rows). A description is a
    Column object per column, built on each asking: only the first run of a statement
    needs it (_learn_results)."""
    cursor = driver.cursor()
    try:
        await cursor.execute(sql, args)
        result = cursor.pgresult
        returned = result is not None and result.status == ExecStatus.TUPLES_OK
        rows = await cursor.fetchall() if returned else []
        return cursor.description if describe else None, cursor.rowcount, rows
    finally:
        await cursor.close()


def _learn_results(entry: _Compiled, dialect: Dialect, description: Any) -> None:
    """The result's keys and processors, from the compiled columns and the driver's types."""
    columns = entry.compiled._result_columns or []
    described = list(description or ())
    if len(columns) == len(described):
        keys = [column.keyname for column in columns]
        processors = [
            column.type._cached_result_processor(dialect, d[1])
            for column, d in zip(columns, described, strict=True)
        ]
    else:  # not seen for a prebuilt statement: the driver's names, unprocessed
        keys = [d[0] for d in described]
        processors = [None] * len(described)
    entry.metadata = SimpleResultMetaData(keys)
    if not any(processors):
        entry.rows = _unchanged
        return
    pairs = list(enumerate(processors))

    def processed(rows: list[Any]) -> list[Any]:
        return [tuple(p(row[i]) if p is not None else row[i] for i, p in pairs) for row in rows]

    entry.rows = processed


def _unchanged(rows: list[Any]) -> list[Any]:
    return rows
