"""`editbot worker`: run job workers alone (scale-out), until SIGINT or SIGTERM.

Opens the resources (httpx client, database engine, blob store, provider, chat clients), runs
the migrations, then a Worker; a signal stops it gracefully (running jobs get a grace period,
then their leases are released for another worker).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import aiohttp
import httpx
import pydantic

from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger("editbot.worker")


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
    parser.add_argument("--lease", type=float, default=60.0, help="lease seconds (default 60)")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds running jobs get on stop (default 30)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run until a signal; 0 after a clean stop, 2 on bad settings, 1 on anything else."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()  # type: ignore[call-arg]  # read from the environment
    except pydantic.ValidationError as exc:
        print(f"editbot worker: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(settings, args))
    except ConfigError as exc:
        print(f"editbot worker: configuration: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the operator sees the cause; never the settings' secrets
        print(f"editbot worker failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings, args: argparse.Namespace) -> None:
    from bot.app.root import delivery_chats, owner_name
    from bot.core.pricing import PriceTable
    from bot.jobs.worker import Worker
    from bot.providers.factory import build_provider
    from bot.providers.transport import pooled_client
    from storage.blobs import FileBlobStore, blob_root
    from storage.db import create_engine, session_factory, upgrade

    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    concurrency = args.concurrency or settings.workers
    # Sessions are short (claim, renew, finish), so far fewer connections than jobs suffice.
    engine = create_engine(
        settings.sqlalchemy_url, pool_size=min(concurrency, 20) + 5, max_overflow=10
    )
    try:
        await upgrade(engine)
        timeout = httpx.Timeout(settings.job_deadline_s, connect=10.0)
        async with (
            pooled_client(timeout=timeout, max_connections=max(100, concurrency * 2)) as http,
            aiohttp.ClientSession() as slack_session,
        ):
            chats, closers = await delivery_chats(settings, http, slack_session)
            worker = Worker(
                sessions=session_factory(engine),
                blobs=FileBlobStore(blob_root(settings.data_dir)),
                chats=chats,
                provider=build_provider(settings, http),
                table=PriceTable.from_settings(settings),
                settings=settings,
                owner=owner_name(),
                concurrency=concurrency,
                lease_s=args.lease,
            )
            stopping: list[asyncio.Task[None]] = []

            def on_signal() -> None:
                if not stopping:
                    log.info("stopping: running jobs get %.0f s", args.grace)
                    stopping.append(asyncio.create_task(worker.stop(grace_s=args.grace)))

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal)
            log.info("worker %s: %d concurrent jobs", worker.owner, concurrency)
            try:
                await worker.run()
                if stopping:
                    await stopping[0]
            finally:
                for close in closers:
                    await close()
    finally:
        await engine.dispose()
