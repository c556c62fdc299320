"""The kit's one image factory: every test picture is made here, in memory.

Small encoded images (`solid`, `split`, `seeded`, `noise`, `mask`), the forms the core passes
around (`normalized`), photographic-like scenes and marked corners for the intake tests, and
the measures tests read pictures back with (`size_of`, `colour_at`, `psnr`, `invert`).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from bot.core.domain import NormalizedImage

Colour = tuple[int, int, int] | str

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


# -- small encoded images ----------------------------------------------------------------------


def solid(colour: Colour, size: tuple[int, int] = (320, 256), *, fmt: str = "PNG") -> bytes:
    """One colour; different colours give different bytes (and blobs)."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


def split(size: tuple[int, int] = (320, 256), *, fmt: str = "PNG") -> bytes:
    """Red left half, blue right half: an output derived from it keeps that layout."""
    im = Image.new("RGB", size, (255, 0, 0))
    im.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def seeded(seed: int, size: tuple[int, int] = (64, 64)) -> bytes:
    """A solid PNG whose colour depends on `seed` (so outputs differ per job)."""
    return solid((seed * 37 % 256, seed * 91 % 256, 120), size)


def noise(side: int) -> bytes:
    """Random pixels (seeded by the side): a PNG that compresses badly, for size limits."""
    im = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3))
    out = io.BytesIO()
    im.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def mask(size: tuple[int, int]) -> bytes:
    """A PNG mask whose left half is transparent (the area to edit)."""
    im = Image.new("RGBA", size, (0, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def normalized(data: bytes, *, name: str = "image.png") -> NormalizedImage:
    """Encoded bytes as intake would hand them to a provider (size read from them)."""
    width, height = size_of(data)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[_format_of(data)]
    return NormalizedImage(data, mime, width, height, hashlib.sha256(data).hexdigest(), name)


def write(directory: Path, name: str, data: bytes) -> Path:
    """`data` as the file `name` in `directory` (for uploads and the CLI)."""
    path = directory / name
    path.write_bytes(data)
    return path


# -- reading pictures back ---------------------------------------------------------------------


def size_of(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes."""
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def decoded(image: NormalizedImage) -> Image.Image:
    """A normalized image decoded (loaded) for pixel checks."""
    im = Image.open(io.BytesIO(image.data))
    im.load()
    return im


def small_scene() -> Image.Image:
    """A small photographic-like scene without noise (same pixels on every call)."""
    return photo_like((96, 64), seed=3, noise=0)


def pixel_at(data: bytes, fx: float = 0.0, fy: float = 0.0) -> tuple[int, int, int]:
    """The RGB pixel of encoded bytes at a fraction of the width and height."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        value = rgb.getpixel((int(rgb.width * fx), int(rgb.height * fy)))
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def _format_of(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as im:
        return str(im.format)


def invert(data: bytes, *, scale: int = 1) -> tuple[bytes, int, int]:
    """The image with its colours inverted (and scaled up `scale` times), as PNG, and its size.

    What the kit's fake edit service "edits": an output anyone can tell apart from the input.
    Pillow work: call it in a thread from async code.
    """
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = ImageOps.invert(im.convert("RGB"))
    if scale > 1:
        rgb = rgb.resize((rgb.width * scale, rgb.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue(), rgb.width, rgb.height
