"""One emulator of both provider wire contracts: OpenAI image edits and WaveSpeed tasks.

Use it as an httpx MockTransport handler (`httpx.MockTransport(emu.handler)`) or as a real
HTTP server on 127.0.0.1 (`async with EmulatorServer(emu) as base_url:` or
`with EmulatorServer(emu).in_thread() as base_url:`). OpenAI's base URL is `{base}/v1`,
WaveSpeed's is `{base}`. Every request is recorded in `emu.requests`.

Faults: `fail_next(kind, times, on=route)` queues them; `fail_rate={kind: p}` injects them at
random (seeded). Kinds: "429", "500", "503", "gateway" (502 HTML page, not the API's JSON),
"timeout" (MockTransport: httpx.ReadTimeout; server: hangs past the client's timeout; a
WaveSpeed submit creates its task first), "refuse" (OpenAI moderation_blocked; WaveSpeed task
fails with 1200), "task_failed" (WaveSpeed task fails with 5000). Prompts containing the word
"forbidden" are always refused. Routes: openai_edit, upload, media, submit, poll, output.

This module routes, checks keys and draws faults; the rest lives beside it in the package:
replies (records, reply shapes), faults, validation (the APIs' 400s), openai and wavespeed
(the routes), images (pixels, tokens, multipart), server (HTTP on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import random
import re

import httpx

from tests.kit.emulator import accounts as emulator_accounts
from tests.kit.emulator import images as emulator_images
from tests.kit.emulator import openai as emulator_openai
from tests.kit.emulator import wavespeed as emulator_wavespeed
from tests.kit.emulator.faults import ACTED_OUT, Fault, fault_reply, take_fault
from tests.kit.emulator.images import Renderer
from tests.kit.emulator.replies import Recorded, Reply, unauthorized
from tests.kit.emulator.wavespeed import Task

KEYED_ROUTES = {"openai_edit", "upload", "submit", "poll", "openai_models", "balance"}
"""Routes that need the provider's key (downloads of media and outputs do not)."""


class ProviderEmulator:
    """Speaks OpenAI's /v1/images/edits and WaveSpeed's upload/submit/poll, with fault knobs."""

    def __init__(
        self,
        *,
        openai_key: str = "sk-emulator-openai-key",
        wavespeed_key: str = "ws-emulator-wavespeed-key",
        latency_s: float = 0.0,
        fail_rate: dict[str, float] | None = None,
        seed: int = 0,
        hang_s: float = 30.0,
        render: Renderer = emulator_images.render,
    ) -> None:
        """`render` makes one output image (emulator_images.render's signature); a benchmark
        hands in one that serves outputs rendered before its clock starts."""
        self.openai_key = openai_key
        self.wavespeed_key = wavespeed_key
        self.latency_s = latency_s
        self.fail_rate = dict(fail_rate or {})
        self.hang_s = hang_s
        self.render = render
        self.rng = random.Random(seed)
        self.requests: list[Recorded] = []
        self.task_ids: list[str] = []
        self.faults: list[Fault] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.outputs: dict[str, tuple[bytes, str]] = {}
        self.tasks: dict[str, Task] = {}
        # Output URLs are made absolute with the latest poll's origin, so that a server
        # restarted on another port still hands out URLs it serves.
        self.poll_origin = ""

    # -- knobs and records -------------------------------------------------------------------

    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        on: str | None = None,
        retry_after_s: float = 1.0,
        header: str = "both",
    ) -> None:
        """Queue a fault for the next `times` requests (of route `on`, or any it applies to).

        `header` picks how a 429 states its delay: "ms" (retry-after-ms), "s" (retry-after) or
        "both".
        """
        self.faults.append(Fault(kind, times, on, retry_after_s, header))

    def routes(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    # -- transports --------------------------------------------------------------------------

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """httpx.MockTransport handler; honours the client's read timeout like a socket would."""
        body = await request.aread()
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            reply = await asyncio.wait_for(
                self.serve(request.method, request.url.path, dict(request.headers), body, origin),
                timeout,
            )
        except TimeoutError:
            raise httpx.ReadTimeout("emulated read timeout", request=request) from None
        if reply.hang:
            raise httpx.ReadTimeout("emulated read timeout", request=request)
        headers = {"content-type": reply.content_type, **reply.headers}
        if reply.stream is not None:
            return httpx.Response(reply.status, content=reply.stream, headers=headers)
        return httpx.Response(reply.status, content=reply.body, headers=headers)

    async def serve(
        self, method: str, path: str, headers: dict[str, str], body: bytes, origin: str
    ) -> Reply:
        """Answer one request (both transports end here)."""
        headers = {k.lower(): v for k, v in headers.items()}
        route, arg = _route(method, path)
        key = self.openai_key if route.startswith("openai") else self.wavespeed_key
        authorized = headers.get("authorization") == f"Bearer {key}"
        rec = Recorded(method, path, route, authorized, headers.get("content-type", ""), body=body)
        self.requests.append(rec)
        if route == "unknown":
            return Reply.json(404, {"error": f"no route {method} {path}"})
        if route in KEYED_ROUTES and not authorized:
            return unauthorized(route, headers.get("authorization", ""))
        fault = take_fault(route, queued=self.faults, fail_rate=self.fail_rate, rng=self.rng)
        if fault is not None and fault.kind not in ACTED_OUT:
            return fault_reply(fault, route)
        if fault is not None and fault.kind == "timeout" and route != "submit":
            return Reply(hang=True)
        return await self._answer(rec, arg=arg, origin=origin, fault=fault)

    async def _answer(self, rec: Recorded, *, arg: str, origin: str, fault: Fault | None) -> Reply:
        if rec.route == "openai_edit":
            return await emulator_openai.edit(self, rec, fault=fault)
        if rec.route == "upload":
            return emulator_wavespeed.upload(self, rec, origin=origin)
        if rec.route == "submit":
            return emulator_wavespeed.submit(self, rec, origin=origin, fault=fault)
        if rec.route == "poll":
            return await emulator_wavespeed.poll(self, arg, origin=origin)
        if rec.route in emulator_accounts.ROUTES.values():
            return emulator_accounts.answer(self, rec.route)
        store = self.media if rec.route == "media" else self.outputs
        if arg not in store:
            return Reply.json(404, {"error": "not found"})
        data, mime = store[arg]
        return Reply(200, data, content_type=mime)


def _route(method: str, path: str) -> tuple[str, str]:
    """The route a request is for, and the id in its path ("unknown" when it has none)."""
    if method == "POST" and path == "/v1/images/edits":
        return "openai_edit", ""
    if (method, path) in emulator_accounts.ROUTES:
        return emulator_accounts.ROUTES[(method, path)], ""
    if method == "POST" and path == "/api/v3/media/upload/binary":
        return "upload", ""
    if method == "POST" and path == "/api/v3/openai/gpt-image-2/edit":
        return "submit", ""
    if method == "GET":
        if m := re.fullmatch(r"/api/v3/predictions/([^/]+)/result", path):
            return "poll", m.group(1)
        if m := re.fullmatch(r"/media/([0-9a-f]+)", path):
            return "media", m.group(1)
        if m := re.fullmatch(r"/outputs/([0-9a-f]+/\d+\.png)", path):
            return "output", m.group(1)
    return "unknown", ""
