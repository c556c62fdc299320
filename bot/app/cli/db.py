"""`editbot db upgrade`: migrate the database (SQLite in the data dir, or EDITBOT_DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.app.cli.checks import writable_data_dir
from bot.app.cli.spine import command
from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `db` subcommand."""
    parser = subparsers.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply the schema migrations up to the newest")
    upgrade.set_defaults(func=command("db upgrade", run_upgrade, checks=[writable_data_dir]))


def run_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    """Apply the migrations; prints where."""
    from storage.db import upgrade

    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(upgrade(settings.sqlalchemy_url))
    where = "PostgreSQL" if settings.database_url else f"SQLite in {settings.data_dir}"
    print(f"database is up to date ({where})")
