"""httpcore's network I/O on asyncio's own streams, for the provider client's pools.

httpcore runs on asyncio through anyio by default. At a hundred provider calls in flight,
bench/bench_queue.py profiled about a quarter of editbot's CPU per job in that layer, and
most of it was bookkeeping rather than I/O:
- every read and write passes a cancel scope and an extra loop turn (anyio's checkpoint);
- before a request takes a pooled connection, and after one ends, the pool asks each idle
  connection whether its socket is readable; anyio answers by building a dict of the
  socket's attributes, a `getpeername()` system call included, then polls the socket.

This backend reads and writes through asyncio's StreamReader and StreamWriter (TLS through
`StreamWriter.start_tls`, Python 3.11+) and answers the readability question from the
reader's buffer, which asyncio fills as data arrives. It speaks httpcore's documented
`AsyncNetworkBackend` interface and raises httpcore's exceptions, which httpx maps to its
own, so timeouts and dropped connections reach the provider's retries as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
from httpcore._backends.base import SOCKET_OPTION

_READ_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.ReadTimeout,
    OSError: httpcore.ReadError,
}
_WRITE_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.WriteTimeout,
    OSError: httpcore.WriteError,
}
_CONNECT_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.ConnectTimeout,
    OSError: httpcore.ConnectError,  # ssl.SSLError is an OSError
}


@contextlib.contextmanager
def _mapped(errors: dict[type[Exception], type[Exception]]) -> Iterator[None]:
    """Raise httpcore's exception for an asyncio or socket one (the first match wins)."""
    try:
        yield
    except Exception as exc:
        for caught, raised in errors.items():
            if isinstance(exc, caught):
                raise raised(exc) from exc
        raise


class _Reader(asyncio.StreamReader):
    """A StreamReader that can say whether a read would return at once."""

    def would_return(self) -> bool:
        # Data waiting, the end of the stream, or an error: on an idle HTTP/1.1 connection
        # each means the server closed it (or broke the protocol), so it must not be reused.
        return bool(self._buffer) or self._eof or self.exception() is not None  # type: ignore[attr-defined]


HELD_BYTES = 2**16
"""The most a stream holds back before it sends (AsyncioStream.write)."""


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP connection (TLS after start_tls) as httpcore uses it.

    httpcore writes a request's head and its body apart, and each write was a send of its
    own: two system calls, and two segments for the server to take in, for a request of a
    few KiB. Writes are held back until the client turns to read (HTTP/1.1: the response
    comes after the whole request) or until HELD_BYTES are waiting, so a small request goes
    out in one send and a large upload still streams."""

    def __init__(self, reader: _Reader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._write_timeout: float | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            # As httpcore does with a failed write of the request: a server may close early
            # and still have answered (a 413, say), so the answer is read, not the error.
            with contextlib.suppress(httpcore.WriteError):
                await self._send_held(self._write_timeout)
        with _mapped(_READ_ERRORS):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._held.append(buffer)
        self._held_bytes += len(buffer)
        self._write_timeout = timeout
        if self._held_bytes >= HELD_BYTES:
            await self._send_held(timeout)

    async def _send_held(self, timeout: float | None) -> None:
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        with _mapped(_WRITE_ERRORS):
            async with asyncio.timeout(timeout):
                self._writer.write(data)
                await self._writer.drain()

    async def aclose(self) -> None:
        # No wait for the close to finish (nor for TLS's close_notify): httpcore's anyio
        # backend does not wait either, and a pool closing many connections must not stall.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(_CONNECT_ERRORS):
            try:
                await self._writer.start_tls(
                    ssl_context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
                )
            except BaseException:
                self._writer.close()
                raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._reader.would_return()
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens AsyncioStreams; TCP only (the provider pools never use Unix sockets)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        reader = _Reader(limit=2**16, loop=loop)
        with _mapped(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                )
        protocol = transport.get_protocol()
        assert isinstance(protocol, asyncio.StreamReaderProtocol)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            if isinstance(sock, socket.socket):
                sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("the asyncio backend opens TCP connections only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
