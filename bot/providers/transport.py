"""An httpx transport that spreads requests over several small connection pools.

httpcore's connection pool (1.0.x) rescans every pooled connection, polling each idle
socket, whenever a request starts or ends: the cost per request grows with the pool, and at
100 concurrent provider calls that bookkeeping took most of a core (bench/bench_queue.py).
Several pools of at most SHARD_CONNECTIONS connections each keep every scan short; each
request goes to the pool with the fewest requests in flight, so none waits for a connection
while another pool has one free.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpcore
import httpx

from bot.providers.network import AsyncioBackend

SHARD_CONNECTIONS = 16
"""Connections per pool: the most one scan walks."""


class _Counted(httpx.AsyncByteStream):
    """A response body that tells its pool when the response is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._done is not None:
                self._done()
                self._done = None


def _shard(connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose pool does its I/O on asyncio's streams (bot/providers/network)."""
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    )
    # httpx takes no network backend, so its pool is rebuilt with the same settings and
    # ours; tests/bot/providers/test_network.py checks that requests go through it.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=httpx.Limits().keepalive_expiry,
        network_backend=AsyncioBackend(),
    )
    return transport


class ShardedTransport(httpx.AsyncBaseTransport):
    """`shards` AsyncHTTPTransports behind one; a request goes to the least busy one."""

    def __init__(self, *, max_connections: int, shard_connections: int = SHARD_CONNECTIONS):
        if max_connections < 1 or shard_connections < 1:
            raise ValueError("connection limits must be positive")
        shards = -(-max_connections // shard_connections)
        # Split max_connections exactly (rounding every shard up would open more than asked),
        # the larger shards first: ties in `in_flight` go to the lower index, so a request
        # never waits on a full shard while an equally busy one has a free connection.
        base, extra = divmod(max_connections, shards)
        self.limits = [base + 1 if i < extra else base for i in range(shards)]
        self._shards = [_shard(limit) for limit in self.limits]
        # Requests each shard has open, from sending until the response is closed (those
        # waiting in the shard's pool for a connection included).
        self.in_flight = [0] * shards
        self._closed = False

    @property
    def shards(self) -> int:
        return len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            # A closed httpcore pool would quietly open new connections nobody closes.
            raise RuntimeError("the transport is closed")
        index = min(range(len(self._shards)), key=self.in_flight.__getitem__)
        self.in_flight[index] += 1

        def done() -> None:
            self.in_flight[index] -= 1

        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, done),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        async with contextlib.AsyncExitStack() as stack:
            # Every shard is closed even if one fails; the first failure is raised after.
            for shard in self._shards:
                stack.push_async_callback(shard.aclose)


POOLED_SHARD_CONNECTIONS = 8
"""The provider client's pools: half of SHARD_CONNECTIONS halves each scan again, and with
a hundred calls in flight that saved about a tenth of a call's CPU (bench/bench_queue.py)."""


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps none. The providers' APIs take each call's key and need no
    cookie; httpx's jar read every response through urllib's cookie machinery (about a
    twentieth of a provider call's CPU, bench/bench_queue.py) and kept what a server set,
    for later calls to carry."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def pooled_client(*, timeout: httpx.Timeout, max_connections: int) -> httpx.AsyncClient:
    """An AsyncClient for many concurrent provider calls (see the module doc), keeping no
    cookies."""
    transport = ShardedTransport(
        max_connections=max_connections, shard_connections=POOLED_SHARD_CONNECTIONS
    )
    client = httpx.AsyncClient(timeout=timeout, transport=transport)
    # Not through the `cookies` setter, which copies into a plain jar; tests/bot/providers/
    # test_network.py checks that a cookie a server set is not sent back.
    client._cookies = _NoCookies()
    return client
