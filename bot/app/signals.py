"""Run a process's parts until SIGINT or SIGTERM (or until one of them fails)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Runner = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None]]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signal(runners: list[Runner], *, closers: list[Closer]) -> None:
    """Run every runner; on a signal or the first one failing, close all (in order) and
    return; a runner's failure is raised after the others were closed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(r()) for r in runners]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception()]
    finally:
        log.info("stopping")
        for close in closers:
            with contextlib.suppress(Exception):
                await close()
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for sig in _SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if failed:
        raise failed[0].exception()  # type: ignore[misc]
