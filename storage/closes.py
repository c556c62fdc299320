"""The statements that close a job's reservation (a settle or a refund), once.

A close writes a SETTLE or REFUND ledger row copied from the job's RESERVE row (the unique
closes_job_id makes it happen once, even across processes), then takes the reservation off
the user's and the channel's usage rows and adds the spend.

On PostgreSQL that is one statement: the usage rows it locks stay locked until the commit
and every success and reservation in the channel waits for them, so a round trip less
inside that window is one every waiter is spared (bench/bench_phases.py). It locks the
user's row, then the channel's (ORDER BY runs before FOR UPDATE), the order reserve_many
takes them in, so a close and a reservation never wait on each other in a cycle. SQLite
has one writer and no row locks: there it is the insert, then one UPDATE of both rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.core.budgets import user_scope
from storage.direct import prebuilt
from storage.models import LedgerEntry, LedgerKind, Usage
from storage.sql import table_of

_ledger = table_of(LedgerEntry)
_usage = table_of(Usage)
_USER_INFIX = user_scope("", "")
"""What user_scope puts between a channel's scope and the user: the SQL below builds the
same string."""

_RESERVED = (
    select(_ledger.c.amount_micros)
    .where(_ledger.c.job_id == bindparam("job_id"), _ledger.c.kind == LedgerKind.RESERVE)
    .limit(1)
    .scalar_subquery()
)


def _close_statement(insert: Any, gate: Any = None) -> Any:
    """INSERT the settle/refund row copied from the job's reserve row, unless one exists.

    RETURNING says whether it was written and where the money was reserved. A settle's
    amount is the cost; a refund's (amount NULL) is the reservation. `gate`: a condition
    the close also needs (storage.successes: the job's lease).
    """
    where = [_ledger.c.job_id == bindparam("job_id"), _ledger.c.kind == LedgerKind.RESERVE]
    if gate is not None:
        where.append(gate)
    source = select(
        _ledger.c.job_id,
        _ledger.c.scope,
        _ledger.c.user,
        bindparam("kind", type_=_ledger.c.kind.type),
        func.coalesce(bindparam("amount", type_=BigInteger()), _ledger.c.amount_micros),
        _ledger.c.period_key,
        _ledger.c.job_id,
        bindparam("now", type_=_ledger.c.created_at.type),
    ).where(*where)
    columns = ["job_id", "scope", "user", "kind", "amount_micros", "period_key"]
    return (
        insert(_ledger)
        .from_select([*columns, "closes_job_id", "created_at"], source.limit(1))
        .on_conflict_do_nothing(index_elements=["closes_job_id"])
        .returning(_ledger.c.scope, _ledger.c.user, _ledger.c.period_key)
    )


CLOSE_SQLITE = prebuilt(_close_statement(sqlite_insert))
"""SQLite, first: the close row; RETURNING (scope, user, period_key), none when closed before."""

MOVE_SQLITE = prebuilt(
    update(_usage)
    .where(
        _usage.c.scope.in_([bindparam("u_user"), bindparam("u_scope")]),
        _usage.c.period_key == bindparam("u_key"),
    )
    .values(
        reserved_micros=_usage.c.reserved_micros - _RESERVED,
        spent_micros=_usage.c.spent_micros + bindparam("spent"),
    )
    .returning(_usage.c.scope, _usage.c.spent_micros, _usage.c.reserved_micros)
)
"""SQLite, then: both usage rows; RETURNING (scope, spent, reserved) of each."""


def close_and_move_ctes(gate: Any = None) -> tuple[Any, Any]:
    """PostgreSQL's close as CTEs: `closed` (the close row's scope, user, period_key) and
    `moved` (the usage rows after: scope, spent_micros, reserved_micros)."""
    closed = _close_statement(pg_insert, gate).cte("closed")
    user_row = closed.c.scope + literal(_USER_INFIX) + closed.c.user
    locked = (
        select(_usage.c.scope, _usage.c.period_key)
        .join(closed, _usage.c.period_key == closed.c.period_key)
        .where(_usage.c.scope.in_([user_row, closed.c.scope]))
        .order_by(_usage.c.scope == closed.c.scope)  # false first: the user's row
        .with_for_update(of=_usage)
        .cte("locked")
    )
    moved = (
        update(_usage)
        .where(_usage.c.scope == locked.c.scope, _usage.c.period_key == locked.c.period_key)
        .values(
            reserved_micros=_usage.c.reserved_micros - _RESERVED,
            spent_micros=_usage.c.spent_micros + bindparam("spent"),
        )
        .returning(_usage.c.scope, _usage.c.spent_micros, _usage.c.reserved_micros)
        .cte("moved")
    )
    return closed, moved


def _close_and_move_pg() -> Any:
    closed, moved = close_and_move_ctes()
    return select(
        closed.c.scope, closed.c.period_key, moved.c.spent_micros, moved.c.reserved_micros
    ).select_from(closed.outerjoin(moved, moved.c.scope == closed.c.scope))


CLOSE_AND_MOVE_PG = prebuilt(_close_and_move_pg())
"""PostgreSQL, all of it: one row (scope, period_key, the channel row's spent and reserved
after, NULL when it has none), none when the job was closed before or reserved nothing."""
