"""`editbot job REF`: the history of the job a person quoted (the short reference in a failure).

Prints what the job asked, where, its life (created, started, finished, delivered; attempts,
worker, provider task), how it ended, and every ledger row of its money.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import Any

from bot.app.cli.spine import command
from bot.core.config import Settings
from bot.core.domain import format_usd
from bot.core.errors import UserInputError


def register(subparsers: Any) -> None:
    """Add the `job` subcommand."""
    parser = subparsers.add_parser("job", help="show the history of one job by its reference")
    parser.add_argument("ref", help="the reference people were shown (or a whole job id)")
    parser.set_defaults(func=command("job", run_job))


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "-"


def describe(history: Any) -> list[str]:
    """The lines printed for one job (a storage.job_history.JobHistory)."""
    job = history.job
    lines = [
        f"job {job.id} ({job.status})",
        f"  where:     {job.platform} workspace {job.workspace} channel {job.channel} "
        f"thread {job.thread or '-'} user {job.user}",
        f"  asked:     {job.prompt!r} options {job.options_json}",
        f"  provider:  {job.provider} task {job.provider_task_id or '-'}; "
        f"attempts {job.attempts}, last worker {job.lease_owner or '-'}",
        f"  created    {_when(job.created_at)}",
        f"  started    {_when(job.started_at)}",
        f"  finished   {_when(job.finished_at)}",
        f"  delivered  {_when(job.delivered_at)}",
        f"  estimate   {format_usd(job.estimate_micros)} ({job.estimate_micros} micro-dollars); "
        f"cost {format_usd(job.cost_micros) if job.cost_micros is not None else '-'}",
    ]
    if job.version is not None:
        lines.append(f"  version    v{job.version} (from v{job.base_version or '-'})")
    if job.parent_job_id or job.batch_id:
        lines.append(f"  parent     {job.parent_job_id or '-'}; batch {job.batch_id or '-'}")
    if job.error:
        lines.append(f"  error      {job.error}")
    lines.append("  ledger:" if history.ledger else "  ledger:    (no money moved)")
    for entry in history.ledger:
        lines.append(
            f"    {_when(entry.created_at)} {entry.kind:8} {entry.amount_micros:>10} micro-dollars "
            f"({format_usd(entry.amount_micros)}) scope {entry.scope} period {entry.period_key}"
        )
    return lines


def run_job(args: argparse.Namespace, settings: Settings) -> None:
    """Print every job the reference matches; none is the user's mistake (exit 2)."""
    from storage.db import open_database
    from storage.job_history import jobs_by_ref

    async def read() -> list[Any]:
        async with open_database(settings.sqlalchemy_url, migrate=False) as database:
            async with database.sessions() as session:
                return await jobs_by_ref(session, args.ref)

    found = asyncio.run(read())
    if not found:
        raise UserInputError(
            f"No job has the reference {args.ref!r}. A request that failed before it became a "
            f"job is in the logs as ref={args.ref}."
        )
    for history in found:
        print("\n".join(describe(history)))
