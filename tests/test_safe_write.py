"""No write through a link, anywhere the installer writes.

A link planted in any component of a path the installer writes (under the
target, --render, --export-flake, --log) is refused with a message naming
it and exit 3, and nothing is created where it points. The target cases run
the real CLI, unattended, on a real loop device: an ext4 filesystem the
person "mounted themselves" (layout premounted, BIOS + GRUB), with the
nixos-install and nixos-enter stand-ins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import MACHINES, ROOT
from loopdev import loop_device, run
from test_cli import answers_for, cli

from installer.base import safefs

WIN11 = MACHINES / "win11-along-ubuntu.json"
STANDINS = ROOT / "tests" / "standins"
HASH = "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
PREMOUNTED = f"""\
[system]
hostname = "box"
[boot]
firmware = "bios"
loader = "grub"
[disk]
layout = "premounted"
[root]
disabled = true
[[users]]
name = "alice"
admin = true
password_hash = "{HASH}"
"""


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- the target: a real ext4 filesystem on a loop device -----------------------------


@pytest.fixture(scope="module")
def mounted_target():
    """(target, outside): ext4 on a loop device mounted at target (every parent 0755,
    as nixos-install demands), and a directory outside it, on another filesystem."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("needs root and losetup for a loop device")
    where = Path(tempfile.mkdtemp(prefix="nti-safewrite-", dir="/var/tmp"))
    where.chmod(0o755)
    target = where / "target"
    target.mkdir(mode=0o755)
    try:
        with loop_device(where, size=1024**3, target=str(target)) as (device, _image):
            run("sgdisk", "-n1:0:+1M", "-t1:ef02", "-n2:0:0", "-t2:8300", device)
            run("partx", "-u", device, check=False)
            for _ in range(100):  # the kernel adds the partition node
                if os.path.exists(device + "p2"):
                    break
                time.sleep(0.1)
            run("mkfs.ext4", "-q", "-L", "nixos", device + "p2")
            run("mount", device + "p2", str(target))
            yield target, where
    finally:
        run("umount", "-l", str(target), check=False)
        shutil.rmtree(where, ignore_errors=True)


def fresh(target: Path, where: Path) -> Path:
    """Empty the target filesystem and make a new, empty `outside` directory."""
    for entry in target.iterdir():
        if entry.name != "lost+found":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    outside = where / "outside"
    shutil.rmtree(outside, ignore_errors=True)
    outside.mkdir()
    return outside


def install(target: Path, where: Path) -> subprocess.CompletedProcess:
    (where / "answers.toml").write_text(PREMOUNTED)
    return subprocess.run(
        [sys.executable, "-m", "installer", "--answers", str(where / "answers.toml"), "--yes", "--allow-loop",
         "--target", str(target), "--log", str(where / "install.log"),
         "--nixos-install", str(STANDINS / "nixos-install"), "--nixos-enter", str(STANDINS / "nixos-enter")],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")},
    )


@pytest.mark.root
def test_a_premounted_target_without_links_installs(mounted_target):
    """The cases below differ from this run by one planted link."""
    target, where = mounted_target
    fresh(target, where)
    done = install(target, where)
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_IMODE((target / "etc").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "etc/nixos/configuration.nix").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "etc/nixos/answers.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "var/log/nixos-tui-installer.log").stat().st_mode) == 0o600


@pytest.mark.root
@pytest.mark.parametrize("link, points_to, named", [
    ("etc", "", "etc"),
    ("etc/nixos", "", "etc/nixos"),
    ("etc/nixos/configuration.nix", "planted.nix", "etc/nixos/configuration.nix"),  # dangling
    ("var/log", "", "var/log"),
])
def test_a_link_in_the_target_is_refused_and_nothing_is_written_outside(mounted_target, link, points_to, named):
    target, where = mounted_target
    outside = fresh(target, where)
    (target / link).parent.mkdir(parents=True, exist_ok=True)
    (target / link).symlink_to(outside / points_to)
    done = install(target, where)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output
    assert f"{target / named} is a symbolic link (to {outside / points_to}); refusing to write through it" in output
    assert everything_under(outside) == []
    assert (target / link).is_symlink()  # not replaced either
    # Refused before the first phase: nothing written, nixos-install never ran.
    assert "== [1/5]" not in output
    assert not (target / "etc/nixos/hardware-configuration.nix").exists()
    assert not (target / "nix").exists()


@pytest.mark.root
@pytest.mark.parametrize("link", ["etc/nixos", "var/log"])
def test_a_link_appearing_in_the_target_during_the_install_is_refused_by_the_writer(mounted_target, link):
    """The check before the first phase is not the only guard: the writers walk
    without links themselves (here the link appears after that check)."""
    target, where = mounted_target
    outside = fresh(target, where)
    plant = f"""
import os, sys
from installer.flow import preflight
from installer.cli import main
preflight.Preflight.refuse_links_in_target = lambda self: None  # as if the link came later
os.makedirs({str(target / link)!r}.rsplit("/", 1)[0], exist_ok=True)
os.symlink({str(outside)!r}, {str(target / link)!r})
sys.exit(main(sys.argv[1:]))
"""
    (where / "answers.toml").write_text(PREMOUNTED)
    done = subprocess.run(
        [sys.executable, "-c", plant, "--answers", str(where / "answers.toml"), "--yes", "--allow-loop",
         "--target", str(target), "--log", str(where / "install.log"),
         "--nixos-install", str(STANDINS / "nixos-install"), "--nixos-enter", str(STANDINS / "nixos-enter")],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output
    assert f"{target / link} is a symbolic link (to {outside}); refusing to write through it" in output
    assert everything_under(outside) == []


@pytest.mark.root
def test_a_hard_link_at_the_logs_place_in_the_target_is_replaced_not_written_through(mounted_target):
    """A reused filesystem may hold var/log/nixos-tui-installer.log as a second name of
    another file (hard links stay inside one filesystem, so here one beside etc): the
    copy of the log is renamed into place and that file keeps its contents and mode."""
    target, where = mounted_target
    fresh(target, where)
    precious = target / "precious"
    precious.write_text("not the installer's\n")
    precious.chmod(0o644)
    (target / "var/log").mkdir(parents=True)
    os.link(precious, target / "var/log/nixos-tui-installer.log")
    done = install(target, where)
    assert done.returncode == 0, done.stdout + done.stderr
    assert precious.read_text() == "not the installer's\n"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644 and precious.stat().st_nlink == 1
    copy = target / "var/log/nixos-tui-installer.log"
    assert "== [5/5] finish" in copy.read_text() and copy.stat().st_nlink == 1


@pytest.mark.root
def test_a_fifo_at_the_configuration_is_refused_with_a_message(mounted_target):
    target, where = mounted_target
    fresh(target, where)
    (target / "etc/nixos").mkdir(parents=True)
    os.mkfifo(target / "etc/nixos/configuration.nix")
    done = install(target, where)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output
    assert (f"refused: {target}/etc/nixos/configuration.nix is a FIFO, not a regular file; "
            "refusing to replace it") in output
    assert stat.S_ISFIFO(os.lstat(target / "etc/nixos/configuration.nix").st_mode)


@pytest.mark.root
def test_a_full_filesystem_while_writing_the_configuration_is_a_message(mounted_target):
    """etc/nixos is a 64 KiB tmpfs, filled up (the probe leaves tmpfs out of the layout)."""
    target, where = mounted_target
    fresh(target, where)
    nixos = target / "etc/nixos"
    nixos.mkdir(parents=True)
    run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(nixos))
    try:
        filler = os.open(nixos / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        done = install(target, where)
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert "Traceback" not in output
        assert f"failed: cannot write {nixos}/configuration.nix: the filesystem is full" in output
        assert sorted(p.name for p in nixos.iterdir()) == ["filler"]  # no temporary file left behind
        assert "== [3/5]" not in output
    finally:
        run("umount", str(nixos), check=False)


@pytest.mark.root
def test_a_directory_at_the_logs_place_after_the_install_says_the_system_is_installed(mounted_target):
    target, where = mounted_target
    fresh(target, where)
    (target / "var/log/nixos-tui-installer.log").mkdir(parents=True)
    done = install(target, where)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output
    assert (f"The system is installed, but its log was not copied into it: {target}/var/log/"
            "nixos-tui-installer.log is a directory, not a regular file; refusing to replace it. "
            f"The log stays in {where / 'install.log'}.") in output
    assert (target / "etc/nixos/configuration.nix").is_file()


# -- --render, --export-flake, --log: directories in tmp --------------------------------


def test_render_into_a_linked_directory_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out" / "sub").symlink_to(elsewhere)
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--render", str(tmp_path / "out/sub/x"))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'out/sub'} is a symbolic link (to {elsewhere}); refusing to write through it" in done.stderr
    assert everything_under(elsewhere) == []


def test_render_over_a_linked_file_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hardware-configuration.nix").symlink_to(tmp_path / "planted")
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--render", str(out))
    assert done.returncode == 3, done.stderr
    assert f"{out / 'hardware-configuration.nix'} is a symbolic link" in done.stderr
    assert not (tmp_path / "planted").exists()
    assert not (out / "configuration.nix").exists()  # checked before the first file was written


def test_render_creates_missing_directories_and_writes_0644(tmp_path):
    out = tmp_path / "a/b"
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--render", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((out / "configuration.nix").stat().st_mode) == 0o644
    assert everything_under(out) == ["configuration.nix", "hardware-configuration.nix"]  # no temporary left


def test_export_flake_with_a_linked_hosts_directory_is_refused(tmp_path):
    out = tmp_path / "fleet"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "hosts").symlink_to(elsewhere)
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--export-flake", str(out))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{out / 'hosts'} is a symbolic link (to {elsewhere}); refusing to write through it" in done.stderr
    assert "nothing was written" in done.stderr
    assert everything_under(elsewhere) == []
    assert everything_under(out) == ["hosts"]


@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_log_through_a_link_is_refused(tmp_path, where):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if where == "file":
        (tmp_path / "install.log").symlink_to(elsewhere / "x.log")
        log, link = tmp_path / "install.log", tmp_path / "install.log"
    else:
        (tmp_path / "logs").symlink_to(elsewhere)
        log, link = tmp_path / "logs" / "install.log", tmp_path / "logs"
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--yes", "--log", str(log))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{link} is a symbolic link" in done.stderr
    assert everything_under(elsewhere) == []


def test_the_wizard_refuses_a_log_through_a_link_before_it_starts(tmp_path):
    (tmp_path / "logs").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    done = cli("--dry-run", "--machine", str(WIN11), "--log", str(tmp_path / "logs" / "install.log"))
    assert done.returncode == 3, done.stderr
    assert f"{tmp_path / 'logs'} is a symbolic link" in done.stderr
    assert everything_under(tmp_path / "elsewhere") == []


@pytest.mark.parametrize("wizard", [False, True])
def test_a_log_with_another_hard_link_is_refused_before_anything_starts(tmp_path, wizard):
    """Root may write any file: a --log that is a second name of another file
    (/etc/shadow, say) would have that file appended to and chmodded."""
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    precious.chmod(0o644)
    os.link(precious, tmp_path / "install.log")
    start = ["--dry-run"] if wizard else ["--answers", answers_for(tmp_path), "--yes"]
    done = cli(*start, "--machine", str(WIN11), "--log", str(tmp_path / "install.log"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"--log: {tmp_path / 'install.log'} has 1 other hard link(s); refusing to write through it" in done.stderr
    assert precious.read_text() == "keep me\n" and stat.S_IMODE(precious.stat().st_mode) == 0o644


@pytest.mark.parametrize("link", ["directory", "file"])
def test_record_machine_through_a_link_is_refused(tmp_path, link):
    (tmp_path / "elsewhere").mkdir()
    if link == "directory":
        (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
        path, named = tmp_path / "out" / "machine.json", tmp_path / "out"
    else:
        (tmp_path / "machine.json").symlink_to(tmp_path / "elsewhere" / "planted.json")
        path, named = tmp_path / "machine.json", tmp_path / "machine.json"
    done = cli("--record-machine", str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"{named} is a symbolic link" in done.stderr
    assert everything_under(tmp_path / "elsewhere") == []


# -- the module itself ------------------------------------------------------------------


def test_open_dir_refuses_a_link_at_every_depth_and_creates_with_the_exact_mode(tmp_path):
    (tmp_path / "real/a").mkdir(parents=True)
    (tmp_path / "real/a/link").symlink_to(tmp_path)
    with pytest.raises(safefs.LinkRefused, match="real/a/link is a symbolic link"):
        safefs.open_dir(tmp_path / "real/a/link/b", create=True)
    with pytest.raises(safefs.LinkRefused, match="^" + str(tmp_path / "real/a/link")):
        safefs.open_dir("a/link", base=tmp_path / "real")
    with pytest.raises(OSError, match="leaves the directory"):
        safefs.open_dir("a/../../x", base=tmp_path / "real")
    old = os.umask(0o077)
    try:
        fd = safefs.open_dir("a/new/deeper", base=tmp_path / "real", create=True, mode=0o755)
    finally:
        os.umask(old)
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "real/a/new/deeper").stat().st_mode) == 0o755
    assert everything_under(tmp_path / "real") == ["a", "a/link", "a/new", "a/new/deeper"]


def test_write_at_replaces_a_file_atomically_and_refuses_a_link_or_a_directory(tmp_path):
    fd = safefs.open_dir(tmp_path)
    try:
        (tmp_path / "f").write_text("old")
        (tmp_path / "f").chmod(0o666)
        safefs.write_at(fd, "f", "new", mode=0o600)
        assert (tmp_path / "f").read_text() == "new" and stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600
        (tmp_path / "l").symlink_to(tmp_path / "f")
        with pytest.raises(safefs.LinkRefused):
            safefs.write_at(fd, "l", "through")
        (tmp_path / "d").mkdir()
        with pytest.raises(OSError, match="not a regular file"):
            safefs.write_at(fd, "d", "x")
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_text() == "new"
    assert everything_under(tmp_path) == ["d", "f", "l"]


def test_saving_answers_through_a_linked_directory_is_refused(tmp_path):
    from installer.answers import file as answers
    from installer.answers.model import InstallModel

    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(safefs.LinkRefused):
        answers.save(InstallModel(), tmp_path / "link" / "answers.toml")
    assert everything_under(tmp_path / "elsewhere") == []
    answers.save(InstallModel(), tmp_path / "answers.toml")
    assert stat.S_IMODE((tmp_path / "answers.toml").stat().st_mode) == 0o600


def test_the_rerun_record_is_never_written_through_a_linked_state_directory(tmp_path):
    from types import SimpleNamespace

    from installer.run import resume
    from installer.plan.identity import Identity

    plan = SimpleNamespace(layout="erase", firmware="bios", loader="grub", identity=Identity.generate(4),
                           disk=SimpleNamespace(path="/dev/loop9"), partitions=[], filesystems=[], luks=[],
                           swaps=[], target=str(tmp_path / "target"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(safefs.LinkRefused):
        resume.save(str(tmp_path / "run" / "state"), plan)
    assert everything_under(tmp_path / "elsewhere") == []
    saved = resume.save(str(tmp_path / "state"), plan)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert resume.load(str(tmp_path / "state"), plan.target) is not None
