"""header_size: the size read from the header's bytes is Pillow's, for every kind of file
editbot stores; anything it cannot read is None, and image_size asks Pillow then."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.images.header_size import header_size
from bot.images.stored import image_size

SIZES = [(1, 1), (7, 3), (1024, 640), (640, 1024), (4097, 5), (2, 16383)]


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB", **options: Any) -> bytes:
    image = Image.new(mode, size, "white" if mode != "P" else 1)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exif() -> bytes:
    tags = Image.Exif()
    tags[0x0112] = 6  # rotated: the stored size is still the encoded one, as Pillow's
    return tags.tobytes()


KINDS: list[tuple[str, str, dict[str, Any]]] = [
    ("PNG", "RGB", {}),
    ("PNG", "RGBA", {}),
    ("PNG", "P", {}),
    ("JPEG", "RGB", {}),
    ("JPEG", "RGB", {"progressive": True}),
    ("JPEG", "RGB", {"exif": exif(), "optimize": True}),
    ("JPEG", "L", {}),
    ("JPEG", "CMYK", {}),
    ("WEBP", "RGB", {"quality": 50}),
    ("WEBP", "RGB", {"lossless": True}),
    ("WEBP", "RGBA", {"quality": 50}),
    ("WEBP", "RGB", {"exif": exif()}),
    ("GIF", "P", {}),
]


@pytest.mark.parametrize(("fmt", "mode", "options"), KINDS)
@pytest.mark.parametrize("size", SIZES)
def test_the_header_gives_pillows_size(
    fmt: str, mode: str, options: dict[str, Any], size: tuple[int, int]
) -> None:
    if fmt == "WEBP" and max(size) > 16383:
        pytest.skip("WebP's limit")
    data = encoded(size, fmt, mode, **options)
    with Image.open(io.BytesIO(data)) as opened:
        assert header_size(data) == opened.size == size


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        encoded((10, 10), "BMP"),  # a format editbot does not store
        encoded((640, 480), "JPEG")[:40],  # cut before the frame header
        b"\xff\xd8\xff\xda" + b"\x00" * 40,  # a scan before any frame header
        encoded((16, 16), "PNG")[:20],  # cut inside IHDR
    ],
)
def test_what_it_cannot_read_is_none(data: bytes) -> None:
    assert header_size(data) is None


async def test_image_size_reads_the_header_and_asks_pillow_for_the_rest() -> None:
    assert await image_size(encoded((1024, 640), "JPEG")) == (1024, 640)
    assert await image_size(encoded((33, 21), "BMP")) == (33, 21)  # by Pillow, in a thread
