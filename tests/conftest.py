"""Shared fixtures: a fresh SQLite database and a fresh PostgreSQL database per test.

PostgreSQL tests read EDITBOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/
postgres), create their own database and drop it. Unset, they skip with a reason; with
EDITBOT_REQUIRE_POSTGRES=1 (CI) an unset URL or an unreachable server fails instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.blobs import FileBlobStore
from storage.db import Sessions, create_engine, session_factory, upgrade
from tests.kit.pg import ENV_URL, admin_url, fresh_database, postgres_required, to_async_url

# The provider tests' `emu` and `client` fixtures (an emulator and an in-memory httpx client).
# The S3 server (moto) and the blob stores: `s3_server`, `s3_store`, `any_blobs`.
pytest_plugins = ["tests.kit.emulator.fixtures", "tests.kit.s3"]


def _unavailable(reason: str) -> None:
    if postgres_required():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """URL of a new, empty SQLite file database."""
    return f"sqlite+aiosqlite:///{tmp_path / 'editbot.db'}"


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    server = admin_url()
    if server is None:
        _unavailable(f"{ENV_URL} is not set: no PostgreSQL server to test against")
        return
    try:
        db = fresh_database(server)
        url = db.__enter__()
    except psycopg.OperationalError as exc:
        _unavailable(f"cannot connect to PostgreSQL at {ENV_URL}: {exc}")
        return
    try:
        yield to_async_url(url)
    finally:
        db.__exit__(None, None, None)


@pytest.fixture
async def sqlite_url(empty_sqlite_url: str) -> str:
    """A fresh SQLite database, migrated to head."""
    await upgrade(empty_sqlite_url)
    return empty_sqlite_url


@pytest.fixture
async def pg_url(empty_pg_url: str) -> str:
    """A fresh PostgreSQL database, migrated to head."""
    await upgrade(empty_pg_url)
    return empty_pg_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind."""
    name = "empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def db_url(empty_db_url: str) -> str:
    """A migrated database of each kind (the test runs once on SQLite, once on PostgreSQL)."""
    await upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `db_url`, disposed after the test."""
    eng = create_engine(db_url, pool_size=20, max_overflow=0)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    """A session factory on `engine`."""
    return session_factory(engine)


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    """A blob store in the test's tmp_path."""
    return FileBlobStore(tmp_path / "blobs")
