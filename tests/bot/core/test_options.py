import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.domain import (
    ASPECTS,
    Background,
    EditOptions,
    Mode,
    OptionPicks,
    OutputFormat,
    Quality,
    Resolution,
)
from bot.core.errors import OptionError, PromptError, UserInputError
from bot.core.options import KEY_ALIASES, KEYS, clean_markup, parse_options

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


# --- properties -----------------------------------------------------------------------------

_SETTINGS = settings(max_examples=200, deadline=None)

_VALUE_SPELLINGS: dict[str, list[tuple[str, object]]] = {
    "quality": [(q.value, q) for q in Quality],
    "aspect": [(a, a) for a in ASPECTS] + [("auto", None), ("square", "1:1")],
    "resolution": [(r.value, r) for r in Resolution],
    "size": [("1024x1024", (1024, 1024)), ("1536*1024", (1536, 1024)), ("2048×1152", (2048, 1152))],
    "n": [(str(i), i) for i in range(1, 5)],
    "format": [("png", OutputFormat.PNG), ("jpg", OutputFormat.JPEG), ("webp", OutputFormat.WEBP)],
    "background": [(b.value, b) for b in Background],
    "mask": [("1", 1), ("2", 2), ("12", 12)],
    "mode": [(m.value, m) for m in Mode],
}
_ALIASES_OF = {key: [a for a, k in KEY_ALIASES.items() if k == key] for key in KEYS}
_CASINGS = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def _option_tokens(draw):
    """A consistent set of options as chat tokens, and the EditOptions they must parse to."""
    keys = draw(st.sets(st.sampled_from(KEYS)))
    if "size" in keys:
        keys -= {"aspect", "resolution"}
    tokens: list[str] = []
    expected: dict[str, object] = {}
    for key in sorted(keys):
        choices = _VALUE_SPELLINGS[key]
        if key == "format" and expected.get("background") is Background.TRANSPARENT:
            # Sorted keys put background first; jpeg cannot be transparent.
            choices = [c for c in choices if c[1] is not OutputFormat.JPEG]
        spelling, value = draw(st.sampled_from(choices))
        alias = draw(_CASINGS)(draw(st.sampled_from(_ALIASES_OF[key])))
        spelling = draw(_CASINGS)(spelling)
        if draw(st.booleans()):
            tokens.append(f"{alias}={spelling}")
        else:
            tokens.append(f"--{alias} {spelling}")
        expected[key] = value
    return tokens, EditOptions(**expected)


_WORD = st.text(
    alphabet=st.characters(
        blacklist_categories=("Z", "C"),
        blacklist_characters="=<>&\"'`\u2014\u2013\u201c\u201d\u201e\u201f\u2033\u2018\u2019\u201a\u201b\u2032",
    ),
    min_size=1,
    max_size=8,
).filter(lambda w: not w.startswith("-"))


@_SETTINGS
@given(st.text())
def test_no_text_raises_anything_but_a_user_input_error(text):
    try:
        prompt, _ = parse_options(text)
    except UserInputError:
        return
    assert prompt.strip() == prompt and prompt


_PIECES = st.one_of(
    st.sampled_from(list(KEY_ALIASES)).map(lambda k: f"{k}="),
    st.sampled_from(list(KEY_ALIASES)).map(lambda k: f"--{k}"),
    st.sampled_from(
        [v for spellings in _VALUE_SPELLINGS.values() for v, _ in spellings]
        + ["0", "-1", "99999999999999999999", "16:0", "0x0", "1e9", "", "x", "\u00d7"]
    ),
    st.sampled_from(
        [" ", "  ", "\n", "=", "--", "\u2014", '"', "'", "`", "<@U1>", "<!here>", "<#C1|x>"]
        + ["<https://a.b|c>", "<https://a.b>", "&lt;", "\u201c", "\u2019", ",", "."]
    ),
    st.text(max_size=6),
)


@_SETTINGS
@given(st.lists(_PIECES, max_size=30).map("".join), st.integers(1, 10))
def test_no_mix_of_keys_values_and_junk_raises_anything_but_a_user_input_error(text, max_n):
    try:
        prompt, options = parse_options(text, max_n=max_n)
    except UserInputError:
        return
    assert prompt
    assert 1 <= options.n <= max_n
    assert not (options.size and (options.aspect or options.resolution is not Resolution.R1K))


@_SETTINGS
@given(st.lists(_WORD, min_size=1, max_size=12), _option_tokens(), st.data())
def test_the_same_options_anywhere_in_the_text_parse_the_same(words, tokens_expected, data):
    tokens, expected = tokens_expected
    placed = list(words)
    for token in tokens:
        placed.insert(data.draw(st.integers(0, len(placed))), token)
    prompt, options = parse_options(" ".join(placed))
    assert prompt == " ".join(words)
    assert options == expected


_EDIT_OPTIONS = st.builds(
    EditOptions,
    quality=st.sampled_from(Quality),
    aspect=st.none() | st.sampled_from(ASPECTS),
    resolution=st.sampled_from(Resolution),
    n=st.integers(1, 10),
    format=st.sampled_from(OutputFormat),
    background=st.sampled_from(Background),
    mask=st.none() | st.integers(1, 16),
    mode=st.sampled_from(Mode),
).filter(lambda o: not (o.format is OutputFormat.JPEG and o.background is Background.TRANSPARENT))
_SIZED = st.builds(
    lambda o, size: EditOptions(
        **{**o.__dict__, "aspect": None, "resolution": Resolution.R1K, "size": size}
    ),
    _EDIT_OPTIONS,
    st.sampled_from([(1024, 1024), (1536, 1024), (3824, 2144), (1024, 3072)]),
)


def _option_text(options: EditOptions) -> str:
    """Options as `key=value` text, defaults left out (what a person would type)."""
    default = EditOptions()
    parts: list[str] = []
    if options.quality is not default.quality:
        parts.append(f"quality={options.quality.value}")
    if options.size:
        parts.append(f"size={options.size[0]}x{options.size[1]}")
    else:
        if options.aspect:
            parts.append(f"aspect={options.aspect}")
        if options.resolution is not default.resolution:
            parts.append(f"resolution={options.resolution.value}")
    if options.n != default.n:
        parts.append(f"n={options.n}")
    if options.format is not default.format:
        parts.append(f"format={options.format.value}")
    if options.background is not default.background:
        parts.append(f"background={options.background.value}")
    if options.mask is not None:
        parts.append(f"mask={options.mask}")
    if options.mode is not default.mode:
        parts.append(f"mode={options.mode.value}")
    return " ".join(parts)


@_SETTINGS
@given(st.lists(_WORD, min_size=1, max_size=6).map(" ".join), _EDIT_OPTIONS | _SIZED)
def test_typed_options_round_trip(prompt, options):
    assert parse_options(f"{prompt} {_option_text(options)}", max_n=10) == (prompt, options)


@_SETTINGS
@given(st.lists(_WORD, min_size=1, max_size=6).map(" ".join), _EDIT_OPTIONS)
def test_picked_options_round_trip(prompt, options):
    picks = OptionPicks(
        quality=options.quality, aspect=options.aspect, resolution=options.resolution, n=options.n
    )
    expected = EditOptions(
        quality=options.quality, aspect=options.aspect, resolution=options.resolution, n=options.n
    )
    assert parse_options(prompt, max_n=10, picks=picks) == (prompt, expected)
