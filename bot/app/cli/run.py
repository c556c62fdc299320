"""`editbot run`: the bots, the web endpoints and the workers in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from bot.core.config import load_settings
from bot.core.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run", help="run the Slack and/or Discord bot with its workers (the main job)"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    parser.set_defaults(func=run)


def setup_logging(level: str) -> None:
    """One line per record on stderr; third-party chatter kept at WARNING."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "aiohttp.access", "discord.gateway", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM. Exit 1 with one line when the setup is incomplete."""
    from bot.app.root import run_bot

    setup_logging(args.log_level)
    try:
        settings = load_settings()
        asyncio.run(run_bot(settings))
    except ConfigError as exc:
        print(f"editbot run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
