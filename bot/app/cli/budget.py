"""`editbot budget show|set --scope platform:workspace:channel`: the chat budget command for
operators, through the same functions as `/edit-budget`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.app.cli.checks import existing_database
from bot.app.cli.spine import command
from bot.core.budgets import PERIODS
from bot.core.config import Settings, budget_defaults
from bot.core.errors import UserInputError

_SCOPE_HELP = (
    "platform:workspace:channel (e.g. slack:T123:C456), or platform:workspace:* for the "
    "workspace default"
)


def register(subparsers: Any) -> None:
    """Add the `budget` subcommand with `show` and `set`."""
    parser = subparsers.add_parser("budget", help="show or set a channel's budget")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="show|set")
    show = verbs.add_parser("show", help="spent, held, cap, period and top spenders")
    show.add_argument("--scope", required=True, help=_SCOPE_HELP)
    show.add_argument("--chart", metavar="PNG", help="also write the daily spend chart here")
    set_ = verbs.add_parser("set", help="set the cap (dollars) and optionally period and caps")
    set_.add_argument("--scope", required=True, help=_SCOPE_HELP)
    set_.add_argument("usd", help="the cap in dollars, e.g. 50 or 12.50")
    set_.add_argument("--period", choices=PERIODS, help="day, week, month or none")
    set_.add_argument("--user-cap", metavar="USD", help="per-person cap in dollars (none: drop)")
    set_.add_argument("--warn", type=int, metavar="PERCENT", help="warn threshold, 1..100")
    parser.set_defaults(func=command("budget", run_budget, checks=[existing_database]))


def check_scope(scope: str) -> str:
    """A scope must have three non-empty parts: platform, workspace, channel (or `*`)."""
    parts = scope.split(":")
    if len(parts) != 3 or not all(parts):
        raise UserInputError(f"--scope must look like {_SCOPE_HELP}; got {scope!r}")
    return scope


def run_budget(args: argparse.Namespace, settings: Settings) -> None:
    """Print the budget, or set it and print what it is now."""
    print(asyncio.run(_budget(args, settings)))


async def _budget(args: argparse.Namespace, settings: Settings) -> str:
    from bot.service.budget import parse_budget_set, set_budget, show_budget
    from storage.columns import utcnow
    from storage.db import open_database

    scope = check_scope(args.scope)
    defaults = budget_defaults(settings)
    change = parse_budget_set(_set_words(args)) if args.verb == "set" else None
    async with open_database(settings.sqlalchemy_url, migrate=False) as database:
        if change is not None:
            return await set_budget(
                database.sessions,
                scope=scope,
                change=change,
                defaults=defaults,
                by="cli",
                now=utcnow(),
            )
        reply = await show_budget(
            database.sessions,
            scope=scope,
            defaults=defaults,
            now=utcnow(),
            title=f"{scope} - budget",
        )
    if args.chart and reply.chart_png is not None:
        with open(args.chart, "wb") as f:
            f.write(reply.chart_png)
    return reply.text


def _set_words(args: argparse.Namespace) -> list[str]:
    """`set`'s options as the words of `/edit-budget set`."""
    words = [args.usd]
    if args.period:
        words.append(args.period)
    if args.user_cap is not None:
        words.append(f"user={args.user_cap}")
    if args.warn is not None:
        words.append(f"warn={args.warn}")
    return words
