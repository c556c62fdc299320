"""`editbot prune --older-than 30d`: forget images and prompts of old finished jobs, and
delete stored images that nothing refers to any more."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import timedelta
from typing import Any

from bot.app.cli.checks import existing_database
from bot.app.cli.spine import command
from bot.core.config import Settings
from bot.core.errors import UserError

_AGE = re.compile(r"(\d+)\s*([dh]?)")


def parse_age(text: str) -> timedelta:
    """`30d`, `12h` or `30` (days) as a timedelta; ValueError otherwise."""
    match = _AGE.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected an age like 30d or 12h, got {text!r}")
    amount = int(match.group(1))
    return timedelta(hours=amount) if match.group(2) == "h" else timedelta(days=amount)


def register(subparsers: Any) -> None:
    """Add the `prune` subcommand."""
    parser = subparsers.add_parser(
        "prune",
        help="delete images and prompts of finished jobs past retention, and unreferenced blobs",
    )
    parser.add_argument(
        "--older-than",
        default=None,
        help="age like 30d or 12h (default: EDITBOT_RETENTION_DAYS, 30 days)",
    )
    parser.set_defaults(func=command("prune", run_prune, checks=[existing_database]))


def run_prune(args: argparse.Namespace, settings: Settings) -> None:
    """Prune and print the counts."""
    from storage.blobs import open_blob_store
    from storage.db import open_database
    from storage.prune import PruneReport, prune

    try:
        age = parse_age(args.older_than) if args.older_than else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    older_than = age or timedelta(days=settings.retention_days)

    async def run() -> PruneReport:
        async with open_database(settings.sqlalchemy_url, migrate=False) as database:
            return await prune(
                database.sessions,
                blobs=open_blob_store(settings),  # the files, or EDITBOT_BLOB_URL's S3
                older_than=older_than,
            )

    report = asyncio.run(run())
    print(
        f"pruned {report.jobs} jobs: {report.images} image rows, "
        f"{report.thread_versions} thread versions, {report.blobs} blobs deleted; "
        f"{report.orphan_blobs} unreferenced blobs deleted"
    )
