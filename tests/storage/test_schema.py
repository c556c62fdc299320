"""Alembic owns the schema: an empty database upgraded to head matches the models exactly."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import alembic_config, create_engine, upgrade
from storage.models import Job


def _diff(connection: Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_and_models_agree(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # a second run (every start does one) is a no-op
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff, SQLModel.metadata)
            # The check itself can see a difference: a model with one more column.
            extended = sa.MetaData()
            for table in SQLModel.metadata.tables.values():
                table.to_metadata(extended)
            extended.tables["jobs"].append_column(sa.Column("extra", sa.Integer()))
            extended_diff = await conn.run_sync(_diff, extended)
            version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert diff == []
    assert [d[0] for d in extended_diff] == ["add_column"]
    # Every migration head applied (helpers' branches off 0001 apply side by side).
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert sorted(v for (v,) in version) == sorted(heads)


async def test_datetimes_come_back_timezone_aware_utc(db_url: str) -> None:
    from storage.db import session_factory, write_session

    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        job = Job(
            platform="slack",
            workspace="T",
            channel="C",
            user="U",
            scope="slack:T:C",
            prompt="p",
            provider="openai",
        )
        async with write_session(sessions) as session:
            session.add(job)
        async with sessions() as session:
            loaded = await session.get(Job, job.id)
    finally:
        await engine.dispose()
    assert loaded is not None and loaded.created_at.utcoffset() is not None
    assert loaded.created_at == job.created_at
