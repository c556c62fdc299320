"""`editbot usage --since DATE --csv`: the ledger as CSV (amounts in integer micro-dollars)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

import pydantic

from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `usage` subcommand."""
    parser = subparsers.add_parser("usage", help="export the spending ledger")
    parser.add_argument("--since", required=True, type=_date, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--csv", action="store_true", help="write the rows as CSV to stdout")
    parser.add_argument(
        "--scope",
        default="",
        help="only scopes starting with this, e.g. slack:T123: or slack:T123:C456 (default: all)",
    )
    parser.set_defaults(func=run_usage)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-05-01, got {text!r}") from None


def run_usage(args: argparse.Namespace) -> int:
    """CSV with --csv, else a one-line count. Exit 0 ok, 2 bad settings, 1 anything else."""
    from bot.service.budget import usage_csv
    from storage.db import create_engine, session_factory

    try:
        settings = Settings()  # type: ignore[call-arg]  # read from the environment
    except pydantic.ValidationError as exc:
        print(f"editbot usage: {exc}", file=sys.stderr)
        return 2

    async def run() -> tuple[bytes, int]:
        engine = create_engine(settings.sqlalchemy_url)
        try:
            return await usage_csv(
                session_factory(engine), scope_prefix=args.scope, since=args.since
            )
        finally:
            await engine.dispose()

    try:
        data, count = asyncio.run(run())
    except Exception as exc:
        print(f"editbot usage failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.csv:
        sys.stdout.write(data.decode())
    else:
        print(f"{count} ledger rows since {args.since.isoformat()}; add --csv to export them")
    return 0
