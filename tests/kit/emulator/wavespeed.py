"""The provider emulator's WaveSpeed routes: media upload, task submit and poll.

A task answers "created" on its first poll and "processing" on its second and for as long as
the emulator's latency has not passed since it was submitted; then it fails, or renders once
and completes. Failures are decided at submit (unreachable media, moderation, a fault).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.domain import Resolution
from bot.core.sizes import nearest_aspect, size_for
from tests.kit.emulator.faults import Fault
from tests.kit.emulator.images import MIME, image_info, parse_multipart, sniff
from tests.kit.emulator.replies import Recorded, Reply, wavespeed_reply
from tests.kit.emulator.validation import forbidden, wavespeed_problem

if TYPE_CHECKING:
    from tests.kit.emulator.provider import ProviderEmulator


@dataclass
class Task:
    """One submitted prediction and what its polls have seen so far."""

    id: str
    origin: str
    payload: dict[str, Any]
    created: float
    fail_code: int | None = None
    fail_message: str = ""
    sample: int = 0
    polls: int = 0
    outputs: list[str] | None = None


def upload(emu: ProviderEmulator, rec: Recorded, *, origin: str) -> Reply:
    """POST /api/v3/media/upload/binary: keep the file, answer its download URL."""
    try:
        parts = parse_multipart(rec.body, rec.content_type)
    except ValueError as exc:
        return wavespeed_reply(400, 1400, f"invalid upload: {exc}")
    rec.files = [p for p in parts if p.filename is not None]
    file = next((p for p in rec.files if p.name == "file"), None)
    if file is None:
        return wavespeed_reply(400, 1400, "missing file field")
    media_id = uuid.uuid4().hex
    kind = sniff(file.data)
    emu.media[media_id] = (file.data, MIME.get(kind or "", "application/octet-stream"))
    url = f"{origin}/media/{media_id}"
    data = {"type": "image", "download_url": url, "filename": file.filename}
    return wavespeed_reply(200, 200, "success", {**data, "size": len(file.data)})


def submit(emu: ProviderEmulator, rec: Recorded, *, origin: str, fault: Fault | None) -> Reply:
    """POST /api/v3/openai/gpt-image-2/edit: validate the JSON body and create a task."""
    try:
        payload = json.loads(rec.body)
    except ValueError:
        return wavespeed_reply(400, 1400, "body is not JSON")
    rec.json = payload if isinstance(payload, dict) else None
    problem = wavespeed_problem(rec.json)
    if problem:
        return wavespeed_reply(400, 1401, problem)
    assert rec.json is not None
    task = Task(uuid.uuid4().hex, origin, rec.json, time.monotonic())
    task.sample = len(emu.task_ids)  # each task is a new sample, so n tasks differ
    task.fail_code, task.fail_message = _failure(emu, rec.json, fault)
    emu.tasks[task.id] = task
    emu.task_ids.append(task.id)
    if fault is not None and fault.kind == "timeout":
        return Reply(hang=True)  # created, but the client never hears of it
    return wavespeed_reply(200, 200, "success", _task_data(emu, task, "created"))


def _failure(
    emu: ProviderEmulator, payload: dict[str, Any], fault: Fault | None
) -> tuple[int | None, str]:
    """The code and message the task will fail with, or (None, "") when it will complete."""
    if any(_media_id(emu, url) is None for url in payload["images"]):
        return 1402, "media URL unreachable"
    if (fault is not None and fault.kind == "refuse") or forbidden(payload["prompt"]):
        return 1200, "content flagged by moderation"
    if fault is not None and fault.kind == "task_failed":
        return 5000, "internal error"
    return None, ""


async def poll(emu: ProviderEmulator, task_id: str, *, origin: str) -> Reply:
    """GET /api/v3/predictions/{id}/result: the task's status, rendering it when it is done."""
    emu.poll_origin = origin
    task = emu.tasks.get(task_id)
    if task is None:
        return wavespeed_reply(404, 404, "prediction not found")
    task.polls += 1
    running = time.monotonic() - task.created < emu.latency_s
    if task.polls == 1:
        return wavespeed_reply(200, 200, "success", _task_data(emu, task, "created"))
    if task.polls == 2 or running:
        return wavespeed_reply(200, 200, "success", _task_data(emu, task, "processing"))
    if task.fail_code is not None:
        data = _task_data(emu, task, "failed", task.fail_message)
        return wavespeed_reply(200, task.fail_code, task.fail_message, data)
    if task.outputs is None:
        task.outputs = await _render_task(emu, task)
    return wavespeed_reply(200, 200, "success", _task_data(emu, task, "completed"))


def _media_id(emu: ProviderEmulator, url: object) -> str | None:
    match = re.fullmatch(r"https?://[^/]+/media/([0-9a-f]+)", str(url))
    return match.group(1) if match and match.group(1) in emu.media else None


def _task_data(emu: ProviderEmulator, task: Task, status: str, error: str = "") -> dict[str, Any]:
    return {
        "id": task.id,
        "model": "openai/gpt-image-2/edit",
        "status": status,
        "outputs": [
            f"{emu.poll_origin}{o}" if o.startswith("/") else o for o in task.outputs or []
        ],
        "urls": {"get": f"{task.origin}/api/v3/predictions/{task.id}/result"},
        "error": error,
        "has_nsfw_contents": [],
        "created_at": "2026-01-01T00:00:00Z",
        "timings": {"inference": int(emu.latency_s * 1000)},
    }


async def _render_task(emu: ProviderEmulator, task: Task) -> list[str]:
    p = task.payload
    images = [emu.media[str(_media_id(emu, u))][0] for u in p["images"]]
    first = await asyncio.to_thread(image_info, images[0])
    aspect = p.get("aspect_ratio") or nearest_aspect(*first[:2])
    size = size_for(aspect, Resolution(p.get("resolution", "1k")))
    data = await asyncio.to_thread(
        emu.render,
        images[0],
        size=size,
        prompt=p["prompt"],
        index=task.sample,
        extras=tuple(images[1:]),
    )
    if p.get("enable_base64_output"):
        return [base64.b64encode(data).decode()]
    key = f"{task.id}/0.png"
    emu.outputs[key] = (data, "image/png")
    return [f"/outputs/{key}"]  # made absolute per poll: a restarted server serves them too
