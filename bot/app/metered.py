"""What /metrics counts, wired where the composition root can see it.

`MeteredProvider` wraps the provider client: how long each edit took and, when it failed,
what kind of failure it was. `scrape_database` reads, at scrape time, what only the
database knows across processes: jobs by status, the queue's depth and oldest age, results
not delivered yet, spend per channel.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.core.edits import EditRequest, EditResult, OnProgress, OnTaskId
from bot.core.errors import (
    ContentRejected,
    DeadlineExceeded,
    ProviderRejected,
    ProviderRetryable,
)
from bot.core.metrics import Registry
from bot.core.ports import Provider
from storage.columns import utcnow
from storage.db import Sessions
from storage.ops_stats import ops_stats

T = TypeVar("T")

_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (DeadlineExceeded, "deadline"),
    (ProviderRetryable, "retryable"),
    (ProviderRejected, "rejected"),
    (ContentRejected, "content"),
)


def error_kind(exc: BaseException) -> str:
    """A provider failure's kind, as the `kind` label says it."""
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return kind
    return "other"


class MeteredProvider:
    """A Provider that records `provider_seconds` and `provider_errors_total`."""

    def __init__(self, inner: Provider, metrics: Registry) -> None:
        self._inner = inner
        self.name = inner.name
        self._seconds = metrics.histogram(
            "provider_seconds", "Provider edits: seconds from send to answer, by outcome"
        )
        self._errors = metrics.counter(
            "provider_errors_total", "Provider edits that failed, by kind of failure"
        )

    async def edit(
        self,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
        on_task_id: OnTaskId | None = None,
    ) -> EditResult:
        return await self._timed(
            lambda: self._inner.edit(request, on_progress=on_progress, on_task_id=on_task_id)
        )

    def preview(self, request: EditRequest) -> dict[str, object]:
        return self._inner.preview(request)

    async def resume(
        self, task_id: str, request: EditRequest, *, on_progress: OnProgress | None = None
    ) -> EditResult:
        return await self._timed(
            lambda: self._inner.resume(task_id, request, on_progress=on_progress)
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _timed(self, call: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        provider = self.name.value
        try:
            result = await call()
        except Exception as exc:
            kind = error_kind(exc)
            self._errors.inc(provider=provider, kind=kind)
            self._seconds.observe(time.perf_counter() - start, provider=provider, outcome=kind)
            raise
        self._seconds.observe(time.perf_counter() - start, provider=provider, outcome="ok")
        return result


def scrape_database(sessions: Sessions, metrics: Registry) -> Callable[[], Awaitable[None]]:
    """Before each /metrics answer: set the gauges only the database can tell."""
    jobs = metrics.gauge("jobs", "Jobs in the database, by status")
    depth = metrics.gauge("queue_depth", "Jobs queued and waiting for a worker")
    age = metrics.gauge("queue_oldest_age_seconds", "Seconds the oldest queued job has waited")
    undelivered = metrics.gauge(
        "undelivered_jobs", "Finished jobs whose result has not reached its thread yet"
    )
    spend = metrics.gauge(
        "spend_usd", "Dollars spent per channel scope (settled and lost attempts), all time"
    )

    async def scrape() -> None:
        stats = await ops_stats(sessions, now=utcnow())
        for status, count in stats.jobs_by_status.items():
            jobs.set(count, status=status)
        depth.set(stats.queued)
        age.set(stats.oldest_queued_age_s)
        undelivered.set(stats.undelivered)
        spend.clear()
        for scope, micros in stats.spend_micros_by_scope.items():
            spend.set(micros / 1_000_000, scope=scope)

    return scrape
