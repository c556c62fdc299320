"""bot.core.options: properties (Hypothesis): round trips, and nothing but user errors."""

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
from bot.core.errors import UserInputError
from bot.core.invisible import visible
from bot.core.options import KEY_ALIASES, KEYS, parse_options

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
    "region": [("top", "top"), ("centre", "center"), ("10,20,30,40", "10,20,30,40")],
}
_ALIASES_OF = {key: [a for a, k in KEY_ALIASES.items() if k == key] for key in KEYS}
_CASINGS = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def _option_tokens(draw):
    """A consistent set of options as chat tokens, and the EditOptions they must parse to."""
    keys = draw(st.sets(st.sampled_from(KEYS)))
    if "size" in keys:
        keys -= {"aspect", "resolution"}
    if "region" in keys:  # region builds the mask: not with mask= or mode=
        keys -= {"mask", "mode"}
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
).filter(lambda w: not w.startswith("-") and visible(w) == w)


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
