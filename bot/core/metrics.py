"""A tiny in-process metrics registry (counters and gauges) rendered in Prometheus text format."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TypeVar

Labels = tuple[tuple[str, str], ...]


def _labels(kw: dict[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in kw.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self._values: dict[Labels, float] = {}
        # Counters may be bumped from worker threads (asyncio.to_thread), so guard the dict.
        self._lock = threading.Lock()

    def value(self, **labels: str) -> float:
        """Current value for these labels (0 when never touched)."""
        return self._values.get(_labels(labels), 0.0)

    def _add(self, amount: float, labels: dict[str, str]) -> None:
        key = _labels(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + float(amount)

    def samples(self) -> Iterable[tuple[Labels, float]]:
        with self._lock:
            return sorted(self._values.items())


M = TypeVar("M", bound=_Metric)


class Counter(_Metric):
    """A number that only goes up (events seen, errors)."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        self._add(amount, labels)


class Gauge(_Metric):
    """A number that goes up and down (jobs in flight)."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[_labels(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._add(amount, labels)

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self._add(-amount, labels)


class Registry:
    """Named metrics of one process; asking twice for a name returns the same metric."""

    def __init__(self, prefix: str = "editbot_") -> None:
        self.prefix = prefix
        self._metrics: dict[str, _Metric] = {}

    def counter(self, name: str, help_text: str = "") -> Counter:
        return self._get(Counter, name, help_text)

    def gauge(self, name: str, help_text: str = "") -> Gauge:
        return self._get(Gauge, name, help_text)

    def _get(self, cls: type[M], name: str, help_text: str) -> M:
        full = self.prefix + name
        metric = self._metrics.get(full)
        if metric is None:
            metric = self._metrics[full] = cls(full, help_text)
        if not isinstance(metric, cls):
            raise TypeError(f"metric {full} is a {metric.kind}, not a {cls.kind}")
        return metric

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        for name in sorted(self._metrics):
            metric = self._metrics[name]
            if metric.help:
                lines.append(f"# HELP {name} {metric.help}")
            lines.append(f"# TYPE {name} {metric.kind}")
            for labels, value in metric.samples():
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                shown = int(value) if value.is_integer() else value
                lines.append(f"{name}{{{label_text}}} {shown}" if labels else f"{name} {shown}")
        return "\n".join(lines) + "\n"
