"""The emulator's streamed OpenAI edit (`stream=true`): server-sent events over the latency.

Partial image k of P is the final output at 1/2**(P-k+2) of its resolution, blown up again:
coarse first, finer next, every one made of the input's pixels (a real round trip). Partial k is
written at (k+1)/(P+1) of the latency after the request arrived, the completed event (the final
image, `usage` with 100 output tokens per partial image) at the latency.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from PIL import Image

from tests.kit.emulator.images import SAVE_FORMATS
from tests.kit.emulator.replies import Recorded, Reply

PARTIAL_IMAGE_TOKENS = 100
"""Output tokens OpenAI bills per partial image."""


def coarse(final: bytes, *, factor: int, fmt: str) -> bytes:
    """`final` at 1/factor of its resolution, blown up to its size again (blocking Pillow)."""
    with Image.open(io.BytesIO(final)) as im:
        rgb = im.convert("RGB")
    small = rgb.resize((max(1, rgb.width // factor), max(1, rgb.height // factor)))
    big = small.resize(rgb.size, Image.Resampling.NEAREST)
    buf = io.BytesIO()
    if fmt == "png":
        big.save(buf, "PNG", compress_level=1)
    else:
        big.save(buf, SAVE_FORMATS.get(fmt, "PNG"), quality=70)
    return buf.getvalue()


async def partials_of(final: bytes, *, count: int, fmt: str) -> list[bytes]:
    """The `count` partial images of one output, coarsest first."""
    return [
        await asyncio.to_thread(coarse, final, factor=2 ** (count - k + 2), fmt=fmt)
        for k in range(count)
    ]


def sse(event: dict[str, Any]) -> bytes:
    """One server-sent event as OpenAI frames it."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def streamed_reply(
    rec: Recorded,
    *,
    latency_s: float,
    common: dict[str, Any],
    outputs: list[bytes],
    partials: list[bytes],
    usage: dict[str, Any],
) -> Reply:
    """The 200 `text/event-stream` answer: partial images, then one completed event per output.

    `common` holds what every event carries (size, quality, background, output_format).
    """

    async def events() -> AsyncIterator[bytes]:
        count = len(partials)
        for index, data in enumerate(partials):
            await _until(rec.arrived + latency_s * (index + 1) / (count + 1))
            yield sse(
                {
                    "type": "image_edit.partial_image",
                    "b64_json": base64.b64encode(data).decode(),
                    "created_at": int(time.time()),
                    **common,
                    "partial_image_index": index,
                }
            )
            rec.sent_events.append(("image_edit.partial_image", time.monotonic()))
        await _until(rec.arrived + latency_s)
        for data in outputs:
            yield sse(
                {
                    "type": "image_edit.completed",
                    "b64_json": base64.b64encode(data).decode(),
                    "created_at": int(time.time()),
                    **common,
                    "usage": usage,
                }
            )
            rec.sent_events.append(("image_edit.completed", time.monotonic()))

    return Reply(200, content_type="text/event-stream", stream=events())


async def _until(when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.monotonic()))
