"""Free commands inside an edit thread: `help`, `versions`, `undo`, `use v2`, `redo`,
`compare`, `cancel`, and `v2 <instruction>` (an edit from v2).

Pure text processing. Anything that is not one of these is a normal refinement of the thread's
current version, so the words must be the whole message (`undo the colour change but keep the
crop` is a refinement, not an undo). Trailing `.`, `!` or `?` and a leading `please` are
ignored. `near_miss` tells a short message that is close to a command ("did you mean ...?").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.core.options import clean_markup


class ThreadCommandKind(StrEnum):
    """Which thread command a message is."""

    HELP = "help"
    """List the commands and options (`help`, `commands`, `?`); also outside edit threads."""
    UNDO = "undo"
    """Make the previous version current again (`undo`, `revert`, `go back`)."""
    USE = "use"
    """Make version N current (`use v2`, `revert to v2`, `back to v2`, `go back to v2`)."""
    REDO = "redo"
    """Make the version after the current one current again (after an undo)."""
    CANCEL = "cancel"
    """Drop the person's edits in this thread that have not started."""
    VERSIONS = "versions"
    """Show every version of the thread, numbered (`versions`, `version`, `history`)."""
    COMPARE = "compare"
    """Show two versions side by side (default: the current one and the one before it)."""
    FROM_VERSION = "from_version"
    """Edit starting from an earlier version: `v2 make it blue`."""


@dataclass(frozen=True)
class ThreadCommand:
    """A parsed thread command.

    FROM_VERSION: `version` is the version to start from, `rest` the instruction (it may carry
    inline options, for parse_options; empty for a bare `v2`). COMPARE: `versions` when two were
    named (`compare 1 3`), `version` when one was (`compare 2`: that one against the current),
    neither for a bare `compare`. Version numbers are as written (the service checks they exist).
    """

    kind: ThreadCommandKind
    version: int | None = None
    rest: str = ""
    versions: tuple[int, int] | None = None


# re.ASCII: with IGNORECASE alone, "hıstory" (dotless i) would match "history".
_FLAGS = re.IGNORECASE | re.ASCII
_END = r"[.!?]*"
_PLEASE = re.compile(r"^(?:please|pls|ok|okay)[ ,]+|[ ,]+please$", _FLAGS)
_HELP = re.compile(rf"(?:help|commands|\?|what can you do){_END}", _FLAGS)
_UNDO = re.compile(rf"(?:undo|revert|go back|back|undo that|revert that){_END}", _FLAGS)
_REDO = re.compile(rf"redo(?: it| that)?{_END}", _FLAGS)
_CANCEL = re.compile(rf"(?:cancel|stop|cancel (?:it|that|this)){_END}", _FLAGS)
_VERSIONS = re.compile(rf"(?:(?:show|list|see) (?:the |all )?)?(?:versions?|history){_END}", _FLAGS)
_USE = re.compile(
    rf"(?:use|revert to|back to|go back to|switch to|restore) v(?:ersion)? ?([0-9]{{1,6}}){_END}",
    _FLAGS,
)
_NUM = r"v?([0-9]{1,6})"
_COMPARE = re.compile(
    rf"compare(?: {_NUM}(?:(?: ?(?:,|&|-|and|to|vs\.?|with) ?| ){_NUM})?)?{_END}", _FLAGS
)
_FROM_VERSION = re.compile(
    r"v(?:ersion)? ?([0-9]{1,6})(?: ?[:,.)\-\u2013\u2014] ?| |$)(.*)", _FLAGS
)


_PLAIN = (
    (_HELP, ThreadCommandKind.HELP),
    (_UNDO, ThreadCommandKind.UNDO),
    (_REDO, ThreadCommandKind.REDO),
    (_CANCEL, ThreadCommandKind.CANCEL),
    (_VERSIONS, ThreadCommandKind.VERSIONS),
)

COMMAND_WORDS = ("help", "versions", "history", "undo", "revert", "redo", "compare", "cancel")
"""What a near miss is measured against."""
NEAR_MISS_WORDS = 2
"""Only messages this short can be a mistyped command; longer ones are prompts."""


def near_miss(text: str) -> str | None:
    """The command a short message probably meant (`hlep` -> `help`, `undoo` -> `undo`), or
    None. Only for messages of at most NEAR_MISS_WORDS words without options or digits."""
    words = _PLEASE.sub("", clean_markup(text)).strip(" .!?").lower().split()
    if not 1 <= len(words) <= NEAR_MISS_WORDS or any("=" in w for w in words):
        return None
    first = words[0]
    if any(ch.isdigit() for ch in first):
        return None
    close = difflib.get_close_matches(first, COMMAND_WORDS, n=1, cutoff=0.75)
    if not close or close[0] == first:
        return None
    return close[0] + ("" if len(words) == 1 else " " + " ".join(words[1:]))


def parse_thread_command(text: str) -> ThreadCommand | None:
    """The thread command in a message (mention markup allowed), or None for a refinement."""
    text = _PLEASE.sub("", clean_markup(text)).strip()
    for pattern, kind in _PLAIN:
        if pattern.fullmatch(text):
            return ThreadCommand(kind)
    use = _USE.fullmatch(text)
    if use:
        return ThreadCommand(ThreadCommandKind.USE, version=int(use.group(1)))
    compare = _COMPARE.fullmatch(text)
    if compare:
        first, second = compare.group(1), compare.group(2)
        if second is not None:
            return ThreadCommand(ThreadCommandKind.COMPARE, versions=(int(first), int(second)))
        version = int(first) if first is not None else None
        return ThreadCommand(ThreadCommandKind.COMPARE, version=version)
    start = _FROM_VERSION.fullmatch(text)
    if start:
        return ThreadCommand(
            ThreadCommandKind.FROM_VERSION, version=int(start.group(1)), rest=start.group(2).strip()
        )
    return None
