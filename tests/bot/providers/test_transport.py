"""ShardedTransport against a real aiohttp server on 127.0.0.1: routing, limits, bodies, closing.

The server holds requests on an asyncio.Event, so a test can look at the transport and at the
server's open connections while many requests are in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiohttp import web

from bot.providers.transport import SHARD_CONNECTIONS, ShardedTransport, pooled_client

TIMEOUT = httpx.Timeout(10.0)


class Server:
    """Routes: /hold/{n} waits for `release`; /echo hashes the body; /stream/{n} streams
    chunks made from n; /silent never answers; /stall sends one chunk, then nothing."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.forever = asyncio.Event()  # set only at teardown
        self.held = 0
        self.peak_held = 0
        self.peak_connections = 0
        self.ports: set[int] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def connections(self) -> int:
        """Connections the server has open right now."""
        assert self._runner is not None and self._runner.server is not None
        return len(self._runner.server.connections)

    def _seen(self, request: web.Request) -> None:
        assert request.transport is not None
        self.ports.add(request.transport.get_extra_info("peername")[1])
        self.peak_connections = max(self.peak_connections, self.connections)

    async def hold(self, request: web.Request) -> web.Response:
        self._seen(request)
        self.held += 1
        self.peak_held = max(self.peak_held, self.held)
        try:
            await self.release.wait()
        finally:
            self.held -= 1
        return web.Response(text=f"hold:{request.match_info['n']}")

    async def echo(self, request: web.Request) -> web.Response:
        self._seen(request)
        body = await request.read()
        return web.json_response(
            {"path": request.path, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        n = int(request.match_info["n"])
        response = web.StreamResponse()
        await response.prepare(request)
        for chunk in stream_chunks(n):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def silent(self, request: web.Request) -> web.Response:
        self._seen(request)
        await self.forever.wait()
        return web.Response(text="too late")

    async def stall(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first chunk")
        await self.forever.wait()
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/hold/{n}", self.hold)
        app.router.add_post("/echo/{name}", self.echo)
        app.router.add_get("/stream/{n}", self.stream)
        app.router.add_get("/silent", self.silent)
        app.router.add_get("/stall", self.stall)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.release.set()
        self.forever.set()
        assert self._runner is not None
        await self._runner.cleanup()


def stream_chunks(n: int) -> list[bytes]:
    """64 chunks of 16 KiB, each different and derived from n."""
    return [bytes([(n + i) % 251]) * 16384 for i in range(64)]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds; fail the test if it does not within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"still not true after {timeout} s")
        await asyncio.sleep(0.005)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("max_connections", "limits"),
    [
        (100, [15, 15, 14, 14, 14, 14, 14]),
        (16, [16]),
        (17, [9, 8]),
        (32, [16, 16]),
        (33, [11, 11, 11]),
        (1, [1]),
    ],
)
def test_shards_split_max_connections_exactly(max_connections: int, limits: list[int]) -> None:
    transport = ShardedTransport(max_connections=max_connections)
    assert transport.shards == -(-max_connections // SHARD_CONNECTIONS)
    assert transport.limits == limits
    assert sum(transport.limits) == max_connections
    assert max(transport.limits) <= SHARD_CONNECTIONS
    assert transport.in_flight == [0] * transport.shards


@pytest.mark.parametrize(
    "bad", [{"max_connections": 0}, {"max_connections": 5, "shard_connections": 0}]
)
def test_limits_must_be_positive(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ShardedTransport(**bad)


async def test_held_requests_spread_evenly_and_drain(server: Server) -> None:
    transport = ShardedTransport(max_connections=100)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        tasks = [asyncio.create_task(client.get(f"{server.url}/hold/{i}")) for i in range(50)]
        # All 50 reach the server at once: no shard holds more than its 14 or 15 connections.
        await until(lambda: server.held == 50)
        assert sum(transport.in_flight) == 50
        assert max(transport.in_flight) - min(transport.in_flight) <= 1
        assert len(server.ports) == 50
        server.release.set()
        responses = await asyncio.gather(*tasks)
        assert [r.text for r in responses] == [f"hold:{i}" for i in range(50)]
        assert transport.in_flight == [0] * 7


async def test_never_more_connections_than_max(server: Server) -> None:
    # 3 shards of 2, 2 and 1 connections: rounding each shard up to 2 would open 6.
    transport = ShardedTransport(max_connections=5, shard_connections=2)
    assert transport.limits == [2, 2, 1]
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        tasks = [asyncio.create_task(client.get(f"{server.url}/hold/{i}")) for i in range(12)]
        await until(lambda: server.held >= 5 and sum(transport.in_flight) == 12)
        await asyncio.sleep(0.2)  # time for a sixth connection, were one allowed
        assert server.held == 5
        assert server.connections == 5
        # The 7 waiting for a connection are counted where they wait, evenly.
        assert transport.in_flight == [4, 4, 4]
        server.release.set()
        responses = await asyncio.gather(*tasks)
    assert [r.status_code for r in responses] == [200] * 12
    assert server.peak_held == 5
    assert server.peak_connections <= 5
    # Every later request reused one of the first five connections.
    assert len(server.ports) == 5
    assert transport.in_flight == [0, 0, 0]


async def test_bodies_round_trip(server: Server) -> None:
    transport = ShardedTransport(max_connections=4, shard_connections=2)
    body = os.urandom(300_000)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        response = await client.post(f"{server.url}/echo/photo.png", content=body)
        assert response.json() == {
            "path": "/echo/photo.png",
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": len(body),
        }
        assert transport.in_flight == [0, 0]

        async with client.stream("GET", f"{server.url}/stream/7") as streamed:
            # The response is open until the block ends: its shard still counts it.
            assert sum(transport.in_flight) == 1
            chunks = [chunk async for chunk in streamed.aiter_bytes()]
        assert b"".join(chunks) == b"".join(stream_chunks(7))
        assert transport.in_flight == [0, 0]

        # Several streams at once, over both shards, each read to the end.
        async def read(n: int) -> bytes:
            async with client.stream("GET", f"{server.url}/stream/{n}") as r:
                return await r.aread()

        bodies = await asyncio.gather(*(read(n) for n in range(8)))
        assert bodies == [b"".join(stream_chunks(n)) for n in range(8)]
        assert transport.in_flight == [0, 0]


async def test_failed_requests_leave_nothing_in_flight(server: Server) -> None:
    transport = ShardedTransport(max_connections=4, shard_connections=2)
    quick = httpx.Timeout(10.0, read=0.2)
    async with httpx.AsyncClient(transport=transport, timeout=quick) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port()}/")
        assert transport.in_flight == [0, 0]

        # No response headers in time.
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/silent")
        assert transport.in_flight == [0, 0]

        # Headers, then the body stalls.
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/stall")
        assert transport.in_flight == [0, 0]

        # A stream left after its first chunk.
        async with client.stream("GET", f"{server.url}/stall") as streamed:
            async for chunk in streamed.aiter_raw():
                assert chunk == b"first chunk"
                break
        assert transport.in_flight == [0, 0]

        # A request cancelled while the server holds it.
        task = asyncio.create_task(client.get(f"{server.url}/hold/1"))
        await until(lambda: server.held == 1)
        assert sum(transport.in_flight) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert transport.in_flight == [0, 0]

        # And the transport still works afterwards.
        server.release.set()
        assert (await client.get(f"{server.url}/hold/2")).text == "hold:2"
        assert transport.in_flight == [0, 0]


async def test_aclose_closes_every_shard(server: Server) -> None:
    transport = ShardedTransport(max_connections=6, shard_connections=2)
    client = httpx.AsyncClient(transport=transport, timeout=TIMEOUT)
    tasks = [asyncio.create_task(client.get(f"{server.url}/hold/{i}")) for i in range(6)]
    await until(lambda: server.held == 6)
    assert transport.in_flight == [2, 2, 2]
    server.release.set()
    await asyncio.gather(*tasks)
    # Each shard keeps its two connections alive for the next request.
    assert server.connections == 6

    await client.aclose()
    await until(lambda: server.connections == 0)
    with pytest.raises(RuntimeError, match="closed"):
        await transport.handle_async_request(httpx.Request("GET", f"{server.url}/hold/9"))
    assert server.connections == 0
    assert transport.in_flight == [0, 0, 0]


async def test_pooled_client_uses_the_shards(server: Server) -> None:
    async with pooled_client(timeout=httpx.Timeout(10.0, read=1.0), max_connections=3) as client:
        tasks = [asyncio.create_task(client.get(f"{server.url}/hold/{i}")) for i in range(6)]
        await until(lambda: server.held >= 3)
        await asyncio.sleep(0.1)
        assert server.held == 3
        server.release.set()
        responses = await asyncio.gather(*tasks)
        assert [r.text for r in responses] == [f"hold:{i}" for i in range(6)]
        # The client's timeout reaches the shards.
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/silent")
    assert server.peak_connections <= 3
    assert len(server.ports) == 3
