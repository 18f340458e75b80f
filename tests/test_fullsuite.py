"""tests/fullsuite.py: under NIXOS_TUI_FULL_SUITE=1 a skip fails, unless it names a kernel limit.

Runs pytest on a small test directory of its own whose conftest registers the same hooks
tests/conftest.py does, once as `make test` runs it and once as a developer's plain pytest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fullsuite import KERNEL_LIMIT
from loopdev import NO_DM_CRYPT, NO_VFAT

TESTS = Path(__file__).resolve().parent

CASES = f'''
import pytest

def test_runs():
    pass

def test_a_missing_tool():
    pytest.skip("tmux is not installed")

@pytest.mark.skipif(True, reason="make is not installed")
def test_a_missing_program_by_mark():
    pass

def test_no_vfat():
    pytest.skip({NO_VFAT!r})

@pytest.mark.skipif(True, reason={NO_DM_CRYPT!r})
def test_no_dm_crypt_by_mark():
    pass

def test_a_limit_named_in_the_middle_is_not_one():
    pytest.skip("needs root (kernel limit: none)")

@pytest.mark.xfail(reason="an expected failure is not a skip")
def test_expected_to_fail():
    assert False
'''


def run_cases(tmp_path: Path, full_suite: bool, *, module_skip: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        "from fullsuite import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "test_cases.py").write_text(CASES)
    if module_skip:
        (tmp_path / "test_module.py").write_text(
            "import pytest\npytest.skip('no recorded machines', allow_module_level=True)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NIXOS_TUI_FULL_SUITE", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if full_suite:
        env["NIXOS_TUI_FULL_SUITE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-rfEsx", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)





def test_the_recognised_form_is_what_the_kernel_limit_skips_say():
    assert NO_VFAT.startswith(KERNEL_LIMIT) and NO_DM_CRYPT.startswith(KERNEL_LIMIT)


def test_a_skip_fails_the_full_suite_unless_it_names_a_kernel_limit(tmp_path):
    done = run_cases(tmp_path, full_suite=True)
    assert done.returncode == 1, done.stdout
    # A skip in the test fails it; a skipif mark skips in set-up, so it fails as an error there.
    assert "2 failed, 1 passed, 2 skipped, 1 xfailed, 1 error" in done.stdout, done.stdout
    for name in ("test_a_missing_tool", "test_a_limit_named_in_the_middle_is_not_one"):
        assert f"FAILED test_cases.py::{name}" in done.stdout, done.stdout
    assert "ERROR test_cases.py::test_a_missing_program_by_mark" in done.stdout, done.stdout
    for said in ("tmux is not installed", "make is not installed"):
        assert f"NIXOS_TUI_FULL_SUITE=1: this test skipped, and only a skip whose reason starts with 'kernel limit:' " \
               f"may; it said: {said}" in done.stdout, done.stdout


def test_a_developers_plain_run_skips(tmp_path):
    done = run_cases(tmp_path, full_suite=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 5 skipped, 1 xfailed" in done.stdout, done.stdout


@pytest.mark.parametrize("full_suite", [True, False])
def test_a_module_skipped_whole_fails_the_full_suite(tmp_path, full_suite):
    done = run_cases(tmp_path, full_suite=full_suite, module_skip=True)
    if full_suite:
        assert done.returncode != 0 and "no recorded machines" in done.stdout, done.stdout
        assert "1 error" in done.stdout, done.stdout
    else:
        assert done.returncode == 0 and "1 passed, 6 skipped, 1 xfailed" in done.stdout, done.stdout
