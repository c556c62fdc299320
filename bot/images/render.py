"""Pictures editbot posts besides the edits: version contact sheets, before/after, spend charts.

Every function here is synchronous, CPU-bound Pillow work that returns PNG bytes. Callers on
the event loop run them in a thread: `await asyncio.to_thread(render.contact_sheet, ...)`.
Inputs are images editbot already stored (provider outputs and intake-normalised uploads), so
decoding is limited to PNG, JPEG and WebP; anything else raises PIL.UnidentifiedImageError.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.core.domain import format_usd

RGB = tuple[int, int, int]

BACKGROUND: RGB = (255, 255, 255)
"""Canvas colour of every picture."""
LETTERBOX: RGB = (232, 232, 236)
"""Fill around a thumbnail that does not cover its square cell."""
INK: RGB = (40, 40, 48)
"""Text colour."""
CURRENT_COLOUR: RGB = (234, 88, 12)
"""Frame and label colour of the current version on a contact sheet."""
BAR_COLOUR: RGB = (37, 99, 235)
"""Fill of the spend chart's bars."""
CAP_COLOUR: RGB = (220, 38, 38)
"""The spend chart's daily cap line."""
GRID_COLOUR: RGB = (226, 226, 230)
AXIS_COLOUR: RGB = (150, 150, 158)
CHECKER: tuple[RGB, RGB] = ((250, 250, 250), (214, 214, 218))
"""The two squares drawn behind transparent parts of an image."""

_FORMATS = ("PNG", "JPEG", "WEBP")
_MIN_CELL = 32


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Loading the embedded font costs ~70 us; a fresh one per call keeps FreeType objects out
    # of the threads that render concurrently.
    return ImageFont.load_default(size=size)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Level 1: a photo contact sheet encodes ~3x faster than at the default 6 and is no larger
    # (measured on 1100x1200 sheets); only flat drawings grow, and those are a few KB anyway.
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _checkerboard(size: tuple[int, int], square: int = 8) -> Image.Image:
    """A light checkerboard that shows where an image is transparent."""
    board = Image.new("RGB", size, CHECKER[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], square):
        for x in range((y // square) % 2 * square, size[0], 2 * square):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=CHECKER[1])
    return board


def _fitted(data: bytes, box: tuple[int, int]) -> Image.Image:
    """Decode `data` and scale it (up or down) to fit `box`, keeping its aspect ratio, as RGB."""
    with Image.open(io.BytesIO(data), formats=_FORMATS) as opened:
        # A JPEG decodes straight at 1/2, 1/4 or 1/8 scale when that still covers the box.
        opened.draft("RGB", box)
        has_alpha = opened.mode in ("RGBA", "LA", "PA") or (
            opened.mode == "P" and "transparency" in opened.info
        )
        image = opened.convert("RGBA" if has_alpha else "RGB")
    if image.width > box[0] or image.height > box[1]:
        # thumbnail() reduces by an integer factor before resampling: much cheaper for 2k/4k.
        image.thumbnail(box, Image.Resampling.LANCZOS)
    image = ImageOps.contain(image, box, Image.Resampling.LANCZOS)
    if not has_alpha:
        return image
    base = _checkerboard(image.size)
    base.paste(image, mask=image.getchannel("A"))
    return base


def _text_width(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    return math.ceil(draw.textlength(text, font=font))


def _ellipsize(
    draw: ImageDraw.ImageDraw,
    text: str,
    *,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> str:
    """`text`, cut with "..." so that it fits `width` pixels."""
    if _text_width(draw, text, font) <= width:
        return text
    while text and _text_width(draw, text + "...", font) > width:
        text = text[:-1]
    return text + "..."


def contact_sheet(
    versions: Sequence[tuple[int, bytes]],
    *,
    current: int | None,
    cell: int = 256,
    columns: int = 4,
) -> bytes:
    """One PNG with a labelled thumbnail of every version, in a grid read left to right.

    Args:
        versions: (version number, image bytes) in the order to show them.
        current: the version number to frame and label "(current)"; None marks none.
        cell: side of the square each thumbnail is letterboxed into, in pixels.
        columns: thumbnails per row (fewer when there are fewer versions).

    Raises ValueError when there is nothing to show or `cell` is under 32 px.
    """
    if not versions:
        raise ValueError("contact_sheet needs at least one version")
    if cell < _MIN_CELL:
        raise ValueError(f"cell must be at least {_MIN_CELL} px, got {cell}")
    pad = max(8, cell // 16)
    frame = max(3, min(pad // 2, cell // 48))
    font_size = max(12, min(28, cell // 11))
    label_h = font_size + pad
    cols = max(1, min(columns, len(versions)))
    rows = math.ceil(len(versions) / cols)
    sheet = Image.new(
        "RGB", (pad + cols * (cell + pad), pad + rows * (cell + label_h + pad)), BACKGROUND
    )
    draw = ImageDraw.Draw(sheet)
    font = _font(font_size)
    for index, (number, data) in enumerate(versions):
        x0 = pad + (index % cols) * (cell + pad)
        y0 = pad + (index // cols) * (cell + label_h + pad)
        thumb = _fitted(data, (cell, cell))
        draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=LETTERBOX)
        sheet.paste(thumb, (x0 + (cell - thumb.width) // 2, y0 + (cell - thumb.height) // 2))
        is_current = number == current
        if is_current:
            draw.rectangle(
                (x0 - frame, y0 - frame, x0 + cell - 1 + frame, y0 + cell - 1 + frame),
                outline=CURRENT_COLOUR,
                width=frame,
            )
        label = f"v{number} (current)" if is_current else f"v{number}"
        if _text_width(draw, label, font) > cell:
            label = f"v{number}*" if is_current else f"v{number}"
        label = _ellipsize(draw, label, font=font, width=cell)
        draw.text(
            (x0, y0 + cell + frame + 2),
            label,
            font=font,
            fill=CURRENT_COLOUR if is_current else INK,
        )
    return _png(sheet)


def compare(
    before: bytes,
    after: bytes,
    *,
    labels: tuple[str, str] = ("before", "after"),
    height: int = 512,
) -> bytes:
    """One PNG with `before` on the left and `after` on the right at the same height, labelled.

    Each image keeps its aspect ratio; a very wide one is capped at 3x `height` (gpt-image-2's
    widest output) and letterboxed.
    """
    if height < _MIN_CELL:
        raise ValueError(f"height must be at least {_MIN_CELL} px, got {height}")
    pad = max(8, height // 32)
    font_size = max(12, min(32, height // 16))
    label_h = font_size + pad
    box = (3 * height, height)
    left, right = _fitted(before, box), _fitted(after, box)
    width = pad + left.width + pad + right.width + pad
    canvas = Image.new("RGB", (width, pad + label_h + height + pad), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font(font_size)
    x = pad
    for image, label in ((left, labels[0]), (right, labels[1])):
        top = pad + label_h
        draw.rectangle((x, top, x + image.width - 1, top + height - 1), fill=LETTERBOX)
        canvas.paste(image, (x, top + (height - image.height) // 2))
        text = _ellipsize(draw, label, font=font, width=image.width)
        draw.text((x, pad), text, font=font, fill=INK)
        x += image.width + pad
    return _png(canvas)


def _axis_step(peak: int) -> int:
    """A round tick step in micro-dollars (1, 2 or 5 x 10^k, at least $0.0001) for `peak`."""
    exponent = 2
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * 10**exponent
            if step * 4 >= peak:
                return step
        exponent += 1


@dataclass(frozen=True)
class _Plot:
    """The spend chart's plot area on the canvas, and the scale of its y axis in micro-dollars."""

    left: int
    top: int
    width: int
    height: int
    y_max: int
    """The value the top edge stands for: a whole number of `y_step`s."""
    y_step: int
    """The distance between two grid lines."""

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def y_of(self, micros: int) -> int:
        """The canvas row of a value on the y axis (a grid tick or the cap line)."""
        return self.bottom - micros * self.height // self.y_max


def _plot_area(width: int, height: int, *, peak: int) -> _Plot:
    """Where the bars go inside a `width` x `height` chart, scaled to show `peak`."""
    left, right, top, bottom = 84, 24, 72, 44
    # An empty period still gets a readable axis ($0 .. $1) rather than a degenerate one.
    step = _axis_step(peak) if peak else 250_000
    y_max = step * math.ceil(peak / step) if peak else 4 * step
    return _Plot(left, top, width - left - right, height - top - bottom, y_max, step)


def _spend_subtitle(total: int, *, cap_micros: int | None, daily_cap_micros: int | None) -> str:
    """The line under the title: the period's total against its cap, and what the line means."""
    if cap_micros is None:
        subtitle = f"total {format_usd(total)} (no cap)"
    else:
        share = f" ({total * 100 // cap_micros}%)" if cap_micros > 0 else ""
        subtitle = f"total {format_usd(total)} of {format_usd(cap_micros)} cap{share}"
    if daily_cap_micros is not None:
        subtitle += f"; dashed line: daily cap {format_usd(daily_cap_micros)}"
    return subtitle


def _draw_heading(draw: ImageDraw.ImageDraw, plot: _Plot, *, title: str, subtitle: str) -> None:
    title_font, sub_font = _font(20), _font(15)
    for y, text, font in ((12, title, title_font), (40, subtitle, sub_font)):
        fitted = _ellipsize(draw, text, font=font, width=plot.width)
        draw.text((plot.left, y), fitted, font=font, fill=INK)


def _draw_y_axis(draw: ImageDraw.ImageDraw, plot: _Plot) -> None:
    """A grid line and a dollar label every step; the line at $0 is the darker axis."""
    font = _font(13)
    for tick in range(0, plot.y_max + 1, plot.y_step):
        y = plot.y_of(tick)
        draw.line(
            (plot.left, y, plot.left + plot.width, y), fill=GRID_COLOUR if tick else AXIS_COLOUR
        )
        label = format_usd(tick)
        draw.text(
            (plot.left - 8 - _text_width(draw, label, font), y - 8), label, font=font, fill=INK
        )


def _draw_no_spend_note(draw: ImageDraw.ImageDraw, plot: _Plot) -> None:
    font = _font(15)
    note = "no spend in this period yet"
    x = plot.left + (plot.width - _text_width(draw, note, font)) // 2
    draw.text((x, plot.top + plot.height // 2 - 10), note, font=font, fill=AXIS_COLOUR)


def _bar_columns(count: int, plot: _Plot) -> tuple[list[int], int]:
    """The left edge of each of `count` bars, centred in equal slots, and the bars' width."""
    slot = plot.width / max(1, count)
    # A week's bars should not be half a screen wide each.
    bar_w = max(1, min(int(slot * 0.7), 48))
    return [plot.left + int(index * slot + (slot - bar_w) / 2) for index in range(count)], bar_w


def _draw_bars(
    draw: ImageDraw.ImageDraw, plot: _Plot, *, values: Sequence[int], xs: Sequence[int], bar_w: int
) -> None:
    for x, value in zip(xs, values, strict=True):
        if value > 0:
            # A tiny day still shows: at least one pixel, so "no bar" always means zero.
            bar_h = max(1, (value * plot.height + plot.y_max // 2) // plot.y_max)
            draw.rectangle(
                (x, plot.bottom - bar_h, x + bar_w - 1, plot.bottom - 1), fill=BAR_COLOUR
            )


def _draw_day_labels(
    draw: ImageDraw.ImageDraw, plot: _Plot, *, days: Sequence[date], xs: Sequence[int], bar_w: int
) -> None:
    """A "May 3" under the bars, at most one per 64 px of plot width so that they do not crowd."""
    font = _font(13)
    label_every = max(1, math.ceil(len(days) / max(1, plot.width // 64)))
    for index, (day, x) in enumerate(zip(days, xs, strict=True)):
        if index % label_every == 0:
            text = f"{day:%b} {day.day}"
            left = x + bar_w // 2 - _text_width(draw, text, font) // 2
            draw.text((left, plot.bottom + 8), text, font=font, fill=INK)


def _draw_cap_line(draw: ImageDraw.ImageDraw, plot: _Plot, *, cap_micros: int) -> None:
    """The daily cap as a dashed line across the plot: 6 px dashes every 12 px."""
    y, right = plot.y_of(cap_micros), plot.left + plot.width
    for x in range(plot.left, right, 12):
        draw.line((x, y, min(x + 6, right), y), fill=CAP_COLOUR, width=2)


def spend_chart(
    days: Sequence[tuple[date, int]],
    *,
    cap_micros: int | None,
    title: str,
    daily_cap_micros: int | None = None,
    width: int = 960,
    height: int = 480,
) -> bytes:
    """A PNG bar chart of spend per day, with the period's total against its cap under the title.

    Args:
        days: (day, micro-dollars spent that day), oldest first; zero days draw no bar.
        cap_micros: the period's cap, shown as "total $x of $y"; None when there is no cap.
        title: the first line, e.g. "#design - May 2026".
        daily_cap_micros: when the cap is per day, pass it to draw it as a dashed line.
    """
    values = [max(0, micros) for _, micros in days]
    total = sum(values)
    plot = _plot_area(width, height, peak=max([*values, daily_cap_micros or 0, 0]))
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    subtitle = _spend_subtitle(total, cap_micros=cap_micros, daily_cap_micros=daily_cap_micros)
    _draw_heading(draw, plot, title=title, subtitle=subtitle)
    _draw_y_axis(draw, plot)
    if not days or total == 0:
        _draw_no_spend_note(draw, plot)
    xs, bar_w = _bar_columns(len(days), plot)
    _draw_bars(draw, plot, values=values, xs=xs, bar_w=bar_w)
    _draw_day_labels(draw, plot, days=[day for day, _ in days], xs=xs, bar_w=bar_w)
    if daily_cap_micros is not None:
        _draw_cap_line(draw, plot, cap_micros=daily_cap_micros)
    return _png(canvas)
