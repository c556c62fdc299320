"""The mask of a `region=` edit: transparent over the region, opaque elsewhere (OpenAI's
convention: alpha 0 marks the area to edit), the size of the first input image."""

from __future__ import annotations

import asyncio
import hashlib
import io

from PIL import Image, ImageDraw

from bot.core.domain import NormalizedImage
from bot.core.regions import region_box


def region_pixels(size: tuple[int, int], region: str) -> tuple[int, int, int, int]:
    """The region as a pixel box (left, top, right, bottom; right and bottom exclusive) of an
    image of `size`, at least one pixel each way."""
    width, height = size
    x, y, w, h = region_box(region)
    left, top = width * x // 100, height * y // 100
    right = max(left + 1, min(width, -(-width * (x + w) // 100)))
    bottom = max(top + 1, min(height, -(-height * (y + h) // 100)))
    return left, top, right, bottom


def region_mask_sync(size: tuple[int, int], region: str) -> NormalizedImage:
    """The thread body of region_mask: blocking Pillow work."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    left, top, right, bottom = region_pixels(size, region)
    ImageDraw.Draw(mask).rectangle((left, top, right - 1, bottom - 1), fill=(0, 0, 0, 0))
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    data = buf.getvalue()
    return NormalizedImage(
        data=data,
        mime="image/png",
        width=size[0],
        height=size[1],
        sha256=hashlib.sha256(data).hexdigest(),
        name="region-mask.png",
    )


async def region_mask(size: tuple[int, int], region: str) -> NormalizedImage:
    """The PNG mask of `region` for an image of `size`, drawn in a worker thread."""
    return await asyncio.to_thread(region_mask_sync, size, region)
