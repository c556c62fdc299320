"""The 0006_delivery migration on a database with finished jobs: those already marked
delivered count as posted (confirmed), the others stay for the sweep; and it downgrades."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from storage.columns import utcnow
from storage.db import alembic_config, create_engine, session_factory, upgrade
from storage.queue import undelivered

_INSERT = sa.text(
    'INSERT INTO jobs (id, platform, workspace, channel, thread, "user", scope, prompt, '
    "options_json, provider, status, attempts, estimate_micros, fair_seq, delivered_at, "
    "created_at, updated_at, finished_at) VALUES (:id, 'slack', 'T', 'C', '1.0', 'U', "
    "'slack:T:C', 'p', '{}', 'openai', 'succeeded', 1, 0, 0, :delivered, :now, :now, :now)"
)


def _downgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "0005")


async def test_jobs_delivered_before_count_as_posted_and_the_rest_stay_for_the_sweep(
    empty_db_url: str,
) -> None:
    engine = create_engine(empty_db_url)
    now = utcnow()
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(_INSERT, {"id": "posted", "delivered": now, "now": now})
            await conn.execute(_INSERT, {"id": "waiting", "delivered": None, "now": now})
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT id, posted_at, delivering_by FROM jobs ORDER BY id")
            )
            found = {r[0]: (r[1] is not None, r[2]) for r in rows}
        assert found == {"posted": (True, None), "waiting": (False, None)}
        async with session_factory(engine)() as session:
            assert await undelivered(session, since=now - timedelta(days=1)) == ["waiting"]
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade)
            columns = {c["name"] for c in await conn.run_sync(_columns)}
        assert "posted_at" not in columns and "delivering_by" not in columns
    finally:
        await engine.dispose()


def _columns(connection: Connection) -> list[dict[str, object]]:
    return list(sa.inspect(connection).get_columns("jobs"))  # type: ignore[arg-type]
