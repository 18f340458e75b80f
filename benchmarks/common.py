"""What every benchmark script shares: paths, statistics, child processes
measured with wait4, and the one-row-per-figure table.

Each script prints its rows as a table when run alone, or as JSON lines
(`--json`) for run.py to collect. Every figure is a ratio against a floor
measured in the same run, because timings on these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # scripts run as `python benchmarks/x.py`: the repo's packages first
PY = sys.executable
STANDINS = ROOT / "tests" / "standins"
MACHINES = ROOT / "tests" / "fixtures" / "machines"


def largest_machine() -> Path:
    """The largest recorded machine (most disks, partitions, mounts): the worst case for probe/plan/render."""
    return max(MACHINES.glob("*.json"), key=lambda p: p.stat().st_size)


def standin_env(**knobs: object) -> dict[str, str]:
    """Our environment plus STANDIN_* knobs, with this Python's own directory first
    in PATH: the stand-ins start with `#!/usr/bin/env python3`, and on a host
    where that is a version manager's shim (pyenv: ~100 ms a start) the shim,
    not the installer, would be measured. Floor and ours get the same PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env["PATH"] = os.pathsep.join([os.path.join(sys.base_prefix, "bin"), env.get("PATH", "")])
    env.update({f"STANDIN_{k}": str(v) for k, v in knobs.items()})
    return env


@dataclass
class Row:
    figure: str
    ours: float
    floor: float | None
    unit: str
    goal: str  # e.g. "ratio <= 1.5", "<= 20 ms"
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor in (None, 0):
            return None
        return self.ours / self.floor


def args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tiny", action="store_true", help="once, with a tiny size: proves the script still works")
    p.add_argument("--json", action="store_true", help="print rows as JSON lines (for run.py)")
    p.add_argument("--child", help=argparse.SUPPRESS)  # the script re-run as its own measured child
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def emit(rows: list[Row], as_json: bool) -> None:
    if as_json:
        for row in rows:
            print("ROW " + json.dumps({**asdict(row), "ratio": row.ratio}), flush=True)
    else:
        print(table(rows))


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    head = ("figure", "ours", "floor", "ratio", "goal", "met?")
    body = [
        (r.figure, number(r.ours, r.unit), number(r.floor, r.unit), number(r.ratio) if r.ratio else "-",
         r.goal, "yes" if r.met else "NO")
        for r in rows
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def environment() -> str:
    try:
        from importlib.metadata import version

        textual = version("textual")
    except Exception:  # noqa: BLE001 - the table still prints
        textual = "?"
    return (f"CPUs: {os.cpu_count()}, Python {platform.python_version()} ({sys.executable}), "
            f"Textual {textual}, {platform.system()} {platform.release()}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Child:
    wall: float  # seconds from just before fork to the child's exit
    maxrss_kib: int  # the child's own peak RSS (ru_maxrss, KiB on Linux)
    returncode: int
    stdout: str
    stderr: str


def run_child(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT,
              stdout: int | None = subprocess.PIPE, timeout: float = 170.0) -> Child:
    """Run argv, timing it and reading its own peak RSS with wait4 (not the max over all children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE, text=True)
    deadline = start + timeout
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    # Read the pipes in threads so a chatty child never blocks; wait4 reaps it with its rusage.
    import threading

    def pump(stream, into):
        if stream is not None:
            into.append(stream.read())

    readers = [threading.Thread(target=pump, args=(proc.stdout, out_chunks), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err_chunks), daemon=True)]
    for r in readers:
        r.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.001)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(5)
    return Child(wall, usage.ru_maxrss, proc.returncode, "".join(out_chunks), "".join(err_chunks))


def self_maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_json(child: Child) -> dict:
    """The last JSON line a measured child printed (its own numbers)."""
    for line in reversed(child.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child printed no result (exit {child.returncode}): {child.stderr[-2000:]}")
