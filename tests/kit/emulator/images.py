"""Pure helpers of the provider emulator: output pixels, token counts, multipart parsing.

Output pixels are derived from the request so a test can tell a real round-trip from a canned
file: the first input resized to the output size, blended 25% with a tint that is a hash of the
prompt and the sample index (so n outputs differ); further inputs (compose) are pasted as a
strip along the bottom, one cell each; where a mask is transparent the tint is painted fully.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

QUALITY_Q = {"low": 16, "medium": 48, "high": 96, "auto": 96}
"""gpt-image-2 output token factor per quality (REFERENCE.md); auto is counted as high."""

SAVE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def output_tokens(quality: str, width: int, height: int) -> int:
    """REFERENCE.md: ceil(q * round(q * short/long) * (2,000,000 + W*H) / 4,000,000).

    `round` is half-up (as bot.core.pricing does it); it only differs from banker's at exact halves.
    """
    q = QUALITY_Q[quality]
    short, long = min(width, height), max(width, height)
    tiles = (2 * q * short + long) // (2 * long)
    return -(-(q * tiles * (2_000_000 + width * height)) // 4_000_000)


def input_image_tokens(width: int, height: int) -> int:
    """The emulator's token count for one input image: the output formula at high quality.

    OpenAI does not publish gpt-image-2's input formula; bot.core.pricing bounds input images with
    this same formula plus headroom, so estimate >= settle can be tested against the emulator.
    """
    return output_tokens("high", width, height)


def text_tokens(prompt: str) -> int:
    return len(prompt) // 4 + 1


def sniff(data: bytes) -> str | None:
    """png | jpeg | webp by magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_info(data: bytes) -> tuple[int, int, str]:
    """(width, height, mode) of an encoded image; raises OSError/ValueError when unreadable."""
    with Image.open(io.BytesIO(data)) as im:
        return im.width, im.height, im.mode


def tint(prompt: str, index: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{index}:{prompt}".encode()).digest()
    return digest[0], digest[1], digest[2]


def render(
    source: bytes,
    *,
    size: tuple[int, int],
    prompt: str,
    index: int,
    fmt: str = "png",
    extras: tuple[bytes, ...] = (),
    mask: bytes | None = None,
) -> bytes:
    """One output image (see the module doc); blocking Pillow work, run it in a thread."""
    with Image.open(io.BytesIO(source)) as src:
        src.draft("RGB", (256, 256))
        small = src.convert("RGB")
    small.thumbnail((256, 256))
    base = small.resize(size, Image.Resampling.BILINEAR)
    colour = Image.new("RGB", size, tint(prompt, index))
    out = Image.blend(base, colour, 0.25)
    if extras:
        w, h = size
        strip = max(1, h // 6)
        for j, extra in enumerate(extras):
            left, right = j * w // len(extras), (j + 1) * w // len(extras)
            with Image.open(io.BytesIO(extra)) as im:
                cell = im.convert("RGB").resize((max(1, right - left), strip))
            out.paste(cell, (left, h - strip))
    if mask is not None:
        with Image.open(io.BytesIO(mask)) as m:
            alpha = m.convert("RGBA").getchannel("A").resize(size)
        out.paste(colour, mask=alpha.point(lambda a: 255 if a == 0 else 0))
    buf = io.BytesIO()
    if fmt == "png":
        out.save(buf, "PNG", compress_level=1)
    elif fmt == "webp":
        out.save(buf, "WEBP", quality=80, method=0)
    else:
        out.save(buf, "JPEG", quality=85)
    return buf.getvalue()


Renderer = Callable[..., bytes]
"""`render`'s signature, for whatever stands in for it (a benchmark's prerendered outputs)."""


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    data: bytes = field(repr=False)
    filename: str | None = None
    content_type: str | None = None


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart/form-data body into parts (enough of RFC 7578 for these clients)."""
    params = dict(_header_params(content_type))
    boundary = params.get("boundary")
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise ValueError("not multipart/form-data")
    parts = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("malformed multipart part")
        headers = {}
        for line in head.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = dict(_header_params(headers.get("content-disposition", "")))
        if "name" not in disposition:
            raise ValueError("multipart part without a name")
        parts.append(
            Part(
                name=disposition["name"],
                data=data.removesuffix(b"\r\n"),
                filename=disposition.get("filename"),
                content_type=headers.get("content-type"),
            )
        )
    return parts


def _header_params(value: str) -> list[tuple[str, str]]:
    out = []
    for item in value.split(";")[1:]:
        key, _, val = item.strip().partition("=")
        out.append((key.strip().lower(), val.strip().strip('"')))
    return out
