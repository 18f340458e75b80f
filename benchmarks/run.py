#!/usr/bin/env python3
"""`make bench`: run every figure's script and print one table.

Each script runs in its own process (`--json`), so one figure's imports and
memory never colour another's. `--tiny` runs each figure once with a tiny
size (the test suite uses it to prove the scripts still work; its numbers
mean nothing). `--save` writes the table to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import PY, ROOT, Row, environment, run_child, table  # noqa: E402

SCRIPTS = ("startup.py", "log_ingest.py", "install_overhead.py", "render_plan.py", "probe_time.py", "memory.py")


def collect(script: str, tiny: bool) -> tuple[list[Row], str]:
    argv = [PY, str(HERE / script), "--json"] + (["--tiny"] if tiny else [])
    done = run_child(argv, timeout=600)
    rows = []
    for line in done.stdout.splitlines():
        if line.startswith("ROW "):
            data = json.loads(line[4:])
            data.pop("ratio", None)
            rows.append(Row(**data))
    error = ""
    if done.returncode != 0 or not rows:
        error = f"{script} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-1500:]}"
    return rows, error


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="each figure once, tiny: a smoke test, not a measurement")
    p.add_argument("--save", action="store_true", help="write the table to benchmarks/results.md")
    p.add_argument("--only", nargs="*", choices=SCRIPTS, help="run only these scripts")
    a = p.parse_args(argv)
    started = time.perf_counter()
    env = environment()
    print(env, file=sys.stderr, flush=True)
    rows: list[Row] = []
    errors: list[str] = []
    for script in a.only or SCRIPTS:
        t0 = time.perf_counter()
        got, error = collect(script, a.tiny)
        rows += got
        if error:
            errors.append(error)
        print(f"  {script}: {time.perf_counter() - t0:.1f} s{' FAILED' if error else ''}", file=sys.stderr, flush=True)
    took = time.perf_counter() - started
    text = f"{env}\n\n{table(rows)}\n"
    if errors:
        text += "\nFailed:\n" + "\n".join(f"- {e}" for e in errors) + "\n"
    text += f"\nWhole run: {took:.0f} s{' (--tiny: sizes too small to mean anything)' if a.tiny else ''}.\n"
    print("\n" + text, end="")
    if a.save:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (HERE / "results.md").write_text(f"# Benchmark results ({stamp})\n\n`make bench` (benchmarks/run.py)\n\n{text}")
        print(f"saved {(HERE / 'results.md').relative_to(ROOT)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
