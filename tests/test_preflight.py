"""Everything that can be checked is checked before the disk is touched.

Each test runs the real CLI unattended (`--yes`) on a real loop device with
one thing wrong: a malformed password hash, a missing or non-directory
`--target`, a program the plan needs missing from PATH, nixos-install
missing. Each exits 2 naming the problem, and the loop device's image is
still entirely unwritten (a sparse file with no data extent: any write
would make one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, YESCRYPT_HASH
from loopdev import ROOT_MARKS, bios_answers, loop_device

pytestmark = ROOT_MARKS

STANDINS = ROOT / "tests" / "standins"
GOOD_HASH = YESCRYPT_HASH


def answers(tmp_path: Path, device: str, *, filesystem: str = "ext4", user_hash: str = GOOD_HASH,
            root_hash: str = GOOD_HASH) -> Path:
    return bios_answers(tmp_path, device, filesystem=filesystem, user_hash=user_hash, root_hash=root_hash)


def installer(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "installer", "--allow-loop", "--yes",
         "--nixos-enter", str(STANDINS / "nixos-enter"), *args],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
        env={**os.environ, **(env or {})},
    )


def written(image: Path) -> bool:
    fd = os.open(image, os.O_RDONLY)
    try:
        os.lseek(fd, 0, os.SEEK_DATA)
        return True
    except OSError:  # ENXIO: no data anywhere, nothing was ever written
        return False
    finally:
        os.close(fd)


@pytest.fixture
def disk(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
        yield device, image, target


def refused_untouched(done: subprocess.CompletedProcess, image: Path, *expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    for words in expected:
        assert words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "wipefs" not in done.stdout and "[1/" not in done.stdout  # no disk step started
    assert not written(image), "the loop device was written to"


BAD_HASHES = {
    "sha512 too short": "$6$saltsalt$" + "a" * 85,
    "yescrypt without its hash": "$y$j9T$adRGRQYJHEV9CAs89LbJU/$",
    # Real hashes one character off in their 43-character last part (test_validate has every case).
    "yescrypt one short": GOOD_HASH[:-1],
    "yescrypt one long": GOOD_HASH + "a",
    "gost-yescrypt one long": "$gy$j9T$HqgpuLW6XpH2WMrm7Umvv/$2Pzl4I.JqVb/I1mhZIar1CVyO57bOEyvd3RrTbyFSI3a",
    "sha256 one short": "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF4/9pM6",
    "bcrypt with a bad cost": "$2b$99$" + "a" * 53,
    "bcrypt alphabet": "$2y$12$" + "a" * 52 + "!",
    "colon": GOOD_HASH[:-1] + ":",
    "not a crypt hash": "$1$md5salt$oldmd5hashxxxxxxxxxxx",
}


@pytest.mark.parametrize("which", sorted(BAD_HASHES))
def test_a_malformed_password_hash_stops_before_the_disk(disk, tmp_path, which):
    device, image, target = disk
    bad = BAD_HASHES[which]
    done = installer("--answers", str(answers(tmp_path, device, user_hash=bad)), "--target", str(target),
                     "--log", str(tmp_path / "log"), "--nixos-install", str(STANDINS / "nixos-install"))
    refused_untouched(done, image, "users[0].password_hash: ")
    assert bad not in done.stdout + done.stderr  # the hash is a secret: never echoed


def test_a_malformed_root_hash_is_named_at_its_key(disk, tmp_path):
    device, image, target = disk
    done = installer("--answers", str(answers(tmp_path, device, root_hash="$6$x$y")), "--target", str(target),
                     "--log", str(tmp_path / "log"), "--nixos-install", str(STANDINS / "nixos-install"))
    refused_untouched(done, image, "root.password_hash: not a well-formed SHA-512 hash")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_missing_or_non_directory_target_stops_before_the_disk(disk, tmp_path, kind):
    device, image, _target = disk
    target = tmp_path / "no-such-target"
    if kind == "file":
        target.write_text("not a directory\n")
    done = installer("--answers", str(answers(tmp_path, device)), "--target", str(target),
                     "--log", str(tmp_path / "log"), "--nixos-install", str(STANDINS / "nixos-install"))
    words = "does not exist" if kind == "missing" else "is not a directory"
    refused_untouched(done, image, f"--target: the target {target} {words}")


def path_without(tmp_path: Path, *left_out: str) -> str:
    """A PATH with every program of the usual directories but `left_out`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            link = bin_dir / name
            if name not in left_out and not os.path.lexists(link):
                link.symlink_to(os.path.join(directory, name))
    return str(bin_dir)


def test_a_program_the_plan_needs_missing_from_path_stops_before_the_disk(disk, tmp_path):
    device, image, target = disk
    done = installer("--answers", str(answers(tmp_path, device, filesystem="xfs")), "--target", str(target),
                     "--log", str(tmp_path / "log"), "--nixos-install", str(STANDINS / "nixos-install"),
                     env={"PATH": path_without(tmp_path, "mkfs.xfs")})
    refused_untouched(done, image, "tools: mkfs.xfs is not installed (package xfsprogs), needed to format")


def test_nixos_install_missing_stops_before_the_disk(disk, tmp_path):
    device, image, target = disk
    done = installer("--answers", str(answers(tmp_path, device)), "--target", str(target),
                     "--log", str(tmp_path / "log"), "--nixos-install", str(tmp_path / "nixos-install"))
    refused_untouched(done, image, f"--nixos-install: {tmp_path / 'nixos-install'} is not installed (package "
                      "nixos-install-tools), needed to install the system; nothing was written")


def test_a_hash_the_schema_refuses_is_named_at_its_key_and_never_echoed(tmp_path):
    machine = next((ROOT / "tests" / "fixtures" / "machines").glob("*.json"))
    path = tmp_path / "answers.toml"
    path.write_text('[[users]]\nname = "alice"\npassword_hash = "not-a-hash-but-a-secret"\n')
    done = subprocess.run([sys.executable, "-m", "installer", "--answers", str(path), "--machine", str(machine), "--plan"],
                          capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 2
    assert "users[0].password_hash: does not have the right form" in done.stderr
    assert "not-a-hash-but-a-secret" not in done.stdout + done.stderr


def test_the_executor_itself_refuses_a_missing_target_before_the_first_write(disk, tmp_path):
    """The CLI finds it first; the executor checks again, for every other caller."""
    from installer.run.executor import Confirmation, Refused, execute
    from installer.machine.hardware import Machine
    from installer.plan.identity import Identity
    from installer.answers.model import InstallModel
    from installer.plan.erase import build_plan
    from loopdev import disk_for

    device, image, _target = disk
    missing = str(tmp_path / "gone")
    m = InstallModel()
    m.boot.firmware = "bios"
    m.disk.device = device
    plan = build_plan(m, Machine(firmware="bios", disks=[disk_for(device)]), Identity.generate(), target=missing)
    lines: list[str] = []
    with pytest.raises(Refused, match=f"the target {missing} does not exist .*; nothing was written"):
        execute(plan, target=missing, secrets={}, confirmation=Confirmation.for_plan(plan), log=lines.append)
    assert lines == [] and not written(image)
