"""Pictures editbot posts besides the edits: version contact sheets and before/after.

Every function here is synchronous, CPU-bound Pillow work that returns PNG bytes. Callers on
the event loop run them in a thread: `await asyncio.to_thread(render.contact_sheet, ...)`.
Inputs are images editbot already stored (provider outputs and intake-normalised uploads), so
decoding is limited to PNG, JPEG and WebP; anything else raises PIL.UnidentifiedImageError.

Both are SHEET_WIDTH wide with text sized for Slack's inline preview (bot.images.drawing), and
every image keeps its own shape: no cell is letterboxed. The spend chart is bot.images.chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.images.chart import spend_chart
from bot.images.drawing import (
    BACKGROUND,
    BATCH_COLOUR,
    CHECKER,
    CURRENT_COLOUR,
    INK,
    MUTED,
    ellipsize,
    font,
    image_size,
    png,
    scaled,
    text_px,
    wrap,
)

__all__ = [
    "BACKGROUND",
    "BATCH_COLOUR",
    "CHECKER",
    "CURRENT_COLOUR",
    "INK",
    "SheetVersion",
    "compare",
    "contact_sheet",
    "spend_chart",
]

SHEET_WIDTH = 720
"""Width of a contact sheet and a compare: twice Slack's preview, sharp when opened."""
_PAD = 12
_GAP = 6
"""Between the images of one batch, and around them inside its panel."""
_FRAME = 4
_CAPTION_LINES = 2
"""Lines of prompt above each side of a compare."""


@dataclass(frozen=True)
class SheetVersion:
    """One version on a contact sheet: its number, its image(s), what was asked and by whom.

    A batch has several images; `chosen` is the index of the one the version stands for.
    """

    number: int
    images: tuple[bytes, ...]
    prompt: str = ""
    author: str = ""
    chosen: int = 0


@dataclass(frozen=True)
class _Placed:
    """Where a version goes: its row, left edge, and each image's width at the row's height."""

    version: SheetVersion
    row: int
    x: int
    widths: tuple[int, ...]

    @property
    def width(self) -> int:
        inner = sum(self.widths) + _GAP * (len(self.widths) - 1)
        return inner + (2 * _GAP if len(self.widths) > 1 else 0)


def _row_height(count: int) -> int:
    return 240 if count <= 6 else 180 if count <= 16 else 130


def _layout(
    versions: Sequence[SheetVersion], aspects: Sequence[Sequence[float]], width: int
) -> tuple[list[_Placed], list[int]]:
    """Justified rows: versions in reading order, each image at its own shape, every full row
    scaled to fill the width (the last one no taller than the target)."""
    target = _row_height(len(versions))
    room = width - 2 * _PAD

    def fixed(group: Sequence[float]) -> int:  # pixels that do not scale with the height
        return (_GAP * (len(group) - 1) + 2 * _GAP) if len(group) > 1 else 0

    # A row takes versions until it is full at the target height, then shrinks to fit.
    rows: list[list[int]] = [[]]
    used = 0
    for index, group in enumerate(aspects):
        if used >= room:
            rows.append([])
            used = 0
        used += (_PAD if rows[-1] else 0) + round(target * sum(group)) + fixed(group)
        rows[-1].append(index)
    placed: list[_Placed] = []
    heights: list[int] = []
    for row_number, members in enumerate(rows):
        spare = room - _PAD * (len(members) - 1) - sum(fixed(aspects[i]) for i in members)
        height = spare / sum(sum(aspects[i]) for i in members)
        height = min(height, target)
        row_h = max(16, int(height))
        x = _PAD
        for i in members:
            widths = tuple(max(8, round(row_h * a)) for a in aspects[i])
            item = _Placed(versions[i], row_number, x, widths)
            placed.append(item)
            x += item.width + _PAD
        heights.append(row_h)
    return placed, heights


def contact_sheet(
    versions: Sequence[SheetVersion], *, current: int | None, width: int = SHEET_WIDTH
) -> bytes:
    """One PNG with every version in reading order: its image(s) at their own shape, a batch's
    images together on one panel, and under each its number, author and prompt.

    Args:
        versions: in the order to show them.
        current: the version number to frame and label "current"; None marks none.

    Raises ValueError when there is nothing to show or a version has no image.
    """
    if not versions or any(not v.images for v in versions):
        raise ValueError("contact_sheet needs at least one version, each with an image")
    aspects = [[w / h for w, h in map(image_size, v.images)] for v in versions]
    placed, heights = _layout(versions, aspects, width)
    title_px, line_px = text_px(width, preview_px=17), text_px(width, preview_px=16)
    label_h = title_px + line_px + 3 * _GAP
    band = [h + 2 * _GAP + label_h + _PAD for h in heights]
    tops = [_PAD + sum(band[:i]) for i in range(len(band))]
    sheet = Image.new("RGB", (width, _PAD + sum(band)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for item in placed:
        top, row_h = tops[item.row], heights[item.row]
        _draw_version(sheet, draw, item, top=top, row_h=row_h, current=current)
        _draw_label(
            draw,
            item,
            top=top + row_h + 2 * _GAP + _GAP,
            sizes=(title_px, line_px),
            is_current=item.version.number == current,
        )
    return png(sheet)


def _draw_version(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    item: _Placed,
    *,
    top: int,
    row_h: int,
    current: int | None,
) -> None:
    version = item.version
    batch = len(version.images) > 1
    if batch:
        draw.rectangle(
            (item.x, top, item.x + item.width - 1, top + row_h + 2 * _GAP - 1), fill=BATCH_COLOUR
        )
    x = item.x + (_GAP if batch else 0)
    y = top + _GAP
    badge_px = text_px(SHEET_WIDTH, preview_px=12)
    badge = font(badge_px)
    for index, (data, w) in enumerate(zip(version.images, item.widths, strict=True)):
        sheet.paste(scaled(data, (w, row_h)), (x, y))
        if batch:
            chosen = index == version.chosen
            size = badge_px + 8
            draw.rectangle(
                (x, y, x + size - 1, y + size - 1), fill=CURRENT_COLOUR if chosen else INK
            )
            draw.text((x + 6, y + 2), str(index + 1), font=badge, fill=BACKGROUND)
        x += w + _GAP
    if version.number == current:
        draw.rectangle(
            (
                item.x - _FRAME,
                top + (0 if batch else _GAP) - _FRAME,
                item.x + item.width - 1 + _FRAME,
                top + row_h + (2 * _GAP if batch else _GAP) - 1 + _FRAME,
            ),
            outline=CURRENT_COLOUR,
            width=_FRAME,
        )


def _draw_label(
    draw: ImageDraw.ImageDraw,
    item: _Placed,
    *,
    top: int,
    sizes: tuple[int, int],
    is_current: bool,
) -> None:
    """`v3 · Maya` (or `v3 · current`) and the prompt, cut to the version's width."""
    version = item.version
    title_face, line_face = font(sizes[0]), font(sizes[1])
    room = max(item.width, 1)
    head = f"v{version.number}"
    extra = " · current" if is_current else (f" · {version.author}" if version.author else "")
    title = head + extra if draw.textlength(head + extra, font=title_face) <= room else head
    draw.text(
        (item.x, top),
        ellipsize(draw, title, face=title_face, width=room),
        font=title_face,
        fill=CURRENT_COLOUR if is_current else INK,
    )
    below = version.prompt
    if is_current and version.author:
        below = f"{version.author}: {below}" if below else version.author
    if below:
        text = ellipsize(draw, " ".join(below.split()), face=line_face, width=room)
        draw.text((item.x, top + sizes[0] + _GAP), text, font=line_face, fill=MUTED)


def compare(
    before: bytes,
    after: bytes,
    *,
    labels: tuple[str, str] = ("before", "after"),
    captions: tuple[str, str] = ("", ""),
    width: int = SHEET_WIDTH,
) -> bytes:
    """One PNG with `before` on the left and `after` on the right at the same height, each
    under its label (`v2 · Maya`) and caption (its prompt, in up to two lines). Each keeps its
    shape; two tall images are capped at `width` px high and centred."""
    if width < 2 * text_px(width) + 4 * _PAD:
        raise ValueError(f"width is too small: {width}")
    shapes = [image_size(before), image_size(after)]
    aspects = [w / h for w, h in shapes]
    height = min(width, int((width - 2 * _PAD - _PAD) / sum(aspects)))
    widths = [max(8, round(height * a)) for a in aspects]
    title_px, line_px = text_px(width, preview_px=17), text_px(width, preview_px=16)
    head = title_px + (line_px + _GAP) * _CAPTION_LINES + 2 * _GAP
    canvas = Image.new("RGB", (width, _PAD + head + height + _PAD), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    title_face, line_face = font(title_px), font(line_px)
    x = (width - sum(widths) - _PAD) // 2
    for data, w, label, caption in zip((before, after), widths, labels, captions, strict=True):
        draw.text(
            (x, _PAD), ellipsize(draw, label, face=title_face, width=w), font=title_face, fill=INK
        )
        lines = wrap(draw, caption, face=line_face, width=w, lines=_CAPTION_LINES)
        for n, line in enumerate(lines):
            y = _PAD + title_px + _GAP + n * (line_px + _GAP)
            draw.text((x, y), line, font=line_face, fill=MUTED)
        canvas.paste(scaled(data, (w, height)), (x, _PAD + head))
        x += w + _PAD
    return png(canvas)
