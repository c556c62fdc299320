"""bot.app.heap: what is alive when a process starts serving is left out of the garbage
collector's passes; what it makes afterwards is still collected."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.app.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on collecting everything


def _tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_startup_objects_leave_the_passes_and_later_garbage_is_still_collected(
    unfrozen: None,
) -> None:
    startup = _Node()
    assert _tracked(startup)
    frozen = freeze_startup_heap()
    assert frozen > 1000  # the modules, classes and so on
    # Frozen objects still die when their last reference goes (another test's thread may
    # drop one meanwhile: CI saw 369,462 frozen, then 369,461), so the count only falls.
    assert frozen - 1000 < gc.get_freeze_count() <= frozen
    assert not _tracked(startup)  # no pass walks it any more

    later = _Node()
    assert _tracked(later)
    del later
    assert gc.collect() >= 1  # the later cycle is found and freed
