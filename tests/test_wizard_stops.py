"""The wizard stops whatever its log or terminal does (issue 21, item 6): an
unwritable --log is refused before the wizard starts, SIGTERM ends it although
the log on a full filesystem raises on every line, and a wizard whose terminal
went away exits instead of running on as an orphan."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopdev import ROOT_MARKS, run

from installer import cli

pytestmark = ROOT_MARKS
ROOT = Path(__file__).resolve().parent.parent
MACHINE = ROOT / "tests/fixtures/machines/win11-along-ubuntu.json"


@pytest.fixture
def tmpfs(tmp_path):
    where = tmp_path / "fs"
    where.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where))
    try:
        yield where
    finally:
        run("umount", "-l", str(where), check=False)


@pytest.mark.parametrize("existing", [False, True])
def test_the_wizard_refuses_a_log_on_a_read_only_tmpfs_before_it_starts(tmpfs, monkeypatch, capsys, existing):
    log = tmpfs / "install.log"
    if existing:
        log.write_text("an earlier run\n")
    run("mount", "-o", "remount,ro", str(tmpfs))
    started = []
    monkeypatch.setattr("screens.app.run_wizard", lambda session: started.append(session) or 0)
    code = cli.main(["--machine", str(MACHINE), "--dry-run", "--log", str(log)])
    assert (code, started) == (cli.EXIT_INVALID, [])
    assert f"--log: cannot write {log}: it is on a read-only filesystem" in capsys.readouterr().err


def signalled_with_a_full_log(log: str) -> None:
    """Run the wizard headless, say so, then wait for the app to end (the test's subprocess)."""
    import asyncio

    from test_screens_support import app_for, until, wait_ready

    async def drive():
        app = app_for(log_path=log)
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_ready(pilot)
            app.session.log().line("the log works until the filesystem is full")
            print(json.dumps({"ready": True}), flush=True)
            await until(pilot, lambda: app.return_value is not None, seconds=30)
        print(json.dumps({"exit": app.return_value}), flush=True)

    asyncio.run(drive())


def test_sigterm_ends_the_wizard_although_the_log_cannot_be_written(tmpfs):
    log = tmpfs / "install.log"
    code = ("import sys; sys.path.insert(0, 'tests'); import test_wizard_stops as t; "
            f"t.signalled_with_a_full_log({str(log)!r})")
    wizard = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert json.loads(wizard.stdout.readline()) == {"ready": True}, wizard.stderr.read()[-3000:]
        subprocess.run(["dd", "if=/dev/zero", f"of={tmpfs / 'filler'}", "bs=64k"], capture_output=True)
        # the log's own last page too, so that its next line raises ENOSPC
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"#" * 512)
        finally:
            os.close(fd)
        wizard.send_signal(signal.SIGTERM)
        out, err = wizard.communicate(timeout=60)
    finally:
        if wizard.poll() is None:
            wizard.kill()
            wizard.wait()
    lines = out.splitlines()  # none past "ready" when the app never exited (its wait failed)
    assert lines and json.loads(lines[-1]) == {"exit": 1}, err[-3000:]


def test_a_wizard_whose_terminal_hangs_up_exits(tmp_path):
    """The pty is not the wizard's controlling terminal, so closing it sends no
    SIGHUP: only the EIO its terminal gives from then on says it is gone."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = dict(os.environ, TERM="linux")
    wizard = subprocess.Popen(
        [sys.executable, "-m", "installer", "--machine", str(MACHINE), "--dry-run", "--log", str(tmp_path / "w.log")],
        cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        drawn = b""
        deadline = time.monotonic() + 60
        while b"NixOS" not in drawn:  # the first screen is up
            assert wizard.poll() is None and time.monotonic() < deadline, drawn[-2000:]
            try:
                drawn += os.read(master, 65536)
            except BlockingIOError:
                time.sleep(0.1)
        os.close(master)  # the terminal is gone
        master = -1
        wizard.wait(timeout=20)
    finally:
        if master >= 0:
            os.close(master)
        if wizard.poll() is None:
            wizard.kill()
            wizard.wait()
            pytest.fail("the wizard kept running after its terminal hung up")
