"""The live status message while a job runs: the stage, an elapsed time that ticks, retries with
their wait, and the provider's previews as they arrive.

The provider reports events (bot.core.edits.Progress); between them a ticker re-sends the
current state every TICK_S so the elapsed time moves. Each state goes to ChatPort.update_status,
which coalesces updates within the platform's rate limits (the latest one always lands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.core.edits import OnProgress, Progress, Stage
from bot.core.jobs import JobSpec
from bot.core.messages import status_queued, status_retrying, status_running
from bot.core.ports import ChatPort, MessageRef, ResultImage
from bot.images.preview import preview_image
from storage.db import Sessions
from storage.live import queue_head

log = logging.getLogger(__name__)

TICK_S = 4.0
"""Seconds between two re-sends of an unchanged stage (the elapsed time ticking)."""

_LABELS = {
    Stage.RETRYING: "trying again",
    Stage.UPLOADING: "sending the images",
    Stage.QUEUED: "waiting in the image service's queue",
    Stage.RUNNING: "editing",
    Stage.DOWNLOADING: "fetching the result",
}


@dataclass
class _State:
    stage: Stage = Stage.UPLOADING
    previews: int = 0
    retry: Progress | None = None
    retry_at: float = 0.0
    preview: ResultImage | None = None
    raw_preview: bytes | None = None
    """The latest partial image, not scaled down yet."""


class LiveStatus:
    """The status message of one running job. `report` is its provider progress callback.

    `report` only records the event and wakes a sender task, so a slow or rate-limited chat
    platform never holds up the provider's stream. The sender shows the latest state (scaling
    a new preview down first), at once after an event and every `tick_s` without one, until
    the task that reported the first event ends (the job's run; delivery comes after it).
    """

    def __init__(
        self,
        chat: ChatPort,
        job: JobSpec,
        ref: MessageRef,
        *,
        tick_s: float = TICK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat = chat
        self.job = job
        self.ref = ref
        self.tick_s = tick_s
        self.clock = clock
        self.started = clock()
        self.state = _State()
        self._sender: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()

    def text(self) -> str:
        """The status line for the current state at the current time."""
        state, now = self.state, self.clock()
        if state.stage is Stage.RETRYING and state.retry is not None and state.retry.retry:
            left = state.retry.wait_s - (now - state.retry_at)
            return status_retrying(
                state.retry.retry + 1,
                max_attempts=state.retry.max_retries + 1,
                wait_s=left if left >= 1 else None,
            )
        line = status_running(now - self.started, _LABELS.get(state.stage, "editing"))
        if state.previews:
            line += f" (preview {state.previews})"
        return line

    async def report(self, progress: Progress) -> None:
        """Take one provider event; the sender shows it."""
        state = self.state
        state.stage = progress.stage
        if progress.stage is Stage.RETRYING:
            state.retry, state.retry_at = progress, self.clock()
        if progress.preview is not None:
            state.raw_preview = progress.preview
        self._idle.clear()
        self._changed.set()
        self._start_sender()

    async def settled(self) -> None:
        """Wait until every event reported so far has been shown (for tests)."""
        await self._idle.wait()

    def _start_sender(self) -> None:
        if self._sender is not None:
            return
        self._sender = asyncio.create_task(self._send_loop(), name=f"status-{self.job.id}")
        owner = asyncio.current_task()
        if owner is not None:
            owner.add_done_callback(lambda _: self.stop())

    def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()

    async def _send_loop(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                self._changed.clear()
                await self._shrink_preview()
                await self._send()
                if not self._changed.is_set():
                    self._idle.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.tick_s)

    async def _shrink_preview(self) -> None:
        state = self.state
        raw, state.raw_preview = state.raw_preview, None
        if raw is None:
            return
        try:
            state.preview = await preview_image(raw, name=f"preview-{state.previews + 1}")
            state.previews += 1
        except Exception:  # a preview the image library cannot read: keep the last one
            log.warning("job %s: unreadable preview", self.job.id, exc_info=True)

    async def _send(self) -> None:
        try:
            await self.chat.update_status(self.ref, self.text(), preview=self.state.preview)
        except Exception:  # a status line must never fail the edit
            log.warning("job %s: status update failed", self.job.id, exc_info=True)


def progress_reporter(
    chat: ChatPort | None,
    job: JobSpec,
    *,
    tick_s: float = TICK_S,
    board: QueueBoard | None = None,
) -> OnProgress | None:
    """A provider progress callback that keeps the job's status message live; None without one.

    The elapsed time ticks from the first event until the task that reported it ends. The job
    has just left the queue: `board` (when given) counts the queue's status messages down.
    """
    if board is not None:
        board.moved()
    if chat is None or job.status_message_id is None:
        return None
    return LiveStatus(chat, job, MessageRef(job.place, job.status_message_id), tick_s=tick_s).report


QUEUE_SHOWN = 10
"""Queued edits, from the head of the queue, whose status line counts down."""
QUEUE_REFRESHES = 10
"""Refreshes of the queue's status lines that may run back to back (one per claim) ..."""
QUEUE_REFRESHES_PER_S = 2.0
"""... and how fast that allowance comes back once a busy queue has used it up."""


class QueueBoard:
    """Keeps "Queued - N ahead" right at the head of the queue (with any number of workers and
    processes: the count is read from the database): after a job leaves the queue, every
    queued job among the first QUEUE_SHOWN whose place changed gets its line updated. One
    refresh runs at a time; claims meanwhile are covered by one more refresh after it.

    Refreshes are rate-limited as a token bucket (`burst` at once, then `per_s`): a queue that
    drains fast moves by many places between two refreshes, and the counts in between would
    be overwritten before anyone read them (bench/bench_queue.py: a refresh per claim cost a
    tenth of the worker's CPU)."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        chats: Mapping[str, ChatPort],
        limit: int = QUEUE_SHOWN,
        burst: int = QUEUE_REFRESHES,
        per_s: float = QUEUE_REFRESHES_PER_S,
    ) -> None:
        self.sessions = sessions
        self.chats = chats
        self.limit = limit
        self.burst = burst
        self.per_s = per_s
        self._shown: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._tokens = float(burst)
        self._filled = time.monotonic()

    def moved(self) -> None:
        """The queue changed (a job was claimed): refresh soon, in the background."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run(), name="queue-board")

    async def wait(self) -> None:
        """Wait for the refresh in progress, if any (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while True:
            await self._take_token()
            self._again = False
            try:
                await self.refresh()
            except Exception:  # the next claim tries again
                log.warning("queue status refresh failed", exc_info=True)
            if not self._again:
                return

    async def _take_token(self) -> None:
        """Wait until the rate limit allows one more refresh, and use it."""
        while True:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._filled) * self.per_s)
            self._filled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.per_s)

    async def refresh(self) -> None:
        """Update each status message at the head of the queue whose count changed."""
        async with self.sessions() as session:
            head = await queue_head(session, limit=self.limit)
        seen: dict[str, int] = {}
        for job, ahead in head:
            message_id = job.status_message_id
            if message_id is None or message_id in seen:
                continue  # a batch shares its first job's message and place in line
            seen[message_id] = ahead
            chat = self.chats.get(job.place.platform)
            if chat is None or self._shown.get(message_id) == ahead:
                continue
            try:
                await chat.update_text(MessageRef(job.place, message_id), status_queued(ahead))
            except Exception:
                log.warning("job %s: queue status update failed", job.id, exc_info=True)
        self._shown = seen
