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
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.core.domain import ASPECTS, Resolution
from bot.core.sizes import nearest_aspect, size_for, size_problem
from tests.fakes.emulator_images import (
    MIME,
    Part,
    image_info,
    input_image_tokens,
    output_tokens,
    parse_multipart,
    render,
    sniff,
    text_tokens,
)
from tests.fakes.emulator_server import EmulatorServer

__all__ = ["EmulatorServer", "ProviderEmulator", "Recorded"]

ONLY_ON = {"refuse": {"openai_edit", "submit"}, "task_failed": {"submit"}}
OPENAI_FIELDS = {
    "image", "image[]", "mask", "prompt", "model", "n", "quality", "size", "background",
    "output_format", "output_compression", "user", "stream", "partial_images",
}  # fmt: skip
OPENAI_MODELS = {"gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-1.5", "gpt-image-1"}
WAVESPEED_FIELDS = {
    "images", "prompt", "aspect_ratio", "resolution", "quality", "enable_sync_mode",
    "enable_base64_output",
}  # fmt: skip


@dataclass
class Recorded:
    """One request as the emulator saw it (never the Authorization header's value)."""

    method: str
    path: str
    route: str
    authorized: bool
    content_type: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Part] = field(default_factory=list)
    json: dict[str, Any] | None = None
    body: bytes = field(default=b"", repr=False)
    arrived: float = field(default_factory=time.monotonic, repr=False)


@dataclass
class Reply:
    """What the emulator answers; `hang` means: do not answer in time."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False

    @classmethod
    def json(cls, status: int, obj: object, **headers: str) -> Reply:
        return cls(status, json.dumps(obj).encode(), headers=headers)


@dataclass
class _Fault:
    kind: str
    times: int
    on: str | None
    retry_after_s: float
    header: str


@dataclass
class _Task:
    id: str
    origin: str
    payload: dict[str, Any]
    created: float
    fail_code: int | None = None
    fail_message: str = ""
    sample: int = 0
    polls: int = 0
    outputs: list[str] | None = None


def _openai_error(status: int, message: str, *, param: str | None, code: str, **kw: str) -> Reply:
    kind = kw.pop("type", "invalid_request_error")
    error = {"message": message, "type": kind, "param": param, "code": code}
    return Reply.json(status, {"error": error}, **kw)


def _ws(status: int, code: int, message: str, data: object = None) -> Reply:
    return Reply.json(status, {"code": code, "message": message, "data": data})


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
    ) -> None:
        self.openai_key = openai_key
        self.wavespeed_key = wavespeed_key
        self.latency_s = latency_s
        self.fail_rate = dict(fail_rate or {})
        self.hang_s = hang_s
        self.rng = random.Random(seed)
        self.requests: list[Recorded] = []
        self.task_ids: list[str] = []
        self.faults: list[_Fault] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.outputs: dict[str, tuple[bytes, str]] = {}
        self.tasks: dict[str, _Task] = {}
        self._poll_origin = ""

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
        self.faults.append(_Fault(kind, times, on, retry_after_s, header))

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
        return httpx.Response(reply.status, content=reply.body, headers=headers)

    async def serve(
        self, method: str, path: str, headers: dict[str, str], body: bytes, origin: str
    ) -> Reply:
        """Answer one request (both transports end here)."""
        headers = {k.lower(): v for k, v in headers.items()}
        route, arg = _route(method, path)
        key = self.openai_key if route == "openai_edit" else self.wavespeed_key
        authorized = headers.get("authorization") == f"Bearer {key}"
        rec = Recorded(method, path, route, authorized, headers.get("content-type", ""), body=body)
        self.requests.append(rec)
        if route == "unknown":
            return Reply.json(404, {"error": f"no route {method} {path}"})
        if route in {"openai_edit", "upload", "submit", "poll"} and not authorized:
            # Echo the key as given: worse than the real APIs (they mask it), so tests can
            # show the clients never pass a provider's message on with the key in it.
            given = headers.get("authorization", "").removeprefix("Bearer ")
            if route == "openai_edit":
                return _openai_error(
                    401, f"Incorrect API key provided: {given}.", param=None, code="invalid_api_key"
                )
            return _ws(401, 401, f"Unauthorized: invalid API key {given}")
        fault = self._take_fault(route)
        if fault is not None and fault.kind not in {"refuse", "task_failed", "timeout"}:
            return _fault_reply(fault, route)
        if fault is not None and fault.kind == "timeout" and route != "submit":
            return Reply(hang=True)
        if route == "openai_edit":
            return await self._openai_edit(rec, fault)
        if route == "upload":
            return self._upload(rec, origin)
        if route == "submit":
            return self._submit(rec, origin, fault)
        if route == "poll":
            self._poll_origin = origin
            return await self._poll(arg)
        store = self.media if route == "media" else self.outputs
        if arg not in store:
            return Reply.json(404, {"error": "not found"})
        data, mime = store[arg]
        return Reply(200, data, content_type=mime)

    def _take_fault(self, route: str) -> _Fault | None:
        for fault in self.faults:
            if fault.on not in (None, route) or route not in ONLY_ON.get(fault.kind, {route}):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        for kind, p in self.fail_rate.items():
            if route in ONLY_ON.get(kind, {route}) and self.rng.random() < p:
                return _Fault(kind, 1, route, 0.05, "ms")
        return None

    # -- OpenAI ------------------------------------------------------------------------------

    async def _openai_edit(self, rec: Recorded, fault: _Fault | None) -> Reply:
        try:
            parts = parse_multipart(rec.body, rec.content_type)
        except ValueError as exc:
            return _openai_error(400, f"Invalid multipart body: {exc}", param=None, code="")
        for part in parts:
            if part.filename is None:
                rec.fields[part.name] = part.data.decode()
            else:
                rec.files.append(part)
        problem = _openai_problem(rec)
        if problem is not None:
            return problem
        f = rec.fields
        prompt = f["prompt"]
        images = [p.data for p in rec.files if p.name in {"image", "image[]"}]
        mask = next((p.data for p in rec.files if p.name == "mask"), None)
        try:
            infos = [await asyncio.to_thread(image_info, d) for d in images]
        except (OSError, ValueError):
            return _openai_error(400, "Invalid image file.", param="image", code="invalid_image")
        if mask is not None:
            bad = sniff(mask) != "png" or image_info(mask)[2] not in {"RGBA", "LA", "PA"}
            if bad or image_info(mask)[:2] != infos[0][:2]:
                return _openai_error(
                    400,
                    "Invalid mask image: it must be a PNG with an alpha channel and the same "
                    "size as the first image.",
                    param="mask",
                    code="invalid_mask_image",
                )
        if (fault is not None and fault.kind == "refuse") or _forbidden(prompt):
            return _openai_error(
                400,
                "Your request was rejected by the safety system.",
                param=None,
                code="moderation_blocked",
                type="image_generation_user_error",
            )
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(self.latency_s)
            return Reply(hang=True)
        size_text = f.get("size", "auto")
        if size_text == "auto":
            size = size_for(nearest_aspect(*infos[0][:2]), Resolution.R1K)
        else:
            w, h = (int(v) for v in size_text.split("x"))
            size = (w, h)
        quality = f.get("quality", "auto")
        fmt = f.get("output_format", "png")
        n = int(f.get("n", "1"))
        outs = [
            await asyncio.to_thread(
                render,
                images[0],
                size=size,
                prompt=prompt,
                index=i,
                fmt=fmt,
                extras=tuple(images[1:]),
                mask=mask,
            )
            for i in range(n)
        ]
        # The latency is the time to answer, rendering included (a real provider renders on
        # its own machines while the client waits): sleep only what rendering left of it.
        await asyncio.sleep(max(0.0, self.latency_s - (time.monotonic() - rec.arrived)))
        out_tokens = n * output_tokens(quality, *size)
        text = text_tokens(prompt)
        image_tokens = sum(input_image_tokens(w, h) for w, h, _ in infos)
        body = {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(o).decode()} for o in outs],
            "size": f"{size[0]}x{size[1]}",
            "quality": "high" if quality == "auto" else quality,
            "output_format": fmt,
            "background": "transparent" if f.get("background") == "transparent" else "opaque",
            "usage": {
                "input_tokens": text + image_tokens,
                "output_tokens": out_tokens,
                "total_tokens": text + image_tokens + out_tokens,
                "input_tokens_details": {"text_tokens": text, "image_tokens": image_tokens},
            },
        }
        return Reply.json(200, body, **{"x-request-id": f"req_{uuid.uuid4().hex[:24]}"})

    # -- WaveSpeed ---------------------------------------------------------------------------

    def _upload(self, rec: Recorded, origin: str) -> Reply:
        try:
            parts = parse_multipart(rec.body, rec.content_type)
        except ValueError as exc:
            return _ws(400, 1400, f"invalid upload: {exc}")
        rec.files = [p for p in parts if p.filename is not None]
        file = next((p for p in rec.files if p.name == "file"), None)
        if file is None:
            return _ws(400, 1400, "missing file field")
        media_id = uuid.uuid4().hex
        kind = sniff(file.data)
        self.media[media_id] = (file.data, MIME.get(kind or "", "application/octet-stream"))
        url = f"{origin}/media/{media_id}"
        data = {"type": "image", "download_url": url, "filename": file.filename}
        return _ws(200, 200, "success", {**data, "size": len(file.data)})

    def _submit(self, rec: Recorded, origin: str, fault: _Fault | None) -> Reply:
        try:
            payload = json.loads(rec.body)
        except ValueError:
            return _ws(400, 1400, "body is not JSON")
        rec.json = payload if isinstance(payload, dict) else None
        problem = _wavespeed_problem(rec.json)
        if problem:
            return _ws(400, 1401, problem)
        assert rec.json is not None
        task = _Task(uuid.uuid4().hex, origin, rec.json, time.monotonic())
        task.sample = len(self.task_ids)  # each task is a new sample, so n tasks differ
        if any(self._media_id(url) is None for url in rec.json["images"]):
            task.fail_code, task.fail_message = 1402, "media URL unreachable"
        elif (fault is not None and fault.kind == "refuse") or _forbidden(rec.json["prompt"]):
            task.fail_code, task.fail_message = 1200, "content flagged by moderation"
        elif fault is not None and fault.kind == "task_failed":
            task.fail_code, task.fail_message = 5000, "internal error"
        self.tasks[task.id] = task
        self.task_ids.append(task.id)
        if fault is not None and fault.kind == "timeout":
            return Reply(hang=True)  # created, but the client never hears of it
        return _ws(200, 200, "success", self._task_data(task, "created"))

    def _media_id(self, url: object) -> str | None:
        match = re.fullmatch(r"https?://[^/]+/media/([0-9a-f]+)", str(url))
        return match.group(1) if match and match.group(1) in self.media else None

    def _task_data(self, task: _Task, status: str, error: str = "") -> dict[str, Any]:
        return {
            "id": task.id,
            "model": "openai/gpt-image-2/edit",
            "status": status,
            "outputs": [
                f"{self._poll_origin}{o}" if o.startswith("/") else o for o in task.outputs or []
            ],
            "urls": {"get": f"{task.origin}/api/v3/predictions/{task.id}/result"},
            "error": error,
            "has_nsfw_contents": [],
            "created_at": "2026-01-01T00:00:00Z",
            "timings": {"inference": int(self.latency_s * 1000)},
        }

    async def _poll(self, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return _ws(404, 404, "prediction not found")
        task.polls += 1
        running = time.monotonic() - task.created < self.latency_s
        if task.polls == 1:
            return _ws(200, 200, "success", self._task_data(task, "created"))
        if task.polls == 2 or running:
            return _ws(200, 200, "success", self._task_data(task, "processing"))
        if task.fail_code is not None:
            data = self._task_data(task, "failed", task.fail_message)
            return _ws(200, task.fail_code, task.fail_message, data)
        if task.outputs is None:
            task.outputs = await self._render_task(task)
        return _ws(200, 200, "success", self._task_data(task, "completed"))

    async def _render_task(self, task: _Task) -> list[str]:
        p = task.payload
        images = [self.media[str(self._media_id(u))][0] for u in p["images"]]
        first = await asyncio.to_thread(image_info, images[0])
        aspect = p.get("aspect_ratio") or nearest_aspect(*first[:2])
        size = size_for(aspect, Resolution(p.get("resolution", "1k")))
        data = await asyncio.to_thread(
            render,
            images[0],
            size=size,
            prompt=p["prompt"],
            index=task.sample,
            extras=tuple(images[1:]),
        )
        if p.get("enable_base64_output"):
            return [base64.b64encode(data).decode()]
        key = f"{task.id}/0.png"
        self.outputs[key] = (data, "image/png")
        return [f"/outputs/{key}"]  # made absolute per poll: a restarted server serves them too


def _route(method: str, path: str) -> tuple[str, str]:
    if method == "POST" and path == "/v1/images/edits":
        return "openai_edit", ""
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


def _forbidden(prompt: str) -> bool:
    return re.search(r"\bforbidden\b", prompt, re.IGNORECASE) is not None


def _fault_reply(fault: _Fault, route: str) -> Reply:
    if fault.kind == "429":
        headers = {}
        if fault.header in {"ms", "both"}:
            headers["retry-after-ms"] = str(int(fault.retry_after_s * 1000))
        if fault.header in {"s", "both"}:
            headers["retry-after"] = str(max(1, round(fault.retry_after_s)))
        if route == "openai_edit":
            return _openai_error(
                429, "Rate limit reached.", param=None, code="rate_limit_exceeded", **headers
            )
        reply = _ws(429, 429, "Too many requests")
        reply.headers.update(headers)
        return reply
    if fault.kind == "gateway":
        html = b"<html><body>502 Bad Gateway</body></html>"
        return Reply(502, html, content_type="text/html")
    status = int(fault.kind)
    if route == "openai_edit":
        return _openai_error(
            status, "The server had an error.", param=None, code="server_error", type="server_error"
        )
    return _ws(status, status, "internal server error")


def _openai_problem(rec: Recorded) -> Reply | None:
    """The 400 the real endpoint gives for this request, or None when it is acceptable."""
    f = rec.fields
    names = set(f) | {p.name for p in rec.files}
    model = f.get("model", "gpt-image-1.5")
    if "input_fidelity" in names and model.startswith("gpt-image-2"):
        return _openai_error(
            400,
            f"input_fidelity is not supported for model '{model}'.",
            param="input_fidelity",
            code="invalid_input_fidelity_model",
        )
    for name in sorted(names - OPENAI_FIELDS):
        return _openai_error(
            400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
        )
    if not f.get("prompt"):
        return _openai_error(
            400, "Missing required parameter: 'prompt'.", param="prompt", code="missing"
        )
    if len(f["prompt"]) > 32_000:
        return _openai_error(400, "Prompt too long.", param="prompt", code="string_above_max")
    if model not in OPENAI_MODELS:
        return _openai_error(400, f"Invalid model '{model}'.", param="model", code="invalid_value")
    images = [p for p in rec.files if p.name in {"image", "image[]"}]
    if not 1 <= len(images) <= 16:
        return _openai_error(400, "Provide 1 to 16 images.", param="image", code="invalid_value")
    for p in images:
        if sniff(p.data) is None:
            return _openai_error(
                400,
                f"Invalid file '{p.filename}': unsupported mimetype. Supported: png, jpeg, webp.",
                param="image",
                code="invalid_image_format",
            )
    enums = {
        "quality": {"low", "medium", "high", "auto"},
        "output_format": {"png", "jpeg", "webp"},
        "background": {"transparent", "opaque", "auto"},
    }
    for name, allowed in enums.items():
        if name in f and f[name] not in allowed:
            return _openai_error(
                400, f"Invalid value for '{name}'.", param=name, code="invalid_value"
            )
    if f.get("background") == "transparent" and f.get("output_format", "png") == "jpeg":
        return _openai_error(
            400, "Transparent background needs png or webp.", param="background", code="invalid"
        )
    if not f.get("n", "1").isdigit() or not 1 <= int(f.get("n", "1")) <= 10:
        return _openai_error(400, "n must be 1..10.", param="n", code="invalid_value")
    size = f.get("size", "auto")
    if size != "auto":
        m = re.fullmatch(r"(\d+)x(\d+)", size)
        why = size_problem(int(m.group(1)), int(m.group(2))) if m else "expected WIDTHxHEIGHT"
        if why:
            return _openai_error(
                400, f"Invalid size '{size}': {why}.", param="size", code="invalid_value"
            )
    return None


def _wavespeed_problem(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return "body must be a JSON object"
    unknown = sorted(set(payload) - WAVESPEED_FIELDS)
    if unknown:
        return f"unknown parameter(s): {', '.join(unknown)}"
    images = payload.get("images")
    if not isinstance(images, list) or not images or not all(isinstance(u, str) for u in images):
        return "images must be a non-empty list of URLs"
    if not isinstance(payload.get("prompt"), str) or not payload["prompt"].strip():
        return "prompt is required"
    if payload.get("aspect_ratio") not in (None, *ASPECTS):
        return f"aspect_ratio must be one of {', '.join(ASPECTS)}"
    if payload.get("resolution", "1k") not in {"1k", "2k", "4k"}:
        return "resolution must be 1k, 2k or 4k"
    if payload.get("quality", "medium") not in {"low", "medium", "high"}:
        return "quality must be low, medium or high"
    return None
