"""`region=`: parsed as an option with clear errors, described in words for the caption."""

from __future__ import annotations

import pytest

from bot.core.errors import OptionError
from bot.core.options import parse_options
from bot.core.regions import REGIONS, region_box, region_phrase


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("make the sky purple region=top", "top"),
        ("warmer region=Bottom", "bottom"),
        ("warmer --region centre", "center"),
        ("warmer area=middle", "center"),
        ("warmer region=10,20,30,40", "10,20,30,40"),
        ("warmer region=10%,20%,30%,40%.", "10,20,30,40"),
        ("warmer region=0,0,100,100", "0,0,100,100"),
    ],
)
def test_regions_parse_to_their_canonical_text(text: str, region: str) -> None:
    prompt, options = parse_options(text)
    assert options.region == region
    assert "region" not in prompt and "area" not in prompt


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x region=sky", "region is top, bottom, left, right, center, or x,y,w,h"),
        ("x region=10,20,30", "region is top, bottom"),
        ("x region=60,0,50,10", "x+w and y+h at most 100"),
        ("x region=0,0,0,10", "width and height at least 1"),
        ("x region=top mask=2", "`region=top` and `mask=2` conflict"),
        ("x region=left mode=each", "`region=left` and `mode=each` conflict"),
    ],
)
def test_bad_regions_are_refused_with_what_to_write(text: str, says: str) -> None:
    with pytest.raises(OptionError) as raised:
        parse_options(text)
    assert says in str(raised.value)


def test_a_region_with_mode_compose_is_fine() -> None:
    assert parse_options("x region=left mode=compose")[1].region == "left"


def test_named_regions_are_halves_and_the_centre() -> None:
    assert REGIONS["top"] == (0, 0, 100, 50) and REGIONS["right"] == (50, 0, 50, 100)
    assert region_box("center") == (25, 25, 50, 50)
    assert region_box("10,20,30,40") == (10, 20, 30, 40)


def test_phrases_say_what_was_edited() -> None:
    assert region_phrase("top") == "the top half"
    assert region_phrase("center") == "the centre"
    assert region_phrase("10,20,30,40") == "a 30% x 40% box at 10%, 20%"
