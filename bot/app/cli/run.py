"""`editbot run`: the bots, the web endpoints and the workers in one process (the main job)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.app.cli.checks import chat_platform, free_port, provider_key, writable_data_dir
from bot.app.cli.spine import add_log_level, command, setup_logging
from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run", help="run the Slack and/or Discord bot with its workers (the main job)"
    )
    add_log_level(parser)
    checks = [chat_platform, provider_key, writable_data_dir, free_port]
    parser.set_defaults(func=command("run", run, checks=checks))


def run(args: argparse.Namespace, settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    from bot.app.processes import run_bot

    setup_logging(args.log_level)
    asyncio.run(run_bot(settings))
