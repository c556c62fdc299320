"""bot.images.render and bot.images.chart: the pictures are measured, pixel by pixel, against
solid-colour inputs, at the size Slack previews them (about 360 px wide)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, UnidentifiedImageError

from bot.images import chart, render
from bot.images.drawing import MIN_PREVIEW_TEXT, MUTED, PREVIEW_WIDTH
from bot.images.render import SheetVersion
from tests.kit.images import solid

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]

COLOURS: list[Colour] = [
    (255, 0, 0),
    (0, 200, 0),
    (0, 0, 255),
    (200, 200, 0),
    (0, 200, 200),
    (160, 0, 160),
    (90, 60, 20),
    (255, 150, 200),
    (20, 120, 60),
]
GREYS = [(232, 232, 236), (200, 200, 200), (128, 128, 128), (0, 0, 0)]
"""Letterbox colours a cell might be padded with: none may appear inside a sheet's cells."""


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png), formats=["PNG"])
    assert image.format == "PNG"
    return image.convert("RGB")


def mask(image: Image.Image, colour: Colour, tol: int = 2) -> Image.Image:
    """L image: 255 where `image` is within `tol` of `colour` in every channel, else 0."""
    bands = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= tol else 0)
        for band, c in zip(image.split(), colour, strict=True)
    ]
    out = bands[0]
    for band in bands[1:]:
        out = ImageChops.darker(out, band)
    return out


def colour_box(image: Image.Image, colour: Colour, tol: int = 2) -> Box | None:
    return mask(image, colour, tol).getbbox()


def colour_count(image: Image.Image, colour: Colour, tol: int = 2) -> int:
    return mask(image, colour, tol).histogram()[255]


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def ink_rows(image: Image.Image, box: Box) -> list[int]:
    """The rows of `box` holding any text (dark pixels, anti-aliased edges included)."""
    band = image.crop(box).convert("L").point(lambda v: 255 if v < 170 else 0)
    return [y for y in range(band.height) if band.crop((0, y, band.width, y + 1)).getbbox()]


def text_lines(rows: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive ink rows: (first row, height) of each line of text."""
    lines: list[tuple[int, int]] = []
    for y in rows:
        if lines and y - (lines[-1][0] + lines[-1][1]) <= 1:
            lines[-1] = (lines[-1][0], y - lines[-1][0] + 1)
        else:
            lines.append((y, 1))
    return lines


def at_preview(px: int, width: int) -> float:
    """How tall `px` pixels of a `width`-px picture show in Slack's inline preview."""
    return px * PREVIEW_WIDTH / width


def version(
    n: int, *colours: Colour, size: tuple[int, int] = (120, 120), **kw: object
) -> SheetVersion:
    return SheetVersion(n, tuple(solid(c, size) for c in colours), **kw)  # type: ignore[arg-type]


# --- contact sheet -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(300, 200), (200, 300), (160, 160), (630, 210), (1808, 1024)])
def test_each_thumbnail_keeps_its_shape_and_fills_its_cell(size: tuple[int, int]) -> None:
    versions = [version(i + 1, COLOURS[i], size=size) for i in range(5)]
    sheet = decode(render.contact_sheet(versions, current=None))
    for colour in COLOURS[:5]:
        box = colour_box(sheet, colour)
        assert box is not None
        w, h = box[2] - box[0], box[3] - box[1]
        assert abs(w / h - size[0] / size[1]) < 0.03 * size[0] / size[1]
        # Solid to the edges: no band of another colour inside the image's own box.
        assert colour_count(sheet, colour) == w * h
    for grey in GREYS:
        assert colour_count(sheet, grey, tol=3) < 50  # no letterbox bands anywhere


def test_versions_read_left_to_right_then_down_and_rows_fill_the_width() -> None:
    versions = [version(i + 1, c) for i, c in enumerate(COLOURS[:9])]
    sheet = decode(render.contact_sheet(versions, current=None))
    boxes = [colour_box(sheet, c) for c in COLOURS[:9]]
    assert all(b is not None for b in boxes)
    found = [b for b in boxes if b is not None]
    assert not any(overlaps(a, b) for i, a in enumerate(found) for b in found[i + 1 :])
    order = sorted(range(9), key=lambda i: (found[i][1], found[i][0]))
    assert order == list(range(9))
    first_row = [b for b in found if b[1] == found[0][1]]
    assert len(first_row) > 1
    # A full row spans the sheet, edge padding aside.
    assert first_row[0][0] < 20 and first_row[-1][2] > sheet.width - 20


def test_labels_are_legible_at_slacks_preview_size() -> None:
    versions = [
        version(1, COLOURS[0], prompt="gold sky, glowy", author="Jay"),
        version(2, COLOURS[1], prompt="gold sky, glowy", author="Jay"),
    ]
    png = render.contact_sheet(versions, current=None)
    sheet = decode(png)
    thumb = colour_box(sheet, COLOURS[0])
    assert thumb is not None
    below = (thumb[0], thumb[3], thumb[2], min(sheet.height, thumb[3] + 120))
    lines = text_lines(ink_rows(sheet, below))
    assert len(lines) == 2, "each version has its number / author line and its prompt line"
    for _top, height in lines:
        assert at_preview(height, sheet.width) >= MIN_PREVIEW_TEXT
    (title_top, title_h), (prompt_top, prompt_h) = lines
    # Number and author in ink, the prompt under it in the muted colour.
    title_band = sheet.crop(
        (below[0], below[1] + title_top, below[2], below[1] + title_top + title_h)
    )
    prompt_band = sheet.crop(
        (below[0], below[1] + prompt_top, below[2], below[1] + prompt_top + prompt_h)
    )
    assert colour_count(title_band, render.INK, tol=8) > 50
    assert colour_count(prompt_band, MUTED, tol=8) > 50
    assert colour_count(prompt_band, render.INK, tol=8) == 0


def test_a_label_shows_number_author_and_prompt() -> None:
    bare = decode(render.contact_sheet([version(1, COLOURS[0])], current=None))
    full = decode(
        render.contact_sheet(
            [version(1, COLOURS[0], prompt="make the sky purple", author="Maya")], current=None
        )
    )
    long_number = decode(render.contact_sheet([version(188, COLOURS[0])], current=None))
    # No prompt, no prompt line: only a few anti-aliased edges of the number come near MUTED.
    assert colour_count(bare, MUTED, tol=6) < 40
    assert colour_count(full, MUTED, tol=6) > 400
    ink = [colour_count(image, render.INK, tol=60) for image in (bare, full, long_number)]
    assert ink[1] > ink[0] and ink[2] > ink[0]  # "v1 · Maya" and "v188" draw more than "v1"


def test_a_batch_is_one_group_on_its_panel_with_the_chosen_image_marked() -> None:
    versions = [
        version(1, COLOURS[0]),
        version(2, COLOURS[1], COLOURS[2], COLOURS[3], chosen=1),
        version(3, COLOURS[4]),
    ]
    sheet = decode(render.contact_sheet(versions, current=None))
    panel = colour_box(sheet, render.BATCH_COLOUR, tol=0)
    assert panel is not None
    members = [colour_box(sheet, c) for c in COLOURS[1:4]]
    others = [colour_box(sheet, c) for c in (COLOURS[0], COLOURS[4])]
    assert all(m is not None for m in members) and all(o is not None for o in others)
    for box in members:
        assert box is not None and panel[0] < box[0] and box[2] < panel[2]
        assert panel[1] < box[1] and box[3] < panel[3]
    assert len({b[1] for b in members if b is not None}) == 1  # side by side, in order
    assert [b[0] for b in members if b is not None] == sorted(b[0] for b in members if b)
    for box in others:
        assert box is not None and not overlaps(box, panel)
    # The chosen image (the 2nd) carries the orange badge; the others do not.
    badges = [
        colour_count(sheet.crop(b), render.CURRENT_COLOUR, tol=0) for b in members if b is not None
    ]
    assert badges[1] > 100 and badges[0] == badges[2] == 0


def test_current_version_is_framed_and_only_it() -> None:
    versions = [version(i + 1, c) for i, c in enumerate(COLOURS[:3])]
    plain = decode(render.contact_sheet(versions, current=None))
    marked = decode(render.contact_sheet(versions, current=2))
    assert colour_count(plain, render.CURRENT_COLOUR, tol=0) == 0
    frame = colour_box(marked, render.CURRENT_COLOUR, tol=0)
    thumbs = [colour_box(marked, c) for c in COLOURS[:3]]
    assert frame is not None and all(t is not None for t in thumbs)
    v1, v2, v3 = (t for t in thumbs if t is not None)
    assert frame[0] < v2[0] and frame[1] < v2[1] and frame[2] > v2[2] and frame[3] > v2[3]
    assert not overlaps(frame, v1) and not overlaps(frame, v3)


def test_large_jpeg_is_decoded_to_its_colour() -> None:
    data = solid(COLOURS[4], (2000, 1000), fmt="JPEG")
    sheet = decode(render.contact_sheet([SheetVersion(1, (data,))], current=1))
    box = colour_box(sheet, COLOURS[4], tol=8)
    assert box is not None and abs((box[2] - box[0]) / (box[3] - box[1]) - 2) < 0.05


def test_transparent_version_shows_a_checkerboard() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 0)).save(buf, format="PNG")
    sheet = decode(render.contact_sheet([SheetVersion(1, (buf.getvalue(),))], current=None))
    assert colour_count(sheet, (255, 0, 0), tol=10) == 0
    light, dark = render.CHECKER
    assert colour_count(sheet, light, tol=0) > 500 and colour_count(sheet, dark, tol=0) > 500


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        render.contact_sheet([], current=None)
    with pytest.raises(ValueError):
        render.contact_sheet([SheetVersion(1, ())], current=None)
    with pytest.raises(UnidentifiedImageError):
        render.contact_sheet([SheetVersion(1, (b"not an image at all",))], current=None)


# --- compare -------------------------------------------------------------------------------


def test_compare_puts_before_left_and_after_right_at_the_same_height_in_their_shapes() -> None:
    out = decode(render.compare(solid(COLOURS[1], (100, 100)), solid(COLOURS[3], (300, 150))))
    before, after = colour_box(out, COLOURS[1]), colour_box(out, COLOURS[3])
    assert before is not None and after is not None
    assert before[2] <= after[0] and before[1] == after[1]
    assert before[3] - before[1] == after[3] - after[1]
    assert abs((before[2] - before[0]) / (before[3] - before[1]) - 1) < 0.02
    assert abs((after[2] - after[0]) / (after[3] - after[1]) - 2) < 0.02
    for colour, box in ((COLOURS[1], before), (COLOURS[3], after)):
        assert colour_count(out, colour) == (box[2] - box[0]) * (box[3] - box[1])


def test_compare_shows_both_labels_and_both_prompts_legibly() -> None:
    images = solid(COLOURS[0], (120, 120)), solid(COLOURS[2], (120, 120))
    bare = decode(render.compare(*images, labels=("v1", "v2")))
    out = decode(
        render.compare(
            *images, labels=("v1 · Jay", "v2 · Maya"), captions=("gold sky", "purple sky")
        )
    )
    assert colour_count(bare, MUTED, tol=6) < 40 < 400 < colour_count(out, MUTED, tol=6)
    for colour in (COLOURS[0], COLOURS[2]):
        box = colour_box(out, colour)
        assert box is not None
        lines = text_lines(ink_rows(out, (box[0], 0, box[2], box[1])))
        assert len(lines) == 2  # its label, then its prompt
        assert all(at_preview(h, out.width) >= MIN_PREVIEW_TEXT for _, h in lines)


# --- spend chart ---------------------------------------------------------------------------


def month(values: list[int]) -> list[tuple[date, int]]:
    return [(date(2026, 5, 1) + timedelta(days=i), v) for i, v in enumerate(values)]


def cap_row(image: Image.Image, colour: Colour = chart.CAP_COLOUR) -> int:
    """The y of a horizontal line (the cap; the $0 axis): the row with most of its colour."""
    line = mask(image, colour, tol=0)
    counts = [line.crop((0, y, line.width, y + 1)).histogram()[255] for y in range(line.height)]
    return max(range(line.height), key=counts.__getitem__)


def line_tops(image: Image.Image) -> list[tuple[int, int]]:
    """(x, topmost y) of the spend line in every column it crosses."""
    line = mask(image, chart.LINE_COLOUR, tol=0)
    tops = []
    for x in range(line.width):
        box = line.crop((x, 0, x + 1, line.height)).getbbox()
        if box:
            tops.append((x, box[1]))
    return tops


def test_spend_is_a_cumulative_line_that_reaches_the_cap_when_the_cap_is_spent() -> None:
    values = [1_000_000, 0, 5_000_000, 3_000_000, 0, 1_000_000]
    out = decode(chart.spend_chart(month(values), cap_micros=10_000_000, title="#design"))
    tops = line_tops(out)
    assert len(tops) > 200
    ys = [y for _, y in tops]
    # Spend so far never falls: the line only climbs (smaller y) from left to right.
    assert all(b <= a + 3 for a, b in zip(ys, ys[1:], strict=False))
    assert abs(min(ys) - cap_row(out)) <= 8  # today's total ($10) sits on the cap line


def test_the_line_stays_under_the_cap_in_proportion() -> None:
    values = [1_000_000, 1_000_000, 3_000_000]  # $5 of $20
    out = decode(chart.spend_chart(month(values), cap_micros=20_000_000, title="#design"))
    ys = [y for _, y in line_tops(out)]
    zero, cap = cap_row(out, chart.AXIS_COLOUR), cap_row(out)
    top = min(ys) + chart._LINE_W // 2 + 2  # the end dot's centre, not its rim
    assert abs((zero - top) / (zero - cap) - 0.25) < 0.04


def test_chart_text_is_legible_at_preview_size() -> None:
    out = decode(chart.spend_chart(month([2_000_000]), cap_micros=None, title="#design Jy"))
    title, subtitle = text_lines(ink_rows(out, (0, 0, out.width, 90)))[:2]
    assert at_preview(title[1], out.width) >= MIN_PREVIEW_TEXT + 2
    assert at_preview(subtitle[1], out.width) >= MIN_PREVIEW_TEXT


def test_no_cap_draws_no_cap_line() -> None:
    out = decode(chart.spend_chart(month([0] * 31), cap_micros=None, title="quiet"))
    assert out.size == chart.CHART_SIZE
    assert colour_count(out, chart.CAP_COLOUR, tol=0) == 0


def bars(image: Image.Image) -> list[tuple[int, int]]:
    """(x centre, height in px) of each bar, left to right, found from the bar colour alone."""
    bar_mask = mask(image, chart.BAR_COLOUR, tol=0)
    width, height = bar_mask.size
    column_counts = [bar_mask.crop((x, 0, x + 1, height)).histogram()[255] for x in range(width)]
    found: list[tuple[int, int]] = []
    x = 0
    while x < width:
        if column_counts[x]:
            start = x
            while x < width and column_counts[x]:
                x += 1
            found.append(((start + x - 1) // 2, column_counts[(start + x - 1) // 2]))
        x += 1
    return found


def daily(values: list[int], cap: int) -> Image.Image:
    return decode(
        chart.spend_chart(month(values), cap_micros=cap, title="daily", daily_cap_micros=cap)
    )


def test_a_daily_cap_draws_bars_per_day_and_zero_days_draw_nothing() -> None:
    values = [1_000_000, 5_000_000, 3_000_000, 0, 2_000_000]
    found = bars(daily(values, 6_000_000))
    assert len(found) == 4
    heights = [h for _, h in found]
    for h, v in zip(heights, [v for v in values if v], strict=True):
        assert abs(h / heights[1] - v / 5_000_000) < 0.01
    xs = [x for x, _ in found]
    assert abs((xs[3] - xs[2]) - 2 * (xs[1] - xs[0])) <= 2


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50_000_000), min_size=1, max_size=31))
def test_any_daily_chart_draws_one_bar_per_spending_day_in_order(values: list[int]) -> None:
    found = bars(daily(values, 10_000_000))
    nonzero = [v for v in values if v]
    assert len(found) == len(nonzero)
    for (_, h1), v1 in zip(found, nonzero, strict=True):
        for (_, h2), v2 in zip(found, nonzero, strict=True):
            if v1 < v2:
                assert h1 <= h2


@pytest.mark.parametrize(("cap", "above"), [(8_000_000, True), (2_000_000, False)])
def test_daily_cap_line_sits_above_or_below_the_tallest_bar(cap: int, above: bool) -> None:
    out = daily([1_000_000, 4_000_000, 500_000], cap)
    tallest = colour_box(out, chart.BAR_COLOUR, tol=0)
    assert tallest is not None
    assert (cap_row(out) < tallest[1]) is above
