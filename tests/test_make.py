"""`make test` is the whole suite: root tests included, prerequisites required, CI passed on.

Read from `make -n` (what make would run), as root and as a user: a fake
`id` on PATH makes the Makefile believe it runs as uid 1000.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def pytest_line(tmp_path, uid: int | None) -> str:
    env = dict(os.environ)
    if uid is not None:
        fake = tmp_path / "bin"
        fake.mkdir()
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "id").chmod(0o755)
        env["PATH"] = f"{fake}:{env['PATH']}"
    done = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if "-m pytest" in ln]
    return line


def test_as_root_the_suite_runs_directly_and_strict(tmp_path):
    line = pytest_line(tmp_path, 0)
    assert not line.startswith("sudo")
    assert "NIXOS_TUI_FULL_SUITE=1" in line and 'CI="${CI:-}"' in line


def test_as_a_user_the_suite_runs_through_sudo_keeping_ci(tmp_path):
    line = pytest_line(tmp_path, 1000)
    assert line.startswith("sudo env ")
    assert "NIXOS_TUI_FULL_SUITE=1" in line and 'CI="${CI:-}"' in line
    # Nothing root-owned left in the checkout for the user.
    assert "PYTHONDONTWRITEBYTECODE=1" in line and "-p no:cacheprovider" in line
    assert "HYPOTHESIS_STORAGE_DIRECTORY=" in line
