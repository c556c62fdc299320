"""Output sizes for gpt-image-2: aspect ratios, resolutions and the WxH rules.

gpt-image-2 takes any WxH with both sides multiples of 16, long:short at most 3:1, total pixels
655,360..8,294,400 and a long side of at most 3840 (we stay at 3824: one guide says < 3840).
"""

from __future__ import annotations

import math
from fractions import Fraction

from bot.core.domain import ASPECTS, EditOptions, Resolution
from bot.core.errors import OptionError

MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400
MAX_SIDE = 3824
MAX_RATIO = 3
STEP = 16

_SHORT_SIDE = {Resolution.R1K: 1024, Resolution.R2K: 2048, Resolution.R4K: MAX_SIDE}


def aspect_fraction(aspect: str) -> Fraction:
    """`16:9` -> Fraction(16, 9) (width over height)."""
    w, h = aspect.split(":")
    return Fraction(int(w), int(h))


def nearest_aspect(width: int, height: int) -> str:
    """The supported aspect ratio nearest (in log scale) to width:height."""
    target = math.log(width / height)
    return min(ASPECTS, key=lambda a: abs(math.log(aspect_fraction(a)) - target))


def size_problem(width: int, height: int) -> str | None:
    """Why gpt-image-2 would refuse WxH, in words for the user; None when it is fine."""
    if width % STEP or height % STEP:
        return f"both sides must be multiples of {STEP} (got {width}x{height})"
    long, short = max(width, height), min(width, height)
    if long > MAX_SIDE:
        return f"the long side must be at most {MAX_SIDE} px (got {long})"
    if long > MAX_RATIO * short:
        return f"the long side may be at most {MAX_RATIO}x the short side (got {width}x{height})"
    pixels = width * height
    if not MIN_PIXELS <= pixels <= MAX_PIXELS:
        return (
            f"the total must be between {MIN_PIXELS:,} and {MAX_PIXELS:,} pixels "
            f"(got {pixels:,}); 1024x1024, 1536x1024 and 1024x1536 always work"
        )
    return None


def check_size(width: int, height: int) -> None:
    """Raise OptionError when gpt-image-2 would refuse WxH."""
    problem = size_problem(width, height)
    if problem:
        raise OptionError(f"size={width}x{height} can't be used: {problem}.")


def size_for(aspect: str, resolution: Resolution) -> tuple[int, int]:
    """The WxH editbot asks for given an aspect ratio and a resolution class.

    1k keeps the short side at 1024 (so 1:1, 3:2 and 2:3 give OpenAI's standard sizes), 2k at
    2048, 4k as large as the limits allow; then the long side and the pixel total are clamped.
    """
    ratio = aspect_fraction(aspect)
    wide = ratio >= 1
    r = float(ratio if wide else 1 / ratio)
    short = float(_SHORT_SIDE[resolution])
    long = short * r
    if long > MAX_SIDE:
        long, short = MAX_SIDE, MAX_SIDE / r
    if long * short > MAX_PIXELS:
        scale = math.sqrt(MAX_PIXELS / (long * short))
        long, short = long * scale, short * scale
    long_px = max(STEP, int(long) // STEP * STEP)
    short_px = max(STEP, int(short) // STEP * STEP)
    size = (long_px, short_px) if wide else (short_px, long_px)
    check_size(*size)
    return size


def output_size(options: EditOptions, first_input: tuple[int, int] | None) -> tuple[int, int]:
    """The output WxH for these options and the first input image's (width, height)."""
    if options.size:
        return options.size
    return size_for(resolve_aspect(options, first_input), options.resolution)


def resolve_aspect(options: EditOptions, first_input: tuple[int, int] | None) -> str:
    """The aspect ratio to use: the one asked for, else the nearest to the first input's."""
    if options.aspect:
        return options.aspect
    if options.size:
        return nearest_aspect(*options.size)
    if first_input:
        return nearest_aspect(*first_input)
    return "1:1"
