"""Free commands inside an edit thread: `undo`, `versions`, `compare`, `v2 <instruction>`.

Pure text processing. Anything that is not one of these is a normal refinement of the thread's
current version, so the words must be the whole message (`undo the colour change but keep the
crop` is a refinement, not an undo). Trailing `.`, `!` or `?` are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.core.options import clean_markup


class ThreadCommandKind(StrEnum):
    """Which thread command a message is."""

    UNDO = "undo"
    """Make the previous version current again."""
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
_UNDO = re.compile(rf"undo{_END}", _FLAGS)
_VERSIONS = re.compile(rf"(?:versions?|history){_END}", _FLAGS)
_NUM = r"v?([0-9]{1,6})"
_COMPARE = re.compile(
    rf"compare(?: {_NUM}(?:(?: ?(?:,|&|-|and|to|vs\.?|with) ?| ){_NUM})?)?{_END}", _FLAGS
)
_FROM_VERSION = re.compile(
    r"v(?:ersion)? ?([0-9]{1,6})(?: ?[:,.)\-\u2013\u2014] ?| |$)(.*)", _FLAGS
)


def parse_thread_command(text: str) -> ThreadCommand | None:
    """The thread command in a message (mention markup allowed), or None for a refinement."""
    text = clean_markup(text)
    if _UNDO.fullmatch(text):
        return ThreadCommand(ThreadCommandKind.UNDO)
    if _VERSIONS.fullmatch(text):
        return ThreadCommand(ThreadCommandKind.VERSIONS)
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
