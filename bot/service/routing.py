"""Where a request goes: a free thread command, an edit from a version, or a new edit.

One pure function over plain facts, so every path into the core (mentions, replies, modals,
slash commands) is routed by the same rule and the rule is tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.thread_commands import (
    ThreadCommand,
    ThreadCommandKind,
    near_miss,
    parse_thread_command,
)


@dataclass(frozen=True)
class FreeCommand:
    """`undo`, `versions` or `compare` in an edit thread: answered for free."""

    command: ThreadCommand


@dataclass(frozen=True)
class Help:
    """`help` anywhere (`@editbot help`, `/edit help`, in a thread): the commands, for free."""


@dataclass(frozen=True)
class DidYouMean:
    """A short message close to a command (`hlep`): asked about, never run as a paid edit."""

    suggestion: str


@dataclass(frozen=True)
class NoVersionsYet:
    """A free command in a thread editbot never answered: said so, never run as a paid edit."""


@dataclass(frozen=True)
class Edit:
    """An edit of `text` (prompt and inline options), from `from_version` when one was named."""

    text: str
    from_version: int | None = None


Route = FreeCommand | Help | DidYouMean | NoVersionsYet | Edit


def route(*, text: str, in_thread: bool, edit_thread: bool, attachments: bool) -> Route:
    """Decide what a request is.

    Args:
        in_thread: the request was made inside a platform thread.
        edit_thread: that thread is one editbot keeps versions for.
        attachments: the request carries files (they always make it an edit).
    """
    command = parse_thread_command(text)
    if command is not None and command.kind is ThreadCommandKind.HELP and not attachments:
        return Help()
    if not in_thread:
        command = None
    if command is None:
        suggestion = near_miss(text) if edit_thread and not attachments else None
        return DidYouMean(suggestion) if suggestion else Edit(text)
    if command.kind is ThreadCommandKind.FROM_VERSION:
        # `v2 make it blue` edits from v2 where there are versions; elsewhere it is a prompt.
        return Edit(command.rest, command.version) if edit_thread else Edit(text)
    if attachments:
        return Edit(text)
    return FreeCommand(command) if edit_thread else NoVersionsYet()
