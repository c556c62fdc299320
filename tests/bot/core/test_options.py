"""bot.core.options: prompts and inline options, what is not an option, chat markup, form picks."""

import pytest

from bot.core.domain import (
    Background,
    EditOptions,
    Mode,
    OptionPicks,
    OutputFormat,
    Quality,
    Resolution,
)
from bot.core.errors import OptionError, PromptError
from bot.core.options import clean_markup, parse_options

# --- the happy path -------------------------------------------------------------------------


def test_the_issue_example():
    prompt, options = parse_options("make the sky purple quality=high aspect=16:9 n=2")
    assert prompt == "make the sky purple"
    assert options == EditOptions(quality=Quality.HIGH, aspect="16:9", n=2)


def test_no_options_gives_the_defaults():
    prompt, options = parse_options("swap the background for a beige studio wall")
    assert prompt == "swap the background for a beige studio wall"
    assert options == EditOptions()
    assert options.quality is Quality.MEDIUM
    assert options.aspect is None
    assert options.resolution is Resolution.R1K


@pytest.mark.parametrize(
    ("token", "field", "expected"),
    [
        ("quality=low", "quality", Quality.LOW),
        ("quality=medium", "quality", Quality.MEDIUM),
        ("q=high", "quality", Quality.HIGH),
        ("q=auto", "quality", Quality.AUTO),
        ("aspect=4:5", "aspect", "4:5"),
        ("ar=9:16", "aspect", "9:16"),
        ("aspect_ratio=21:9", "aspect", "21:9"),
        ("aspect-ratio=3:2", "aspect", "3:2"),
        ("ratio=5:4", "aspect", "5:4"),
        ("aspect=auto", "aspect", None),
        ("aspect=square", "aspect", "1:1"),
        ("aspect=32:18", "aspect", "16:9"),
        ("aspect=16/9", "aspect", "16:9"),
        ("resolution=2k", "resolution", Resolution.R2K),
        ("res=4K", "resolution", Resolution.R4K),
        ("size=1536x1024", "size", (1536, 1024)),
        ("size=1024*1536", "size", (1024, 1536)),
        ("size=1024×1024", "size", (1024, 1024)),
        ("size=3824X2144", "size", (3824, 2144)),
        ("size=auto", "size", None),
        ("n=3", "n", 3),
        ("count=2", "n", 2),
        ("format=webp", "format", OutputFormat.WEBP),
        ("format=jpg", "format", OutputFormat.JPEG),
        ("fmt=JPEG", "format", OutputFormat.JPEG),
        ("output_format=png", "format", OutputFormat.PNG),
        ("background=opaque", "background", Background.OPAQUE),
        ("bg=transparent", "background", Background.TRANSPARENT),
        ("mask=2", "mask", 2),
        ("mode=each", "mode", Mode.EACH),
        ("mode=compose", "mode", Mode.COMPOSE),
    ],
)
def test_every_key_alias_and_value(token, field, expected):
    prompt, options = parse_options(f"make it brighter {token}")
    assert prompt == "make it brighter"
    assert getattr(options, field) == expected


def test_dashed_syntax_with_a_space_or_an_equals_sign():
    prompt, options = parse_options("--quality high make it --ar 4:5 gold --n=2")
    assert prompt == "make it gold"
    assert options == EditOptions(quality=Quality.HIGH, aspect="4:5", n=2)


def test_keys_and_values_are_case_insensitive():
    _, options = parse_options("QUALITY=High Ar=16:9 --FORMAT WebP BG=Transparent x")
    assert options == EditOptions(
        quality=Quality.HIGH,
        aspect="16:9",
        format=OutputFormat.WEBP,
        background=Background.TRANSPARENT,
    )


def test_options_can_sit_in_the_middle_of_the_prompt():
    prompt, options = parse_options("make the q=low sky --mode each purple")
    assert prompt == "make the sky purple"
    assert options == EditOptions(quality=Quality.LOW, mode=Mode.EACH)


def test_sentence_punctuation_and_quotes_around_a_value_are_ignored():
    prompt, options = parse_options('make it blue, quality=high. n="2"')
    assert prompt == "make it blue,"
    assert options == EditOptions(quality=Quality.HIGH, n=2)


def test_a_smartened_dash_before_a_key_counts_as_two_dashes():
    # macOS and iOS turn "--" into an em dash as people type.
    prompt, options = parse_options("make it blue \u2014quality high \u2013n 2")
    assert prompt == "make it blue"
    assert options == EditOptions(quality=Quality.HIGH, n=2)


def test_a_dash_before_ordinary_words_stays_in_the_prompt():
    prompt, _ = parse_options("a bird \u2014flying high")
    assert prompt == "a bird \u2014flying high"


def test_the_same_option_twice_with_the_same_value_is_fine():
    _, options = parse_options("x q=high quality=HIGH format=jpg --format jpeg")
    assert options == EditOptions(quality=Quality.HIGH, format=OutputFormat.JPEG)


def test_n_up_to_the_configured_maximum():
    assert parse_options("x n=10", max_n=10)[1].n == 10


# --- what is not an option ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'write "a=b" on the board',
        "write 'x=1' on the board",
        "write `key=value` on the board",
        "put the link https://example.com/?quality=high&n=9 in the corner",
        "draw x2=y and 1+1=2 on the chalkboard",
        "make the dog's fur and the cat's tail gold",
        "a cover for -- the end",
    ],
)
def test_quoted_text_urls_and_non_key_tokens_stay_in_the_prompt(text):
    prompt, options = parse_options(text)
    assert prompt == text
    assert options == EditOptions()


def test_a_quoted_phrase_keeps_option_looking_words_inside_it():
    prompt, options = parse_options('write "big SALE q=high --n 3 today" on the sign n=2')
    assert prompt == 'write "big SALE q=high --n 3 today" on the sign'
    assert options == EditOptions(n=2)


def test_an_apostrophe_does_not_hide_a_following_option():
    prompt, options = parse_options("make the dog's fur gold q=high")
    assert prompt == "make the dog's fur gold"
    assert options.quality is Quality.HIGH


def test_an_unclosed_quote_does_not_hide_options():
    prompt, options = parse_options('write "hello quality=low')
    assert prompt == 'write "hello'
    assert options.quality is Quality.LOW


# --- chat markup ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<@U123ABC> make it blue", "make it blue"),
        ("<@123456789012345678> make it blue", "make it blue"),
        ("<@!123456789012345678> make it blue", "make it blue"),
        ("<@U123|alice> make it blue", "make it blue"),
        ("<@&987> make it blue", "make it blue"),
        ("post in <#C123|general> please", "post in #general please"),
        ("post in <#C123> please", "post in please"),
        ("<!here> make it blue", "make it blue"),
        ("<!subteam^S1|@design> make it blue", "make it blue"),
        ("on <!date^1392734382^{date}|Feb 18>", "on Feb 18"),
        ("logo from <https://example.com/logo|our site>", "logo from our site"),
        ("logo from <https://example.com/logo?a=1>", "logo from https://example.com/logo?a=1"),
        ("mail <mailto:a@b.co|a@b.co>", "mail a@b.co"),
        ("add a <:party:123> and <a:wave:456>", "add a :party: and :wave:"),
        (
            "\u201csmart\u201d and \u2018single\u2019 and it\u2019s",
            "\"smart\" and 'single' and it's",
        ),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("  lots \n\n of\t space\u00a0here  ", "lots of space here"),
    ],
)
def test_clean_markup(raw, clean):
    assert clean_markup(raw) == clean


def test_markup_is_cleaned_before_options_are_read():
    prompt, options = parse_options("<@U1> make \u201cit\u201d <https://x.io|shiny> --q\u00a0high")
    assert prompt == 'make "it" shiny'
    assert options.quality is Quality.HIGH


def test_smart_quotes_quote_option_looking_text():
    prompt, options = parse_options("write \u201cq=high\u201d on the mug")
    assert prompt == 'write "q=high" on the mug'
    assert options.quality is Quality.MEDIUM


# --- picks: options chosen in a form, handed over as data -------------------------------------


def test_picks_are_merged_with_the_typed_options():
    picks = OptionPicks(quality=Quality.HIGH, aspect="4:5", resolution=Resolution.R2K, n=2)
    prompt, options = parse_options("make it blue format=webp", picks=picks)
    assert prompt == "make it blue"
    assert options == EditOptions(
        quality=Quality.HIGH,
        aspect="4:5",
        resolution=Resolution.R2K,
        n=2,
        format=OutputFormat.WEBP,
    )


def test_a_pick_at_its_default_is_no_choice():
    defaults = OptionPicks(quality=Quality.MEDIUM, aspect="auto", resolution=Resolution.R1K, n=1)
    _, options = parse_options("make it blue quality=low res=2k", picks=defaults)
    assert (options.quality, options.resolution) == (Quality.LOW, Resolution.R2K)


def test_a_pick_that_contradicts_the_text_is_the_same_error_as_typing_both():
    with pytest.raises(OptionError) as picked:
        parse_options("x quality=low", picks=OptionPicks(quality=Quality.HIGH))
    with pytest.raises(OptionError) as typed:
        parse_options("x quality=low quality=high")
    assert str(picked.value) == str(typed.value)
    assert "`quality=low` and `quality=high` conflict" in str(picked.value)


def test_picks_are_checked_like_typed_options():
    with pytest.raises(OptionError, match="n is a whole number from 1 to 4"):
        parse_options("x", max_n=4, picks=OptionPicks(n=7))
    with pytest.raises(OptionError, match="aspect can be"):
        parse_options("x", picks=OptionPicks(aspect="5:7"))
    with pytest.raises(PromptError):
        parse_options("   ", picks=OptionPicks(quality=Quality.HIGH))
