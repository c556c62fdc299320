"""A job's outputs as its thread's next version in one PostgreSQL statement.

The version bump locks the edit thread's row, and every other success in that thread waits
for it until the commit: the bump and the version rows it numbers are one statement here
(a data-modifying CTE), not two round trips inside that window. SQLite, one writer and no
row locks, keeps the two statements (storage.threads).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storage.direct import prebuilt
from storage.models import EditThread, ThreadVersion
from storage.sql import table_of

_threads = table_of(EditThread)
_versions = table_of(ThreadVersion)
_GIVEN = ("job_id", "position", "chosen", "author", "sha256", "mime", "width", "height")
_SHARED = ("prompt", "created_at")
"""A version row's columns besides thread_id and version: each image's own, and shared."""


@functools.cache
def _statement(count: int) -> Any:
    bump = (
        update(_threads)
        .where(_threads.c.id == bindparam("thread_id"))
        .values(
            last_version=_threads.c.last_version + bindparam("count", type_=Integer),
            current_version=_threads.c.last_version + bindparam("count", type_=Integer),
            # Inside an INSERT's WITH, SQLAlchemy gives this UPDATE the INSERT's column
            # defaults (created_at = now, a value it then cannot bind): kept as it is.
            created_at=_threads.c.created_at,
        )
        .returning(_threads.c.last_version)
        .cte("bump")
    )
    rows = [
        select(
            bindparam("thread_id", type_=_versions.c.thread_id.type),
            bump.c.last_version,
            *(bindparam(f"{name}_{i}", type_=_versions.c[name].type) for name in _GIVEN),
            *(bindparam(name, type_=_versions.c[name].type) for name in _SHARED),
        ).select_from(bump)
        for i in range(count)
    ]
    columns = ["thread_id", "version", *_GIVEN, *_SHARED]
    source = rows[0] if count == 1 else union_all(*rows)
    return prebuilt(  # one per image count, cached
        pg_insert(_versions)
        .from_select(columns, source)
        .returning(_versions.c.version)
        .add_cte(bump)
    )


def next_version_pg(rows: Sequence[Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters that add `rows` (storage.threads._version_rows, whose
    `version` is ignored) as the thread's next version; it returns that version per row."""
    first = rows[0]
    params: dict[str, Any] = {name: first[name] for name in ("thread_id", *_SHARED)}
    params["count"] = 1  # one version, however many images
    for i, row in enumerate(rows):
        params.update({f"{name}_{i}": row[name] for name in _GIVEN})
    return _statement(len(rows)), params
