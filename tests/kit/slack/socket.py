"""A local fake of Slack's Socket Mode server (aiohttp websocket on 127.0.0.1).

Slack's side of the protocol: apps.connections.open (called with the xapp- token) hands out a
one-time websocket URL; on connect the server sends {"type": "hello"}, then pushes envelopes
{"envelope_id", "type", "payload", "accepts_response_payload"[, "retry_attempt",
"retry_reason"]} and expects each to be answered with {"envelope_id"[, "payload"]} (the ack).
`SocketSlackApi` is the fake Web API with apps.connections.open wired to a `FakeSocketMode`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.kit.slack.api import FakeSlackApi

APP_ID = "A0001"


@dataclass(frozen=True)
class Envelope:
    """One envelope pushed to the app, and when (time.monotonic) it went out."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent_at: float


@dataclass(frozen=True)
class Ack:
    """The app's answer to an envelope, and when it arrived (time.monotonic)."""

    envelope_id: str
    payload: dict[str, Any] | None
    received_at: float


@dataclass
class Connection:
    """One websocket session: opened with a ticket from apps.connections.open."""

    ticket: str
    ws: web.WebSocketResponse
    hello_sent: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSocketMode:
    """Start with `async with FakeSocketMode() as sm`; connections.open hands out `issue_url()`."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.refused: list[str] = []
        """Tickets of connection attempts refused (unknown or already used)."""
        self.envelopes: list[Envelope] = []
        self.acks: list[Ack] = []
        self.unexpected: list[str] = []
        """Text frames from the app that were not acks of a pushed envelope."""
        self._tickets: set[str] = set()
        self._ids = itertools.count(1)
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def __aenter__(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def issue_url(self) -> str:
        """A fresh one-time websocket URL, as apps.connections.open returns."""
        ticket = f"ticket-{next(self._ids):04d}"
        self._tickets.add(ticket)
        return f"{self.base}/link/?ticket={ticket}&app_id={APP_ID}"

    # ---- what tests drive and look at

    @property
    def live(self) -> Connection | None:
        """The newest connection that is still open and has been greeted."""
        for conn in reversed(self.connections):
            if conn.hello_sent and not conn.ws.closed:
                return conn
        return None

    async def wait_connected(self, timeout: float = 10.0) -> Connection:
        """Wait until an app has connected and been sent hello."""
        async with asyncio.timeout(timeout), self._connected:
            await self._connected.wait_for(lambda: self.live is not None)
        conn = self.live
        assert conn is not None
        return conn

    async def push(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> str:
        """Send one envelope over the live connection; returns its envelope_id."""
        conn = self.live
        if conn is None:
            raise RuntimeError("no app is connected")
        envelope_id = envelope_id or f"env-{next(self._ids):04d}"
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            # Slack lets commands and interactions answer in the ack; events never do.
            "accepts_response_payload": type_ != "events_api",
        }
        if retry_attempt is not None:
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = retry_reason or "timeout"
        self.envelopes.append(Envelope(envelope_id, type_, payload, time.monotonic()))
        await conn.ws.send_str(json.dumps(message))
        return envelope_id

    def acks_for(self, envelope_id: str) -> list[Ack]:
        return [a for a in self.acks if a.envelope_id == envelope_id]

    def ack_latency(self, envelope_id: str) -> float:
        """Seconds from the (last) push of `envelope_id` to its first ack."""
        sent = [e.sent_at for e in self.envelopes if e.envelope_id == envelope_id][-1]
        return self.acks_for(envelope_id)[0].received_at - sent

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        await wait_until(lambda: bool(self.acks_for(envelope_id)), timeout)
        return self.acks_for(envelope_id)[0]

    # ---- the server side

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self.refused.append(ticket)
            raise web.HTTPUnauthorized(text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # autoping: the SDK's heartbeat pings get pongs
        await ws.prepare(request)
        conn = Connection(ticket, ws)
        self.connections.append(conn)
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        await ws.send_str(json.dumps(hello))
        async with self._connected:
            conn.hello_sent = True
            self._connected.notify_all()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._receive(msg.data)
        finally:
            conn.closed.set()
        return ws

    def _receive(self, raw: str) -> None:
        now = time.monotonic()
        try:
            data = json.loads(raw)
        except ValueError:
            self.unexpected.append(raw)
            return
        known = {e.envelope_id for e in self.envelopes}
        if isinstance(data, dict) and data.get("envelope_id") in known:
            self.acks.append(Ack(str(data["envelope_id"]), data.get("payload"), now))
        else:
            self.unexpected.append(raw)


class SocketSlackApi(FakeSlackApi):
    """The fake Web API whose apps.connections.open needs the app token and opens `socket`."""

    def __init__(self, *, token: str, app_token: str, socket: FakeSocketMode) -> None:
        super().__init__(token=token)
        self.app_token = app_token
        self.socket = socket
        self.connection_opens: list[str | None] = []
        """The Authorization header of every apps.connections.open call."""

    async def __aenter__(self) -> SocketSlackApi:
        await super().__aenter__()
        return self

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "apps.connections.open":
            return await super()._api(request)
        auth = request.headers.get("Authorization")
        self.connection_opens.append(auth)
        await self._note("apps.connections.open", dict(request.query))
        if auth != f"Bearer {self.app_token}":
            # What Slack says to a bot token (or none) here.
            return web.json_response({"ok": False, "error": "not_allowed_token_type"})
        return web.json_response({"ok": True, "url": self.socket.issue_url()})


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `predicate` until it holds (it may depend on another process)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
