"""Snapshots of the install pane at 80x25 in the 16-colour ANSI theme: while
nixos-install runs (the bar, the status, the streaming log, ^C Stop in the
footer) and after it failed (Nix's error, the actions).

The real Session and runner drive the nixos-install stand-in into a fixed
state: a download that stalls after item 12 of 30, or a failure at item 5.
Fixed paths and a frozen clock make every frame the same on every run;
`tests/test_console_glyphs.py` scans these SVGs too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_screens_install import pane_session, standin, start_install  # noqa: F401 - standin: a fixture
from test_screens_support import app_for, pane_settled, until
from test_snapshots import sixteen_colours, snap  # noqa: F401 - the fixture is used by name

from screens.install import InstallScreen


@pytest.fixture
def fixed(monkeypatch, request, standin):
    """A target and a log at fixed paths (both appear on screen), and the stand-in's knobs."""
    import screens.install

    monkeypatch.setattr(screens.install, "clock", lambda: 1000.0)
    name = request.node.name
    target = Path("/var/tmp") / f"nti-snapshot-{name}"
    log = Path("/tmp") / f"nti-snapshot-{name}.log"
    shutil.rmtree(target, ignore_errors=True)
    log.unlink(missing_ok=True)
    target.mkdir(mode=0o755)
    target.chmod(0o755)

    def knobs(**values):
        standin(**values)
        return pane_session(target, log)

    yield knobs
    shutil.rmtree(target, ignore_errors=True)
    log.unlink(missing_ok=True)


async def open_pane(pilot, ready) -> InstallScreen:
    """The pane once it reached the state to snapshot, and settled in it."""
    pane = await start_install(pilot)
    await until(pilot, lambda: ready(pane) and pane_settled(pane))
    return pane


def test_install_running(snap_compare, fixed):
    session = fixed(PATHS=30, DRVS=2, STALL_AT="copying:12")
    panes = []

    async def before(pilot):
        pane = await open_pane(pilot, lambda p: p.progress is not None and p.progress.fetch_done == 12
                               and "12/32" in p.status_text)
        panes.append(pane)

    try:
        assert snap(snap_compare, app_for(session), before)
    finally:
        # The pane kills nixos-install when it goes; make sure of it.
        for pane in panes:
            if pane.last_runner is not None:
                pane.last_runner.kill_now()


def test_install_nixos_install_failed(snap_compare, fixed):
    session = fixed(PATHS=30, DRVS=2, FAIL_AT="copying:5", EXIT=1)

    async def before(pilot):
        await open_pane(pilot, lambda p: bool(p.query_one("#actions").display))

    assert snap(snap_compare, app_for(session), before)
