"""Options a form has selects for, taken out of typed text (bot.core.options' parsing).

A form opened on typed text (Slack's `/edit warmer quality=low` modal) starts its selects from
the options typed, and its prompt field keeps the rest. Pure text processing, no I/O.
"""

from __future__ import annotations

from bot.core.domain import OptionPicks
from bot.core.errors import OptionError
from bot.core.options import (
    _EQ_OPTION,
    _FLAG_OPTION,
    _PARSERS,
    _TOKEN,
    KEY_ALIASES,
    _clean_value,
)

_FORM_KEYS = ("quality", "aspect", "resolution", "n")
"""Options forms have selects for (Slack modals, Discord command choices)."""


def form_picks(text: str, *, max_n: int = 4) -> tuple[str, OptionPicks]:
    """`text` without the options a form has selects for, and those options as picks.

    A form opened on typed text (`/edit warmer quality=low`) starts its selects from what was
    typed, and the prompt field keeps the rest, so a select changed later cannot conflict with
    an option the person no longer sees. A value that does not parse stays in the text: the
    core reports it when the form is sent. Other options (format=, size=, ...) stay too.
    """
    tokens = list(_TOKEN.finditer(text))
    picked: dict[str, object] = {}
    drop: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].group(0)
        eq = _EQ_OPTION.fullmatch(token)
        flag = None if eq else _FLAG_OPTION.fullmatch(token)
        match = eq or flag
        key = KEY_ALIASES.get(match.group(1).lower()) if match else None
        value_at = i if eq else i + 1
        if key not in _FORM_KEYS or key in picked or value_at >= len(tokens):
            i += 1
            continue
        raw = eq.group(2) if eq else tokens[value_at].group(0)
        try:
            picked[key] = _PARSERS[key](_clean_value(raw), token, max_n)
        except OptionError:
            i += 1
            continue
        drop.append((tokens[i].start(), tokens[value_at].end()))
        i = value_at + 1
    rest, last = [], 0
    if not drop:
        return text.strip(), OptionPicks()
    for start, end in drop:
        rest.append(text[last:start])
        last = end
    rest.append(text[last:])
    aspect = picked.get("aspect")
    return " ".join("".join(rest).split()), OptionPicks(
        quality=picked.get("quality"),  # type: ignore[arg-type]
        aspect=str(aspect) if aspect else None,
        resolution=picked.get("resolution"),  # type: ignore[arg-type]
        n=picked.get("n"),  # type: ignore[arg-type]
    )
