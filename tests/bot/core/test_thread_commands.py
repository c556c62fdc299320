import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.options import parse_options
from bot.core.thread_commands import (
    ThreadCommand,
    ThreadCommandKind,
    near_miss,
    parse_thread_command,
)

UNDO = ThreadCommand(ThreadCommandKind.UNDO)
VERSIONS = ThreadCommand(ThreadCommandKind.VERSIONS)
COMPARE = ThreadCommand(ThreadCommandKind.COMPARE)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("undo", UNDO),
        ("Undo", UNDO),
        ("UNDO!", UNDO),
        ("  undo.  ", UNDO),
        ("<@U123ABC> undo", UNDO),
        ("<@!1234567890> undo", UNDO),
        ("versions", VERSIONS),
        ("version", VERSIONS),
        ("History?", VERSIONS),
        ("<@U1> versions", VERSIONS),
        ("compare", COMPARE),
        ("Compare!", COMPARE),
        ("compare 1 3", ThreadCommand(ThreadCommandKind.COMPARE, versions=(1, 3))),
        ("compare v1 v3", ThreadCommand(ThreadCommandKind.COMPARE, versions=(1, 3))),
        ("compare 3 and 1", ThreadCommand(ThreadCommandKind.COMPARE, versions=(3, 1))),
        ("compare 1, 12", ThreadCommand(ThreadCommandKind.COMPARE, versions=(1, 12))),
        ("compare v2 vs v5", ThreadCommand(ThreadCommandKind.COMPARE, versions=(2, 5))),
        ("compare 2 with 4", ThreadCommand(ThreadCommandKind.COMPARE, versions=(2, 4))),
        ("compare 2-4", ThreadCommand(ThreadCommandKind.COMPARE, versions=(2, 4))),
        ("compare 12", ThreadCommand(ThreadCommandKind.COMPARE, version=12)),
        ("compare v2", ThreadCommand(ThreadCommandKind.COMPARE, version=2)),
    ],
)
def test_free_commands(text, command):
    assert parse_thread_command(text) == command


@pytest.mark.parametrize(
    ("text", "version", "rest"),
    [
        ("v2 make it blue", 2, "make it blue"),
        ("v2: make it blue", 2, "make it blue"),
        ("V2: Make It Blue", 2, "Make It Blue"),
        ("v3, add a hat", 3, "add a hat"),
        ("v1 - crop tighter", 1, "crop tighter"),
        ("v10 \u2014 crop tighter", 10, "crop tighter"),
        ("version 4: warmer light", 4, "warmer light"),
        ("<@U123> v2 make it blue", 2, "make it blue"),
        ("v2 \u201cSALE\u201d on the sign", 2, '"SALE" on the sign'),
        ("v2", 2, ""),
    ],
)
def test_starting_from_an_earlier_version(text, version, rest):
    assert parse_thread_command(text) == ThreadCommand(
        ThreadCommandKind.FROM_VERSION, version=version, rest=rest
    )


def test_the_instruction_keeps_its_options_for_parse_options():
    command = parse_thread_command("v1 make it blue quality=high --ar 4:5")
    assert command is not None
    assert command.rest == "make it blue quality=high --ar 4:5"
    prompt, options = parse_options(command.rest)
    assert prompt == "make it blue"
    assert options.aspect == "4:5"


@pytest.mark.parametrize(
    "text",
    [
        "make it blue",
        "undo the colour change but keep the crop",
        "show the versions side by side",
        "compare the two lamps and keep the brighter one",
        "compare 1 3 and make it blue",
        "v2make it blue",
        "vivid colours please",
        "very nice, now add a hat",
        "",
        "<@U123>",
    ],
)
def test_anything_else_is_a_refinement(text):
    assert parse_thread_command(text) is None


def test_only_ascii_letters_spell_a_command():
    # Case-insensitive Unicode matching would read the dotless i as "i".
    assert parse_thread_command("h\u0131story") is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_a_command_or_none_without_raising(text):
    command = parse_thread_command(text)
    assert command is None or isinstance(command.kind, ThreadCommandKind)


# Words start with a letter: in "v2 . x" the dot is read as a separator, which is fine.
_INSTRUCTION = st.lists(
    st.from_regex(r"[A-Za-z][A-Za-z0-9,.!?']{0,7}", fullmatch=True), min_size=1, max_size=8
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999_999), _INSTRUCTION, st.sampled_from([" ", ": ", ", ", " - ", ":"]))
def test_any_version_and_instruction_round_trip(version, instruction, separator):
    command = parse_thread_command(f"v{version}{separator}{instruction}")
    assert command == ThreadCommand(
        ThreadCommandKind.FROM_VERSION, version=version, rest=instruction
    )


# --- the natural phrasings (issue 11) -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "version"),
    [
        ("help", ThreadCommandKind.HELP, None),
        ("?", ThreadCommandKind.HELP, None),
        ("show versions", ThreadCommandKind.VERSIONS, None),
        ("history", ThreadCommandKind.VERSIONS, None),
        ("revert", ThreadCommandKind.UNDO, None),
        ("go back.", ThreadCommandKind.UNDO, None),
        ("please undo", ThreadCommandKind.UNDO, None),
        ("revert to v1", ThreadCommandKind.USE, 1),
        ("back to v3", ThreadCommandKind.USE, 3),
        ("use v2", ThreadCommandKind.USE, 2),
        ("go back to version 4!", ThreadCommandKind.USE, 4),
        ("redo", ThreadCommandKind.REDO, None),
        ("cancel", ThreadCommandKind.CANCEL, None),
    ],
)
def test_natural_phrasings_are_free_commands(
    text: str, kind: ThreadCommandKind, version: int | None
) -> None:
    command = parse_thread_command(f"<@UBOT> {text}")
    assert command is not None and (command.kind, command.version) == (kind, version)


@pytest.mark.parametrize(
    ("text", "meant"),
    [("hlep", "help"), ("undoo", "undo"), ("verisons", "versions"), ("cancle", "cancel")],
)
def test_a_short_near_miss_is_asked_about(text: str, meant: str) -> None:
    assert parse_thread_command(text) is None
    assert near_miss(text) == meant


@pytest.mark.parametrize(
    "text", ["make it blue", "blur", "undo", "warmer light quality=low", "go back to the sea"]
)
def test_prompts_and_commands_are_not_near_misses(text: str) -> None:
    assert near_miss(text) is None
