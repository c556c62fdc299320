"""What finance reads: the money of each edit since a date, one record per edit.

Every paid edit has exactly one reserve row in the ledger; its settle (the charge) or refund
(nothing charged) closes it. Any other kind of row (a provider attempt lost in a restart) is
money on its own and is reported on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.domain import Place
from storage.models import Job, LedgerEntry, LedgerKind
from storage.sql import run, table_of

_ledger = table_of(LedgerEntry)
_jobs = table_of(Job)


@dataclass(frozen=True)
class EditMoney:
    """One line of the finance report.

    `kind` is `edit` for an edit (its `micros` is what it was charged: 0 until it settles or
    when it failed), else the ledger kind of a row that stands on its own (signed `micros`).
    """

    at: datetime
    kind: str
    micros: int
    job_id: str
    place: Place | None
    prompt: str
    version: int | None
    status: str


async def edit_money(
    session: AsyncSession, *, scope_prefix: str, since: datetime
) -> list[EditMoney]:
    """Edits reserved since `since` in scopes starting with `scope_prefix`, oldest first,
    and the standalone money rows of the same period."""
    rows: list[Any] = list(
        (
            await run(
                session,
                select(
                    _ledger.c.created_at,
                    _ledger.c.kind,
                    _ledger.c.amount_micros,
                    _ledger.c.job_id,
                    _ledger.c.scope,
                    _ledger.c.user,
                    _jobs.c.platform,
                    _jobs.c.workspace,
                    _jobs.c.channel,
                    _jobs.c.thread,
                    _jobs.c.prompt,
                    _jobs.c.version,
                    _jobs.c.status,
                )
                .select_from(_ledger.outerjoin(_jobs, _jobs.c.id == _ledger.c.job_id))
                .where(
                    _ledger.c.scope.startswith(scope_prefix, autoescape=True),
                    _ledger.c.created_at >= since,
                )
                .order_by(_ledger.c.created_at, _ledger.c.id),
            )
        ).all()
    )
    closes: dict[str, tuple[str, int]] = {}
    for row in rows:
        if row.kind in (LedgerKind.SETTLE, LedgerKind.REFUND):
            closes[row.job_id] = (str(row.kind), int(row.amount_micros))
    return [money for row in rows if (money := _money_of(row, closes)) is not None]


def _money_of(row: Any, closes: dict[str, tuple[str, int]]) -> EditMoney | None:
    """The report line of one ledger row: its edit (from the reserve row), a standalone money
    row, or None (settle and refund rows are folded into their edit)."""
    place = (
        Place(
            platform=row.platform,
            workspace=row.workspace,
            channel=row.channel,
            user=row.user,
            thread=row.thread,
        )
        if row.platform is not None
        else None
    )
    common = {
        "at": row.created_at,
        "job_id": row.job_id,
        "place": place,
        "prompt": row.prompt or "",
        "version": row.version,
    }
    if row.kind == LedgerKind.RESERVE:
        kind, amount = closes.get(row.job_id, ("", 0))
        status = "charged" if kind == LedgerKind.SETTLE else str(row.status or "unknown")
        if not kind:
            status = f"{row.status or 'unknown'} (not settled yet)"
        return EditMoney(kind="edit", micros=amount, status=status, **common)
    if row.kind in (LedgerKind.SETTLE, LedgerKind.REFUND):
        return None
    return EditMoney(kind=str(row.kind), micros=int(row.amount_micros), status="", **common)
