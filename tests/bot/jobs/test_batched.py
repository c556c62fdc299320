"""bot/jobs/batched.py: calls made while a batch runs go together in the next one."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.batched import Batched


class Recorder:
    """A batch function that records each batch and holds it until `go` is set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.go = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(items)
        self.started.set()
        await self.go.wait()
        return [item.upper() for item in items]


async def test_the_first_call_runs_at_once_and_the_ones_meanwhile_run_together_next() -> None:
    run = Recorder()
    batched: Batched[str, str] = Batched(run)
    first = asyncio.ensure_future(batched("a"))
    await run.started.wait()
    later = [asyncio.ensure_future(batched(x)) for x in "bcd"]
    await asyncio.sleep(0)
    assert run.batches == [["a"]]  # not waiting for company
    run.go.set()
    assert await first == "A"
    assert await asyncio.gather(*later) == ["B", "C", "D"]
    assert run.batches == [["a"], ["b", "c", "d"]]


async def test_a_failing_batch_fails_each_of_its_calls_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        calls.append(items)
        if 0 in items:
            raise ValueError("no zeros")
        return [10 * i for i in items]

    batched: Batched[int, int] = Batched(run)
    # Calls made before the first batch starts are in it.
    failed = await asyncio.gather(batched(0), batched(1), return_exceptions=True)
    assert [type(f) for f in failed] == [ValueError, ValueError]
    assert await asyncio.gather(batched(1), batched(2)) == [10, 20]
    assert calls == [[0, 1], [1, 2]]


async def test_with_unwanted_a_caller_gone_before_its_batch_is_left_out_and_one_gone_during_it_hands_its_answer_back() -> (  # noqa: E501
    None
):
    run = Recorder()
    unwanted: list[str] = []

    async def give_back(answer: str) -> None:
        unwanted.append(answer)

    batched: Batched[str, str] = Batched(run, unwanted=give_back)
    during = asyncio.ensure_future(batched("a"))
    await run.started.wait()
    before = asyncio.ensure_future(batched("b"))
    kept = asyncio.ensure_future(batched("c"))
    await asyncio.sleep(0)
    before.cancel()
    during.cancel()
    run.go.set()
    assert await kept == "C"
    await batched.settle()
    assert run.batches == [["a"], ["c"]]  # "b" never ran
    assert unwanted == ["A"]  # "a" ran, and nobody waited for it any more
    with pytest.raises(asyncio.CancelledError):
        await during


async def test_without_unwanted_a_caller_gone_still_has_its_item_run() -> None:
    run = Recorder()
    batched: Batched[str, str] = Batched(run)
    first = asyncio.ensure_future(batched("a"))
    await run.started.wait()
    gone = batched.submit("b")  # nobody awaits it: a write that must happen anyway
    gone.cancel()
    run.go.set()
    assert await first == "A"
    await batched.settle()
    assert run.batches == [["a"], ["b"]]


async def test_with_a_gather_window_calls_spread_over_it_share_one_batch() -> None:
    run = Recorder()
    run.go.set()
    batched: Batched[str, str] = Batched(run, gather_s=1.0)
    first = asyncio.ensure_future(batched("a"))
    await asyncio.sleep(0.05)
    assert run.batches == []  # the first call waits for company
    later = [asyncio.ensure_future(batched(x)) for x in "bc"]
    assert await asyncio.gather(first, *later) == ["A", "B", "C"]
    assert run.batches == [["a", "b", "c"]]
    await batched.settle()
