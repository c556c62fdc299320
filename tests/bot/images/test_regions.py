"""The mask a `region=` builds: transparent exactly over the region, opaque elsewhere."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.images.regions import region_mask, region_mask_sync, region_pixels


@pytest.mark.parametrize(
    ("size", "region", "box"),
    [
        ((1024, 640), "top", (0, 0, 1024, 320)),
        ((1024, 640), "bottom", (0, 320, 1024, 640)),
        ((1024, 640), "left", (0, 0, 512, 640)),
        ((1024, 640), "right", (512, 0, 1024, 640)),
        ((1000, 800), "center", (250, 200, 750, 600)),
        ((1000, 800), "10,20,30,40", (100, 160, 400, 480)),
        ((333, 211), "0,0,100,100", (0, 0, 333, 211)),
        ((333, 211), "99,99,1,1", (329, 208, 333, 211)),
    ],
)
def test_the_mask_is_transparent_over_the_region_only(
    size: tuple[int, int], region: str, box: tuple[int, int, int, int]
) -> None:
    assert region_pixels(size, region) == box
    mask = region_mask_sync(size, region)
    assert (mask.width, mask.height, mask.mime) == (*size, "image/png")
    with Image.open(io.BytesIO(mask.data)) as im:
        assert im.size == size and im.mode == "RGBA"
        alpha = im.getchannel("A")
    assert alpha.crop(box).getextrema() == (0, 0)
    # Everything outside the box is opaque: count the transparent pixels.
    area = (box[2] - box[0]) * (box[3] - box[1])
    assert alpha.histogram()[0] == area and alpha.histogram()[255] == size[0] * size[1] - area


async def test_region_mask_draws_in_a_thread_and_names_itself() -> None:
    mask = await region_mask((64, 48), "top")
    assert mask.name == "region-mask.png" and len(mask.sha256) == 64
