"""bot.images.render: the pictures are measured, pixel by pixel, against solid-colour inputs."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, UnidentifiedImageError

from bot.images import render
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


SIZE = (120, 120)
"""The inputs' size unless a test says another."""


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


def centre(box: Box) -> tuple[int, int]:
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --- contact sheet -------------------------------------------------------------------------


def test_sheet_grows_with_the_number_of_versions() -> None:
    sizes = [
        decode(
            render.contact_sheet(
                [(i, solid(COLOURS[0], SIZE)) for i in range(1, n + 1)], current=None, cell=64
            )
        ).size
        for n in range(1, 10)
    ]
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    # One row fills up to four columns, then rows are added.
    assert widths[0] < widths[1] < widths[2] < widths[3] == widths[4] == widths[8]
    assert heights[0] == heights[3] < heights[4] == heights[7] < heights[8]


def test_each_thumbnail_shows_its_version_in_reading_order() -> None:
    versions = [(i + 1, solid(colour, SIZE)) for i, colour in enumerate(COLOURS[:6])]
    sheet = decode(render.contact_sheet(versions, current=None, cell=96))
    boxes = []
    for colour in COLOURS[:6]:
        box = colour_box(sheet, colour)
        assert box is not None, f"{colour} is missing from the sheet"
        # Solid square input -> a solid square thumbnail filling the cell.
        assert (box[2] - box[0], box[3] - box[1]) == (96, 96)
        assert colour_count(sheet, colour) == 96 * 96
        assert sheet.getpixel(centre(box)) == colour
        boxes.append(box)
    first_row, second_row = boxes[:4], boxes[4:]
    assert len({b[1] for b in first_row}) == 1 and len({b[1] for b in second_row}) == 1
    assert first_row[0][1] < second_row[0][1]
    assert [b[0] for b in first_row] == sorted(b[0] for b in first_row)
    assert [b[0] for b in second_row] == [first_row[0][0], first_row[1][0]]
    assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize(
    ("size", "expected"),
    [((400, 200), (128, 64)), ((100, 300), (43, 128)), ((20, 20), (128, 128))],
)
def test_thumbnails_keep_aspect_ratio_and_fill_the_cell(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    sheet = decode(render.contact_sheet([(1, solid(COLOURS[2], size))], current=None, cell=128))
    box = colour_box(sheet, COLOURS[2])
    assert box is not None
    w, h = box[2] - box[0], box[3] - box[1]
    assert abs(w - expected[0]) <= 1 and abs(h - expected[1]) <= 1
    # Letterboxed: the rest of the cell is the letterbox colour, centred around the image.
    if (w, h) != (128, 128):
        assert colour_count(sheet, render.LETTERBOX, tol=0) >= 128 * 128 - w * h - 2 * 128


def test_large_jpeg_is_decoded_to_its_colour() -> None:
    sheet = decode(
        render.contact_sheet([(1, solid(COLOURS[4], (2000, 1000), fmt="JPEG"))], current=1, cell=64)
    )
    box = colour_box(sheet, COLOURS[4], tol=8)
    assert box is not None and abs((box[2] - box[0]) - 64) <= 1 and abs((box[3] - box[1]) - 32) <= 1


def test_current_version_is_framed_and_only_it() -> None:
    versions = [(i + 1, solid(colour, SIZE)) for i, colour in enumerate(COLOURS[:3])]
    plain = decode(render.contact_sheet(versions, current=None, cell=128))
    marked = decode(render.contact_sheet(versions, current=2, cell=128))
    assert colour_count(plain, render.CURRENT_COLOUR, tol=0) == 0
    frame = colour_box(marked, render.CURRENT_COLOUR, tol=0)
    assert frame is not None
    thumbs = [colour_box(marked, c) for c in COLOURS[:3]]
    assert all(t is not None for t in thumbs)
    v1, v2, v3 = (t for t in thumbs if t is not None)
    # The frame (and its coloured label) surround v2 and stay clear of v1 and v3.
    assert frame[0] < v2[0] and frame[1] < v2[1] and frame[2] > v2[2] and frame[3] > v2[3]
    assert not overlaps(frame, v1) and not overlaps(frame, v3)


def label_ink(sheet: Image.Image, thumb: Box) -> int:
    band = sheet.crop((thumb[0], thumb[3], thumb[2], thumb[3] + 30))
    return colour_count(band, render.INK, tol=60)


def test_every_thumbnail_has_a_label_that_depends_on_its_number() -> None:
    versions = [
        (1, solid(COLOURS[0], SIZE)),
        (2, solid(COLOURS[1], SIZE)),
        (188, solid(COLOURS[2], SIZE)),
    ]
    sheet = decode(render.contact_sheet(versions, current=None, cell=128))
    thumbs = [colour_box(sheet, c) for c in COLOURS[:3]]
    inks = [label_ink(sheet, t) for t in thumbs if t is not None]
    assert len(inks) == 3 and all(ink > 0 for ink in inks)
    assert inks[2] > inks[0]  # "v188" has more glyphs than "v1"


def test_transparent_version_shows_a_checkerboard() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 0)).save(buf, format="PNG")
    sheet = decode(render.contact_sheet([(1, buf.getvalue())], current=None, cell=64))
    assert colour_count(sheet, (255, 0, 0), tol=10) == 0
    light, dark = render.CHECKER
    assert colour_count(sheet, light, tol=0) > 500 and colour_count(sheet, dark, tol=0) > 500


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        render.contact_sheet([], current=None)
    with pytest.raises(ValueError):
        render.contact_sheet([(1, solid(COLOURS[0], SIZE))], current=None, cell=8)
    with pytest.raises(UnidentifiedImageError):
        render.contact_sheet([(1, b"not an image at all")], current=None)


# --- compare -------------------------------------------------------------------------------


def test_compare_puts_before_left_and_after_right_at_the_same_height() -> None:
    out = decode(render.compare(solid(COLOURS[0], SIZE), solid(COLOURS[2], SIZE), height=200))
    left, right = colour_box(out, COLOURS[0]), colour_box(out, COLOURS[2])
    assert left is not None and right is not None
    assert left[3] - left[1] == right[3] - right[1] == 200
    assert left[1] == right[1]
    assert left[2] <= right[0]
    w, h = out.size
    assert out.getpixel((w // 4, h // 2)) == COLOURS[0]
    assert out.getpixel((3 * w // 4, h // 2)) == COLOURS[2]


def test_compare_keeps_each_aspect_ratio() -> None:
    out = decode(
        render.compare(solid(COLOURS[1], (100, 100)), solid(COLOURS[3], (300, 150)), height=120)
    )
    before, after = colour_box(out, COLOURS[1]), colour_box(out, COLOURS[3])
    assert before is not None and after is not None
    assert (before[2] - before[0], before[3] - before[1]) == (120, 120)
    assert (after[2] - after[0], after[3] - after[1]) == (240, 120)


def test_compare_labels_are_drawn_above_each_side() -> None:
    short = decode(
        render.compare(
            solid(COLOURS[0], SIZE), solid(COLOURS[2], SIZE), labels=("a", "b"), height=128
        )
    )
    long = decode(
        render.compare(
            solid(COLOURS[0], SIZE),
            solid(COLOURS[2], SIZE),
            labels=("v1", "v2 (current)"),
            height=128,
        )
    )
    right_box = colour_box(long, COLOURS[2])
    assert right_box is not None

    def ink_above(image: Image.Image, x0: int, x1: int) -> int:
        return colour_count(image.crop((x0, 0, x1, right_box[1])), render.INK, tol=60)

    assert ink_above(short, right_box[0], right_box[2]) > 0
    assert ink_above(long, right_box[0], right_box[2]) > ink_above(
        short, right_box[0], right_box[2]
    )


# --- spend chart ---------------------------------------------------------------------------


def bars(chart: Image.Image) -> list[tuple[int, int]]:
    """(x centre, height in px) of each bar, left to right, found from the bar colour alone."""
    bar_mask = mask(chart, render.BAR_COLOUR, tol=0)
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


def month(values: list[int]) -> list[tuple[date, int]]:
    return [(date(2026, 5, 1) + timedelta(days=i), v) for i, v in enumerate(values)]


def test_bar_heights_follow_the_data_and_zero_days_draw_nothing() -> None:
    values = [1_000_000, 5_000_000, 3_000_000, 0, 2_000_000]
    chart = decode(render.spend_chart(month(values), cap_micros=20_000_000, title="May"))
    found = bars(chart)
    assert len(found) == 4
    heights = [h for _, h in found]
    nonzero = [v for v in values if v]
    assert sorted(range(4), key=heights.__getitem__) == sorted(range(4), key=nonzero.__getitem__)
    # Proportional: 1 : 5 : 3 : 2 within a pixel of rounding.
    for h, v in zip(heights, nonzero, strict=True):
        assert abs(h / heights[1] - v / 5_000_000) < 0.01
    # The zero day leaves its slot empty: the gap before the last bar is two slots wide.
    xs = [x for x, _ in found]
    slot = xs[1] - xs[0]
    assert abs((xs[3] - xs[2]) - 2 * slot) <= 2


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50_000_000), min_size=1, max_size=62))
def test_any_month_draws_one_bar_per_spending_day_in_order(values: list[int]) -> None:
    chart = decode(render.spend_chart(month(values), cap_micros=None, title="any"))
    found = bars(chart)
    nonzero = [v for v in values if v]
    assert len(found) == len(nonzero)
    for (_, h1), v1 in zip(found, nonzero, strict=True):
        for (_, h2), v2 in zip(found, nonzero, strict=True):
            if v1 < v2:
                assert h1 <= h2


def test_all_zero_days_draw_no_bars() -> None:
    chart = decode(render.spend_chart(month([0] * 31), cap_micros=10_000_000, title="quiet"))
    assert chart.size == (960, 480)
    assert colour_count(chart, render.BAR_COLOUR, tol=0) == 0
    assert colour_count(chart, render.INK, tol=60) > 0  # title, axis labels, the note


def test_single_day_draws_one_bar() -> None:
    found = bars(decode(render.spend_chart(month([700_000]), cap_micros=None, title="today")))
    assert len(found) == 1 and found[0][1] > 100


@pytest.mark.parametrize(("cap", "above"), [(8_000_000, True), (2_000_000, False)])
def test_daily_cap_line_sits_above_or_below_the_tallest_bar(cap: int, above: bool) -> None:
    values = [1_000_000, 4_000_000, 500_000]
    chart = decode(
        render.spend_chart(month(values), cap_micros=cap, title="daily", daily_cap_micros=cap)
    )
    line = colour_box(chart, render.CAP_COLOUR, tol=0)
    tallest = colour_box(chart, render.BAR_COLOUR, tol=0)
    assert line is not None and tallest is not None
    assert line[3] - line[1] <= 3  # a horizontal line, two pixels thick
    assert (line[1] < tallest[1]) is above
    no_line = decode(render.spend_chart(month(values), cap_micros=cap, title="daily"))
    assert colour_count(no_line, render.CAP_COLOUR, tol=0) == 0
