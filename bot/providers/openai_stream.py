"""OpenAI's streamed image edits: server-sent events read off an httpx response.

With `stream=true` and `partial_images` 1..3 the edits endpoint answers `text/event-stream`:
`image_edit.partial_image` events (a base64 preview and its 0-based index), then one
`image_edit.completed` carrying the final image and `usage`. The final image may come before
every partial did; an `error` event ends the stream with an error body like the JSON API's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.core.errors import ProviderRetryable

PARTIAL = "image_edit.partial_image"
COMPLETED = "image_edit.completed"

OnPartial = Callable[[int, bytes], Awaitable[None]]
"""Awaited with (partial_image_index, decoded image bytes) for each preview."""


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each server-sent event in `lines` (the WHATWG framing)."""
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


async def read_edit_stream(
    lines: AsyncIterator[str],
    *,
    on_partial: OnPartial,
    on_error: Callable[[dict[str, Any]], Exception],
    request_id: str | None,
) -> dict[str, Any]:
    """Hand each partial image to `on_partial`; return the completed event's body.

    Raises ProviderRetryable when the stream ends without a completed event (the connection
    broke: the edit is tried again), and what `on_error` makes of an `error` event's error.
    """
    async for name, raw in sse_events(lines):
        try:
            body = json.loads(raw)
        except ValueError:
            continue  # not an event of the edits API
        if not isinstance(body, dict):
            continue
        kind = str(body.get("type") or name)
        if kind == PARTIAL:
            preview = _decode(body.get("b64_json"))
            if preview is not None:
                await on_partial(int(body.get("partial_image_index") or 0), preview)
        elif kind == COMPLETED:
            return body
        elif kind == "error" or "error" in body:
            error = body.get("error")
            raise on_error(error if isinstance(error, dict) else body)
    raise ProviderRetryable(
        "OpenAI's stream ended before the edit completed", request_id=request_id
    )


def _decode(b64: object) -> bytes | None:
    if not isinstance(b64, str) or not b64:
        return None
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
