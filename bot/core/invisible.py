"""Characters that show as nothing: a prompt made only of them is an empty prompt."""

from __future__ import annotations

import unicodedata

# Blank letters and marks that render as nothing; every format character (category Cf: zero-width
# space and joiners, word joiner, BOM, soft hyphen, direction marks) is dropped too.
_BLANKS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def visible(text: str) -> str:
    """`text` without the characters that show as nothing (U+200B, U+2060, U+FEFF, ...)."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if ch not in _BLANKS and unicodedata.category(ch) != "Cf")
