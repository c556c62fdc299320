"""`editbot usage --since DATE --csv`: the usage report finance reads (one row per edit, in
dollars); `--ledger`: the raw ledger for operators (scopes, job ids, integer micro-dollars)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

from bot.app.cli.checks import existing_database
from bot.app.cli.spine import command
from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `usage` subcommand."""
    parser = subparsers.add_parser("usage", help="export the spending ledger")
    parser.add_argument("--since", required=True, type=_date, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--csv", action="store_true", help="write the report as CSV to stdout")
    parser.add_argument(
        "--ledger",
        action="store_true",
        help="the raw ledger instead (reserve/settle/refund rows, micro-dollars)",
    )
    parser.add_argument(
        "--scope",
        default="",
        help="only scopes starting with this, e.g. slack:T123: or slack:T123:C456 (default: all)",
    )
    parser.set_defaults(func=command("usage", run_usage, checks=[existing_database]))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-05-01, got {text!r}") from None


def run_usage(args: argparse.Namespace, settings: Settings) -> None:
    """CSV with --csv, else a one-line count."""
    from bot.service.budget import usage_csv
    from bot.service.usage_report import finance_csv
    from storage.db import open_database

    async def read() -> tuple[bytes, int]:
        async with open_database(settings.sqlalchemy_url, migrate=False) as database:
            if args.ledger:
                return await usage_csv(database.sessions, scope_prefix=args.scope, since=args.since)
            return await finance_csv(
                database.sessions, scope_prefix=args.scope, since=args.since, chat=None
            )

    data, count = asyncio.run(read())
    what = "ledger rows" if args.ledger else "edits"
    if args.csv:
        sys.stdout.write(data.decode())
    else:
        print(f"{count} {what} since {args.since.isoformat()}; add --csv to export them")
