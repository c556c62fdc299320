"""Counters, gauges and histograms of one process, on prometheus-client, by name.

The rest of editbot records through this small API (`registry.counter("x").inc(kind=...)`)
and never imports prometheus-client; /metrics renders the registry in Prometheus' text
format. A metric's label names are fixed by its first use. prometheus-client is thread-safe,
so worker threads (asyncio.to_thread) may record too.

The names editbot exposes are listed in `EDITBOT_METRICS` below (README, Operating it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, TypeVar

import prometheus_client as prom
from prometheus_client import CollectorRegistry

CONTENT_TYPE = prom.CONTENT_TYPE_LATEST
"""The Content-Type of `Registry.render()`'s text."""

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300)
"""Seconds: from an ack (well under 3 s) to a high-quality 4k edit (minutes)."""


class _Metric:
    kind = "untyped"

    def __init__(
        self, registry: CollectorRegistry, name: str, help_text: str, **extra: Any
    ) -> None:
        self.name = name
        self.help = help_text or name
        self._registry = registry
        self._extra = extra
        self._prom: Any = None
        self._labels: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def _child(self, labels: dict[str, str]) -> Any:
        """The prometheus-client child for these labels (the metric is made on first use)."""
        names = tuple(sorted(labels))
        with self._lock:
            if self._prom is None:
                self._labels = names
                self._prom = self._make(names)
        if names != self._labels:
            raise ValueError(f"{self.name} has labels {self._labels}, not {names}")
        return self._prom.labels(**labels) if names else self._prom

    def _make(self, names: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def _sample(self, suffix: str, labels: dict[str, str]) -> float:
        found = self._registry.get_sample_value(self.name + suffix, labels)
        return 0.0 if found is None else float(found)


class Counter(_Metric):
    """A number that only goes up (events seen, errors)."""

    kind = "counter"

    def _make(self, names: tuple[str, ...]) -> Any:
        return prom.Counter(self.name, self.help, names, registry=self._registry)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        self._child(labels).inc(amount)

    def value(self, **labels: str) -> float:
        """Current value for these labels (0 when never touched)."""
        return self._sample("_total" if not self.name.endswith("_total") else "", labels)


class Gauge(_Metric):
    """A number that goes up and down (queue depth, jobs in flight)."""

    kind = "gauge"

    def _make(self, names: tuple[str, ...]) -> Any:
        return prom.Gauge(self.name, self.help, names, registry=self._registry)

    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).inc(amount)

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).dec(amount)

    def value(self, **labels: str) -> float:
        return self._sample("", labels)

    def clear(self) -> None:
        """Forget every label set (before a gauge read from the database is set afresh)."""
        if self._prom is not None and self._labels:
            self._prom.clear()


class Histogram(_Metric):
    """How long things took (or how big they were), in buckets."""

    kind = "histogram"

    def _make(self, names: tuple[str, ...]) -> Any:
        buckets = self._extra.get("buckets", LATENCY_BUCKETS)
        return prom.Histogram(self.name, self.help, names, registry=self._registry, buckets=buckets)

    def observe(self, value: float, **labels: str) -> None:
        self._child(labels).observe(value)

    def count(self, **labels: str) -> float:
        """How many observations these labels have."""
        return self._sample("_count", labels)


M = TypeVar("M", bound=_Metric)


class Registry:
    """Named metrics of one process; asking twice for a name returns the same metric."""

    def __init__(self, prefix: str = "editbot_") -> None:
        self.prefix = prefix
        self._registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str = "") -> Counter:
        return self._get(Counter, name, help_text)

    def gauge(self, name: str, help_text: str = "") -> Gauge:
        return self._get(Gauge, name, help_text)

    def histogram(
        self, name: str, help_text: str = "", *, buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return self._get(Histogram, name, help_text, buckets=tuple(buckets))

    def _get(self, cls: type[M], name: str, help_text: str, **extra: Any) -> M:
        full = self.prefix + name
        with self._lock:
            metric = self._metrics.get(full)
            if metric is None:
                metric = self._metrics[full] = cls(self._registry, full, help_text, **extra)
        if not isinstance(metric, cls):
            raise TypeError(f"metric {full} is a {metric.kind}, not a {cls.kind}")
        return metric

    def render(self) -> str:
        """Prometheus text exposition format (CONTENT_TYPE says which version)."""
        return prom.generate_latest(self._registry).decode()


EDITBOT_METRICS = {
    "jobs": "gauge: jobs in the database by status (read at scrape time)",
    "queue_depth": "gauge: jobs waiting to be claimed (read at scrape time)",
    "queue_oldest_age_seconds": "gauge: how long the oldest waiting job has waited",
    "undelivered_jobs": "gauge: finished jobs whose result has not reached its thread",
    "spend_usd": "gauge: money spent per channel scope, settled and lost attempts, all time",
    "provider_seconds": "histogram: provider calls by provider and outcome",
    "provider_errors_total": "counter: provider calls that failed, by provider and kind",
    "ack_seconds": "histogram: time to ack, by platform (Slack HTTP and Socket Mode, Discord)",
    "delivery_failures_total": "counter: posts of finished jobs that failed, by platform",
    "slack_events_total": "counter: Slack payloads handed to the core, by kind",
}
"""What /metrics exposes (prefixed `editbot_`): the operator's reference."""
