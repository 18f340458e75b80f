"""A whole unattended install on a real loop device, with the nixos-install stand-in.

This host kernel has neither dm-crypt nor vfat mounts, so the layout here is
BIOS + GRUB + ext4 + swap partition (the VM tests cover UEFI and LUKS end to
end). The secrets test runs the real CLI with known passwords and then
searches every place a secret must never reach. The LUKS test goes as far as
the kernel allows: luksFormat works on the loop partition, opening it needs
dm-crypt; up to there the passphrase must reach cryptsetup's stdin exactly
and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, ssh_key
from test_connectivity import Cache, serve
from loopdev import ROOT_MARKS, blkid, kernel_has_dm_crypt, loop_device, run
from installer.base.hashing import verify_password

pytestmark = [*ROOT_MARKS, pytest.mark.slow]

STANDINS = ROOT / "tests" / "standins"
USER_PASSWORD = "Tr0ub4dor&3-user"
ROOT_PASSWORD = "r00t-Secret-pw!"
PASSPHRASE = "luks passphrase never seen"
# The largest passphrase file the answers may name (4096 bytes with the editor's newline), not
# repeating one character: a cut or a changed byte anywhere would still unlock a "p" * 4095.
LONG_PASSPHRASE = "".join(f"{i:04d}-" for i in range(819))[:4094] + "!"
assert len((LONG_PASSPHRASE + "\n").encode()) == 4096


def answers(tmp_path: Path, device: str, encrypted: bool = False, passphrase: str = PASSPHRASE) -> Path:
    (tmp_path / "luks.txt").write_text(passphrase + "\n")
    path = tmp_path / "answers.toml"
    path.write_text(
        f"""
[system]
hostname = "fleet-01"
timezone = "Europe/Paris"
[boot]
firmware = "bios"
[disk]
device = "{device}"
filesystem = "ext4"
swap = "partition"
swap_size_mib = 512
[encryption]
enabled = {"true" if encrypted else "false"}
passphrase_file = "luks.txt"
[[users]]
name = "alice"
description = "Alice"
password = "{USER_PASSWORD}"
ssh_keys = ["{ssh_key()}"]
[root]
disabled = false
password = "{ROOT_PASSWORD}"
"""
    )
    return path


@pytest.fixture(scope="module", autouse=True)
def online(tmp_path_factory):
    """The connectivity check asks a local binary cache (tests/test_connectivity.py's), so
    every run here is online whatever this host's network: nixos-install gets the cache."""
    global NIX_CONF
    for url in serve(Cache):
        NIX_CONF = tmp_path_factory.mktemp("nixconf") / "nix.conf"
        NIX_CONF.write_text(f"substituters = {url}\n")
        yield url


NIX_CONF: Path | None = None


def installer(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "installer", "--allow-loop", "--nix-conf", str(NIX_CONF), *args],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
        env={**os.environ, **(env or {})},
    )


def data_extents(image: Path) -> list[tuple[int, int]]:
    """The allocated (written) ranges of a sparse file: any write creates one."""
    found, fd = [], os.open(image, os.O_RDONLY)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            found.append((start, end))
            offset = end
    finally:
        os.close(fd)
    return found


def test_without_yes_nothing_is_written(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
        before = (image.stat().st_size, data_extents(image))
        done = installer("--answers", str(answers(tmp_path, device)), "--target", str(target),
                         "--log", str(tmp_path / "log"))
        assert done.returncode == 0, done.stderr
        assert "Nothing was written" in done.stdout
        assert "wipefs" in done.stdout
        assert (image.stat().st_size, data_extents(image)) == before == (12 * 1024**3, [])
        assert list(target.iterdir()) == []


@pytest.fixture
def public_target():
    """A target whose every parent is 0755, as nixos-install demands (pytest's tmp is 0700)."""
    where = Path(tempfile.mkdtemp(prefix="nti-target-", dir="/var/tmp"))
    where.chmod(0o755)
    yield where
    run("umount", "-R", "-l", str(where), check=False)
    shutil.rmtree(where, ignore_errors=True)


def test_unattended_install_keeps_every_secret_where_it_belongs(tmp_path, public_target):
    target = public_target
    record = tmp_path / "record.jsonl"
    log = tmp_path / "install.log"
    with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
        done = installer(
            "--answers", str(answers(tmp_path, device)), "--yes", "--target", str(target), "--log", str(log),
            "--nixos-install", str(STANDINS / "nixos-install"), "--nixos-enter", str(STANDINS / "nixos-enter"),
            env={"STANDIN_RECORD": str(record), "STANDIN_PATHS": "40", "STANDIN_DRVS": "2"},
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output

        # Progress came from the stand-in's own lines, as plain text on stdout.
        assert "== [3/5] nixos-install" in done.stdout
        assert "40/40" in done.stdout

        # The layout on the real device: BIOS boot, swap, ext4 root with the rendered UUID.
        table = run("sgdisk", "-p", device)
        assert "EF02" in table and "8200" in table and "8300" in table
        root_tags = blkid(device + "p3")
        assert root_tags["TYPE"] == "ext4" and root_tags["LABEL"] == "nixos"
        hardware = (target / "etc/nixos/hardware-configuration.nix").read_text()
        assert f'"/dev/disk/by-uuid/{root_tags["UUID"]}"' in hardware
        config = (target / "etc/nixos/configuration.nix").read_text()
        assert f'boot.loader.grub.device = "{device}"' in config

        # The passwords were set through chpasswd -e: the shadow file holds hashes that verify.
        shadow = {line.split(":")[0]: line.split(":")[1] for line in (target / "etc/shadow").read_text().splitlines()}
        assert verify_password(USER_PASSWORD, shadow["alice"])
        assert verify_password(ROOT_PASSWORD, shadow["root"])
        hashes = [shadow["alice"], shadow["root"]]

        # Nowhere else: not the log, not the stand-ins' argv/env, not any other file in the target,
        # not the saved answers, not what the CLI printed.
        secrets = [USER_PASSWORD, ROOT_PASSWORD, PASSPHRASE, *hashes]
        places = {"stdout/stderr": output, "log": log.read_text(), "argv/env": record.read_text()}
        for path in target.rglob("*"):
            if path.is_file() and path != target / "etc/shadow":
                places[str(path.relative_to(target))] = path.read_text(errors="replace")
        assert "etc/nixos/answers.toml" in places
        assert "var/log/nixos-tui-installer.log" in places
        for where, text in places.items():
            for secret in secrets:
                assert secret not in text, f"a secret reached {where}"
        assert oct(log.stat().st_mode & 0o777) == "0o600"
        assert oct((target / "var/log/nixos-tui-installer.log").stat().st_mode & 0o777) == "0o600"

        # The stand-in was called as the real nixos-install would be.
        calls = [json.loads(line) for line in record.read_text().splitlines()]
        install_call = next(c for c in calls if c["tool"] == "nixos-install")
        assert install_call["argv"][1:] == ["--root", str(target), "--no-root-passwd"]
        enter_calls = [c["argv"][1:] for c in calls if c["tool"] == "nixos-enter"]
        assert ["--root", str(target), "-c", "chpasswd -e"] in enter_calls


WIFI_PSK = "wifi-Pa55 never seen"


def test_wifi_and_proxy_reach_the_installed_system_and_nothing_else(tmp_path, public_target, online):
    """[network] on a real loop-device install: the machine is online by wire (nmcli stand-in),
    so the Wi-Fi network is kept, not joined; nixos-install asks the cache through the proxy;
    the keyfile lands in the target 0600, and the PSK nowhere else."""
    from test_connectivity import proxied

    target, record, log = public_target, tmp_path / "record.jsonl", tmp_path / "install.log"
    nm_state = tmp_path / "nm.json"
    nm_state.write_text(json.dumps({
        "running": True, "connectivity": "full", "connections": {}, "networks": [],
        "devices": [{"name": "enp1s0", "type": "ethernet", "state": "connected", "ip4": "10.0.2.15/24"},
                    {"name": "wlan0", "type": "wifi", "state": "disconnected"}]}))
    for proxy, address in proxied(online):
        with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
            path = answers(tmp_path, device)
            path.write_text(path.read_text() + f'[network]\nwifi_ssid = "Home"\nwifi_password = "{WIFI_PSK}"\n'
                                               f'proxy = "{address}"\n')
            done = installer(
                "--answers", str(path), "--yes", "--target", str(target), "--log", str(log),
                "--nixos-install", f"{STANDINS / 'nixos-install'} --option substituters http://cache.invalid",
                "--nixos-enter", str(STANDINS / "nixos-enter"), "--nmcli", str(STANDINS / "nmcli"),
                env={"STANDIN_RECORD": str(record), "STANDIN_FETCH": "1", "NMCLI_STATE": str(nm_state)},
            )
            output = done.stdout + done.stderr
            assert done.returncode == 0, output
            assert "Already online; the Wi-Fi network 'Home' is kept for the new system" in done.stdout
            keyfile = target / "etc/NetworkManager/system-connections/wifi-Home.nmconnection"
            assert f"wrote {keyfile} (0600, root only" in done.stdout
            info = keyfile.stat()
            assert (oct(info.st_mode & 0o777), info.st_uid) == ("0o600", 0)
            assert f"psk={WIFI_PSK}\n" in keyfile.read_text()
            # nixos-install asked the cache ("cache.invalid" resolves nowhere) through the proxy.
            assert "GET http://cache.invalid/nix-cache-info" in proxy.seen
            calls = [json.loads(line) for line in record.read_text().splitlines()]
            install_call = next(c for c in calls if c["tool"] == "nixos-install")
            assert install_call["env"]["http_proxy"] == install_call["env"]["https_proxy"] == address
            places = {"stdout/stderr": output, "log": log.read_text(), "argv/env": record.read_text()}
            places.update({str(p.relative_to(target)): p.read_text(errors="replace") for p in target.rglob("*")
                           if p.is_file() and p != keyfile})
            assert "etc/nixos/configuration.nix" in places and "etc/nixos/answers.toml" in places
            assert [where for where, text in places.items() if WIFI_PSK in text] == []


def recording_wrapper(tmp_path: Path, tool: str) -> Path:
    """A directory with `tool` that appends its argv and environment (JSON, 0600) to
    tmp_path/<tool>.jsonl, then runs the real one with the same stdin."""
    real = shutil.which(tool)
    assert real, f"{tool} is not installed"
    where = tmp_path / "bin"
    where.mkdir(exist_ok=True)
    wrapper = where / tool
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"fd = os.open({str(tmp_path / (tool + '.jsonl'))!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)\n"
        "os.write(fd, (json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n').encode())\n"
        "os.close(fd)\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    return where


def passphrase_unlocks(node: str, passphrase: str) -> bool:
    """cryptsetup's own check of a passphrase against the keyslots (no dm-crypt needed)."""
    done = subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-file=-", node],
                          input=passphrase.encode(), capture_output=True)
    return done.returncode == 0


@pytest.mark.parametrize("passphrase", [PASSPHRASE, LONG_PASSPHRASE], ids=["short", "4-kib-file"])
def test_unattended_luks_install_feeds_the_passphrase_on_stdin_only(tmp_path, public_target, passphrase):
    """The 4 KiB file is the largest the answers may name: all of it reaches cryptsetup, byte for
    byte (cryptsetup reads a typed passphrase only up to 512 characters; --key-file=- reads it all)."""
    target = public_target
    record = tmp_path / "record.jsonl"
    log = tmp_path / "install.log"
    wrappers = recording_wrapper(tmp_path, "cryptsetup")
    with loop_device(tmp_path, size=12 * 1024**3, target=str(target)) as (device, image):
        done = installer(
            "--answers", str(answers(tmp_path, device, encrypted=True, passphrase=passphrase)), "--yes",
            "--target", str(target),
            "--log", str(log), "--nixos-install", str(STANDINS / "nixos-install"),
            "--nixos-enter", str(STANDINS / "nixos-enter"),
            env={"STANDIN_RECORD": str(record), "STANDIN_PATHS": "10", "STANDIN_DRVS": "1",
                 "PATH": f"{wrappers}:{os.environ['PATH']}"},
        )
        output = done.stdout + done.stderr
        calls = [json.loads(line) for line in (tmp_path / "cryptsetup.jsonl").read_text().splitlines()]
        commands = [c["argv"][1] for c in calls]
        assert commands[:2] == ["luksFormat", "open"], commands

        # The root partition holds a LUKS2 container, and the passphrase from the
        # answers file (without the editor's final newline) unlocks it.
        root = calls[0]["argv"][-1]  # BIOS with LUKS: /boot stays unencrypted, before swap and root
        assert root.startswith(device + "p") and calls[1]["argv"][-2] == root
        assert blkid(root)["TYPE"] == "crypto_LUKS"
        assert passphrase_unlocks(root, passphrase)
        assert not passphrase_unlocks(root, passphrase + "\n")
        assert not passphrase_unlocks(root, passphrase[:-1])
        assert len(passphrase) < 512 or not passphrase_unlocks(root, passphrase[:512])
        if kernel_has_dm_crypt():
            assert done.returncode == 0, output
            # Past the open: the layout was made inside the container, and the
            # generated configuration unlocks it by UUID at boot.
            hardware = (target / "etc/nixos/hardware-configuration.nix").read_text()
            assert f'"/dev/disk/by-uuid/{blkid(root)["UUID"]}"' in hardware
        else:
            # No dm-crypt here: opening fails, the install stops there and says so.
            assert done.returncode == 1, output
            assert "failed:" in done.stdout and "device-mapper" in output
            assert not (target / "etc/nixos").exists()

        # Wherever the install got, the passphrase went to cryptsetup's stdin only:
        # not its argv, not its environment, not the log, not what was printed,
        # not any file under the target, not the LUKS header in the clear.
        places = {"stdout/stderr": output, "log": log.read_text(),
                  "cryptsetup argv/env": (tmp_path / "cryptsetup.jsonl").read_text()}
        if record.exists():
            places["stand-ins argv/env"] = record.read_text()
        for path in target.rglob("*"):
            if path.is_file() and path != target / "etc/shadow":
                places[str(path.relative_to(target))] = path.read_text(errors="replace")
        with open(root, "rb") as f:
            header = f.read(16 * 1024**2)
        assert passphrase.encode() not in header, "the passphrase is in the LUKS header in the clear"
        for where, text in places.items():
            for secret in (passphrase, USER_PASSWORD, ROOT_PASSWORD):
                assert secret not in text, f"a secret reached {where}"
        assert all("--key-file=-" in call["argv"] for call in calls[:2])
        assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_configuration_nix_refuses_stops_the_install_before_the_disk_is_touched(tmp_path, public_target):
    """--yes with a package nixpkgs lacks (the stand-in nixpkgs, the suite's Nix):
    exit 2 with Nix's error, and the loop device, the target and nixos-install
    are untouched. With --skip-eval the same answers install."""
    from nixeval import NIX_INSTANTIATE
    from evalcheck_support import STANDIN_NIXPKGS

    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{Path(NIX_INSTANTIATE).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "NIX_PATH": f"nixpkgs={STANDIN_NIXPKGS}", "HOME": str(home)}
    path = answers(tmp_path, "DEVICE")
    record = tmp_path / "record.jsonl"
    with loop_device(tmp_path, size=12 * 1024**3, target=str(public_target)) as (device, image):
        path.write_text(path.read_text().replace("DEVICE", device) + '[software]\npackages = ["git", "nosuchpackage"]\n')
        before = (image.stat().st_size, data_extents(image))
        args = ["--answers", str(path), "--yes", "--target", str(public_target), "--log", str(tmp_path / "log"),
                "--nixos-install", str(STANDINS / "nixos-install"), "--nixos-enter", str(STANDINS / "nixos-enter")]
        env["STANDIN_RECORD"] = str(record)
        done = installer(*args, env=env)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "nixpkgs has no package 'nosuchpackage'" in done.stdout
        assert "== [1/" not in done.stdout
        assert (image.stat().st_size, data_extents(image)) == before == (12 * 1024**3, [])  # not one byte written
        assert list(public_target.iterdir()) == [] and not record.exists()

        done = installer(*args, "--skip-eval", env={**env, "STANDIN_PATHS": "4", "STANDIN_DRVS": "1"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Not checking the configuration with Nix (--skip-eval)." in done.stdout
        assert "EF02" in run("sgdisk", "-p", device) and record.exists()
