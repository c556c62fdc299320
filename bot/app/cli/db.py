"""`editbot db upgrade`: migrate the database (SQLite in the data dir, or EDITBOT_DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import pydantic

from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `db` subcommand."""
    parser = subparsers.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply the schema migrations up to the newest")
    upgrade.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    """Apply the migrations; prints where. Exit 0 ok, 2 bad settings, 1 anything else."""
    from storage.db import upgrade

    try:
        settings = Settings()  # type: ignore[call-arg]  # read from the environment
    except pydantic.ValidationError as exc:
        print(f"editbot db upgrade: bad settings: {exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(upgrade(settings.sqlalchemy_url))
    except Exception as exc:  # the operator sees the cause; the URL may hold a password
        print(f"editbot db upgrade failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    where = "PostgreSQL" if settings.database_url else f"SQLite in {settings.data_dir}"
    print(f"database is up to date ({where})")
    return 0
