"""Where a queue benchmark job's time goes: bench_queue with timers around each step.

    python -m bench.bench_phases [bench_queue's options, e.g. --prerendered --databases sqlite]

Runs bench.bench_queue unchanged, with editbot's steps wrapped in timers (the wrappers cost a
little CPU, so its totals read a little high; the steps' shares are what it is for). Prints,
after the run:
- each step's mean wall time per call (the input read, the provider call, the blob put and
  image size, the success write, the post, a whole job);
- each kind of background batch (claims, writes, confirms): how many, their mean size, how
  long one took;
- every to_thread step (the queueing's included): the wait for a pool thread, its work,
  and the wait to be resumed;
- how late the event loop ran a 5 ms timer during the drains (median, p90, p99, max), and
  the GC's pauses then.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import bot.jobs.batched as batched
import bot.jobs.runner as runner
import bot.jobs.worker as worker
import bot.providers.openai as openai
from bench import bench_queue

_steps: defaultdict[str, list[float]] = defaultdict(list)
_batches: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
_threads: defaultdict[str, list[tuple[float, float, float]]] = defaultdict(list)
_lag: list[float] = []
_gc: defaultdict[int, list[float]] = defaultdict(list)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            _steps[name].append(time.perf_counter() - started)

    return timed


def _wrap_steps() -> None:
    runner.load_request = _timed("input read", runner.load_request)
    runner.image_size = _timed("image size", runner.image_size)
    openai.OpenAIProvider.edit = _timed("provider call", openai.OpenAIProvider.edit)
    runner.JobRunner._write = _timed("success write", runner.JobRunner._write)
    runner.JobRunner._succeed = _timed("success (all)", runner.JobRunner._succeed)
    worker.post_once = _timed("post", worker.post_once)
    worker.Worker._process = _timed("job (all)", worker.Worker._process)
    one = batched.Batched._one

    async def timed_one(self: Any, batch: list[Any]) -> None:
        started = time.perf_counter()
        try:
            await one(self, batch)
        finally:
            name = getattr(self._run, "__name__", type(self._run).__name__)
            _batches[name].append((len(batch), time.perf_counter() - started))

    batched.Batched._one = timed_one  # type: ignore[method-assign]
    submit = batched.Batched.submit

    def timed_submit(self: Any, item: Any) -> Any:
        # From joining the queue to the answer: the wait for a batch plus the batch itself.
        started, future = time.perf_counter(), submit(self, item)
        name = getattr(self._run, "__name__", type(self._run).__name__)
        key = f"{name} (queued)"
        future.add_done_callback(lambda _: _steps[key].append(time.perf_counter() - started))
        return future

    batched.Batched.submit = timed_submit  # type: ignore[method-assign]


def _wrap_threads() -> None:
    to_thread = asyncio.to_thread

    async def timed_to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        submitted, marks = time.perf_counter(), [0.0, 0.0]

        def work() -> Any:
            marks[0] = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                marks[1] = time.perf_counter()

        try:
            return await to_thread(work)
        finally:
            name = getattr(func, "__qualname__", repr(func))
            waits = (marks[0] - submitted, marks[1] - marks[0], time.perf_counter() - marks[1])
            _threads[name].append(waits)

    asyncio.to_thread = timed_to_thread


def _watch_loop_and_gc() -> None:
    drain = worker.Worker.drain

    async def watched(self: Any) -> None:
        async def lag() -> None:
            while True:
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                _lag.append(time.perf_counter() - started - 0.005)

        watcher = asyncio.create_task(lag())
        _gc.clear()  # the drains' pauses only, not the queueing's
        try:
            await drain(self)
        finally:
            watcher.cancel()

    worker.Worker.drain = watched  # type: ignore[method-assign]
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            _gc[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def report() -> None:
    print("\nsteps (mean wall per call):")
    for name, times in _steps.items():
        print(f"  {name:<16} {_ms(statistics.mean(times))}  ({len(times)} calls)")
    print("background batches:")
    for name, runs in _batches.items():
        size, took = statistics.mean(n for n, _ in runs), statistics.mean(t for _, t in runs)
        print(f"  {name:<16} {len(runs)} batches, {size:.1f} each, {_ms(took)}")
    print("thread steps (wait for a thread / work / wait to resume):")
    for name, waits in sorted(_threads.items(), key=lambda kv: -len(kv[1])):
        queue, work, back = (statistics.mean(w[i] for w in waits) for i in range(3))
        print(f"  {name[:30]:<30} {len(waits):5d}  {_ms(queue)} / {_ms(work)} / {_ms(back)}")
    if _lag:
        lag = sorted(_lag)
        at = [lag[int(len(lag) * q)] for q in (0.5, 0.9, 0.99)]
        print("event loop late by: p50 {}, p90 {}, p99 {}, max {}".format(*map(_ms, at + lag[-1:])))
    for generation, pauses in sorted(_gc.items()):
        total, longest = _ms(sum(pauses)), _ms(max(pauses))
        print(f"gc gen {generation}: {len(pauses)} pauses, {total} in all, max {longest}")


def main(argv: list[str] | None = None) -> int:
    _wrap_steps()
    _wrap_threads()
    _watch_loop_and_gc()
    try:
        return bench_queue.main(argv)
    finally:
        report()


if __name__ == "__main__":
    sys.exit(main())
