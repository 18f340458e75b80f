#!/usr/bin/env python3
"""Figure 5, probe: the largest recorded machine read from its file, and this
machine probed live (udev database or its fallbacks: blkid, sysfs,
mountinfo, /proc/swaps), through the same `installer.machine.probe.probe`.
Median of several runs in one process; the first (cold) run is in the note.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, args, emit, largest_machine, median  # noqa: E402

GOAL_MS = 100.0


def timed(fn) -> float:
    start = time.perf_counter()
    machine = fn()
    took = time.perf_counter() - start
    if not machine.disks:
        raise SystemExit("the probe found no disk")
    return took * 1000


def measure(runs: int) -> list[Row]:
    from installer.machine.probe import probe

    path = largest_machine()
    rows = []
    for name, fn in ((f"5a. probe from file", lambda: probe(path)), ("5b. probe live", lambda: probe(None))):
        cold = timed(fn)
        warm = median([timed(fn) for _ in range(runs)])
        where = path.name if "file" in name else "this machine"
        rows.append(Row(name, warm, None, "ms", f"<= {GOAL_MS:.0f} ms", warm <= GOAL_MS,
                        note=f"{where}, median of {runs}; first run {cold:.1f} ms"))
    return rows


def main() -> None:
    a = args(__doc__)
    emit(measure(1 if a.tiny else 15), a.json)


if __name__ == "__main__":
    main()
