"""The install pane against the real Session, runner and the faithful
nixos-install / nixos-enter stand-ins: a flood of lines while keys are
pressed, a question from nixos-install, failure, Retry, Back to review,
Save log, Ctrl+C and quitting.

The Session is in real mode on a recorded machine; only the disk phase is
left out (there is no disk to partition here): the configuration is really
written to a temporary target, nixos-install is the stand-in, the passwords
are really set through the nixos-enter stand-in, the log is really copied.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from procstat import gone_within
from test_screens_support import ROOT, BuiltSession, app_for, showing, until, wait_ready

from installer.answers.model import User
from installer.base.processes import alive
from installer.flow.install import Install
from installer.flow.session import Options
from screens.done import DoneScreen
from screens.install import MAX_LOG_LINES, InstallScreen
from screens.modals import AskScreen, PathScreen

STANDINS = ROOT / "tests" / "standins"
SIZE = (80, 25)
PASSWORD = "wonderland-Secret-1"


class PaneInstall(Install):
    """The real install pipeline; the disk phase only says it was skipped."""

    def execute(self, confirmation, log) -> None:
        assert confirmation is not None, "the disk phase needs the explicit confirmation"
        log("test: no disk is partitioned here")


class PaneSession(BuiltSession):
    """The real Session (real mode) with that pipeline."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.install = PaneInstall(self)


def pane_session(target, log) -> PaneSession:
    return PaneSession(Options(
        dry_run=False, seed=7, target=str(target), log_path=str(log),
        nixos_install=str(STANDINS / "nixos-install"), nixos_enter=str(STANDINS / "nixos-enter"),
    ))


def make_target() -> Path:
    """An install root the stand-in accepts: every parent at least o+rx (pytest's tmp is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="pane-target-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def target():
    path = make_target()
    yield path
    shutil.rmtree(path)


@pytest.fixture
def standin(monkeypatch):
    """Set the stand-in's knobs in the environment the installer passes on."""
    for name in list(os.environ):
        if name.startswith("STANDIN_"):
            monkeypatch.delenv(name)

    def configure(**knobs):
        for name, value in knobs.items():
            monkeypatch.setenv(f"STANDIN_{name}", str(value))

    return configure


def prepare(app) -> None:
    """The answers a person gave before Confirm, and the confirmation itself."""
    session = app.session
    session.model.disk.device = session.machine.offered_disks[0].path
    session.model.users = [User(name="alice", password=PASSWORD, password_confirm=PASSWORD)]
    app.confirmation = session.install.confirm(session.install.confirm_word())
    assert app.confirmation is not None


async def start_install(pilot):
    await wait_ready(pilot)
    prepare(pilot.app)
    pane = InstallScreen()  # kept: a quick install may have put Done on top by the time the pause ends
    pilot.app.push_screen(pane)
    await pilot.pause()
    return pane


def failed(pane) -> bool:
    return bool(pane.query_one("#actions").display)


def text_of(widget) -> str:
    return str(widget.content)


def footer_offers(pane, action: str) -> bool:
    """The footer, as drawn, shows a key for `action`."""
    return any(key.action == action for key in pane.query("FooterKey"))


async def test_pane_streams_a_flood_while_keys_work_and_no_secret_reaches_the_log(target, tmp_path, standin):
    log = tmp_path / "install.log"
    record = tmp_path / "record.jsonl"
    echo = tmp_path / "echo.txt"
    # A program that prints the password it was given (it happens): the pane
    # and the log must show it redacted.
    echo.write_text(f"debug: user alice password {PASSWORD}\n")
    paths = 100_000  # each path is listed, then copied: about 200,000 lines
    # 20,000 item lines a second: the copying alone lasts seconds, keys must get through.
    standin(PATHS=paths, DRVS=3, RATE=20000, ECHO_FILE=echo, RECORD=record)
    app = app_for(pane_session(target, log))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: pane.progress is not None and pane.progress.fetch_done > 0)
        runner = pane.runner
        # Keys are handled while the lines pour in: help opens and closes.
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        assert runner.running
        await pilot.press("escape")
        assert app.screen is pane
        await until(pilot, lambda: showing(app, DoneScreen))
        # The widget keeps the last screenfuls (full: far more lines came), the file every line.
        widget = pane.query_one("#log")
        assert widget.line_count == MAX_LOG_LINES
        assert pane.progress.fetch_done == pane.progress.fetch_total == paths
        summary = text_of(app.screen.query_one("#summary"))
        assert f"Paths fetched: {paths} (" in summary
        hashed = app.session.model.users[0].password_hash
    text = log.read_text()
    assert text.count("copying path '") == paths  # the file keeps every line
    assert "debug: user alice password <redacted>" in text
    shadow = (target / "etc/shadow").read_text()
    assert f"alice:{hashed}:" in shadow  # set, as a hash, through chpasswd -e
    for secret in (PASSWORD, hashed):
        assert secret not in text
        assert secret not in record.read_text()  # the stand-ins' argv and environment
        assert secret not in (target / "var/log/nixos-tui-installer.log").read_text()


async def test_the_status_names_nixos_installs_phase_and_ctrl_c_is_shown_while_it_runs(target, tmp_path, standin):
    log = tmp_path / "install.log"
    standin(PATHS=30, DRVS=0, STALL_AT="copying:12")
    app = app_for(pane_session(target, log))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: pane.progress is not None and pane.progress.fetch_done == 12
                    and "12/30" in pane.status_text)
        assert pane.status_text.startswith("Building the system  12/30 items")
        shown = pane.active_bindings["ctrl+c"].binding
        assert shown.show and shown.description == "Stop"
        await until(pilot, lambda: footer_offers(pane, "stop"))
        await pilot.press("ctrl+c", "y")
        await until(pilot, lambda: failed(pane))
        assert text_of(pane.query_one("#failure")).startswith("nixos-install was stopped while building the system")
        # Stopped: nothing to stop any more, so the footer no longer offers it.
        await until(pilot, lambda: not footer_offers(pane, "stop"))
        binding = pane.active_bindings.get("ctrl+c")
        assert binding is None or not binding.binding.show


async def test_ctrl_c_asks_then_stops_the_process_group(target, tmp_path, standin):
    log = tmp_path / "install.log"
    standin(PATHS=50, HANG=1, SPAWN=1)
    app = app_for(pane_session(target, log))
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
        await until(pilot, lambda: runner.finished and failed(pane))
        assert runner.returncode != 0
        # No process of the group (nor the stand-in's escaped children) is left running.
        assert runner._victims, "the stand-in's children were found and signalled"
        assert not [pid for pid, start in runner._victims.items() if alive(pid, start)]
        failure = text_of(pane.query_one("#failure"))
        assert "nixos-install was stopped while" in failure and str(log) in failure
        assert app.focused.id == "retry"


async def test_failure_says_what_nix_said_offers_every_action_and_retry_completes(target, tmp_path, standin):
    log = tmp_path / "install.log"
    standin(PATHS=20, DRVS=3, FAIL_AT="copying:5", EXIT=7, FAIL_ONCE=1)
    app = app_for(pane_session(target, log))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: failed(pane))
        first = pane.last_runner
        assert first.returncode == 7
        failure = text_of(pane.query_one("#failure"))
        assert failure.startswith("nixos-install exited 7 while building the system: error: unable to download "
                                  "'https://cache.nixos.org/nar/")
        assert str(log) in failure
        assert "[!] Install NixOS" in text_of(pane.query_one("#phases"))
        # The last lines, ending with Nix's error, stay in view once the
        # failure message below the log has taken its rows.
        widget = pane.query_one("#log")
        await until(pilot, lambda: pane.query_one("#failure").region.height > 0
                    and widget.scroll_offset.y == widget.max_scroll_y)
        assert widget.max_scroll_y > 0  # more lines than rows: the end has to be scrolled to
        # As written (the pane wraps what is wider than itself).
        assert list(widget.whole)[-5:] == list(first.tail)[-5:]
        assert widget.whole[-1] == first.progress.last_error
        assert "installation finished!" not in log.read_text()
        # Every action is there and reachable with Tab alone.
        assert app.focused.id == "retry"
        seen = []
        for _ in range(8):
            await pilot.press("tab")
            seen.append(app.focused.id)
            if app.focused.id == "retry":
                break
        assert {"to-review", "shell", "save-log"} <= set(seen) and seen[-1] == "retry"
        for name in ("retry", "to-review", "shell", "save-log"):
            assert pane.query_one(f"#{name}").display and pane.query_one(f"#{name}").region.area
        await pilot.press("enter")  # Retry
        await until(pilot, lambda: showing(app, DoneScreen))
        second = pane.last_runner
        assert second is not first and second.returncode == 0 and second.run_number == 2
        summary = text_of(app.screen.query_one("#summary"))
    p1, p2 = first.progress, second.progress
    assert (p1.fetch_done, p1.fetch_total, p2.fetch_done, p2.fetch_total) == (4, 20, 16, 16)
    assert "Paths fetched: 20, built: 3, in 2 runs of nixos-install" in summary
    assert f"run 1: 4/20 paths fetched ({p1.download_mib:.0f} MiB announced), 0/3 built, exited 7" in summary
    assert f"run 2: 16/16 paths fetched ({p2.download_mib:.0f} MiB announced), 3/3 built, finished" in summary
    # Run 2 announced again what run 1 had not fetched: never added up as "downloaded".
    assert "downloaded" not in summary
    assert "installation finished!" in log.read_text()


async def test_back_to_review_after_a_failure_keeps_the_earlier_runs(target, tmp_path, standin):
    log = tmp_path / "install.log"
    standin(PATHS=20, DRVS=1, FAIL_AT="copying:5", EXIT=7, FAIL_ONCE=1)
    app = app_for(pane_session(target, log))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: failed(pane))
        pane.query_one("#to-review").press()
        await until(pilot, lambda: app.screen is not pane)
        assert app.session.install.resume_phase() == "config"
        # On through Review and Confirm again: a new pane (it may be done before a pause is).
        second_pane = InstallScreen()
        app.push_screen(second_pane)
        await until(pilot, lambda: showing(app, DoneScreen))
        summary = text_of(app.screen.query_one("#summary"))
        assert second_pane.last_runner.run_number == 2
    assert "Paths fetched: 20, built: 1, in 2 runs of nixos-install" in summary
    assert "run 1: 4/20 paths fetched" in summary and "exited 7" in summary
    assert "run 2: 16/16 paths fetched" in summary


async def test_a_question_from_nixos_install_is_shown_and_answered_unseen(target, tmp_path, standin, monkeypatch):
    """Without --no-root-passwd, nixos-install asks for root's password on its
    terminal (the pty): the pane shows the question and sends the answer."""
    log = tmp_path / "install.log"
    standin(PATHS=3, DRVS=0)
    session = pane_session(target, log)
    monkeypatch.setattr(type(session.install), "install_argv",
                        lambda self: [a for a in Install.install_argv(self) if a != "--no-root-passwd"])
    app = app_for(session)
    answer = "Root-Answer-77"
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        bar, field = pane.query_one("#prompt"), pane.query_one("#answer")
        for question in ("New password:", "Retype new password:"):
            # Shown, then focused (focus() takes effect a message later).
            await until(pilot, lambda: bar.display and question in text_of(pane.query_one("#question"))
                        and app.focused is field)
            assert text_of(pane.query_one("#question")) == f"nixos-install asks: {question}"
            assert field.password  # typed unseen
            await pilot.press(*answer, "enter")
            await until(pilot, lambda: not bar.display or question not in text_of(pane.query_one("#question")))
        await until(pilot, lambda: showing(app, DoneScreen))
    text = log.read_text()
    assert "passwd: password updated successfully" in text
    assert answer not in text


async def test_save_log_asks_where_and_writes_a_private_copy(target, tmp_path, standin):
    log = tmp_path / "install.log"
    standin(FAIL_AT="start")
    app = app_for(pane_session(target, log))
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_install(pilot)
        await until(pilot, lambda: failed(pane))
        said = []
        pane.notify = lambda message, **kw: said.append((message, kw.get("severity")))

        async def save_to(where: str):
            pane.query_one("#save-log").press()
            await until(pilot, lambda: showing(app, PathScreen))
            field = app.screen.query_one("#path")
            default = field.value
            field.value = where
            await pilot.press("enter")
            await until(pilot, lambda: len(said) > count)
            return default

        # The default: the installed system's /var/log (it survives the reboot).
        count = 0
        (tmp_path / "usb").mkdir()
        default = await save_to(str(tmp_path / "usb"))
        assert default == str(target / "var/log")
        saved = tmp_path / "usb" / "install.log"
        assert said[-1] == (f"Log saved to {saved}.", None)
        assert saved.read_bytes() == log.read_bytes()
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        # A symlink planted where the copy should go is not followed: said, not written.
        count = len(said)
        (tmp_path / "elsewhere").write_text("untouched")
        (tmp_path / "usb" / "link.log").symlink_to(tmp_path / "elsewhere")
        await save_to(str(tmp_path / "usb" / "link.log"))
        message, severity = said[-1]
        assert severity == "error" and "symbolic link" in message
        assert (tmp_path / "elsewhere").read_text() == "untouched"
        assert app.screen is pane and failed(pane)


# -- quitting while nixos-install runs: in a process of its own, to see it end ------
def quit_while_installing(target: str, log: str) -> None:
    """Run the wizard's pane headless, quit with Ctrl+Q while nixos-install runs."""
    import asyncio

    async def drive():
        app = app_for(pane_session(target, log))
        async with app.run_test(size=SIZE) as pilot:
            pane = await start_install(pilot)
            await until(pilot, lambda: pane.runner is not None and pane.progress.fetch_done == 5)
            await pilot.press("ctrl+q")
            await until(pilot, lambda: showing(app, AskScreen))
            await pilot.press("y")
            print(json.dumps({"quit": True}), flush=True)

    asyncio.run(drive())


def test_quitting_during_nixos_install_ends_the_program_and_its_process_group(target, tmp_path):
    log, record = tmp_path / "install.log", tmp_path / "record.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(STANDIN_PATHS="5", STANDIN_DRVS="0", STANDIN_HANG="1", STANDIN_SPAWN="1", STANDIN_RECORD=str(record))
    code = ("import sys; sys.path.insert(0, 'tests'); import test_screens_install as t; "
            f"t.quit_while_installing({str(target)!r}, {str(log)!r})")
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=90, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"the installer did not end after Quit: {hung.stderr}") from None
    assert done.returncode == 0 and '"quit": true' in done.stdout, done.stderr[-3000:]
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    pids = [entries[0]["pid"], *next(e["children"] for e in entries if "children" in e)]
    for pid in pids:
        assert gone_within(pid), f"process {pid} outlived the installer"



# -- SIGTERM / SIGHUP while nixos-install runs: a real signal from outside ----------
def signalled_while_installing(target: str, log: str) -> None:
    """Run the wizard's pane headless until nixos-install runs, say so, then wait for the app to end."""
    import asyncio

    async def drive():
        app = app_for(pane_session(target, log))
        async with app.run_test(size=SIZE) as pilot:
            pane = await start_install(pilot)
            await until(pilot, lambda: pane.runner is not None and pane.progress.fetch_done == 5)
            print(json.dumps({"running": True}), flush=True)
            await until(pilot, lambda: app.return_value is not None, seconds=60)
        print(json.dumps({"exit": app.return_value}), flush=True)  # what run_wizard returns

    asyncio.run(drive())


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_wizard_and_nixos_installs_whole_family(target, tmp_path, sig):
    import signal

    log, record = tmp_path / "install.log", tmp_path / "record.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(STANDIN_PATHS="5", STANDIN_DRVS="0", STANDIN_HANG="1", STANDIN_SPAWN="1", STANDIN_RECORD=str(record))
    code = ("import sys; sys.path.insert(0, 'tests'); import test_screens_install as t; "
            f"t.signalled_while_installing({str(target)!r}, {str(log)!r})")
    wizard = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert json.loads(wizard.stdout.readline()) == {"running": True}, wizard.stderr.read()[-3000:]
        wizard.send_signal(getattr(signal, sig))
        out, err = wizard.communicate(timeout=90)
    finally:
        if wizard.poll() is None:
            wizard.kill()
    assert wizard.returncode == 0 and json.loads(out.splitlines()[-1]) == {"exit": 1}, err[-3000:]
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    pids = [entries[0]["pid"], *next(e["children"] for e in entries if "children" in e)]
    for pid in pids:
        assert gone_within(pid), f"process {pid} outlived the installer's {sig}"
    text = log.read_text()
    assert f"{sig}: the installer stops" in text
    assert f"{sig}: stopped nixos-install and everything it started; the installer exits" in text
    assert "=== run 1 exited with code" in text
