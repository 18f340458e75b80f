"""NIXOS_TUI_FULL_SUITE=1 (`make test`): a skip is a failure, unless it names a kernel limit.

The Makefile promises that the full suite turns a missing prerequisite into a
failure instead of a skip: a test that did not run proved nothing, and a
green `make test` must mean every test ran. The one exception is what this
machine's kernel cannot do (no vfat, no dm-crypt): no package installs that,
so such a skip stays a skip, and must say so by starting its reason with
KERNEL_LIMIT. conftest.py registers these hooks; tests/test_fullsuite.py runs
them on a test file of its own.
"""

from __future__ import annotations

import os

import pytest

KERNEL_LIMIT = "kernel limit: "


def full_suite() -> bool:
    return os.environ.get("NIXOS_TUI_FULL_SUITE") == "1"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A skip's reason as written, without the "Skipped: " pytest.skip() puts before it."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_a_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (full_suite() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if reason.startswith(KERNEL_LIMIT):
        return
    report.outcome = "failed"
    report.longrepr = (f"NIXOS_TUI_FULL_SUITE=1: this test skipped, and only a skip whose reason starts "
                       f"with {KERNEL_LIMIT.strip()!r} may; it said: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_a_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_a_skip(outcome.get_result())
