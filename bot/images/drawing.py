"""What editbot's pictures share: colours, fonts, decoding a thumbnail, fitting text, PNG.

Sizes are chosen for how people see the pictures: Slack shows an image inline about
PREVIEW_WIDTH pixels wide, so a picture `width` pixels wide needs text of at least
`MIN_PREVIEW_TEXT * width / PREVIEW_WIDTH` pixels to stay readable there (text_px).
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont, ImageOps

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

BACKGROUND: RGB = (255, 255, 255)
"""Canvas colour of every picture."""
INK: RGB = (40, 40, 48)
"""Text colour."""
MUTED: RGB = (96, 96, 108)
"""Secondary text: prompts, authors, axis labels."""
CURRENT_COLOUR: RGB = (234, 88, 12)
"""Frame and label colour of the current version on a contact sheet."""
BATCH_COLOUR: RGB = (238, 240, 246)
"""The panel behind the images of one batch, grouping them."""
CHECKER: tuple[RGB, RGB] = ((250, 250, 250), (214, 214, 218))
"""The two squares drawn behind transparent parts of an image."""

PREVIEW_WIDTH = 360
"""About how wide Slack shows an image inline."""
MIN_PREVIEW_TEXT = 14
"""The smallest text height (px) that stays readable in that preview."""

_FORMATS = ("PNG", "JPEG", "WEBP")


def text_px(width: int, *, preview_px: float = MIN_PREVIEW_TEXT) -> int:
    """The font size that shows as `preview_px` when a `width`-px picture is previewed."""
    return math.ceil(preview_px * max(width, PREVIEW_WIDTH) / PREVIEW_WIDTH)


def font(size: int) -> Font:
    # Loading the embedded font costs ~70 us; a fresh one per call keeps FreeType objects out
    # of the threads that render concurrently.
    return ImageFont.load_default(size=size)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Level 1: a photo contact sheet encodes ~3x faster than at the default 6 and is no larger
    # (measured on 1100x1200 sheets); only flat drawings grow, and those are a few KB anyway.
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image, read from its header."""
    with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
        return opened.size


def checkerboard(size: tuple[int, int], square: int = 8) -> Image.Image:
    """A light checkerboard that shows where an image is transparent."""
    board = Image.new("RGB", size, CHECKER[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], square):
        for x in range((y // square) % 2 * square, size[0], 2 * square):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=CHECKER[1])
    return board


def scaled(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Decode `data` and scale it to exactly `size` (callers keep its shape), as RGB."""
    with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
        # A JPEG decodes straight at 1/2, 1/4 or 1/8 scale when that still covers the size.
        opened.draft("RGB", size)
        has_alpha = opened.mode in ("RGBA", "LA", "PA") or (
            opened.mode == "P" and "transparency" in opened.info
        )
        image = opened.convert("RGBA" if has_alpha else "RGB")
    if image.width > 2 * size[0] and image.height > 2 * size[1]:
        # thumbnail() reduces by an integer factor before resampling: much cheaper for 2k/4k.
        image.thumbnail((size[0] * 2, size[1] * 2), Image.Resampling.BOX)
    image = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    if not has_alpha:
        return image
    base = checkerboard(image.size)
    base.paste(image, mask=image.getchannel("A"))
    return base


def text_width(draw: ImageDraw.ImageDraw, text: str, face: Font) -> int:
    return math.ceil(draw.textlength(text, font=face))


def ellipsize(draw: ImageDraw.ImageDraw, text: str, *, face: Font, width: int) -> str:
    """`text`, cut with "..." so that it fits `width` pixels."""
    if text_width(draw, text, face) <= width:
        return text
    while text and text_width(draw, text + "...", face) > width:
        text = text[:-1]
    return text.rstrip() + "..."


def wrap(draw: ImageDraw.ImageDraw, text: str, *, face: Font, width: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines of `width` pixels, broken between words; the last line
    is cut with "..." when the rest does not fit."""
    words = text.split()
    out: list[str] = []
    while words and len(out) < lines:
        line = words.pop(0)
        while words and text_width(draw, f"{line} {words[0]}", face) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words and out:
        out[-1] = ellipsize(draw, f"{out[-1]} {' '.join(words)}", face=face, width=width)
    return [ellipsize(draw, line, face=face, width=width) for line in out]
