"""Inline options: `make the sky purple quality=high aspect=16:9 n=2` -> prompt + EditOptions.

Pure text processing, no I/O. What counts as an option:
- Outside quotes, a whitespace-separated token `key=value` whose key is ASCII letters, `_` or
  `-`, and `--key value` (or `--key=value`). Keys and values are case-insensitive; `-` and `_`
  in keys are the same (`aspect-ratio`).
- An unknown key in that shape is an error with a "did you mean", never prompt text: quietly
  sending `qualty=high` to the model would charge the person for an edit they did not ask for.
  Text with `=` meant for the model goes in quotes ("a=b", 'a=b' or `a=b`). URLs
  (`https://x/?q=1`) and tokens like `x2=y` or `1+1=2` never look like options.
- Sentence punctuation after a value is ignored (`quality=high,`), and so are quotes around it.
- A dash that phones and Macs "smarten" (`—quality high`) counts as `--` before a known key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import NoReturn

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
from bot.core.errors import OptionError, PromptError
from bot.core.invisible import visible
from bot.core.regions import REGION_RULE, parse_region
from bot.core.sizes import aspect_fraction, check_size

MAX_PROMPT_CHARS = 32_000
"""gpt-image-2's prompt limit (REFERENCE.md)."""

PROMPT_EXAMPLE = "make the sky purple quality=high aspect=16:9"

# Alias -> canonical key. Canonical keys first, in the order errors and help list them.
KEY_ALIASES: dict[str, str] = {
    "quality": "quality",
    "aspect": "aspect",
    "resolution": "resolution",
    "size": "size",
    "n": "n",
    "format": "format",
    "background": "background",
    "mask": "mask",
    "mode": "mode",
    "region": "region",
    "q": "quality",
    "ar": "aspect",
    "aspect_ratio": "aspect",
    "ratio": "aspect",
    "res": "resolution",
    "count": "n",
    "fmt": "format",
    "output_format": "format",
    "bg": "background",
    "area": "region",
}
KEYS: tuple[str, ...] = tuple(dict.fromkeys(KEY_ALIASES.values()))

OPTIONS_HELP = (
    "quality=low|medium|high|auto (q), aspect=" + "|".join(ASPECTS) + "|auto (ar), "
    "resolution=1k|2k|4k (res), size=WxH (instead of aspect and resolution), n=1..N, "
    "format=png|jpeg|webp, background=auto|opaque|transparent (bg), mask=N (which attachment "
    "is the mask), mode=compose|each, region=top|bottom|left|right|center|x,y,w,h (edit only "
    "that part; x,y,w,h in percent). Also as --key value."
)
"""One paragraph listing every option, for help messages."""

_KEY = r"[A-Za-z_][A-Za-z_-]*"
_EQ_OPTION = re.compile(rf"(?:--)?({_KEY})=(.*)", re.S)
_FLAG_OPTION = re.compile(rf"--({_KEY})")
# A quoted span is one token; a single quote only quotes at word edges so "dog's" stays a word.
_TOKEN = re.compile(r"\"[^\"]*\"|(?<!\w)'[^']*'(?!\w)|`[^`]*`|\S+")
_SMART_DASH = re.compile(
    r"(?<!\S)[\u2014\u2013](?=(?i:"
    + "|".join(sorted(KEY_ALIASES, key=len, reverse=True))
    + r")(?:[\s=]|$))"
)
_VALUE_PUNCTUATION = ".,;!?)\"'`"
_INT = re.compile(r"[0-9]{1,4}")
_SIZE = re.compile(r"([0-9]{1,5})[x×*]([0-9]{1,5})")
_RATIO = re.compile(r"([0-9]{1,4})[:/x]([0-9]{1,4})")

# Chat markup. Slack: <@U123>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S1|@team>,
# <!date^1392734382^{date}|Feb 18>, <https://x|label>, &lt; &gt; &amp;.
# Discord: <@123>, <@!123>, <@&123> (role), <#123>, <:emoji:123>, <a:emoji:123>.
_USER_MENTION = re.compile(r"<@[!&]?[A-Za-z0-9]+(?:\|[^<>]*)?>")
_CHANNEL_REF = re.compile(r"<#[A-Za-z0-9]+(?:\|([^<>]*))?>")
_SPECIAL = re.compile(r"<!([^<>|]*)(?:\|([^<>]*))?>")
_LINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^<>|\s]*)(?:\|([^<>]*))?>")
_EMOJI = re.compile(r"<a?:([A-Za-z0-9_~-]+):[0-9]+>")
_SMART_QUOTES = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
    }
)


def clean_markup(text: str) -> str:
    """Chat markup to plain text: mentions dropped, links to their label, smart quotes straight.

    Whitespace is collapsed to single spaces and trimmed.
    """
    text = _USER_MENTION.sub(" ", text)
    text = _CHANNEL_REF.sub(lambda m: f"#{m.group(1)}" if m.group(1) else " ", text)
    text = _SPECIAL.sub(_special_text, text)
    # Emoji first: `<a:wave:1>` (animated) would otherwise read as a link with scheme `a:`.
    text = _EMOJI.sub(r":\1:", text)
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) else m.group(1), text)
    # Slack escapes &, < and > in message text; unescape after the <...> markup is gone.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.translate(_SMART_QUOTES)
    return " ".join(visible(text).split())


def _special_text(match: re.Match[str]) -> str:
    # <!date^...|Feb 18> shows its fallback text; @here, @channel and user groups are mentions.
    if match.group(1).startswith("date^") and match.group(2):
        return match.group(2)
    return " "


@dataclass(frozen=True)
class _Given:
    """One option as the person wrote it: canonical key, parsed value, and the text shown back."""

    key: str
    value: object
    shown: str


def parse_options(
    text: str, *, max_n: int = 4, picks: OptionPicks | None = None
) -> tuple[str, EditOptions]:
    """Split a chat message into the prompt and its inline options.

    `picks` are options chosen in a form (Slack modal, Discord command); they are checked and
    merged as if typed after the text, except that a pick at its default value is no choice.

    Raises:
        OptionError: unknown key, bad value or conflicting options.
        PromptError: nothing left to ask the model, or a prompt over 32,000 characters.
    """
    invisible_only = bool(text.strip()) and not visible(text).strip()
    text = _SMART_DASH.sub("--", clean_markup(text))
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    prompt_parts: list[str] = []
    given: dict[str, _Given] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        eq = _EQ_OPTION.fullmatch(token)
        flag = None if eq else _FLAG_OPTION.fullmatch(token)
        if eq:
            key = _canonical_key(eq.group(1), shown=token)
            raw_value, shown = eq.group(2), token
        elif flag:
            key = _canonical_key(flag.group(1), shown=token)
            if i >= len(tokens):
                raise OptionError(f"`{token}` needs a value: {_ALLOWED[key](max_n)}.")
            raw_value = tokens[i]
            shown = f"{token} {raw_value}"
            i += 1
        else:
            prompt_parts.append(token)
            continue
        value = _PARSERS[key](_clean_value(raw_value), _short(shown), max_n)
        _remember(given, _Given(key, value, _short(shown)))
    for key, raw_value in _picked(picks):
        shown = f"{key}={raw_value}"
        _remember(given, _Given(key, _PARSERS[key](raw_value, shown, max_n), shown))
    options = _build(given)
    prompt = " ".join(" ".join(prompt_parts).split())
    if not prompt:
        raise PromptError(_empty_prompt(invisible_only=invisible_only))
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptError(
            f"The prompt is {len(prompt):,} characters long; the limit is "
            f"{MAX_PROMPT_CHARS:,}. Shorten it and send it again."
        )
    return prompt, options


def _empty_prompt(*, invisible_only: bool) -> str:
    """What to say for a request with nothing to ask the model (nothing is charged)."""
    ask = f"Tell me what to change in the image, for example: `{PROMPT_EXAMPLE}`."
    if invisible_only:
        return f"Your message has only invisible characters (zero-width spaces or the like). {ask}"
    return ask


def _picked(picks: OptionPicks | None) -> list[tuple[str, str]]:
    """(key, value text) of each pick that is a choice: set, and not the default."""
    if picks is None:
        return []
    default = EditOptions()
    chosen: list[tuple[str, str]] = []
    if picks.quality is not None and picks.quality is not default.quality:
        chosen.append(("quality", picks.quality.value))
    if picks.aspect is not None and picks.aspect != "auto":
        chosen.append(("aspect", picks.aspect))
    if picks.resolution is not None and picks.resolution is not default.resolution:
        chosen.append(("resolution", picks.resolution.value))
    if picks.n is not None and picks.n != default.n:
        chosen.append(("n", str(picks.n)))
    return chosen


def _short(shown: str, limit: int = 40) -> str:
    """What the person wrote, cut short so an error message stays readable in chat."""
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _canonical_key(raw_key: str, *, shown: str) -> str:
    alias = raw_key.lower().replace("-", "_")
    key = KEY_ALIASES.get(alias)
    if key:
        return key
    close = difflib.get_close_matches(alias[:40], list(KEY_ALIASES), n=1, cutoff=0.6)
    hint = f" Did you mean `{KEY_ALIASES[close[0]]}`?" if close else ""
    raise OptionError(
        f"Unknown option `{_short(shown)}`.{hint} Options are: {', '.join(KEYS)}. "
        "To keep text with `=` in the prompt, put it in quotes."
    )


def _clean_value(raw: str) -> str:
    return raw.strip(_VALUE_PUNCTUATION).lower()


def _remember(given: dict[str, _Given], new: _Given) -> None:
    old = given.get(new.key)
    if old is None:
        given[new.key] = new
    elif old.value != new.value:
        raise OptionError(f"`{old.shown}` and `{new.shown}` conflict: give {new.key} only once.")


def _build(given: dict[str, _Given]) -> EditOptions:
    size = given.get("size")
    if size and size.value is not None:
        for other in ("aspect", "resolution"):
            if other in given:
                raise OptionError(
                    f"`{size.shown}` and `{given[other].shown}` conflict: size sets the exact "
                    "output size, so leave out aspect and resolution (or leave out size)."
                )
    region, mode = given.get("region"), given.get("mode")
    clash = given.get("mask") or (mode if mode and mode.value is Mode.EACH else None)
    if region and clash:
        raise OptionError(
            f"`{region.shown}` and `{clash.shown}` conflict: region builds the mask for the "
            "first image, so leave out one of them."
        )
    fmt = given.get("format")
    background = given.get("background")
    if (
        fmt
        and background
        and fmt.value is OutputFormat.JPEG
        and background.value is Background.TRANSPARENT
    ):
        raise OptionError(
            f"`{background.shown}` needs format=png or format=webp: jpeg has no transparency."
        )
    values = {key: g.value for key, g in given.items()}
    return EditOptions(**values)  # type: ignore[arg-type]


def _choice(key: str, table: dict[str, object], allowed: str) -> _Parser:
    def parse(value: str, shown: str, max_n: int) -> object:
        if value in table:
            return table[value]
        return _bad(shown, f"{key} can be {allowed}")

    return parse


def _bad(shown: str, rule: str) -> NoReturn:
    raise OptionError(f"`{shown}` isn't valid: {rule}.")


def _parse_aspect(value: str, shown: str, max_n: int) -> object:
    if value == "auto":
        return None
    if value == "square":
        return "1:1"
    match = _RATIO.fullmatch(value)
    if match:
        w, h = int(match.group(1)), int(match.group(2))
        if w and h:
            # Same ratio, other numbers (32:18 is 16:9); 21:9 must not become 7:3.
            for aspect in ASPECTS:
                if aspect_fraction(aspect) == Fraction(w, h):
                    return aspect
    return _bad(
        shown, f"aspect can be {_ALLOWED['aspect'](max_n)}; for any other shape use size=WxH"
    )


def _parse_size(value: str, shown: str, max_n: int) -> object:
    if value == "auto":
        return None
    match = _SIZE.fullmatch(value)
    if not match:
        return _bad(shown, f"size is {_ALLOWED['size'](max_n)}")
    w, h = int(match.group(1)), int(match.group(2))
    check_size(w, h)
    return (w, h)


def _parse_n(value: str, shown: str, max_n: int) -> object:
    if _INT.fullmatch(value) and 1 <= int(value) <= max_n:
        return int(value)
    return _bad(shown, f"n is {_ALLOWED['n'](max_n)}")


def _parse_mask(value: str, shown: str, max_n: int) -> object:
    if _INT.fullmatch(value) and int(value) >= 1:
        return int(value)
    return _bad(shown, f"mask is {_ALLOWED['mask'](max_n)}")


_Parser = Callable[[str, str, int], object]

_ALLOWED: dict[str, Callable[[int], str]] = {
    "quality": lambda _: "low, medium, high or auto",
    "aspect": lambda _: ", ".join(ASPECTS) + " or auto",
    "resolution": lambda _: "1k, 2k or 4k",
    "size": lambda _: "WIDTHxHEIGHT in pixels, like size=1536x1024 (or auto)",
    "n": lambda max_n: f"a whole number from 1 to {max_n}",
    "format": lambda _: "png, jpeg or webp",
    "background": lambda _: "auto, opaque or transparent",
    "mask": lambda _: "the number of the attachment that is the mask, like mask=2",
    "mode": lambda _: "compose (one edit using all images) or each (every image on its own)",
    "region": lambda _: REGION_RULE,
}

_PARSERS: dict[str, _Parser] = {
    "quality": _choice("quality", {q.value: q for q in Quality}, _ALLOWED["quality"](0)),
    "aspect": _parse_aspect,
    "resolution": _choice(
        "resolution", {r.value: r for r in Resolution}, _ALLOWED["resolution"](0)
    ),
    "size": _parse_size,
    "n": _parse_n,
    "format": _choice(
        "format",
        {**{f.value: f for f in OutputFormat}, "jpg": OutputFormat.JPEG},
        "png, jpeg or webp",
    ),
    "background": _choice(
        "background", {b.value: b for b in Background}, _ALLOWED["background"](0)
    ),
    "mask": _parse_mask,
    "mode": _choice("mode", {m.value: m for m in Mode}, _ALLOWED["mode"](0)),
    "region": lambda value, shown, _: parse_region(value, shown),
}
