"""The two long-running processes, both on one App from the composition root.

`editbot run`: the chat platforms, the web endpoints and the workers. `editbot worker`:
workers only, delivering through the platforms' REST APIs. A signal stops either: the workers
stop claiming, running jobs get a grace period, then their leases go back to the queue.
"""

from __future__ import annotations

import logging

from bot.app.platforms import need_chat, register_delivery_chats, wire_platforms
from bot.app.root import open_app
from bot.app.signals import Closer, run_until_signal
from bot.core.config import Settings

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30.0
"""Seconds running jobs get to finish when the process is told to stop."""


async def run_bot(settings: Settings, *, grace_s: float = DEFAULT_GRACE_S) -> None:
    """`editbot run`: until a signal."""
    need_chat(settings)  # before anything is opened or migrated
    async with open_app(settings) as app:
        runners, closers = wire_platforms(app)

        async def stop_workers() -> None:
            await app.worker.stop(grace_s=grace_s)

        # Workers first, so results finishing in the grace period still reach the platforms.
        await run_until_signal([app.worker.run, *runners], closers=[stop_workers, *closers])


async def run_workers(
    settings: Settings,
    *,
    concurrency: int | None = None,
    lease_s: float | None = None,
    grace_s: float = DEFAULT_GRACE_S,
) -> None:
    """`editbot worker`: claim and run jobs until a signal."""
    async with open_app(settings, concurrency=concurrency, lease_s=lease_s) as app:
        closers: list[Closer] = await register_delivery_chats(app)

        async def stop_workers() -> None:
            log.info("stopping: running jobs get %.0f s", grace_s)
            await app.worker.stop(grace_s=grace_s)

        log.info("worker %s: %d concurrent jobs", app.worker.owner, app.worker.concurrency)
        await run_until_signal([app.worker.run], closers=[stop_workers, *closers])
