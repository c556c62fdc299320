"""Jobs as the core sees them: their life cycle (JobStatus)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life."""

    AWAITING_CONFIRM = "awaiting_confirm"
    """Estimate above the confirm threshold; nothing reserved until someone confirms."""
    QUEUED = "queued"
    """Budget reserved; waiting for a worker."""
    RUNNING = "running"
    """A worker holds its lease and is running it."""
    SUCCEEDED = "succeeded"
    """Finished with output images; charged its actual cost."""
    FAILED = "failed"
    """Finished without output; refunded; `error` says why."""
    CANCELLED = "cancelled"
    """Dropped before running (cancel, or no confirm within 10 minutes); nothing charged."""


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
