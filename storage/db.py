"""Database engine, sessions and migrations: SQLite (aiosqlite) or PostgreSQL (psycopg 3).

Every transaction that writes goes through `write_session`: on SQLite it starts with
BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing with
"database is locked" when a read lock cannot be upgraded.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sqlite_driver import OneHopConnection, one_hop_dbapi

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The advisory lock schema upgrades take on PostgreSQL: any 64-bit number no other
# application on the database uses ("editbot" as ASCII bytes).
UPGRADE_LOCK_KEY = int.from_bytes(b"editbot", "big")
# Execution option that write_session sets; the SQLite "begin" hook reads it.
_WRITE_OPTION = "editbot_write"
# Execution option: the write transaction's statements may run on the calling thread
# (storage.sqlite_driver); only for transactions of a few small statements.
_INLINE_OPTION = "editbot_inline"

Sessions = async_sessionmaker[AsyncSession]
"""A session factory, as returned by `session_factory`."""
Session = AsyncSession
"""A session, as the storage functions take it (callers above storage name it by this)."""
Runner = AsyncSession | AsyncConnection
"""What a one-statement write's work runs on: a session in its transaction, or on
PostgreSQL a connection in autocommit with no ORM session around it (autocommit_connection)."""


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url` (sqlite+aiosqlite:// or postgresql+psycopg://)."""
    if make_url(url).drivername == "sqlite+aiosqlite":
        kwargs.setdefault("module", one_hop_dbapi())  # one thread hop per statement
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so the "begin" hook below decides its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        write = options.get(_WRITE_OPTION, False)
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, OneHopConnection):
            # Sent with the transaction's first statement, in its thread hop (sqlite_driver).
            inline = write and options.get(_INLINE_OPTION, False)
            dbapi_connection.defer_begin(begin, inline=inline)
        else:
            conn.exec_driver_sql(begin)


def session_factory(engine: AsyncEngine) -> Sessions:
    """Sessions bound to `engine` whose objects stay usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def write_session(sessions: Sessions, *, inline: bool = False) -> AsyncIterator[AsyncSession]:
    """A session in a write transaction: committed on exit, rolled back on an exception.

    On SQLite the writers of this process also take turns on an asyncio lock first. SQLite
    lets one writer in at a time anyway; without the lock the others would wait in SQLite's
    busy handler, which sleeps in steps of up to 100 ms and so leaves the database idle while
    writers queue (bench/bench_queue.py). Other processes still queue on the busy timeout.

    `inline`: on SQLite the transaction's statements after its BEGIN run on the event loop's
    thread, with no trip to the driver's (storage.sqlite_driver). For the hot path's writes
    of a few small statements (claims, a success, confirms), never for work that reads or
    writes many rows, which would hold the event loop as long.

    A write that is one self-contained statement needs none of this on PostgreSQL:
    autocommit_connection.
    """
    async with sessions() as session:
        lock = _sqlite_write_lock(session)
        async with _turn(lock):
            # Procuring the connection with the option set makes SQLite BEGIN IMMEDIATE.
            options: dict[str, Any] = {_WRITE_OPTION: True, _INLINE_OPTION: inline}
            await session.connection(execution_options=options)
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()


_write_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _sqlite_write_lock(session: AsyncSession) -> asyncio.Lock | None:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    engine = bind if isinstance(bind, Engine) else bind.engine
    lock = _write_locks.get(engine)
    if lock is None:
        lock = _write_locks[engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _turn(lock: asyncio.Lock | None) -> AsyncIterator[None]:
    if lock is None:
        yield
        return
    # As long as SQLite itself would wait; a write_session nested in another fails here
    # (as it would on the busy timeout) instead of waiting forever.
    async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
        await lock.acquire()
    try:
        yield
    finally:
        lock.release()


@dataclass
class Database:
    """An open database: its engine and the session factory on it (one per process)."""

    engine: AsyncEngine
    sessions: Sessions

    @property
    def kind(self) -> str:
        """`SQLite` or `PostgreSQL`, for people."""
        return "PostgreSQL" if self.engine.dialect.name == "postgresql" else "SQLite"

    async def ping(self) -> None:
        """One round trip; raises when the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")


@asynccontextmanager
async def open_database(
    url: str, *, migrate: bool = True, **engine_kw: Any
) -> AsyncIterator[Database]:
    """The database at `url`, migrated to head first unless `migrate` is False; disposed
    of on exit."""
    engine = create_engine(url, **engine_kw)
    try:
        if migrate:
            await upgrade(engine)
        yield Database(engine=engine, sessions=session_factory(engine))
    finally:
        await engine.dispose()


async def schema_revisions(url: str) -> tuple[str | None, str | None]:
    """(the revision the database is at, the newest revision editbot has); for `doctor`."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
    return current, ScriptDirectory.from_config(alembic_config()).get_current_head()


T = TypeVar("T")
Write = Callable[[AsyncSession], Awaitable[T]]


def one_writer(sessions: Sessions) -> bool:
    """Whether the database lets one writer in at a time (SQLite), so that its writers do
    better taking one turn together (`write_each`) than one turn each."""
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


async def write_each(sessions: Sessions, writes: Sequence[Write[T]]) -> list[T | Exception]:
    """Several writers' work in one write transaction, each in a savepoint of its own: what
    one raises rolls back its own writes only and is its answer; the others commit together.
    Should the commit fail, it is every writer's answer.

    A writer alone in its turn (most turns of the queue benchmark's) needs no savepoint: what
    it raises rolls back the whole transaction, which holds its writes only. That spares two
    statements (SAVEPOINT, RELEASE) through SQLAlchemy's execution a turn."""
    if len(writes) == 1:
        try:
            async with write_session(sessions, inline=True) as session:
                return [await writes[0](session)]
        except Exception as error:
            return [error]
    answers: list[T | Exception] = []
    try:
        async with write_session(sessions, inline=True) as session:
            for write in writes:
                try:
                    async with session.begin_nested():
                        answers.append(await write(session))
                except Exception as error:
                    answers.append(error)
    except Exception as error:
        return [error] * len(writes)
    return answers


def is_postgres(session: Runner) -> bool:
    """Whether the session's (or the connection's) database is PostgreSQL."""
    return dialect_name(session) == "postgresql"


def dialect_name(session: Runner) -> str:
    """The dialect of a session's or a connection's database: sqlite, postgresql."""
    if isinstance(session, AsyncConnection):
        return session.dialect.name
    return session.get_bind().dialect.name


@asynccontextmanager
async def autocommit_connection(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """A connection with every statement committed on its own (PostgreSQL), for a write
    that is one self-contained statement (storage.claims, storage.successes).

    No ORM session: its machinery (the session, its transaction, begin and commit through
    SQLAlchemy's greenlet) cost about 200 us of CPU a write, around a statement of about as
    much (bench/bench_queue.py). SQLite has no autocommit writes: use write_session there."""
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def alembic_config() -> Config:
    """Alembic configured from the package directory; no alembic.ini needed in the CWD."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def upgrade(target: AsyncEngine | str, revision: str = "heads") -> None:
    """Run the Alembic migrations up to `revision` on an engine or a URL.

    On PostgreSQL the upgrade first takes a transaction-scoped advisory lock, so processes
    started together on a fresh database take turns: the first migrates, the others wait for
    its commit and then find nothing left to do (without it they race on CREATE TABLE and
    die). The lock goes with the transaction, on commit, rollback or a lost connection.
    """
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK_KEY})")
            await conn.run_sync(_upgrade_sync, revision)
    finally:
        if isinstance(target, str):
            await engine.dispose()


def _upgrade_sync(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
