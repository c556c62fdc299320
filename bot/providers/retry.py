"""Bounded retries with full-jitter exponential backoff, under one total deadline per job."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.core.errors import DeadlineExceeded, ProviderRetryable

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[int, ProviderRetryable, float], Awaitable[None]]
"""Called before each retry with (retry number from 1, the error, the delay in seconds)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is tried again."""

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform(0, min(max_delay, base * 2**retry)) for the 0-based `retry`."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**retry))
        return (rng or random).uniform(0, ceiling)

    def delay(
        self, retry: int, *, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """The wait before retry number `retry` (0-based): the server's word when it gave one."""
        if retry_after is not None:
            # The server knows its own rate window; waiting less only earns another 429.
            return max(0.0, retry_after)
        return self.backoff(retry, rng)


class Deadline:
    """A total time budget on the monotonic clock, started when the object is made."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def check(self) -> float:
        """The remaining seconds; raises DeadlineExceeded when there are none left."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded(f"the edit did not finish within {self.seconds:g} s")
        return left


async def with_retries(
    attempt: Callable[[float], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run `attempt(timeout_s)` until it returns, retrying ProviderRetryable within bounds.

    Each attempt gets the remaining deadline as its timeout. A retry whose wait would end past
    the deadline is not waited for: DeadlineExceeded is raised at once (chained to the error).
    """
    retry = 0
    while True:
        timeout = deadline.check()
        try:
            return await attempt(timeout)
        except ProviderRetryable as exc:
            if retry >= policy.max_retries:
                raise
            wait = policy.delay(retry, retry_after=exc.retry_after, rng=rng)
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"the edit did not finish within {deadline.seconds:g} s (last error: {exc})",
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                ) from exc
            retry += 1
            if on_retry is not None:
                await on_retry(retry, exc, wait)
            await sleep(wait)
