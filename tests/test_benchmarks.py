"""`make bench` still works: every figure's script runs once with a tiny size
(`benchmarks/run.py --tiny`) and the table has a row with numbers for each
figure. No timing is asserted: the tiny sizes mean nothing, and timings on
a shared machine are noise; the real figures come from `make bench`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT
from loopdev import ROOT_MARKS

# install_overhead mounts a loop device; the wizard drive takes a while.
pytestmark = [*ROOT_MARKS, pytest.mark.slow]

FIGURES = (
    "1. start-up to first frame",
    "2a. log lines absorbed",
    "2b. key latency p99 while streaming",
    "2c. RSS after all lines / after 10k",
    "3. unattended install wall time",
    "4. validate+plan+render",
    "5a. probe from file",
    "5b. probe live",
    "6. peak RSS, wizard to review",
)
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?(e[-+]?\d+)? \S+$")


@pytest.fixture(scope="module")
def tiny_run():
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )


def table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| figure"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_figure_runs_and_reports_numbers(tiny_run):
    assert tiny_run.returncode == 0, tiny_run.stdout + tiny_run.stderr
    assert "Failed:" not in tiny_run.stdout
    rows = table_rows(tiny_run.stdout)
    assert set(rows) == set(FIGURES), sorted(rows)
    for figure, (ours, floor, ratio, goal, met) in rows.items():
        assert NUMBER.match(ours), (figure, ours)
        assert floor == "-" or NUMBER.match(floor), (figure, floor)
        if floor != "-":
            assert re.fullmatch(r"[\d,.]+(e[-+]?\d+)?", ratio), (figure, ratio)
        assert goal and met in ("yes", "NO"), (figure, goal, met)


def test_environment_is_printed_above_the_table(tiny_run):
    head = tiny_run.stdout.split("| figure")[0]
    assert re.search(r"CPUs: \d+, Python 3\.\d+.*Textual \d+\.\d+", head), head


def test_figures_measured_what_they_claim(tiny_run):
    """The notes carry the counts behind each figure: lines really reached the widget, keys were handled."""
    out = tiny_run.stdout
    absorbed = re.search(r"([\d,]+) lines from the runner, the last one in the widget", out)
    assert absorbed and int(absorbed.group(1).replace(",", "")) >= 12_000, out
    keys = re.search(r"(\d+)/(\d+) keys handled", out)
    assert keys and int(keys.group(2)) > 0 and keys.group(1) == keys.group(2), out
