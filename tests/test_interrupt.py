"""Signals and interrupted runs, with the real CLI on a real loop device.

SIGTERM and SIGHUP do what Ctrl+C does: nixos-install (the faithful stand-in)
is stopped with everything it started, its `setsid` grandchild included, the
log gets its last lines; a disk phase interrupted half way unmounts what it
mounted; after a failed nixos-install, running the same command again goes
on from the configuration; `--timeout` stops a nixos-install that hangs.
The layouts are BIOS ones (this kernel has no vfat, no dm-crypt).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT
from installer.run import resume
from installer.flow.session import Options
from loopdev import ROOT_MARKS, active_swaps, bios_answers, blkid, loop_device, mounts_under, run
from procstat import gone_within

pytestmark = [*ROOT_MARKS, pytest.mark.slow]

STANDINS = ROOT / "tests" / "standins"


def answers(tmp_path: Path, device: str, filesystem: str = "ext4", swap: str = "none") -> Path:
    return bios_answers(tmp_path, device, filesystem=filesystem, swap=swap)


@pytest.fixture
def rig(tmp_path):
    """A loop device, a target nixos-install accepts (every parent 0755), a log."""
    target = Path(tempfile.mkdtemp(prefix="nti-interrupt-", dir="/var/tmp"))
    target.chmod(0o755)
    with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
        yield device, target, tmp_path
    resume.forget(Options().state_dir, str(target))
    run("umount", "-R", "-l", str(target), check=False)
    shutil.rmtree(target, ignore_errors=True)


def command(tmp_path: Path, device: str, target: Path, *extra: str, **kw) -> list[str]:
    return [sys.executable, "-m", "installer", "--allow-loop", "--yes", "--answers", str(answers(tmp_path, device, **kw)),
            "--target", str(target), "--log", str(tmp_path / "install.log"),
            "--nixos-install", str(STANDINS / "nixos-install"), "--nixos-enter", str(STANDINS / "nixos-enter"), *extra]


def standin_env(**standin) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    return base | {f"STANDIN_{k}": str(v) for k, v in standin.items()}


def install(argv: list[str], **standin) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
                          env=standin_env(**standin))


def wait_for_children(record: Path, cli: subprocess.Popen) -> list[int]:
    for _ in range(3000):
        if record.exists():
            for line in record.read_text().splitlines():
                entry = json.loads(line)
                if "children" in entry:
                    return [entry["pid"], *entry["children"]]
        if cli.poll() is not None:
            raise AssertionError(f"the installer ended first: {cli.communicate()}")
        time.sleep(0.02)
    raise AssertionError("the stand-in never recorded its children")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_and_sighup_stop_nixos_install_and_its_setsid_grandchild_like_ctrl_c(rig, sig):
    device, target, tmp_path = rig
    record = tmp_path / "record.jsonl"
    cli = subprocess.Popen(command(tmp_path, device, target), cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=standin_env(RECORD=record, SPAWN=1, HANG=1, PATHS=5))
    family = wait_for_children(record, cli)  # nixos-install, a sleep in its group, a setsid sleep
    cli.send_signal(sig)
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 1, out + err  # what Ctrl+C gives
    for pid in family:
        assert gone_within(pid, 10), f"process {pid} outlived the installer's {sig.name}"
    how = "Ctrl+C" if sig == signal.SIGINT else sig.name
    log = (tmp_path / "install.log").read_text()
    assert f"interrupted by {how}: everything the installer started was stopped" in log
    assert "the disk is prepared: run this command again to go on from the configuration" in log
    assert f"=== sending SIGINT to process group {family[0]}" in log
    assert "=== run 1 exited with code" in log  # the runner's last line made it to the log


def ignore_int_and_quit() -> None:
    """In the child before exec: SIGINT and SIGQUIT ignored, as a shell without job control
    starts `installer --yes &` (and as libc's system() leaves a process while it waits)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_started_with_sigint_ignored_a_sigterm_still_stops_everything(rig, sig):
    """The background of a script: SIGINT inherited ignored. SIGTERM and SIGHUP stop the install
    as they do otherwise (they hung it before: asyncio.run had no SIGINT handler to cancel with)."""
    device, target, tmp_path = rig
    record = tmp_path / "record.jsonl"
    cli = subprocess.Popen(command(tmp_path, device, target), cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_int_and_quit,
                           env=standin_env(RECORD=record, SPAWN=1, HANG=1, PATHS=5))
    family = wait_for_children(record, cli)
    cli.send_signal(sig)
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 1, out + err
    for pid in family:
        assert gone_within(pid, 10), f"process {pid} outlived the installer's {sig.name}"
    log = (tmp_path / "install.log").read_text()
    assert f"interrupted by {sig.name}: everything the installer started was stopped" in log
    # nixos-install took SIGINT's default again: the first, gentle signal stopped it.
    assert f"=== sending SIGINT to process group {family[0]}" in log
    assert "=== sending SIGTERM to process group" not in log


def test_an_interrupted_disk_phase_unmounts_what_it_mounted(rig):
    """SIGTERM arrives while the last step (swapon) runs: / and the btrfs subvolumes
    were mounted by then; the installer unmounts them all before it exits."""
    device, target, tmp_path = rig
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    (wrappers / "swapon").write_text("#!/bin/sh\nkill -TERM $PPID\nexec sleep 60\n")
    (wrappers / "swapon").chmod(0o755)
    argv = command(tmp_path, device, target, filesystem="btrfs", swap="partition")
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
                          env={**standin_env(), "PATH": f"{wrappers}:{os.environ['PATH']}"})
    assert done.returncode == 1, done.stdout + done.stderr
    log = (tmp_path / "install.log").read_text()
    assert f"interrupted during: Use {device}p2 as swap during the install; undoing what was mounted" in log
    for where in (f"{target}/nix", f"{target}/home", str(target)):
        assert f"undo: umount {where}: ok" in log
    assert "nothing the disk phase set up is left mounted, swapped on or open" in log
    assert "interrupted by SIGTERM" in done.stdout
    assert mounts_under(str(target)) == []
    assert not [s for s in active_swaps() if s.startswith(device + "p")]


def test_a_rerun_after_a_failed_nixos_install_goes_on_from_the_configuration(rig):
    device, target, tmp_path = rig
    argv = command(tmp_path, device, target, swap="partition")
    first = install(argv, FAIL_AT="copying:3", PATHS=8)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "run this command again to go on from the configuration" in first.stdout
    root_uuid = blkid(f"{device}p3")["UUID"]
    assert mounts_under(str(target)) == [str(target)]

    again = install(argv, PATHS=8)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{device} was prepared by an earlier run of this installer" in again.stdout
    assert "the disk is already prepared for this plan; nothing is written to" in again.stdout
    assert "wipefs" not in again.stdout and "mkfs" not in again.stdout
    assert blkid(f"{device}p3")["UUID"] == root_uuid  # the same filesystem, not a new one
    assert f'"/dev/disk/by-uuid/{root_uuid}"' in (target / "etc/nixos/hardware-configuration.nix").read_text()
    assert "Installation finished" in again.stdout
    # the stand-in's store kept what the first run fetched: only the rest is fetched again
    assert "these 6 paths will be fetched" in (tmp_path / "install.log").read_text()
    assert resume.load(Options().state_dir, str(target)) is None  # done: nothing to go on from


def test_a_fleet_rerun_whose_rule_picks_the_prepared_disk_goes_on(tmp_path):
    """[disk.match] instead of a device: on the rerun the probe refuses the disk (its
    partitions are mounted), yet the rule, asked again with this run's own mounts
    set aside, picks the same disk, and the install goes on."""
    target = Path(tempfile.mkdtemp(prefix="nti-interrupt-", dir="/var/tmp"))
    target.chmod(0o755)
    try:
        # an odd size no other test's loop device has: the rule picks this one alone
        with loop_device(tmp_path, size=14 * 1024**3 + 512 * 1024**2, target=str(target)) as (device, _image):
            argv = command(tmp_path, device, target)
            answers_file = Path(argv[argv.index("--answers") + 1])
            text = answers_file.read_text().replace(f'device = "{device}"\n', "")
            answers_file.write_text(text + "[disk.match]\nsize_min_gib = 14\nsize_max_gib = 15\n")
            first = install(argv, FAIL_AT="copying:2", PATHS=4)
            assert first.returncode == 1, first.stdout + first.stderr
            assert "Wipe old partition tables and signatures from" in first.stdout and device in first.stdout
            again = install(argv, PATHS=4)
            assert again.returncode == 0, again.stdout + again.stderr
            assert f"{device} was prepared by an earlier run of this installer" in again.stdout
            assert "wipefs" not in again.stdout
            saved = (target / "etc/nixos/answers.toml").read_text()
            assert "size_min_gib = 14" in saved and device not in saved  # the rule is kept, not the device
    finally:
        resume.forget(Options().state_dir, str(target))
        run("umount", "-R", "-l", str(target), check=False)
        shutil.rmtree(target, ignore_errors=True)


def test_a_rerun_with_other_answers_is_not_taken_for_the_same_install(rig):
    device, target, tmp_path = rig
    first = install(command(tmp_path, device, target), FAIL_AT="copying:1", PATHS=3)
    assert first.returncode == 1, first.stdout + first.stderr
    other = install(command(tmp_path, device, target, filesystem="xfs"))
    assert other.returncode == 3, other.stdout + other.stderr
    assert "is mounted at" in other.stderr and "prepared by an earlier run" not in other.stdout


def test_timeout_stops_a_hanging_nixos_install(rig):
    device, target, tmp_path = rig
    record = tmp_path / "record.jsonl"
    done = install(command(tmp_path, device, target, "--timeout", "3"), RECORD=record, SPAWN=1, HANG=1, PATHS=2)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nixos-install was still running after --timeout 3 s" in done.stdout
    assert "it and everything it started were stopped" in done.stdout
    family = [json.loads(line) for line in record.read_text().splitlines()]
    pids = [family[0]["pid"], *next(e["children"] for e in family if "children" in e)]
    for pid in pids:
        assert gone_within(pid, 10), f"process {pid} outlived the timeout"
    assert "still running after the timeout of 3 s: stopping it" in (tmp_path / "install.log").read_text()


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_timeout_takes_a_positive_number_of_seconds(value):
    done = subprocess.run([sys.executable, "-m", "installer", "--timeout", value], capture_output=True, text=True,
                          cwd=ROOT, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 2 and "a number of seconds greater than 0" in done.stderr


def test_timeout_is_for_unattended_runs():
    done = subprocess.run([sys.executable, "-m", "installer", "--timeout", "10"], capture_output=True, text=True,
                          cwd=ROOT, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 2 and "--timeout goes with --answers" in done.stderr
