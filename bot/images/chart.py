"""The budget chart: spend so far this period as a cumulative line against the cap, so "how
close are we?" is answered at a glance; with a daily cap, each day's spend as a bar against it.

Hand-drawn with Pillow (as the other pictures are) rather than a plotting library: one line,
one cap line, a few labels; text sized for Slack's inline preview (bot.images.drawing).
Synchronous CPU work returning PNG bytes: run it in a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from PIL import Image, ImageDraw

from bot.core.domain import format_usd
from bot.images.drawing import BACKGROUND, INK, MUTED, ellipsize, font, png, text_px, text_width

LINE_COLOUR = (37, 99, 235)
"""The spend line (and a daily chart's bars)."""
BAR_COLOUR = LINE_COLOUR
CAP_COLOUR = (220, 38, 38)
"""The cap line."""
GRID_COLOUR = (226, 226, 230)
AXIS_COLOUR = (150, 150, 158)
CHART_SIZE = (720, 450)
_LINE_W = 5


def _axis_step(peak: int) -> int:
    """A round tick step in micro-dollars (1, 2 or 5 x 10^k, at least $0.01) for `peak`."""
    exponent = 4
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * 10**exponent
            if step * 4 >= peak:
                return step
        exponent += 1


@dataclass(frozen=True)
class _Plot:
    """The plot area on the canvas, and the scale of its y axis in micro-dollars."""

    left: int
    top: int
    width: int
    height: int
    y_max: int
    y_step: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def y_of(self, micros: int) -> int:
        """The canvas row of a value on the y axis."""
        return self.bottom - micros * self.height // self.y_max

    def x_of(self, index: int, count: int) -> int:
        """The canvas column of day `index` of `count` (first day at the left edge)."""
        return self.left + (index * self.width // (count - 1) if count > 1 else self.width // 2)


def _plot_area(width: int, height: int, *, peak: int, title_h: int, label_px: int) -> _Plot:
    step = _axis_step(peak) if peak else 250_000
    y_max = step * math.ceil(peak * 1.08 / step) if peak else 4 * step
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widest = max(text_width(probe, format_usd(t), font(label_px)) for t in (0, y_max))
    left, right, bottom = widest + 20, 28, label_px + 24
    return _Plot(left, title_h, width - left - right, height - title_h - bottom, y_max, step)


def _subtitle(total: int, *, cap_micros: int | None, daily_cap_micros: int | None) -> str:
    if daily_cap_micros is not None:
        return f"{format_usd(total)} spent; cap {format_usd(daily_cap_micros)} a day"
    if cap_micros is None:
        return f"{format_usd(total)} spent (no cap)"
    share = f" ({total * 100 // cap_micros}%)" if cap_micros > 0 else ""
    left = max(0, cap_micros - total)
    return f"{format_usd(total)} of {format_usd(cap_micros)}{share} · {format_usd(left)} left"


def _draw_axes(draw: ImageDraw.ImageDraw, plot: _Plot, label_px: int) -> None:
    face = font(label_px)
    ticks = range(0, plot.y_max + 1, plot.y_step)
    every = max(1, math.ceil(len(ticks) / 5))
    for n, tick in enumerate(ticks):
        y = plot.y_of(tick)
        right = plot.left + plot.width
        draw.line((plot.left, y, right, y), fill=GRID_COLOUR if tick else AXIS_COLOUR, width=2)
        if n % every == 0:
            label = format_usd(tick)
            x = plot.left - 10 - text_width(draw, label, face)
            draw.text((x, y - label_px // 2 - 2), label, font=face, fill=MUTED)


def _draw_days(draw: ImageDraw.ImageDraw, plot: _Plot, days: Sequence[date], label_px: int) -> None:
    """A "May 3" under the first day, the last, and a few between that do not crowd."""
    face = font(label_px)
    count = len(days)
    slots = max(1, plot.width // (label_px * 5))
    every = max(1, math.ceil(count / slots))
    shown = sorted({*range(0, count, every)} - {count - 1 - k for k in range(1, every)})
    for index in {*shown, count - 1}:
        text = f"{days[index]:%b} {days[index].day}"
        w = text_width(draw, text, face)
        x = min(max(plot.x_of(index, count) - w // 2, 0), plot.left + plot.width - w)
        draw.text((x, plot.bottom + 10), text, font=face, fill=MUTED)


def _draw_cap(
    draw: ImageDraw.ImageDraw, plot: _Plot, cap: int, label_px: int, *, dashed: bool
) -> None:
    y, right = plot.y_of(cap), plot.left + plot.width
    if dashed:
        for x in range(plot.left, right, 18):
            draw.line((x, y, min(x + 10, right), y), fill=CAP_COLOUR, width=3)
    else:
        draw.line((plot.left, y, right, y), fill=CAP_COLOUR, width=3)
    label = f"cap {format_usd(cap)}"
    face = font(label_px)
    w = text_width(draw, label, face)
    draw.text((right - w, y - label_px - 8), label, font=face, fill=CAP_COLOUR)


def _draw_line(draw: ImageDraw.ImageDraw, plot: _Plot, values: Sequence[int]) -> None:
    """Spend so far, day by day: a line from $0 before the first day up to today's total."""
    running = list(accumulate(values))
    count = len(running)
    points = [(plot.x_of(i, count), plot.y_of(total)) for i, total in enumerate(running)]
    if count > 1:
        draw.line(points, fill=LINE_COLOUR, width=_LINE_W, joint="curve")
    x, y = points[-1]
    r = _LINE_W + 2
    draw.ellipse((x - r, y - r, x + r, y + r), fill=LINE_COLOUR)


def _draw_bars(draw: ImageDraw.ImageDraw, plot: _Plot, values: Sequence[int]) -> None:
    count = len(values)
    slot = plot.width / max(1, count)
    bar_w = max(1, min(int(slot * 0.7), 48))
    for index, value in enumerate(values):
        if value > 0:
            x = plot.left + int(index * slot + (slot - bar_w) / 2)
            bar_h = max(1, (value * plot.height + plot.y_max // 2) // plot.y_max)
            draw.rectangle(
                (x, plot.bottom - bar_h, x + bar_w - 1, plot.bottom - 1), fill=BAR_COLOUR
            )


def spend_chart(
    days: Sequence[tuple[date, int]],
    *,
    cap_micros: int | None,
    title: str,
    daily_cap_micros: int | None = None,
    width: int = CHART_SIZE[0],
    height: int = CHART_SIZE[1],
) -> bytes:
    """A PNG of the period's spend: cumulative against the cap, or per day against a daily cap.

    Args:
        days: (day, micro-dollars spent that day), oldest first, today last.
        cap_micros: the period's cap (the red line); None when there is none.
        title: the first line, e.g. "#design · December 2026".
        daily_cap_micros: a per-day cap: draw bars per day against it instead.
    """
    values = [max(0, micros) for _, micros in days] or [0]
    total = sum(values)
    daily = daily_cap_micros is not None
    cap = daily_cap_micros if daily else cap_micros
    title_px, label_px = text_px(width, preview_px=19), text_px(width, preview_px=16)
    title_h = title_px + label_px + 56
    peak = max([max(values) if daily else total, cap or 0])
    plot = _plot_area(width, height, peak=peak, title_h=title_h, label_px=label_px)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    subtitle = _subtitle(total, cap_micros=cap_micros, daily_cap_micros=daily_cap_micros)
    room = width - 2 * 16
    draw.text(
        (16, 10),
        ellipsize(draw, title, face=font(title_px), width=room),
        font=font(title_px),
        fill=INK,
    )
    draw.text(
        (16, 18 + title_px),
        ellipsize(draw, subtitle, face=font(label_px), width=room),
        font=font(label_px),
        fill=MUTED,
    )
    _draw_axes(draw, plot, label_px)
    if cap is not None:
        _draw_cap(draw, plot, cap, label_px, dashed=daily)
    if daily:
        _draw_bars(draw, plot, values)
    else:
        _draw_line(draw, plot, values)
    if days:
        _draw_days(draw, plot, [day for day, _ in days], label_px)
    return png(canvas)
