"""How a run ended, as a value the next stage reads (instead of a patched row)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.jobs import JobSpec, JobStatus
from bot.jobs.delivery import Delivery


@dataclass(frozen=True)
class Succeeded:
    """The job finished with its outputs as versions and was charged its cost.

    `job` is the job as finished (thread, version, cost). `delivery` is what to post now: it
    was marked delivered in the finishing transaction. None when this process has no client
    for the job's platform (the sweep of a process that has one delivers it).
    """

    job: JobSpec
    delivery: Delivery | None

    status = JobStatus.SUCCEEDED

    @property
    def job_id(self) -> str:
        return self.job.id


@dataclass(frozen=True)
class Failed:
    """The job ended without output; its reservation was refunded; `job.error` says why."""

    job: JobSpec
    delivery: Delivery | None

    status = JobStatus.FAILED

    @property
    def job_id(self) -> str:
        return self.job.id


@dataclass(frozen=True)
class LeaseLost:
    """Another worker holds the job now; nothing this run wrote was kept."""

    job_id: str

    status = None
    delivery = None


Outcome = Succeeded | Failed | LeaseLost
