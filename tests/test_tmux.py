"""The wizard in a real terminal: tmux, TERM=linux, 80x25, keys only.

Drives the installed console script in dry-run on a recorded machine to the
review screen, reads the screen with `capture-pane`, quits with Ctrl+Q, and
checks the exit code and that the terminal was given back (no alternate
screen left on, cursor visible).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest
from test_screens_support import MACHINE_FILE, ROOT

SCRIPT = ROOT / ".venv" / "bin" / "nixos-tui-installer"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"wizard-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "w")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(t in shown for t in texts):
                time.sleep(0.5)  # the step focuses its first field once mounted
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{texts} not on screen:\n{shown}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "w", key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        self("send-keys", "-t", "w", "-l", text)
        time.sleep(0.3)


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True)


def test_wizard_in_tmux_to_review_and_quit(tmux, tmp_path):
    program = str(SCRIPT) if SCRIPT.exists() else f"{ROOT}/.venv/bin/python -m installer"
    log = tmp_path / "install.log"
    command = (
        f"cd {ROOT} && env TERM=linux TEXTUAL_COLOR_SYSTEM=standard {program} --dry-run "
        f"--machine {MACHINE_FILE} --seed 7 --log {log}; echo EXIT=$?; sleep 600"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    subprocess.run(["tmux", "-L", tmux.socket, "new-session", "-d", "-x", "80", "-y", "25", "-s", "w", command],
                   check=True, env=env, timeout=20)
    tmux.wait_for("1/9 Welcome", "Found 1 disk")
    assert tmux("display", "-p", "-t", "w", "#{alternate_on}").strip() == "1"
    tmux.keys("Enter")  # the firmware choice is the step's only field: Enter is Next
    tmux.wait_for("2/9 Keyboard")
    tmux.keys("F10")
    shown = tmux.wait_for("3/9 Disk", "sda")
    # The refused DVD drive is on screen with its reason, the disk on one row.
    assert "sr0" in shown and "not offered: optical drive" in shown
    assert any(line.lstrip().startswith("sda") and "GiB" in line for line in shown.splitlines())
    tmux.keys("F10")
    tmux.wait_for("4/9 Encryption")
    tmux.keys("Enter")  # encryption stays off (Space would toggle it): Enter is Next
    tmux.wait_for("5/9 System", "Full name")
    time.sleep(1)  # the step focuses its first field once mounted
    tmux.keys("C-u")
    tmux.type("tmuxbox")
    tmux.wait_for(" tmuxbox ")
    tmux.keys("Tab", "Tab")
    tmux.type("Alice Liddell")
    tmux.wait_for("Alice Liddell", " alice")
    tmux.keys("Tab", "Tab")
    tmux.type("wonderland")
    tmux.wait_for("*" * 10)
    tmux.keys("Tab")
    tmux.type("wonderland")
    tmux.wait_for(" " + "*" * 10 + " " * 28 + "*" * 10)
    tmux.keys("F10")
    tmux.wait_for("6/9 Software")
    tmux.keys("F10")
    shown = tmux.wait_for("7/9 Review", "Hostname: tmuxbox", "/dev/sda", "Users: alice")
    assert "Erase" in shown
    # Only console-safe glyphs reached the terminal.
    odd = {c for c in shown if not (c == "\n" or 0x20 <= ord(c) <= 0x7E or 0xA0 <= ord(c) <= 0xFF
                                    or 0x2500 <= ord(c) <= 0x259F)}
    assert not odd, odd
    tmux.keys("C-q")
    tmux.wait_for("Quit the installer?")
    tmux.keys("y")
    after = tmux.wait_for("EXIT=", timeout=30)
    assert "EXIT=0" in after
    assert tmux("display", "-p", "-t", "w", "#{alternate_on}").strip() == "0"
    assert tmux("display", "-p", "-t", "w", "#{cursor_flag}").strip() == "1"
