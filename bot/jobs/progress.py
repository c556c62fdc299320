"""The status message while a job runs: `Editing... 12s`, throttled per stage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.core.edits import OnProgress, Progress, Stage
from bot.core.jobs import JobSpec
from bot.core.messages import status_running
from bot.core.ports import ChatPort, MessageRef

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 2.0
"""Least seconds between two status updates of the same stage (the adapters throttle too)."""


def progress_reporter(
    chat: ChatPort | None, job: JobSpec, *, clock: Callable[[], float] = time.monotonic
) -> OnProgress | None:
    """A provider progress callback that updates the job's status message; None without one."""
    if chat is None or job.status_message_id is None:
        return None
    ref = MessageRef(job.place, job.status_message_id)
    last: dict[str, float] = {}

    async def report(progress: Progress) -> None:
        now = clock()
        stage = progress.stage.value
        if now - last.get(stage, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
            return
        last[stage] = now
        label = "editing" if progress.stage in (Stage.QUEUED, Stage.RUNNING) else stage
        try:
            await chat.update_text(ref, status_running(progress.elapsed_s, label))
        except Exception:  # a status line must never fail the edit
            log.warning("job %s: status update failed", job.id, exc_info=True)

    return report
