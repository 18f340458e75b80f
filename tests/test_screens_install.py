"""The install pane against the real runner and the faithful nixos-install
stand-in: a flood of lines while keys are pressed, Ctrl+C, and Retry."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_screens_support import ROOT, app_for, make_session, wait_ready

from installer.model import User
from installer.processes import alive
from installer.runner import InstallRunner, RunOptions
from screens.done import DoneScreen
from screens.install import MAX_LOG_LINES, InstallScreen

NIXOS_INSTALL = str(ROOT / "tests" / "standins" / "nixos-install")
SIZE = (80, 25)


@pytest.fixture
def target():
    """An install root the stand-in accepts: 0755, with a configuration."""
    path = Path(tempfile.mkdtemp(prefix="pane-target-"))
    path.chmod(0o755)
    (path / "etc" / "nixos").mkdir(parents=True)
    (path / "etc" / "nixos" / "configuration.nix").write_text("{ ... }: { }\n")
    yield path
    shutil.rmtree(path)


def session_with_standin(target, log, **standin):
    """A dry-run Session (nothing touches a disk) whose nixos-install is the stand-in."""
    session = make_session(log_path=str(log))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update({f"STANDIN_{k}": str(v) for k, v in standin.items()})

    class WithStandin(type(session)):
        def runner(self):
            return InstallRunner.for_target(str(target), RunOptions(), command=NIXOS_INSTALL, log=self.log(),
                                            env=env)

    session.__class__ = WithStandin
    return session


async def start_install(pilot):
    app = pilot.app
    await wait_ready(pilot)
    session = app.session
    session.model.disk.device = session.machine.offered_disks[0].path
    session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
    app.confirmation = session.confirm(session.plan().disk.name)
    assert app.confirmation is not None
    app.push_screen(InstallScreen())
    await pilot.pause()
    return app.screen


async def until(pilot, condition, seconds=120.0):
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


async def test_pane_streams_a_flood_while_keys_work(target, tmp_path):
    log = tmp_path / "install.log"
    paths = 100_000  # each path is listed, then copied: about 200,000 lines
    # 20,000 item lines a second: the copying alone lasts seconds, keys must get through.
    app = app_for(session_with_standin(target, log, PATHS=paths, DRVS=3, RATE=20000))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: pane.progress is not None and pane.progress.fetch_done > 0)
        # Keys are handled while the lines pour in: help opens and closes.
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        assert pane.runner is not None and pane.runner.running
        await pilot.press("escape")
        assert app.screen is pane
        await until(pilot, lambda: isinstance(app.screen, DoneScreen))
        widget = pane.query_one("#log")
        assert widget.line_count <= MAX_LOG_LINES
        assert pane.progress.fetch_done == pane.progress.fetch_total == paths
        summary = str(app.screen.query_one("#summary").content)
        assert f"Paths fetched: {paths}" in summary
    text = log.read_text()
    assert text.count("copying path '") == paths  # the file keeps every line
    assert "wonderland" not in text


async def test_ctrl_c_asks_then_stops_the_process_group(target, tmp_path):
    log = tmp_path / "install.log"
    app = app_for(session_with_standin(target, log, PATHS=50, HANG=1, SPAWN=1))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: pane.runner is not None and pane.runner.running
                    and pane.progress.fetch_done == 50)
        runner = pane.runner
        await pilot.press("ctrl+c")
        assert type(app.screen).__name__ == "AskScreen"
        await pilot.press("n")
        assert runner.running
        await pilot.press("ctrl+c", "y")
        await until(pilot, lambda: runner.finished and pane.query_one("#actions").display)
        assert runner.returncode != 0
        # No process of the group (nor the stand-in's escaped children) is left running.
        assert runner._victims, "the stand-in's children were found and signalled"
        assert not [pid for pid, start in runner._victims.items() if alive(pid, start)]
        failure = str(pane.query_one("#failure").content)
        assert "Install NixOS" in failure and str(log) in failure
        assert app.focused.id == "retry"


async def test_failure_shows_phase_and_retry_completes(target, tmp_path):
    log = tmp_path / "install.log"
    app = app_for(session_with_standin(target, log, PATHS=20, FAIL_AT="copying:5", EXIT=7, FAIL_ONCE=1))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: pane.query_one("#actions").display)
        first = pane.last_runner
        assert first.returncode == 7
        assert "Install NixOS" in str(pane.query_one("#failure").content)
        assert "[!] Install NixOS" in str(pane.query_one("#phases").content)
        assert "installation finished!" not in log.read_text()
        await pilot.press("enter")  # Retry has the focus
        await until(pilot, lambda: isinstance(app.screen, DoneScreen))
        assert pane.last_runner is not first and pane.last_runner.returncode == 0
        assert pane.last_runner.run_number == 2
        fetched = sum(p.fetch_done for p in pane.last_runner.runs)
        assert f"Paths fetched: {fetched}" in str(app.screen.query_one("#summary").content)
        assert "in 2 runs" in str(app.screen.query_one("#summary").content)
    assert "installation finished!" in log.read_text()
