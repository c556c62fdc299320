"""Where the machine's CPU went during a timed section, by process kind (Linux /proc).

The bench runs editbot beside the provider emulator, moto's S3 server and PostgreSQL on the
same cores; when editbot's wall time does not improve with more worker processes, this says
whether the cores were busy, and with whom: editbot (this process and its worker processes),
the emulator, the S3 server, PostgreSQL, or anything else on the machine.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def _kind(pid: int, cmdline: str, comm: str, parent: int, ours: set[int]) -> str:
    if "tests.kit.emulator" in cmdline:
        return "emulator"
    if "moto.server" in cmdline:
        return "s3"
    if comm.startswith("postgres") or cmdline.startswith("postgres"):
        return "postgres"
    if pid in ours or parent in ours:
        return "editbot"  # this process and its worker processes
    return "other"


def snapshot() -> dict[int, tuple[str, float]]:
    """Every process's (kind, user + system CPU seconds) now; {} where /proc is missing."""
    if not _PROC.is_dir():
        return {}
    ours = {os.getpid()}
    found: dict[int, tuple[str, float]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, parent = int(entry.name), int(fields[1])
        kind = _kind(pid, cmdline, comm, parent, ours)
        # PostgreSQL's backends end when the bench's engine is disposed of: their time is
        # read from the postmaster's reaped children.
        last = 15 if kind == "postgres" else 13
        found[pid] = (kind, sum(int(t) for t in fields[11:last]) * _TICK_S)
    return found


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> Counter:
    """CPU seconds each kind used between two snapshots (a process that ended is missed,
    but for PostgreSQL's backends)."""
    used: Counter = Counter()
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return used


def machine_busy() -> tuple[float, float]:
    """(busy seconds, all seconds) summed over every core since boot, from /proc/stat."""
    try:
        first = (_PROC / "stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(t) for t in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) * _TICK_S, sum(ticks) * _TICK_S


def describe(used: Counter, busy: float, total: float, *, jobs: int, cores: int) -> str:
    """One line: how busy the cores were, and CPU ms per job of each kind."""
    share = f"cores {100 * busy / total:.0f}% busy" if total else "cores: unknown"
    kinds = ", ".join(f"{kind} {seconds * 1000 / jobs:.1f}" for kind, seconds in used.most_common())
    return f"  machine ({cores} cores): {share}; CPU ms/job by process: {kinds}"


def speed_check() -> float:
    """Milliseconds of CPU a fixed piece of pure Python takes here now (best of five).

    The same work took 19 ms or 34 ms on one of this project's machines within a minute
    (2026-12-04: a shared host, whose cores slow down and speed up again), and every CPU
    figure of a run moves with it. Printed beside each run, it tells a figure that moved
    because the code did from one that moved because the machine did."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        kept: dict[int, str] = {}
        for i in range(200_000):
            kept[i % 1000] = str(i)
        best = min(best, time.process_time() - started)
    return best * 1000


@dataclass(frozen=True)
class Usage:
    """The machine's CPU from `now()` on: each process kind's, and how busy the cores were."""

    processes: dict[int, tuple[str, float]]
    busy: tuple[float, float]
    spent: Counter[str] | None = None
    until: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def now(cls) -> Usage:
        return cls(snapshot(), machine_busy())

    def until_now(self) -> Usage:
        after = machine_busy()
        used = spent(self.processes, snapshot())
        return Usage(self.processes, self.busy, used, after)

    def line(self, *, jobs: int) -> str:
        busy, total = self.until[0] - self.busy[0], self.until[1] - self.busy[1]
        cores = os.cpu_count() or 1
        return describe(self.spent or Counter(), busy, total, jobs=jobs, cores=cores)
