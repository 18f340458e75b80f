#!/usr/bin/env python3
"""Figure 3, install overhead: what the installer adds to nixos-install's own time.

An unattended run (`python -m installer --answers A --yes ...`) with the
"premounted" layout: an ext4 partition on a loop device (a sparse file in
/var/tmp) is mounted at a fresh target, the firmware is BIOS (this kernel
cannot mount the vfat an ESP needs), so nothing is partitioned. The
nixos-install stand-in prints ~20,000 lines paced by STANDIN_RATE to take
a fixed ~5 s. The floor is the same stand-in alone, same settings, same
target. The whole CLI is timed: start-up, live probe, validation, password
hashing, config writing, the pty, nixos-enter for the passwords, the log
copy. Needs root (losetup, mount). Both runs find this Python's own
directory first in PATH (common.standin_env), so the stand-ins' start-up is
not a version manager's shim.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, STANDINS, Row, args, emit, median, run_child, standin_env  # noqa: E402

GOAL = 1.03
ANSWERS = """\
[system]
hostname = "bench"
timezone = "UTC"
[boot]
firmware = "bios"
[disk]
layout = "premounted"
swap = "none"
[[users]]
name = "alice"
description = "Alice"
password = "correct horse battery staple"
[root]
disabled = true
"""


def sh(*argv: str) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


class Premounted:
    """A sparse image on a loop device, one ext4 partition, mounted at a fresh 0755 target."""

    def __enter__(self) -> Premounted:
        if os.geteuid() != 0:
            raise SystemExit("install_overhead needs root (losetup, mkfs, mount)")
        self.work = Path(tempfile.mkdtemp(prefix="nti-bench-", dir="/var/tmp"))
        self.work.chmod(0o755)
        self.image = self.work / "disk.img"
        self.target = self.work / "target"
        self.target.mkdir(mode=0o755)
        self.device = ""
        with open(self.image, "wb") as f:
            f.truncate(12 * 1024**3)  # the probe refuses disks under 10 GiB
        try:
            # One MBR partition (the premounted layout names filesystems by UUID,
            # which a filesystem on a whole disk does not get; BIOS GRUB on MBR
            # needs no BIOS boot partition).
            subprocess.run(["sfdisk", "-q", str(self.image)], input="label: dos\n,,83\n", text=True,
                           capture_output=True, check=True)
            self.device = sh("losetup", "-fP", "--show", str(self.image))
            # Not every kernel scans the table on attach: ask for it, as tests/loopdev's users do.
            subprocess.run(["partx", "-u", self.device], capture_output=True)
            partition = self.device + "p1"
            for _ in range(100):  # the kernel makes the node; udev may still be naming it
                if os.path.exists(partition):
                    break
                time.sleep(0.05)
            sh("mkfs.ext4", "-q", "-F", "-L", "nixos", partition)
            sh("mount", partition, str(self.target))
            self.target.chmod(0o755)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def clean(self) -> None:
        """Empty the target between runs: the stand-in resumes from its store state like Nix."""
        for entry in self.target.iterdir():
            if entry.name == "lost+found":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def __exit__(self, *exc) -> None:
        subprocess.run(["umount", "-l", str(self.target)], capture_output=True)
        if self.device:
            subprocess.run(["losetup", "-d", self.device], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


def measure(paths: int, rate: float, runs: int) -> list[Row]:
    env = standin_env(PATHS=paths, DRVS=0, RATE=rate)
    ours, floor = [], []
    with Premounted() as disk:
        answers = disk.work / "answers.toml"
        answers.write_text(ANSWERS)
        log = disk.work / "install.log"
        installer = [PY, "-m", "installer", "--answers", str(answers), "--yes", "--allow-loop",
                     "--target", str(disk.target), "--log", str(log),
                     "--nixos-install", str(STANDINS / "nixos-install"),
                     "--nixos-enter", str(STANDINS / "nixos-enter")]
        alone = [str(STANDINS / "nixos-install"), "--root", str(disk.target), "--no-root-passwd"]
        for _ in range(runs):
            disk.clean()
            done = run_child(installer, env=env, stdout=subprocess.DEVNULL)
            if done.returncode != 0 or not (disk.target / "etc/shadow").exists():
                raise SystemExit(f"the unattended install failed ({done.returncode}): {done.stderr[-3000:]}")
            ours.append(done.wall)
            disk.clean()
            (disk.target / "etc/nixos").mkdir(parents=True)
            (disk.target / "etc/nixos/configuration.nix").write_text("{ ... }: { }\n")
            done = run_child(alone, env=env, stdout=subprocess.DEVNULL)
            if done.returncode != 0:
                raise SystemExit(f"the stand-in alone failed: {done.stderr[-2000:]}")
            floor.append(done.wall)
            log.unlink(missing_ok=True)
    o, f = median(ours), median(floor)
    return [Row("3. unattended install wall time", o, f, "s", f"ratio <= {GOAL}", o / f <= GOAL,
                note=f"{2 * paths:,} stand-in lines at {rate:g} items/s; median of {runs}; "
                     f"added {1000 * (o - f):.0f} ms (runs: ours {', '.join(f'{x:.2f}' for x in ours)}; "
                     f"floor {', '.join(f'{x:.2f}' for x in floor)})")]


def main() -> None:
    a = args(__doc__)
    if a.tiny:
        rows = measure(paths=100, rate=400, runs=1)
    else:
        rows = measure(paths=10_000, rate=2_000, runs=3)
    emit(rows, a.json)


if __name__ == "__main__":
    main()
