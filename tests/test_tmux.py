"""The wizard in a real terminal: tmux, TERM=linux, 80x25, keys only.

Drives the installed console script in dry-run on a recorded machine
through every step (and the Help and Quit dialogs), reads the screen with
`capture-pane`, quits with Ctrl+Q, and checks the exit code and that the
terminal was given back (no alternate screen left on, cursor visible).
Every screen read must hold only characters the console font draws
(tests/fixtures/console-font/cp437.uni).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import localnet
import pytest
from consolefont import unsafe
from test_screens_support import MACHINE_FILE, ROOT

SCRIPT = ROOT / ".venv" / "bin" / "nixos-tui-installer"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"wizard-{uuid.uuid4().hex[:8]}"
        self.screens_read = 0

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
                shown = self.screen()
                assert not unsafe(shown), (texts, unsafe(shown), shown)
                self.screens_read += 1
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


# Escape sequences (CSI, OSC, and the two-byte ones): what is left of the
# program's output is the text it drew.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[^\[\]()]")


def drawn(stream: Path) -> str:
    """Every character the program wrote to the terminal, escape sequences and
    controls taken out: frames capture-pane never saw (a dry run's Install
    step can last less than one poll) are in it too."""
    text = ESCAPES.sub("", stream.read_bytes().decode("utf-8", errors="replace"))
    return "".join(c for c in text if c == "\n" or c >= " " and c != "\x7f")


def network_args(tmp_path: Path, online: bool = True) -> str:
    """The run's network: the nmcli stand-in's laptop (Wi-Fi in range, no cable) and a
    binary cache on 127.0.0.1 (online: the Network step is skipped) or none (offline)."""
    conf = tmp_path / "nix.conf"
    conf.write_text(f"substituters = {localnet.cache_url() if online else localnet.NOWHERE}\n")
    nmcli = localnet.nmcli(tmp_path / "nm.json")
    return f"--nix-conf {conf} --nmcli '{nmcli}'"


def start(tmux, tmp_path, machine=MACHINE_FILE, online: bool = True) -> Path:
    """The installed program in dry-run on `machine`, in an 80x25 TERM=linux window;
    the file that receives everything it writes to the terminal."""
    program = str(SCRIPT) if SCRIPT.exists() else f"{ROOT}/.venv/bin/python -m installer"
    log = tmp_path / "install.log"
    stream, go = tmp_path / "terminal.out", tmp_path / "go"
    # The program waits until tmux copies the pane's output to `stream`.
    command = (
        f"while [ ! -e {go} ]; do sleep 0.05; done; "
        # PYTHONPATH: this checkout's code, not whichever one the venv's editable install names.
        f"cd {ROOT} && env TERM=linux TEXTUAL_COLOR_SYSTEM=standard PYTHONPATH={ROOT} {program} --dry-run "
        f"--machine {machine} --seed 7 --log {log} {network_args(tmp_path, online)}; echo EXIT=$?; sleep 600"
    )
    # Not COLUMNS/LINES either (pytest-xdist's workers set 80x24): the program
    # would take them for the terminal's size and never see a resize.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX") and k not in ("COLUMNS", "LINES")}
    subprocess.run(["tmux", "-L", tmux.socket, "new-session", "-d", "-x", "80", "-y", "25", "-s", "w", command],
                   check=True, env=env, timeout=20)
    tmux("pipe-pane", "-t", "w", "-o", f"cat >> {stream}")
    go.touch()
    return stream


def fill_first_user(tmux) -> None:
    """From the hostname field: the first user (Alice, password "wonderland"), then on to Software."""
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
    tmux.wait_for("7/10 Software")


def test_wizard_in_tmux_through_every_step_in_console_glyphs(tmux, tmp_path):
    stream = start(tmux, tmp_path, online=False)
    tmux.wait_for("1/10 Welcome", "Found 1 disk", "Not online", "The next step gets you online.")
    assert tmux("display", "-p", "-t", "w", "#{alternate_on}").strip() == "1"
    tmux.keys("Enter")  # the firmware choice is the step's only field: Enter is Next
    # Offline, Wi-Fi in range: pick the strongest network, type its password (masked), join.
    shown = tmux.wait_for("2/10 Network", "Not online: the name cache.invalid does not resolve", "Home:5G", "Neighbour")
    assert "\u2588\u2588\u2588\u2588  WPA2" in shown and "open" in shown
    tmux.keys("Enter")
    tmux.type("correct horse")
    tmux.wait_for(" " + "*" * 13 + " ")
    tmux.keys("Enter")
    shown = tmux.wait_for("[dry-run] would join the Wi-Fi network 'Home:5G'; nothing was joined.",
                          "Dry run: 'Home:5G' was not joined, so whether the binary cache would answer is")
    assert "correct horse" not in shown
    tmux.keys("F10")
    tmux.wait_for("3/10 Keyboard")
    tmux.keys("F10")
    shown = tmux.wait_for("4/10 Disk", "sda")
    # The refused DVD drive is on screen with its reason, the disk on one row.
    assert "sr0" in shown and "not offered: optical drive" in shown
    assert any(line.lstrip().startswith("sda") and "GiB" in line for line in shown.splitlines())
    tmux.keys("F10")
    tmux.wait_for("5/10 Encryption")
    tmux.keys("Enter")  # encryption stays off (Space would toggle it): Enter is Next
    tmux.wait_for("6/10 System", "Full name")
    time.sleep(1)  # the step focuses its first field once mounted
    tmux.keys("C-u")
    tmux.type("tmuxbox")
    tmux.wait_for(" tmuxbox ")
    fill_first_user(tmux)
    tmux.keys("F10")
    shown = tmux.wait_for("8/10 Review", "Hostname: tmuxbox", "/dev/sda", "Users: alice")
    assert "Erase" in shown
    tmux.keys("F1")
    tmux.wait_for("Press Esc to close")
    tmux.keys("Escape")
    tmux.keys("F10")
    tmux.wait_for("9/10 Confirm", "type its name 'sda'")
    tmux.type("sda")
    tmux.keys("Enter")
    # A dry run's Install step may be gone before a capture sees it: it is
    # checked in the terminal's whole output below.
    tmux.wait_for("Done", "dry run: nothing was installed", timeout=90)
    tmux.keys("Tab")  # from Quit (a dry run offers no Reboot) round to View log
    tmux.keys("Enter")
    tmux.wait_for("(Esc closes)")
    tmux.keys("Escape")
    tmux.keys("C-q")
    tmux.wait_for("Quit the installer?")
    tmux.keys("y")
    after = tmux.wait_for("EXIT=", timeout=30)
    # Every read screen was checked for glyphs the console font lacks (wait_for).
    assert tmux.screens_read >= 16
    assert "EXIT=0" in after
    # And every character it ever drew, every frame of every step.
    everything = drawn(stream)
    for step in ("1/10 Welcome", "2/10 Network", "6/10 System", "8/10 Review", "9/10 Confirm", "10/10 Install",
                 "Quit the installer?"):
        assert step in everything
    assert "correct horse" not in everything  # the Wi-Fi password was only ever drawn masked
    assert not unsafe(everything), unsafe(everything)
    assert tmux("display", "-p", "-t", "w", "#{alternate_on}").strip() == "0"
    assert tmux("display", "-p", "-t", "w", "#{cursor_flag}").strip() == "1"


def test_no_usable_disk_and_a_resized_terminal_in_tmux(tmux, tmp_path):
    """On a machine with no usable disk the Disk step says so with each whole
    reason; shrinking the window puts the too-small banner on the step, and
    growing it back cuts the disk rows to the new width."""
    start(tmux, tmp_path, ROOT / "tests/fixtures/machines/no-usable-disk.json")
    tmux.wait_for("1/10 Welcome", "Found 0 disk")
    tmux.keys("Enter")
    tmux.wait_for("3/10 Keyboard")
    tmux.keys("F10")
    shown = tmux.wait_for("4/10 Disk", "No disk on this machine can take NixOS:", "Rescan")
    flat = " ".join(shown.split())
    assert "loop0 (64 GiB): loop device (an image file); start with --allow-loop to install into it" in flat
    assert "sda (8 GiB): too small: 8 GiB, needs at least 10 GiB" in flat
    assert all(len(line) <= 80 for line in shown.splitlines())
    tmux("resize-window", "-t", "w", "-x", "70", "-y", "20")
    shown = tmux.wait_for("The terminal is 70x20")
    assert "4/10 Disk" in shown.splitlines()[0]
    tmux("resize-window", "-t", "w", "-x", "120", "-y", "30")
    shown = tmux.wait_for("not offered: too small: 8 GiB, needs at least 10 GiB")
    assert "The terminal is" not in shown
    tmux("resize-window", "-t", "w", "-x", "80", "-y", "25")
    shown = tmux.wait_for("not offered: too small: 8...")
    tmux.keys("C-q")
    tmux.wait_for("Quit the installer?")
    tmux.keys("y")
    assert "EXIT=0" in tmux.wait_for("EXIT=", timeout=30)


# The recorded machine's partitions with the recording's own smallest sizes (probert's
# ESTIMATED_MIN_SIZE), set on them directly as the other tests do: the program itself,
# started through this launcher, is otherwise the installed one.
WITH_MIN_SIZES = '''
import json
import os
import sys

sys.path.insert(0, os.getcwd())  # the checkout's code (started in it), not an installed copy
import installer.machine.probe as probed

recorded_probe = probed.probe


def probe(machine_file=None, **options):
    machine = recorded_probe(machine_file, **options)
    with open(machine_file, encoding="utf-8") as record:
        sizes = json.load(record)["storage"]["filesystem"]
    for disk in machine.disks:
        for part in disk.partitions:
            part.min_size = max(0, int((sizes.get(part.path) or {}).get("ESTIMATED_MIN_SIZE", -1)))
    return machine


probed.probe = probe
from installer.cli import main

sys.exit(main(sys.argv[1:]))
'''


def test_an_alongside_install_in_tmux_shrinks_ubuntu_beside_windows(tmux, tmp_path):
    """A dry run of NixOS installed alongside Ubuntu on the Windows + Ubuntu machine at
    80x25: the Disk step lists the ways with the reasons for the others, shows the disk
    today and after, takes NixOS's share in its range; Confirm asks for sda5's name."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(WITH_MIN_SIZES)
    log = tmp_path / "install.log"
    command = (f"cd {ROOT} && env TERM=linux TEXTUAL_COLOR_SYSTEM=standard {ROOT}/.venv/bin/python {launcher} "
               f"--dry-run --machine {MACHINE_FILE} --seed 7 --log {log} {network_args(tmp_path)}; "
               "echo EXIT=$?; sleep 600")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX") and k not in ("COLUMNS", "LINES")}
    subprocess.run(["tmux", "-L", tmux.socket, "new-session", "-d", "-x", "80", "-y", "25", "-s", "w", command],
                   check=True, env=env, timeout=20)
    tmux.wait_for("1/10 Welcome", "Found 1 disk")
    tmux.keys("Enter")
    tmux.wait_for("3/10 Keyboard")
    tmux.keys("F10")
    shown = tmux.wait_for("4/10 Disk", "How NixOS goes onto sda:", "Shrink sda5")
    assert "sr0" in shown and "not offered: optical drive" in shown
    assert "Not offered: shrink sda3 Windows (BitLocker-encrypted)" in shown  # no resize tool reads BitLocker
    tmux.keys("Tab", "Down", "Down", "Down")  # the ways: erase, replace sda5, replace sda3, shrink sda5
    shown = tmux.wait_for("sda5 Ubuntu Plucky Puffin (ext4) 65 GiB -> 14 GiB | NixOS 50 GiB", "Today", "After")
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "sr0" in shown and "4/10 Disk" in shown.splitlines()[0]
    tmux.keys(*["Tab"] * 7)  # past the tools and the filesystem and swap choices, to NixOS's share
    tmux.wait_for("NixOS's share in GiB, between 10 and 50 GiB (0: all of it)")
    tmux.keys("C-u")
    tmux.type("30")
    tmux.wait_for("Install NixOS into 30 GiB")
    tmux.keys("F10")
    tmux.wait_for("5/10 Encryption")
    tmux.keys("Enter")
    tmux.wait_for("6/10 System", "Full name")
    time.sleep(1)
    fill_first_user(tmux)
    tmux.keys("F10")
    tmux.wait_for("8/10 Review", "Shrink /dev/sda5")
    tmux.keys("F10")
    shown = tmux.wait_for("9/10 Confirm", "type 'sda5'")
    assert "Keep /dev/sda3: Windows (BitLocker-encrypted, 62 GiB)" in shown
    tmux.type("sda")
    tmux.keys("Enter")
    tmux.wait_for("Type exactly 'sda5'")
    tmux.type("5")
    tmux.keys("Enter")
    tmux.wait_for("Done", "dry run: nothing was installed", timeout=90)
    tmux.keys("C-q")
    tmux.wait_for("Quit the installer?")
    tmux.keys("y")
    assert "EXIT=0" in tmux.wait_for("EXIT=", timeout=30)


def test_an_edit_kept_after_choosing_another_disk_is_stopped_at_confirm_in_tmux(tmux, tmp_path):
    """Issue 22: edit configuration.nix at Review so that it names the disk
    (sda), go back to the Disk step with Esc, choose vda, keep the edit when
    asked: Confirm names the line and the old disk, and offers no word to type.
    Esc inside the editor leaves the editor, not the step."""
    start(tmux, tmp_path, ROOT / "tests/fixtures/machines/many-nics-and-disks.json")
    tmux.wait_for("1/10 Welcome")
    tmux.keys("Enter")
    tmux.wait_for("3/10 Keyboard")
    tmux.keys("F10")
    tmux.wait_for("4/10 Disk", "How NixOS goes onto sda:")
    tmux.keys("F10")
    tmux.wait_for("5/10 Encryption")
    tmux.keys("Enter")
    tmux.wait_for("6/10 System", "Full name")
    time.sleep(1)
    tmux.keys("C-u")
    tmux.type("tmuxbox")
    tmux.keys("Tab", "Tab")
    tmux.type("Alice Liddell")
    tmux.keys("Tab", "Tab")
    tmux.type("wonderland")
    tmux.keys("Tab")
    tmux.type("wonderland")
    tmux.wait_for(" " + "*" * 10 + " " * 28 + "*" * 10)
    tmux.keys("F10")
    tmux.wait_for("7/10 Software")
    tmux.keys("F10")
    tmux.wait_for("8/10 Review", "Erase QEMU HARDDISK (/dev/sda)", "could not be checked")
    tmux.keys("Tab", "Tab", "Tab")  # Next, then the page, the file tabs, the editor
    tmux.wait_for("Esc Leave editor")
    tmux.type('let disk = "/dev/sda"; in ')
    tmux.wait_for('1  let disk = "/dev/sda"; in')
    tmux.keys("F10")
    tmux.wait_for("9/10 Confirm", "type its name 'sda'")
    tmux.keys("Escape")
    tmux.wait_for("8/10 Review", "Esc Leave editor")  # back in the editor, where the person left
    tmux.keys("Escape")
    shown = tmux.wait_for("8/10 Review", "Esc Back")  # Esc left the editor, not the step
    tmux.keys("Escape")
    tmux.wait_for("7/10 Software")
    tmux.keys("Escape")
    tmux.wait_for("6/10 System")
    tmux.keys("Escape")
    tmux.wait_for("5/10 Encryption")
    tmux.keys("Escape")
    tmux.wait_for("4/10 Disk", "How NixOS goes onto sda:")
    tmux.keys("Down")
    tmux.wait_for("How NixOS goes onto vda:")
    tmux.keys("F10")
    tmux.wait_for("5/10 Encryption")
    tmux.keys("Enter")
    tmux.wait_for("6/10 System")
    tmux.keys("F10")
    tmux.wait_for("7/10 Software")
    tmux.keys("F10")
    shown = tmux.wait_for("configuration.nix changed under your edit", 'boot.loader.grub.device = "/dev/vda";')
    tmux.keys("k")
    tmux.wait_for("8/10 Review", "Erase /dev/vda")
    tmux.keys("F10")
    shown = tmux.wait_for("9/10 Confirm", "Go back and fix the problems above first.")
    flat = " ".join(shown.split())
    assert "configuration.nix line 1 names /dev/sda, which this install does not set up (it installs to /dev/vda)" \
        in flat, shown
    assert "type its name" not in shown
    tmux.type("vda")
    tmux.keys("Enter")
    time.sleep(1)
    assert "9/10 Confirm" in tmux.screen()  # no install started
    tmux.keys("C-q")
    tmux.wait_for("Quit the installer?")
    tmux.keys("y")
    assert "EXIT=0" in tmux.wait_for("EXIT=", timeout=30)
