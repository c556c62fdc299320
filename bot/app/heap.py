"""The heap a long-running process starts with, kept out of the garbage collector's way.

By the time `editbot run` or `editbot worker` starts serving, it holds some 176,000
objects that live as long as it does: modules, classes, SQLAlchemy's and Pydantic's
structures, the platform libraries. Each of the collector's full (generation 2) passes
walked them all: 120 ms on a CI machine of this project (2026-12), a pause of the event
loop that every running job waits through, and the queue benchmark saw three or four of
them in a run (bench/bench_phases.py prints the pauses). Frozen (gc.freeze), they are left
out of every pass; what the process makes from then on is collected as before.

Measured with bench/bench_phases.py on PostgreSQL: the full passes' pauses went from
516 ms in all (the longest 148 ms) to 75 ms (the longest 31 ms). Raising the youngest
generation's threshold instead (10,000) made fewer, longer pauses and no less time in
all, so the thresholds stay Python's.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect what startup left behind, then move every object still alive to the
    collector's permanent generation; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("froze %d startup objects out of the collector's passes", frozen)
    return frozen
