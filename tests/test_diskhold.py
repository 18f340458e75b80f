"""The disk phase's grip on the disk, on real loop devices (issue 21, items 1, 2, 7):

- a partition busy where /proc/self/mountinfo cannot see it (mounted in another
  mount namespace; lazily unmounted with a file open) is refused before the
  first write, named, with where it is mounted;
- a different image attached at the same /dev/loopN during the disk phase is
  never written: the held disk keeps the loop device bound, and where a hold
  cannot keep a device (a USB disk that re-enumerates), the check before each
  step stops the run;
- a disk tool dies with a killed installer, and a rerun is refused while a tool
  still holds the disk.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer.answers.model import GIB, MIB, InstallModel
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.plan.types import Plan
from installer.run import diskhold
from installer.run.executor import Confirmation, Refused, execute, undo
from loopdev import ROOT_MARKS, blkid, image_digest, loop_device, machine_with_mounts, run

pytestmark = ROOT_MARKS
WORKTREE = Path(__file__).resolve().parent.parent


def plan_for(device: str, target: str, firmware: str = "bios") -> Plan:
    m = InstallModel()
    m.boot.firmware = firmware
    m.disk.device = device
    m.disk.filesystem = "ext4"
    m.disk.swap = "none"
    return build_plan(m, machine_with_mounts(device, target, firmware), Identity.generate(None), target=target)


def two_filesystems(device: str) -> None:
    """p1 and p2, each with an ext4 (fully initialised: no lazy writes after mounting)."""
    run("sgdisk", "-n", "1:1M:+100M", "-n", "2:0:+100M", device)
    run("partx", "-u", device, check=False)
    for node in (f"{device}p1", f"{device}p2"):
        run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", node)


P2 = (101 * MIB, 201 * MIB)  # a mounted p2 may write its own superblock; all else must stay


@pytest.fixture
def disk(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=12 * GIB, target=str(target)) as (device, image):
        yield device, image, str(target)


def _execute(plan: Plan, target: str, lines: list[str]) -> None:
    execute(plan, target=target, secrets={}, confirmation=Confirmation.for_plan(plan), log=lines.append)


@contextlib.contextmanager
def mounted_elsewhere(partition: str, where: Path) -> Iterator[None]:
    """`partition` mounted at `where` in a mount namespace of its own, which
    /proc/self/mountinfo never shows, for as long as the block runs."""
    where.mkdir()
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount {partition} {where} && echo ready && exec sleep 60"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_a_partition_mounted_in_another_mount_namespace_is_refused_and_nothing_wiped(disk, tmp_path):
    device, image, target = disk
    two_filesystems(device)
    elsewhere = tmp_path / "elsewhere"
    with mounted_elsewhere(f"{device}p2", elsewhere):
        assert str(elsewhere) not in Path("/proc/self/mountinfo").read_text()  # invisible from here
        plan = plan_for(device, target)
        assert plan.steps[0].argv[:2] == ("wipefs", "-a") and f"{device}p1" in plan.steps[0].argv
        before = image_digest(image, leave_out=P2)
        lines: list[str] = []
        with pytest.raises(Refused, match=rf"{device}p2 is mounted at {elsewhere} in the mount namespace of process \d+"):
            _execute(plan, target, lines)
        assert lines == []
        assert image_digest(image, leave_out=P2) == before
        assert blkid(f"{device}p1").get("TYPE") == "ext4"  # the first wipefs never ran


def test_a_lazily_unmounted_partition_with_an_open_file_is_refused(disk, tmp_path):
    device, image, target = disk
    two_filesystems(device)
    where = tmp_path / "lazy"
    where.mkdir()
    run("mount", f"{device}p2", str(where))
    opened = open(where / "kept-open", "w")
    try:
        run("umount", "-l", str(where))
        assert f"{device}p2" not in Path("/proc/self/mountinfo").read_text()
        plan = plan_for(device, target)
        before = image_digest(image, leave_out=P2)
        with pytest.raises(Refused, match=rf"{device}p2 is busy: claimed by the kernel though mounted nowhere"):
            _execute(plan, target, [])
        assert image_digest(image, leave_out=P2) == before
        assert blkid(f"{device}p1").get("TYPE") == "ext4"
    finally:
        opened.close()


def _swapping_wipefs(bin_dir: Path, device: str, other: Path, report: Path) -> None:
    """A stand-in wipefs: the real one, then, after the whole-disk wipe (the step
    before partitioning), detach the loop device and attach `other` at the same path."""
    real = subprocess.run(["sh", "-c", "command -v wipefs"], capture_output=True, text=True).stdout.strip()
    bin_dir.mkdir()
    script = bin_dir / "wipefs"
    script.write_text(f"""#!/bin/sh
{real} "$@" || exit $?
if [ "$*" = "-a {device}" ]; then
    losetup -d {device}
    if losetup -P {device} {other} 2>>{report}; then echo swapped >>{report}; else echo not-swapped >>{report}; fi
fi
""")
    script.chmod(0o755)


@pytest.mark.parametrize("hold", ["held", "not-holdable"])
def test_a_different_image_attached_at_the_same_path_mid_phase_is_not_written(disk, tmp_path, monkeypatch, hold):
    device, image, target = disk
    other = tmp_path / "other.img"
    with open(other, "wb") as f:
        f.truncate(12 * GIB)
    run("sgdisk", "-n", "1:1M:+100M", "-c", "1:precious", str(other))
    other_before = image_digest(other)
    report = tmp_path / "report"
    _swapping_wipefs(tmp_path / "bin", device, other, report)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    if hold == "not-holdable":
        # A USB disk that drops and re-enumerates at the same name is a new device
        # whatever the installer holds: let go of the loop device to stand for it.
        opened = diskhold.DiskHold.__init__

        def let_go(self, *args, **kw):
            opened(self, *args, **kw)
            os.close(self.fd)
            self.fd = -1
        monkeypatch.setattr(diskhold.DiskHold, "__init__", let_go)
    plan = plan_for(device, target)
    lines: list[str] = []
    try:
        if hold == "held":
            # the held fd keeps /dev/loopN bound to the confirmed image: the attach fails
            # and the run goes on, on the disk that was confirmed
            _execute(plan, target, lines)
            assert image_digest(other) == other_before
            assert report.read_text().splitlines()[-1] == "not-swapped"
            assert "busy" in report.read_text()
        else:
            with pytest.raises(Refused, match=r"stopped before step 2 .* not the disk this run started on: "
                                              r"the loop device's backing file is .*other\.img"):
                _execute(plan, target, lines)
            assert report.read_text().splitlines()[-1] == "swapped"
            assert any(line.startswith("stopped before: Create a GPT") for line in lines)
        assert image_digest(other) == other_before
    finally:
        undo(plan, log=lambda _line: None)
        run("losetup", "-d", device, check=False)


STAND_IN_MKFS = """#!{python}
import os, sys, time
fd = os.open(sys.argv[-1], os.O_RDWR | os.O_EXCL)  # as mkfs claims the device it formats
with open({pidfile!r}, "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""

INSTALLER = """
import pickle, sys
from installer.run.executor import Confirmation, execute
plan = pickle.load(open(sys.argv[1], "rb"))
execute(plan, target=plan.target, secrets={}, confirmation=Confirmation.for_plan(plan), log=print)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie nobody reaps is dead all the same


def test_a_disk_tool_dies_with_a_killed_installer_and_a_rerun_is_refused_meanwhile(disk, tmp_path):
    device, image, target = disk
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pidfile = tmp_path / "mkfs.pid"
    (bin_dir / "mkfs.ext4").write_text(STAND_IN_MKFS.format(python=sys.executable, pidfile=str(pidfile)))
    (bin_dir / "mkfs.ext4").chmod(0o755)
    plan = plan_for(device, target)
    (tmp_path / "plan.pickle").write_bytes(pickle.dumps(plan))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    installer = subprocess.Popen([sys.executable, "-c", INSTALLER, str(tmp_path / "plan.pickle")],
                                 cwd=WORKTREE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tool = 0
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()):
            assert installer.poll() is None, "the installer ended before its mkfs started"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        tool = int(pidfile.read_text())
        assert os.getpgid(tool) == tool  # its own process group
        busy = next(s.argv[-1] for s in plan.steps if s.argv[:1] == ("mkfs.ext4",))

        rerun = plan_for(device, target)  # as a second installer would see the disk now
        with pytest.raises(Refused, match=rf"{busy} is busy"):
            _execute(rerun, target, [])

        installer.send_signal(signal.SIGKILL)
        installer.wait()
        deadline = time.monotonic() + 5
        while _alive(tool) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(tool), "the stand-in mkfs outlived the killed installer"
    finally:
        if installer.poll() is None:
            installer.kill()
            installer.wait()
        if tool and _alive(tool):
            os.kill(tool, signal.SIGKILL)
        undo(plan, log=lambda _line: None)



async def test_the_wizard_refuses_at_confirm_a_disk_mounted_in_another_namespace(disk, tmp_path):
    from test_screens_support import app_for, message_of, type_text, wait_ready

    from installer.answers.model import User
    from installer.flow.session import Options, Session
    from screens.confirm import ConfirmScreen

    device, image, target = disk
    two_filesystems(device)
    elsewhere = tmp_path / "elsewhere"
    standins = WORKTREE / "tests/standins"
    session = Session(Options(dry_run=False, allow_loop=True, target=target, seed=7, log_path=str(tmp_path / "log"),
                              nixos_install=str(standins / "nixos-install"), nixos_enter=str(standins / "nixos-enter")))
    with mounted_elsewhere(f"{device}p2", elsewhere):
        before = image_digest(image, leave_out=P2)
        app = app_for(session)
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_ready(pilot)
            session.model.disk.device = device
            session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
            app.push_screen(ConfirmScreen())
            await pilot.pause()
            screen = app.screen
            await type_text(pilot, session.install.confirm_word())
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen and app.confirmation is None
            said = message_of(screen, "confirm")
            assert f"{device}p2 is mounted at {elsewhere} in the mount namespace of process" in said, said
        assert image_digest(image, leave_out=P2) == before


def test_an_unattended_install_onto_a_disk_mounted_in_another_namespace_exits_3(disk, tmp_path):
    from test_unattended import STANDINS, answers, installer

    device, image, target = disk
    two_filesystems(device)
    elsewhere = tmp_path / "elsewhere"
    with mounted_elsewhere(f"{device}p2", elsewhere):
        before = image_digest(image, leave_out=P2)
        done = installer("--answers", str(answers(tmp_path, device)), "--yes", "--target", target,
                         "--log", str(tmp_path / "install.log"), "--skip-eval",
                         "--nixos-install", str(STANDINS / "nixos-install"),
                         "--nixos-enter", str(STANDINS / "nixos-enter"))
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"{device}p2 is mounted at {elsewhere} in the mount namespace of process" in done.stdout + done.stderr
        assert image_digest(image, leave_out=P2) == before
        assert blkid(f"{device}p1").get("TYPE") == "ext4"
