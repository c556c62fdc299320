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


def bump_cte(gate: Any = None) -> Any:
    """The thread's version bump as a CTE (RETURNING last_version); `gate`, a condition the
    bump also needs (storage.successes: the job's lease)."""
    where = [_threads.c.id == bindparam("thread_id")]
    if gate is not None:
        where.append(gate)
    return (
        update(_threads)
        .where(*where)
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


def insert_versions(bump: Any, count: int, *, prefix: str = "") -> Any:
    """INSERT the `count` images' version rows, numbered by `bump` (the parameters of
    `next_version_params`, given the same `prefix`)."""
    rows = [
        select(
            bindparam("thread_id", type_=_versions.c.thread_id.type),
            bump.c.last_version,
            *(bindparam(f"{prefix}{name}_{i}", type_=_versions.c[name].type) for name in _GIVEN),
            *(bindparam(prefix + name, type_=_versions.c[name].type) for name in _SHARED),
        ).select_from(bump)
        for i in range(count)
    ]
    columns = ["thread_id", "version", *_GIVEN, *_SHARED]
    source = rows[0] if count == 1 else union_all(*rows)
    return pg_insert(_versions).from_select(columns, source)


@functools.cache
def _statement(count: int) -> Any:
    bump = bump_cte()
    return prebuilt(  # one per image count, cached
        insert_versions(bump, count).returning(_versions.c.version).add_cte(bump)
    )


def next_version_pg(rows: Sequence[Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters that add `rows` (storage.threads.version_rows, whose
    `version` is ignored) as the thread's next version; it returns that version per row."""
    return _statement(len(rows)), next_version_params(rows)


def next_version_params(rows: Sequence[Mapping[str, Any]], *, prefix: str = "") -> dict[str, Any]:
    """The parameters of `bump_cte` and `insert_versions` for `rows`. `prefix` keeps the
    version rows' names (prompt, created_at, ...) apart from another table's columns in
    the same statement: SQLAlchemy sets any column of an UPDATE in it that a parameter is
    named after (storage.successes)."""
    first = rows[0]
    params: dict[str, Any] = {prefix + name: first[name] for name in _SHARED}
    params |= {"thread_id": first["thread_id"], "count": 1}  # one version, however many images
    for i, row in enumerate(rows):
        params.update({f"{prefix}{name}_{i}": row[name] for name in _GIVEN})
    return params
