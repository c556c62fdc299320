"""bot.core.options: every mistake is an OptionError or PromptError a chat user can act on."""

import pytest

from bot.core.domain import (
    ASPECTS,
    EditOptions,
    OutputFormat,
)
from bot.core.errors import OptionError, PromptError, UserInputError
from bot.core.options import KEYS, parse_options

# --- errors a chat user can act on ----------------------------------------------------------


def test_a_misspelt_key_suggests_the_right_one_and_lists_the_keys():
    with pytest.raises(OptionError) as err:
        parse_options("make it blue qualty=high")
    message = str(err.value)
    assert "qualty=high" in message
    assert "did you mean `quality`" in message.lower()
    for key in KEYS:
        assert key in message
    assert "quotes" in message


def test_a_misspelt_alias_suggests_the_canonical_key():
    with pytest.raises(OptionError, match="(?i)did you mean `background`"):
        parse_options("x --bgg opaque")


def test_an_unknown_key_far_from_any_suggests_nothing_but_lists_the_keys():
    with pytest.raises(OptionError) as err:
        parse_options("x zebra=stripes")
    assert "did you mean" not in str(err.value).lower()
    assert "quality, aspect, resolution, size, n, format, background, mask, mode" in str(err.value)


@pytest.mark.parametrize(
    ("token", "needles"),
    [
        ("quality=best", ["quality=best", "low", "medium", "high", "auto"]),
        ("aspect=2:1", ["aspect=2:1", *ASPECTS, "auto", "size=WxH"]),
        ("aspect=wide", ["aspect=wide", "16:9", "auto"]),
        ("resolution=8k", ["resolution=8k", "1k", "2k", "4k"]),
        ("size=big", ["size=big", "WIDTHxHEIGHT", "1536x1024"]),
        ("n=0", ["n=0", "1 to 4"]),
        ("n=two", ["n=two", "1 to 4"]),
        ("format=gif", ["format=gif", "png", "jpeg", "webp"]),
        ("background=clear", ["background=clear", "auto", "opaque", "transparent"]),
        ("mask=0", ["mask=0", "mask=2"]),
        ("mask=first", ["mask=first", "attachment"]),
        ("mode=all", ["mode=all", "compose", "each"]),
        ("quality=", ["quality=", "low, medium, high or auto"]),
    ],
)
def test_a_bad_value_says_what_is_allowed(token, needles):
    with pytest.raises(OptionError) as err:
        parse_options(f"make it blue {token}")
    for needle in needles:
        assert needle in str(err.value)


def test_n_above_the_configured_maximum_names_the_maximum():
    with pytest.raises(OptionError, match="from 1 to 3"):
        parse_options("x n=4", max_n=3)


def test_a_size_gpt_image_2_refuses_says_why():
    with pytest.raises(OptionError, match="multiples of 16"):
        parse_options("x size=1000x1000")
    with pytest.raises(OptionError, match="between"):
        parse_options("x size=512x512")


def test_a_dashed_key_without_a_value_says_what_to_give():
    with pytest.raises(OptionError, match="`--quality` needs a value: low, medium, high or auto"):
        parse_options("make it blue --quality")


def test_a_key_given_twice_with_different_values_conflicts():
    with pytest.raises(OptionError) as err:
        parse_options("x q=high quality=low")
    assert "`q=high`" in str(err.value)
    assert "`quality=low`" in str(err.value)
    assert "conflict" in str(err.value)


@pytest.mark.parametrize("other", ["aspect=16:9", "res=2k", "--resolution 1k"])
def test_size_conflicts_with_aspect_and_resolution(other):
    with pytest.raises(OptionError) as err:
        parse_options(f"x size=1024x1536 {other}")
    assert "size=1024x1536" in str(err.value)
    assert other in str(err.value)
    assert "leave out" in str(err.value)


def test_size_auto_leaves_aspect_free():
    _, options = parse_options("x size=auto aspect=16:9")
    assert options == EditOptions(aspect="16:9")


def test_transparent_with_jpeg_conflicts_and_names_png_and_webp():
    with pytest.raises(OptionError) as err:
        parse_options("x format=jpg background=transparent")
    assert "png" in str(err.value)
    assert "webp" in str(err.value)
    assert "background=transparent" in str(err.value)


def test_transparent_with_the_default_format_is_fine():
    assert parse_options("x bg=transparent")[1].format is OutputFormat.PNG


@pytest.mark.parametrize("text", ["", "   ", "quality=high", "<@U123>", "<@U1> n=2 <!here>"])
def test_an_empty_prompt_says_what_to_write_with_an_example(text):
    with pytest.raises(PromptError) as err:
        parse_options(text)
    assert "what to change" in str(err.value)
    assert "make the sky purple" in str(err.value)


def test_a_prompt_over_32000_characters_says_its_length():
    with pytest.raises(PromptError) as err:
        parse_options("a" * 32_001 + " q=high")
    assert "32,001" in str(err.value)
    assert "32,000" in str(err.value)


def test_a_prompt_of_exactly_32000_characters_is_fine():
    prompt, _ = parse_options("a" * 32_000 + " q=high")
    assert len(prompt) == 32_000


def test_a_huge_option_token_is_cut_short_in_the_message():
    with pytest.raises(OptionError) as err:
        parse_options("x qualityy=" + "h" * 5000)
    assert len(str(err.value)) < 400


def test_every_error_is_a_user_input_error():
    assert issubclass(OptionError, UserInputError)
    assert issubclass(PromptError, UserInputError)
