"""A whole deployment starting at once: concurrent schema upgrades of one fresh PostgreSQL
database take turns on an advisory lock instead of racing (and one of them dying)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from storage.db import alembic_config, create_engine, upgrade

pytestmark = pytest.mark.postgres

PROCESSES = 3
CLI_TIMEOUT_S = 180


async def test_concurrent_upgrades_on_separate_connections_all_succeed(empty_pg_url: str) -> None:
    engines = [create_engine(empty_pg_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert _versions(empty_pg_url) == _heads()


async def test_processes_started_together_on_a_fresh_database_all_upgrade(
    empty_pg_url: str, tmp_path: Path
) -> None:
    url = _libpq(empty_pg_url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("EDITBOT_")}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            "db",
            "upgrade",
            env={**base, "EDITBOT_DATABASE_URL": url, "EDITBOT_DATA_DIR": str(tmp_path / str(i))},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for i in range(PROCESSES)
    ]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), CLI_TIMEOUT_S)
    for proc, (out, _) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, out.decode()
    assert _versions(empty_pg_url) == _heads()


def _versions(url: str) -> set[str]:
    """The revisions the database's alembic_version table records."""
    with psycopg.connect(_libpq(url)) as conn:
        return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
