"""`editbot worker`: run job workers alone (scale-out), until SIGINT or SIGTERM.

A signal stops it gracefully: running jobs get a grace period, then their leases are
released for another worker.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.app.cli.checks import provider_key, worker_options, writable_data_dir
from bot.app.cli.spine import add_log_level, command, setup_logging
from bot.core.config import Settings


def register(subparsers: Any) -> None:
    """Add the `worker` subcommand."""
    parser = subparsers.add_parser(
        "worker",
        help="run job workers only (scale-out); stops on SIGINT/SIGTERM",
        description="Claim queued edit jobs from the database, run them and post the results.",
    )
    parser.add_argument(
        "--concurrency", type=int, help="jobs at once in this process (default: EDITBOT_WORKERS)"
    )
    parser.add_argument("--lease", type=float, help="lease seconds (default: EDITBOT_LEASE_S, 60)")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds running jobs get on stop (default 30)"
    )
    add_log_level(parser)
    checks = [provider_key, worker_options, writable_data_dir]
    parser.set_defaults(func=command("worker", work, checks=checks))


def work(args: argparse.Namespace, settings: Settings) -> None:
    """Run until a signal, then stop gracefully."""
    from bot.app.processes import run_workers

    setup_logging(args.log_level)
    asyncio.run(
        run_workers(settings, concurrency=args.concurrency, lease_s=args.lease, grace_s=args.grace)
    )
