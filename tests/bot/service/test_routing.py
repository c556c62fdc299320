"""bot.service.routing: where a request goes, decided from plain facts (no database, no chat)."""

from __future__ import annotations

import pytest

from bot.core.thread_commands import ThreadCommandKind
from bot.service.routing import DidYouMean, Edit, FreeCommand, Help, NoVersionsYet, route


def _route(text: str, *, in_thread: bool = True, edit_thread: bool = True, files: bool = False):
    return route(text=text, in_thread=in_thread, edit_thread=edit_thread, attachments=files)


@pytest.mark.parametrize("text", ["undo", "versions", "compare", "compare 1 3"])
def test_free_commands_in_an_edit_thread_cost_nothing(text: str) -> None:
    where = _route(text)
    assert isinstance(where, FreeCommand)
    assert where.command.kind in {
        ThreadCommandKind.UNDO,
        ThreadCommandKind.VERSIONS,
        ThreadCommandKind.COMPARE,
    }


def test_a_free_command_where_editbot_has_no_versions_is_never_an_edit() -> None:
    assert _route("undo", edit_thread=False) == NoVersionsYet()
    assert _route("versions", edit_thread=False) == NoVersionsYet()


def test_attachments_make_any_words_an_edit() -> None:
    assert _route("undo", files=True) == Edit("undo")
    assert _route("versions", edit_thread=False, files=True) == Edit("versions")


def test_from_version_edits_start_from_that_version() -> None:
    assert _route("v2 make it blue quality=low") == Edit("make it blue quality=low", 2)
    assert _route("v3: warmer", files=True) == Edit("warmer", 3)


def test_from_version_words_without_versions_are_a_prompt() -> None:
    assert _route("v2 make it blue", edit_thread=False) == Edit("v2 make it blue")


def test_outside_a_thread_nothing_is_a_command() -> None:
    for text in ("undo", "versions", "v2 make it blue"):
        assert _route(text, in_thread=False, edit_thread=False) == Edit(text)


def test_a_sentence_that_starts_like_a_command_is_a_refinement() -> None:
    assert _route("undo the colour change but keep the crop") == Edit(
        "undo the colour change but keep the crop"
    )


def test_help_is_free_anywhere_and_a_near_miss_is_asked_about() -> None:
    assert _route("help", in_thread=False, edit_thread=False) == Help()
    assert _route("help") == Help()
    assert _route("hlep") == DidYouMean("help")
    assert _route("hlep", files=True) == Edit("hlep")  # files make it an edit
    assert _route("hlep", edit_thread=False, in_thread=False) == Edit("hlep")
