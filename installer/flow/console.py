"""The console the installer runs on: the keymap, and handing the terminal to
a partitioner, a shell or a reboot. Real mode only; a dry run says what it
would run (DryRun) and opens nothing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from installer.flow import DryRun

if TYPE_CHECKING:
    from installer.flow.session import Session

# Hands the terminal to a child program and takes it back (the wizard's
# App.suspend); the unattended CLI owns the terminal already.
Handover = Callable[[], AbstractContextManager[object]]
PARTITIONERS = ("cfdisk", "gdisk", "fdisk", "parted")


class Console:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.loaded_keymap = ""  # what loadkeys last loaded on this console

    def apply_keymap(self, name: str) -> str:
        """Load the console keymap now, so passwords typed later use it; "" when
        it is loaded. The one loaded last is not loaded again; a failed one is
        tried again next time."""
        if name == self.loaded_keymap:
            return ""
        if not self.session.options.real:
            self.loaded_keymap = name
            return f"[dry-run] would run: loadkeys {name}"
        if shutil.which("loadkeys") is None:
            return "loadkeys is not available; the keymap applies after install"
        done = subprocess.run(["loadkeys", name], capture_output=True, text=True)
        if done.returncode:
            return done.stderr.strip() or f"loadkeys {name} failed"
        self.loaded_keymap = name
        return ""

    def run_partitioner(self, tool: str, disk_path: str, handover: Handover = nullcontext) -> int:
        """Hand the terminal to cfdisk/gdisk on the disk; the caller re-probes after.
        A dry run opens nothing: it raises DryRun before taking the terminal."""
        if tool not in PARTITIONERS:
            raise ValueError(f"unknown partitioner {tool}")
        argv = [tool, disk_path]
        if not self.session.options.real:
            raise DryRun(f"[dry-run] would run: {shlex.join(argv)} (nothing was opened)")
        return _handed_over(handover, argv)

    def disk_shell(self, handover: Handover = nullcontext) -> int:
        """A shell to partition, format and mount by hand at the target (the
        "use what is mounted" layout); the caller re-probes after. A dry run
        opens nothing: it raises DryRun before taking the terminal."""
        target = self.session.options.target
        argv = [os.environ.get("SHELL") or "/bin/sh"]
        if not self.session.options.real:
            raise DryRun(f"[dry-run] would open a shell ({argv[0]}) to prepare {target} (nothing was opened)")
        banner = (f"Partition, format and mount the new system at {target} (e.g. cfdisk, mkfs.ext4, "
                  f"mount /dev/sdX2 {target}); type 'exit' to go back to the installer.")
        return _handed_over(handover, argv, cwd=target if os.path.isdir(target) else None, banner=banner)

    def reboot(self) -> str:
        """Restart into the new system (real mode); call after the wizard has exited."""
        if not self.session.options.real:
            return "[dry-run] would reboot"
        done = subprocess.run(["systemctl", "reboot"], capture_output=True, text=True)
        return done.stderr.strip() if done.returncode else ""

    def shell(self) -> int:
        """An interactive shell: inside the target once it is installed."""
        options = self.session.options
        installed = (Path(options.target) / "etc/NIXOS").exists()
        if installed and options.real:
            argv = [options.nixos_enter, "--root", options.target]
        else:
            argv = [os.environ.get("SHELL", "/bin/sh")]
        return subprocess.call(argv, cwd=options.target if os.path.isdir(options.target) else None)


def _handed_over(handover: Handover, argv: list[str], cwd: str | None = None, banner: str = "") -> int:
    """Run `argv` on the terminal `handover` lends. A failure to start is raised
    only after the terminal is given back (a raise inside the wizard's
    suspend would leave the app's screen switched off)."""
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(f"{argv[0]} is not installed")
    failed: OSError | None = None
    with handover():
        if banner:
            print(banner, flush=True)
        try:
            code = subprocess.call(argv, cwd=cwd)
        except OSError as err:
            failed = err
    if failed is not None:
        raise failed
    return code
