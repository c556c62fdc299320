"""Prompts of characters that show as nothing are empty prompts; visible text is untouched."""

from __future__ import annotations

import pytest

from bot.core.errors import PromptError
from bot.core.invisible import visible
from bot.core.options import parse_options

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u3164"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_a_prompt_of_one_invisible_character_is_empty(char: str) -> None:
    with pytest.raises(PromptError, match="only invisible characters"):
        parse_options(char * 3)


def test_invisible_characters_around_options_leave_no_prompt() -> None:
    with pytest.raises(PromptError, match="Tell me what to change"):
        parse_options("\u200b quality=high \u2060")


def test_invisible_characters_inside_words_and_values_are_dropped() -> None:
    prompt, options = parse_options("make\u200b it blue quality=\u2060high")
    assert prompt == "make it blue"
    assert options.quality.value == "high"


def test_visible_text_is_kept_as_it_is() -> None:
    text = "café ✨ 日本 — naïve"
    assert visible(text) == text
    assert visible("a\u200bb\ufeffc") == "abc"
