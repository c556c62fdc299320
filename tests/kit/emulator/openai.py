"""The provider emulator's OpenAI route: POST /v1/images/edits, answered like the real endpoint.

The outputs are rendered from the inputs (see emulator_images) and the usage is counted with
the published formulas, so a test can tell a real round trip from a canned answer.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import TYPE_CHECKING

from bot.core.domain import Resolution
from bot.core.sizes import nearest_aspect, size_for
from tests.kit.emulator.faults import Fault
from tests.kit.emulator.images import (
    image_info,
    input_image_tokens,
    output_tokens,
    parse_multipart,
    sniff,
    text_tokens,
)
from tests.kit.emulator.replies import Recorded, Reply, openai_error
from tests.kit.emulator.streaming import PARTIAL_IMAGE_TOKENS, partials_of, streamed_reply
from tests.kit.emulator.validation import forbidden, openai_problem

if TYPE_CHECKING:
    from tests.kit.emulator.provider import ProviderEmulator

ImageInfo = tuple[int, int, str]
"""(width, height, mode) of an input image."""


async def edit(emu: ProviderEmulator, rec: Recorded, *, fault: Fault | None) -> Reply:
    """Validate the form like the real endpoint, then answer with rendered outputs and usage."""
    problem = _read_form(rec) or openai_problem(rec)
    if problem is not None:
        return problem
    images = [p.data for p in rec.files if p.name in {"image", "image[]"}]
    mask = next((p.data for p in rec.files if p.name == "mask"), None)
    try:
        infos = [await asyncio.to_thread(image_info, d) for d in images]
    except (OSError, ValueError):
        return openai_error(400, "Invalid image file.", param="image", code="invalid_image")
    problem = _mask_problem(mask, infos[0])
    if problem is not None:
        return problem
    if (fault is not None and fault.kind == "refuse") or forbidden(rec.fields["prompt"]):
        return openai_error(
            400,
            "Your request was rejected by the safety system.",
            param=None,
            code="moderation_blocked",
            type="image_generation_user_error",
        )
    size = _output_size(rec.fields.get("size", "auto"), infos[0])
    outputs = await _render_outputs(emu, rec.fields, images=images, mask=mask, size=size)
    if rec.fields.get("stream") == "true":
        return await _streamed(emu, rec, outputs=outputs, size=size, infos=infos)
    # The latency is the time to answer, rendering included (a real provider renders on
    # its own machines while the client waits): sleep only what rendering left of it.
    await asyncio.sleep(max(0.0, emu.latency_s - (time.monotonic() - rec.arrived)))
    return _edit_reply(rec.fields, outputs=outputs, size=size, infos=infos)


def _read_form(rec: Recorded) -> Reply | None:
    """Fill `rec.fields` and `rec.files` from the multipart body; the 400 when it is not one."""
    try:
        parts = parse_multipart(rec.body, rec.content_type)
    except ValueError as exc:
        return openai_error(400, f"Invalid multipart body: {exc}", param=None, code="")
    for part in parts:
        if part.filename is None:
            rec.fields[part.name] = part.data.decode()
        else:
            rec.files.append(part)
    return None


def _mask_problem(mask: bytes | None, first: ImageInfo) -> Reply | None:
    if mask is None:
        return None
    bad = sniff(mask) != "png" or image_info(mask)[2] not in {"RGBA", "LA", "PA"}
    if not bad and image_info(mask)[:2] == first[:2]:
        return None
    return openai_error(
        400,
        "Invalid mask image: it must be a PNG with an alpha channel and the same "
        "size as the first image.",
        param="mask",
        code="invalid_mask_image",
    )


def _output_size(size_text: str, first: ImageInfo) -> tuple[int, int]:
    """The size asked for; "auto" is the first image's nearest aspect at 1K."""
    if size_text == "auto":
        return size_for(nearest_aspect(*first[:2]), Resolution.R1K)
    w, h = (int(v) for v in size_text.split("x"))
    return w, h


async def _render_outputs(
    emu: ProviderEmulator,
    fields: dict[str, str],
    *,
    images: list[bytes],
    mask: bytes | None,
    size: tuple[int, int],
) -> list[bytes]:
    return [
        await asyncio.to_thread(
            emu.render,
            images[0],
            size=size,
            prompt=fields["prompt"],
            index=i,
            fmt=fields.get("output_format", "png"),
            extras=tuple(images[1:]),
            mask=mask,
        )
        for i in range(int(fields.get("n", "1")))
    ]


async def _streamed(
    emu: ProviderEmulator,
    rec: Recorded,
    *,
    outputs: list[bytes],
    size: tuple[int, int],
    infos: list[ImageInfo],
) -> Reply:
    """`stream=true`: partial images of the first output, then the completed event(s)."""
    raw = rec.fields.get("partial_images", "0")
    if not raw.isdigit() or not 0 <= int(raw) <= 3:
        return openai_error(
            400, "partial_images must be 0..3.", param="partial_images", code="invalid_value"
        )
    fmt = rec.fields.get("output_format", "png")
    partials = await partials_of(outputs[0], count=int(raw), fmt=fmt)
    common = _made(rec.fields, size)
    usage = _usage(rec.fields, outputs=outputs, size=size, infos=infos, partials=len(partials))
    reply = streamed_reply(
        rec,
        latency_s=emu.latency_s,
        common=common,
        outputs=outputs,
        partials=partials,
        usage=usage,
    )
    reply.headers["x-request-id"] = f"req_{uuid.uuid4().hex[:24]}"
    return reply


def _made(fields: dict[str, str], size: tuple[int, int]) -> dict[str, str]:
    """What an answer says was made: size, quality, output format, background."""
    quality = fields.get("quality", "auto")
    return {
        "size": f"{size[0]}x{size[1]}",
        "quality": "high" if quality == "auto" else quality,
        "output_format": fields.get("output_format", "png"),
        "background": "transparent" if fields.get("background") == "transparent" else "opaque",
    }


def _usage(
    fields: dict[str, str],
    *,
    outputs: list[bytes],
    size: tuple[int, int],
    infos: list[ImageInfo],
    partials: int = 0,
) -> dict[str, object]:
    """Usage by the gpt-image-2 token formulas, 100 output tokens per partial image."""
    quality = fields.get("quality", "auto")
    out_tokens = len(outputs) * output_tokens(quality, *size) + partials * PARTIAL_IMAGE_TOKENS
    text = text_tokens(fields["prompt"])
    image_tokens = sum(input_image_tokens(w, h) for w, h, _ in infos)
    return {
        "input_tokens": text + image_tokens,
        "output_tokens": out_tokens,
        "total_tokens": text + image_tokens + out_tokens,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_tokens},
    }


def _edit_reply(
    fields: dict[str, str],
    *,
    outputs: list[bytes],
    size: tuple[int, int],
    infos: list[ImageInfo],
) -> Reply:
    """The 200 body: images, what was made, and usage by the gpt-image-2 token formulas."""
    body = {
        "created": int(time.time()),
        "data": [{"b64_json": base64.b64encode(o).decode()} for o in outputs],
        **_made(fields, size),
        "usage": _usage(fields, outputs=outputs, size=size, infos=infos),
    }
    return Reply.json(200, body, **{"x-request-id": f"req_{uuid.uuid4().hex[:24]}"})
