"""The asyncio network backend under httpcore, against real servers on 127.0.0.1.

Plain HTTP and TLS (a self-signed certificate made here), keep-alive reuse, a connection the
server closed while idle, and the errors httpx's callers (the provider retries) rely on.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpcore
import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.providers.network import HELD_BYTES, AsyncioBackend, AsyncioStream
from bot.providers.transport import pooled_client
from tests.bot.providers.test_transport import closed_port


class Echo:
    """POST /echo answers the body's hash and the client's port; GET /slow never answers;
    GET /close answers, then the server closes the connection it kept alive; GET /cookie
    sets a cookie and answers the cookies it was sent."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.forever = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def _port(self, request: web.Request) -> int:
        assert request.transport is not None
        port = int(request.transport.get_extra_info("peername")[1])
        self.ports.append(port)
        return port

    async def echo(self, request: web.Request) -> web.Response:
        port, body = self._port(request), await request.read()
        digest = hashlib.sha256(body).hexdigest()
        return web.json_response({"sha256": digest, "size": len(body), "port": port})

    async def slow(self, request: web.Request) -> web.Response:
        self._port(request)
        await self.forever.wait()
        return web.Response(text="too late")

    async def close_after(self, request: web.Request) -> web.Response:
        self._port(request)
        transport = request.transport
        assert transport is not None
        # Closed once this answer is out, while the client keeps the connection in its pool.
        asyncio.get_running_loop().call_later(0.05, transport.close)
        return web.Response(text="bye")

    async def cookie(self, request: web.Request) -> web.Response:
        """Sets a cookie, and answers the Cookie header the request came with."""
        response = web.Response(text=request.headers.get("Cookie", ""))
        response.set_cookie("session", "s3cr3t")
        return response

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_post("/echo", self.echo)
        app.router.add_get("/cookie", self.cookie)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/close", self.close_after)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.forever.set()
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Echo]:
    srv = Echo()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def pool(**kwargs: object) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(network_backend=AsyncioBackend(), **kwargs)  # type: ignore[arg-type]


async def test_the_provider_client_runs_on_the_asyncio_backend(server: Echo) -> None:
    body = bytes(range(256)) * 1000
    async with pooled_client(timeout=httpx.Timeout(5.0), max_connections=4) as client:
        first = await client.post(f"{server.url}/echo", content=body)
        second = await client.post(f"{server.url}/echo", content=body[::-1])
        assert isinstance(first.extensions["network_stream"], AsyncioStream)
    assert first.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert second.json()["sha256"] == hashlib.sha256(body[::-1]).hexdigest()
    assert first.json()["size"] == second.json()["size"] == len(body)
    assert first.json()["port"] == second.json()["port"]  # kept alive, reused


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_small_request_goes_out_in_one_send_and_a_large_one_streams(
    server: Echo, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends: list[int] = []
    real_write = asyncio.StreamWriter.write

    def write(self: asyncio.StreamWriter, data: bytes) -> None:  # type: ignore[override]
        sends.append(len(data))
        real_write(self, data)

    monkeypatch.setattr(asyncio.StreamWriter, "write", write)
    small, large = b"x" * 3000, bytes(range(256)) * 1024  # 3 KB; 256 KiB
    async with pooled_client(timeout=httpx.Timeout(5.0), max_connections=2) as client:
        answer = await client.post(f"{server.url}/echo", content=small)
        assert answer.json()["sha256"] == hashlib.sha256(small).hexdigest()
        assert len(sends) == 1 and sends[0] > len(small)  # the head and the body together
        sends.clear()
        answer = await client.post(f"{server.url}/echo", content=_chunks(large, 70_000))
    assert answer.json()["sha256"] == hashlib.sha256(large).hexdigest()
    assert len(sends) >= 2 and sum(sends) > len(large)  # sent as it came, not all held
    assert sends[0] >= HELD_BYTES


async def test_an_answer_that_came_before_the_held_request_could_go_is_still_read() -> None:
    class Closed:  # the server closed early: every send fails
        def write(self, data: bytes) -> None:
            raise ConnectionResetError("reset by peer")

        async def drain(self) -> None:
            return None

    reader = asyncio.StreamReader()
    reader.feed_data(b"HTTP/1.1 413 Payload Too Large\r\n\r\n")
    stream = AsyncioStream(reader, Closed())  # type: ignore[arg-type]
    await stream.write(b"POST /edits HTTP/1.1\r\n\r\n", timeout=1.0)  # held: nothing sent
    assert await stream.read(1024, timeout=1.0) == b"HTTP/1.1 413 Payload Too Large\r\n\r\n"
    with pytest.raises(httpcore.WriteError):  # a send of its own still says it failed
        await stream.write(b"x" * HELD_BYTES, timeout=1.0)


async def test_the_provider_client_keeps_no_cookie_a_server_set(server: Echo) -> None:
    async with httpx.AsyncClient() as plain:  # httpx's own jar sends it back
        await plain.get(f"{server.url}/cookie")
        assert (await plain.get(f"{server.url}/cookie")).text == "session=s3cr3t"
    async with pooled_client(timeout=httpx.Timeout(5.0), max_connections=2) as client:
        first = await client.get(f"{server.url}/cookie")
        assert "session=s3cr3t" in first.headers["set-cookie"]
        assert (await client.get(f"{server.url}/cookie")).text == ""
        assert not client.cookies


async def test_a_connection_the_server_closed_while_idle_is_not_reused(server: Echo) -> None:
    async with pool() as connections:
        response = await connections.request("GET", f"{server.url}/close")
        assert response.content == b"bye"
        await asyncio.sleep(0.3)  # the server has closed it; the pool still holds it
        again = await connections.request("POST", f"{server.url}/echo", content=b"next")
    assert again.status == 200
    assert len(set(server.ports)) == 2  # a fresh connection, and no error from the dead one


async def test_a_slow_answer_is_a_read_timeout(server: Echo) -> None:
    async with pooled_client(timeout=httpx.Timeout(5.0, read=0.2), max_connections=2) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get(f"{server.url}/slow")


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with pooled_client(timeout=httpx.Timeout(2.0), max_connections=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port()}/")


async def test_tls_round_trip_and_certificate_check(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    srv = Echo()
    await srv.start(served)
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        async with pool(ssl_context=trusted) as connections:
            response = await connections.request("POST", f"{srv.url}/echo", content=b"secret")
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object") is not None
        assert response.status == 200
        assert b'"size": 6' in response.content
        async with pool(ssl_context=ssl.create_default_context()) as strangers:
            with pytest.raises(httpcore.ConnectError):  # not signed by a CA it trusts
                await strangers.request("GET", f"{srv.url}/echo")
    finally:
        await srv.stop()
