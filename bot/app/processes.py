"""The two long-running processes, both on one App from the composition root.

`editbot run`: the chat platforms, the web endpoints and the workers. `editbot worker`:
workers only, delivering through the platforms' REST APIs. A signal stops either: the workers
stop claiming, running jobs get a grace period, then their leases go back to the queue.

Both beat (bot.jobs.heartbeat): the first beat frees what a dead predecessor held, and the
workers claim only after it; the last one, on the way out, dates the beat back so that what
this process still holds is taken over at once.
"""

from __future__ import annotations

import logging

from bot.app.health import PlatformHealth, verify_tokens
from bot.app.heap import freeze_startup_heap
from bot.app.platforms import need_chat, register_delivery_chats, wire_platforms
from bot.app.root import App, open_app
from bot.app.signals import Closer, Runner, run_until_signal
from bot.core.config import Settings
from bot.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30.0
"""Seconds running jobs get to finish when the process is told to stop."""


async def run_bot(settings: Settings, *, grace_s: float = DEFAULT_GRACE_S) -> None:
    """`editbot run`: until a signal."""
    need_chat(settings)  # before anything is opened or migrated
    async with open_app(settings) as app:
        await verify_tokens(settings, app.http)  # a rejected token: exit 2
        board = PlatformHealth(grace_s=settings.health_grace_s)
        runners, closers = wire_platforms(app, board=board)
        await board.start()  # Socket Mode's first URL: a rejected app token, exit 2
        freeze_startup_heap()  # started: what is alive now lives as long as the process

        async def stop_workers() -> None:
            await app.worker.stop(grace_s=grace_s)

        beat = app.core.heartbeat
        if settings.workers == 0:
            # EDITBOT_WORKERS=0: a front door only; `editbot worker` processes run the jobs.
            log.info("EDITBOT_WORKERS=0: serving the platforms, running no jobs here")
            await run_until_signal([beat.run, *runners], closers=[*closers, beat.stop])
            return
        # Workers first, so results finishing in the grace period still reach the platforms.
        await run_until_signal(
            [beat.run, _work(app), *runners], closers=[stop_workers, *closers, beat.stop]
        )


async def run_workers(
    settings: Settings,
    *,
    concurrency: int | None = None,
    lease_s: float | None = None,
    grace_s: float = DEFAULT_GRACE_S,
) -> None:
    """`editbot worker`: claim and run jobs until a signal."""
    if (settings.workers if concurrency is None else concurrency) < 1:
        raise ConfigError(
            "EDITBOT_WORKERS=0 leaves `editbot worker` nothing to run: set EDITBOT_WORKERS "
            "(or --concurrency) to 1 or more for worker processes"
        )
    async with open_app(settings, concurrency=concurrency, lease_s=lease_s) as app:
        await verify_tokens(settings, app.http)
        closers: list[Closer] = await register_delivery_chats(app)

        async def stop_workers() -> None:
            log.info("stopping: running jobs get %.0f s", grace_s)
            await app.worker.stop(grace_s=grace_s)

        worker = app.worker
        log.info(
            "worker %s: %d concurrent jobs, lease %g s",
            worker.owner,
            worker.concurrency,
            worker.lease_s,
        )
        beat = app.core.heartbeat
        freeze_startup_heap()  # started: what is alive now lives as long as the process
        await run_until_signal([beat.run, _work(app)], closers=[stop_workers, *closers, beat.stop])


def _work(app: App) -> Runner:
    """The workers, claiming once the first beat freed what dead processes held."""

    async def work() -> None:
        await app.core.heartbeat.wait_ready()
        await app.worker.run()

    return work
