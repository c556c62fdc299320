"""This process's heartbeat, and taking over what dead processes held.

Every `interval_s` the process writes its row (storage.heartbeats) and reads the others'. A
process is dead when its beat is older than `stale_s`, or when it ran on this host and its pid
is gone (or is this process's own pid under another owner name: a container restarted as
pid 1). The leases a dead process held end at once (storage.queue.expire_leases_of), so any
live worker claims its jobs; so do its unconfirmed deliveries (storage.deliveries.
release_deliveries_of), which the next sweep posts unless the post is found in the thread;
and `on_dead` hooks take over the rest (the EditService adopts its inbox). A restarted
process does this in its first beat, before its workers claim and sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.deliveries import release_deliveries_of
from storage.heartbeats import Beat, beat, beats, forget
from storage.queue import expire_leases_of

log = logging.getLogger(__name__)

BEAT_S = 5.0
"""How often a process says it is alive."""
STALE_S = 15.0
"""A beat older than this is a dead process: its jobs move on within STALE_S + BEAT_S."""

OnDead = Callable[[Sequence[str]], Awaitable[object]]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Beats for `owner` and frees what dead owners held; `run` until cancelled."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        owner: str,
        interval_s: float = BEAT_S,
        stale_s: float = STALE_S,
        clock: Callable[[], datetime] = utcnow,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.sessions = sessions
        self.owner = owner
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.interval_s = interval_s
        self.stale_s = stale_s
        self.clock = clock
        self.alive = alive
        self.started_at = clock()
        self.on_freed: list[Callable[[], None]] = []
        """Called when leases were freed (the Worker's wake)."""
        self.on_posts_freed: list[Callable[[], None]] = []
        """Called when unconfirmed deliveries were taken back (the Worker's sweep_soon)."""
        self.on_dead: list[OnDead] = []
        """Called with the dead owners (maybe none) on every beat."""
        self.ready = asyncio.Event()
        """Set after the first beat: what a dead predecessor held is free by then."""
        self._task: asyncio.Task[None] | None = None

    def is_dead(self, other: Beat, now: datetime) -> bool:
        if other.owner == self.owner:
            return False
        if other.beat_at < now - timedelta(seconds=self.stale_s):
            return True
        if other.host != self.host:
            return False
        return other.pid == self.pid or not self.alive(other.pid)

    async def beat_once(self) -> list[str]:
        """Beat, and free the leases of dead owners; returns the dead owners."""
        now = self.clock()
        async with write_session(self.sessions) as session:
            await beat(
                session,
                owner=self.owner,
                host=self.host,
                pid=self.pid,
                started_at=self.started_at,
                now=now,
            )
            await forget(session, now=now)
            dead = [b.owner for b in await beats(session) if self.is_dead(b, now)]
            freed = await expire_leases_of(session, owners=dead, now=now)
            posts = await release_deliveries_of(session, owners=dead)
        if posts:
            log.warning(
                "took over %d unconfirmed posts of dead processes %s", posts, ", ".join(dead)
            )
            for sweep in self.on_posts_freed:
                sweep()
        if freed:
            log.warning("took over %d running jobs of dead processes %s", freed, ", ".join(dead))
            for wake in self.on_freed:
                wake()
        for hook in self.on_dead:  # every beat: they also take over orphans (cheap when none)
            try:
                await hook(dead)
            except Exception:
                log.exception("heartbeat: taking over from %s failed", ", ".join(dead))
        return dead

    async def wait_ready(self) -> None:
        """Until the first beat ran (workers claim after it)."""
        await self.ready.wait()

    async def run(self) -> None:
        """Beat every `interval_s` until cancelled or stopped (a failed beat is retried)."""
        self._task = asyncio.current_task()
        while True:
            try:
                await self.beat_once()
            except Exception:
                log.warning("heartbeat of %s failed; retrying", self.owner, exc_info=True)
            self.ready.set()
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        """A clean stop: date this process's beat back past `stale_s`, so whatever it still
        holds (an inbox entry cut short) is taken over at once by the others or a restart."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        long_ago = self.clock() - timedelta(seconds=2 * self.stale_s)
        try:
            async with write_session(self.sessions) as session:
                await beat(
                    session,
                    owner=self.owner,
                    host=self.host,
                    pid=self.pid,
                    started_at=self.started_at,
                    now=long_ago,
                )
        except Exception:
            log.warning("heartbeat of %s: could not sign off", self.owner, exc_info=True)
