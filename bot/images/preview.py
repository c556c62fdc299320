"""Previews for the status message: a provider's partial image, scaled down to send cheaply."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bot.core.ports import ResultImage

PREVIEW_SIDE = 512
"""Longest side of a preview: Slack shows ~360 px inline, Discord ~400 px."""


def _shrink(data: bytes, side: int) -> tuple[bytes, int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (side, side))
        rgb = im.convert("RGB")
    rgb.thumbnail((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=75)
    return buf.getvalue(), rgb.width, rgb.height


async def preview_image(data: bytes, *, name: str, side: int = PREVIEW_SIDE) -> ResultImage:
    """`data` (an encoded image) as a JPEG of at most `side` px a side, named `name`.jpg."""
    small, width, height = await asyncio.to_thread(_shrink, data, side)
    return ResultImage(
        data=small, mime="image/jpeg", filename=f"{name}.jpg", width=width, height=height
    )
