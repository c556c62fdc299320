"""`region=`: a part of the image to edit without a hand-made mask.

Pure parsing and words; the mask itself is drawn by bot.images.regions.
"""

from __future__ import annotations

import re

from bot.core.errors import OptionError

REGIONS: dict[str, tuple[int, int, int, int]] = {
    "top": (0, 0, 100, 50),
    "bottom": (0, 50, 100, 50),
    "left": (0, 0, 50, 100),
    "right": (50, 0, 50, 100),
    "center": (25, 25, 50, 50),
}
"""Named regions as (x, y, width, height) in percent of the image."""

REGION_RULE = (
    "top, bottom, left, right, center, or x,y,w,h in percent of the image (like region=10,10,50,40)"
)
"""What `region=` takes, for error and help messages."""

_ALIASES = {"centre": "center", "middle": "center"}
_WORDS = {
    "top": "the top half",
    "bottom": "the bottom half",
    "left": "the left half",
    "right": "the right half",
    "center": "the centre",
}
_PERCENTS = re.compile(r"([0-9]{1,3})%?,([0-9]{1,3})%?,([0-9]{1,3})%?,([0-9]{1,3})%?")


def parse_region(value: str, shown: str) -> str:
    """A `region=` value (lower case) as its canonical text: a name or `x,y,w,h`.

    Raises OptionError naming what the person wrote (`shown`) and what is accepted.
    """
    name = _ALIASES.get(value, value)
    if name in REGIONS:
        return name
    match = _PERCENTS.fullmatch(value)
    if not match:
        raise OptionError(f"`{shown}` isn't valid: region is {REGION_RULE}.")
    x, y, w, h = (int(g) for g in match.groups())
    if w < 1 or h < 1 or x + w > 100 or y + h > 100:
        raise OptionError(
            f"`{shown}` isn't valid: region=x,y,w,h is a box in percent of the image, width "
            "and height at least 1, x+w and y+h at most 100 (region=0,0,100,50 is the top half)."
        )
    return f"{x},{y},{w},{h}"


def region_box(region: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) in percent of the image, of a region parse_region accepted."""
    if region in REGIONS:
        return REGIONS[region]
    x, y, w, h = (int(part) for part in region.split(","))
    return x, y, w, h


def region_phrase(region: str) -> str:
    """A region in words, for captions: `the top half`, `a 50% x 40% box at 10%, 20%`."""
    if region in _WORDS:
        return _WORDS[region]
    x, y, w, h = region_box(region)
    return f"a {w}% x {h}% box at {x}%, {y}%"
