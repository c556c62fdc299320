"""Test images made in memory: photographic-like scenes, marked corners, encoded bytes."""

from __future__ import annotations

import io
import math
import random
import struct
import zlib
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

ORIENTATION_TAG = 0x0112


def photo_like(size: tuple[int, int], *, seed: int = 0, noise: float = 6.0) -> Image.Image:
    """An RGB scene with smooth gradients, soft-edged shapes and mild sensor-like noise.

    Built from Pillow's C primitives so a 24-megapixel one takes well under a second.
    """
    rng = random.Random(seed)
    width, height = size
    # Gradients are drawn small and upscaled: smooth, and cheap at any size.
    small = (max(1, width // 16), max(1, height // 16))
    red = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(small)
    green = Image.radial_gradient("L").resize(small)
    blue = Image.linear_gradient("L").rotate(rng.choice((45, 135))).resize(small)
    scene = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(scene)
    for _ in range(12):
        x0, y0 = rng.randrange(small[0]), rng.randrange(small[1])
        x1 = x0 + rng.randrange(1, max(2, small[0] // 3))
        y1 = y0 + rng.randrange(1, max(2, small[1] // 3))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    scene = scene.filter(ImageFilter.GaussianBlur(1)).resize(size, Image.Resampling.BICUBIC)
    # Fine detail at full resolution: thin lines that downscaling must keep.
    draw = ImageDraw.Draw(scene)
    for _ in range(40):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(2)]
        draw.line(points, fill=(rng.randrange(256),) * 3, width=rng.choice((2, 3, 5)))
    if noise:
        scene = ImageChops.add(scene, _grain(size, noise, rng), offset=-128)
    return scene


def _grain(size: tuple[int, int], sigma: float, rng: random.Random) -> Image.Image:
    """Gaussian noise around 128 per channel, tiled from a 509 px patch (a prime, so the
    repeat does not line up with JPEG's 8 px blocks) to keep big images quick to make."""
    tile = 509
    patch = Image.merge("RGB", [Image.effect_noise((tile, tile), sigma) for _ in range(3)])
    grain = Image.new("RGB", size)
    offset = rng.randrange(tile)
    for y in range(-offset, size[1], tile):
        for x in range(-offset, size[0], tile):
            grain.paste(patch, (x, y))
    return grain


def corner_marked(size: tuple[int, int]) -> Image.Image:
    """Blue image whose top-left quarter (as stored) is red: shows where a rotation put it."""
    im = Image.new("RGB", size, (0, 0, 255))
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=(255, 0, 0))
    return im


def encode(im: Image.Image, fmt: str, *, orientation: int | None = None, **params: object) -> bytes:
    """`im` encoded as fmt (PNG, JPEG, WEBP, GIF), optionally with an EXIF orientation tag."""
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        params["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(im: Image.Image, *, orientation: int | None = None, quality: int = 90) -> bytes:
    return encode(im, "JPEG", orientation=orientation, quality=quality)


def png(im: Image.Image, **params: Any) -> bytes:
    return encode(im, "PNG", **params)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height (8-bit RGB) but carries almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def colour_at(im: Image.Image, xy: tuple[float, float]) -> str:
    """'red', 'blue' or 'other' at a point given as fractions of width and height."""
    pixel = im.convert("RGB").getpixel((int(xy[0] * im.width), int(xy[1] * im.height)))
    assert isinstance(pixel, tuple)
    r, g, b = pixel[:3]
    if r > 180 and b < 80 and g < 80:
        return "red"
    if b > 180 and r < 80 and g < 80:
        return "blue"
    return "other"


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two same-size RGB images (inf when equal)."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    stat = ImageStat.Stat(diff)
    pixels = a.width * a.height
    mse = sum(stat.sum2) / (3 * pixels)
    if mse == 0:
        return float("inf")
    return 10 * math.log10(255**2 / mse)
