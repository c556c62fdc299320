"""form_picks: the options a form has selects for, moved from the typed text into the selects."""

from __future__ import annotations

from bot.core.domain import OptionPicks, Quality, Resolution
from bot.core.form_options import form_picks
from bot.core.options import parse_options


def test_select_options_leave_the_text_and_become_picks() -> None:
    rest, picks = form_picks('make it warmer quality=low --ar 16:9 format=jpeg "q=high"')
    assert rest == 'make it warmer format=jpeg "q=high"'
    assert picks == OptionPicks(quality=Quality.LOW, aspect="16:9")


def test_aliases_punctuation_and_case_are_read_as_the_parser_reads_them() -> None:
    rest, picks = form_picks("Q=LOW, res=2k n=2 sunset")
    assert rest == "sunset"
    assert picks == OptionPicks(quality=Quality.LOW, resolution=Resolution.R2K, n=2)


def test_a_bad_value_stays_in_the_text_for_the_core_to_report() -> None:
    rest, picks = form_picks("sunset quality=ultra n=99", max_n=4)
    assert rest == "sunset quality=ultra n=99" and picks == OptionPicks()


def test_text_and_picks_parse_back_to_what_was_typed() -> None:
    typed = "a red door quality=high aspect=4:5 resolution=2k n=3"
    rest, picks = form_picks(typed)
    assert parse_options(rest, picks=picks) == parse_options(typed)


def test_text_without_select_options_is_left_as_typed() -> None:
    assert form_picks("  two\nlines  ") == ("two\nlines", OptionPicks())
