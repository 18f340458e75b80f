"""Unlocking the disk with a FIDO2 security key or the TPM2 (issue 20), the passphrase kept.

FIDO2: the exact command the plan builds, and the executor's enrolment run
against a stand-in that behaves like systemd-cryptenroll's FIDO2 path on a
real LUKS2 header (tests/standins/cryptenroll). TPM2: the key file the
installer leaves in the target, and the first-boot service's own script run
with a recording systemd-cryptenroll (the real command with an emulated TPM
runs in tests/test_vm.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, valid_model

from installer.answers.validate import validate
from installer.flow.options import Options
from installer.flow.session import Session
from installer.machine.hardware import Disk, Machine
from installer.nixos.render import render
from installer.plan import unlock
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.plan.types import Action
from installer.run import enroll as enroll_module
from installer.run.enroll import FIDO2_HINT, EnrollError, enroll
from vm.vmrun import tpm2_service

GIB = 1024**3
PASSPHRASE = "correct horse battery staple"
STANDIN = ROOT / "tests/standins/cryptenroll"
needs_cryptsetup = pytest.mark.skipif(shutil.which("cryptsetup") is None, reason="needs cryptsetup")


def machine(firmware: str = "uefi") -> Machine:
    disk = Disk(path="/dev/nvme0n1", name="nvme0n1", size=256 * GIB, by_id="/dev/disk/by-id/nvme-Disk_1",
                drivers=["nvme"])
    return Machine(firmware=firmware, memory_bytes=16 * GIB, disks=[disk])


def encrypted(way: str, swap: str = "zram"):
    m = valid_model()
    m.disk.device = "/dev/nvme0n1"
    m.disk.swap = swap
    m.encryption.enabled = True
    m.encryption.passphrase = m.encryption.passphrase_confirm = PASSPHRASE
    m.encryption.unlock = way
    return m


# -- answers ----------------------------------------------------------------------

def test_unlock_without_encryption_is_refused_at_its_key():
    m = valid_model()
    m.encryption.unlock = "tpm2"
    problems = [p for p in validate(m, machine()) if p.field.startswith("encryption")]
    assert [(p.field, p.message) for p in problems] == [
        ("encryption.unlock", "unlocking with the TPM2 chip needs an encrypted disk: turn encryption on, "
                              "or unlock with the passphrase")]


def test_an_unknown_way_and_a_premounted_layout_are_refused_at_the_key():
    m = encrypted("yubikey")
    assert [p.message for p in validate(m, machine()) if p.field == "encryption.unlock"] == [
        "must be one of passphrase, fido2, tpm2"]
    m = encrypted("fido2")
    m.disk.layout = "premounted"
    [problem] = [p for p in validate(m, machine()) if p.field == "encryption.unlock"]
    assert "enrol it after installing with systemd-cryptenroll" in problem.message


def test_the_passphrase_is_still_required_with_fido2_or_tpm2():
    m = encrypted("fido2")
    m.encryption.passphrase = m.encryption.passphrase_confirm = None
    assert "encryption.passphrase" in [p.field for p in validate(m, machine())]


# -- what the plan and the files say -------------------------------------------------

def test_fido2_enrolment_is_one_step_per_container_after_its_format_before_anything_is_installed():
    model = encrypted("fido2", swap="hibernate")
    plan = build_plan(model, machine(), Identity.generate(2))
    kinds = [s.action for s in plan.steps]
    enrols = [s for s in plan.steps if s.action is Action.ENROLL_FIDO2]
    assert [s.argv for s in enrols] == [
        ("systemd-cryptenroll", "--unlock-key-file=<key file>", "--fido2-device=auto", "/dev/nvme0n1p3"),
        ("systemd-cryptenroll", "--unlock-key-file=<key file>", "--fido2-device=auto", "/dev/nvme0n1p2"),
    ]
    assert kinds.index(Action.ENROLL_FIDO2) > max(i for i, k in enumerate(kinds) if k is Action.LUKS_OPEN)
    assert all(PASSPHRASE not in " ".join(s.argv) and s.stdin == "luks_passphrase" for s in enrols)
    assert "<key file>: luks_passphrase, mode 0600 under /run, removed after" in enrols[0].shown()
    files = render(model, machine(), plan, host_platform="x86_64-linux")
    config = files["configuration.nix"]
    assert "boot.initrd.systemd.enable = true;" in config
    assert 'boot.initrd.luks.devices.cryptroot.crypttabExtraOpts = [ "fido2-device=auto" ];' in config
    assert 'boot.initrd.luks.devices.cryptswap.crypttabExtraOpts = [ "fido2-device=auto" ];' in config
    assert "systemd.services" not in config
    # the passphrase prompt keeps the chosen keymap: systemd's initrd takes console.keyMap with earlySetup
    assert 'console.keyMap = "de-latin1";' in config and "console.earlySetup = true;" in config


def test_tpm2_is_not_enrolled_by_the_installer_but_by_a_first_boot_service():
    model = encrypted("tpm2")
    ident = Identity.generate(5)
    plan = build_plan(model, machine(), ident)
    assert Action.ENROLL_FIDO2 not in [s.action for s in plan.steps]
    config = render(model, machine(), plan, host_platform="x86_64-linux")["configuration.nix"]
    assert 'boot.initrd.luks.devices.cryptroot.crypttabExtraOpts = [ "tpm2-device=auto" ];' in config
    assert f'scriptArgs = "{unlock.TPM2_KEY_FILE} /dev/disk/by-uuid/{ident.luks_uuid}";' in config
    assert f"systemd.services.{unlock.TPM2_SERVICE} = {{" in config
    assert PASSPHRASE not in config


def test_the_passphrase_alone_renders_no_systemd_initrd():
    model = encrypted("passphrase")
    config = render(model, machine(), build_plan(model, machine(), Identity.generate(1)),
                    host_platform="x86_64-linux")["configuration.nix"]
    assert "initrd.systemd" not in config and "crypttabExtraOpts" not in config


def service_script(config: str) -> str:
    """The first-boot service's script, as NixOS writes it into the unit's start file (the VM test runs the same)."""
    return tpm2_service(config)[0]


def test_the_first_boot_script_runs_the_tpm2_command_then_shreds_the_key_and_then_does_nothing(tmp_path):
    """The script text from configuration.nix, run as NixOS runs it (bash -e, scriptArgs
    as arguments), with a systemd-cryptenroll that records its argv."""
    model = encrypted("tpm2", swap="hibernate")
    plan = build_plan(model, machine(), Identity.generate(6))
    config = render(model, machine(), plan, host_platform="x86_64-linux")["configuration.nix"]
    script = tmp_path / "start"
    script.write_text("#!/bin/bash -e\n" + service_script(config))
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemd-cryptenroll"
    # records its arguments; succeeds only when the key file holds the passphrase
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$RECORD"\ntest "$(cat "${1#--unlock-key-file=}")" = "$SECRET"\n')
    fake.chmod(0o755)
    key = tmp_path / "tpm2-enrol.key"
    key.write_text(PASSPHRASE)
    key.chmod(0o600)
    args = re.search(r'scriptArgs = "([^"]*)";', config).group(1).split()
    assert args[0] == unlock.TPM2_KEY_FILE
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(tmp_path / "record"), "SECRET": PASSPHRASE}
    done = subprocess.run([str(script), str(key), *args[1:]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ran = (tmp_path / "record").read_text().splitlines()
    assert ran == [" ".join(unlock.tpm2_argv(device, str(key))[1:]) for device in args[1:]]
    assert len(ran) == 2 and not key.exists()  # both containers; the passphrase shredded
    again = subprocess.run([str(script), str(key), *args[1:]], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and len((tmp_path / "record").read_text().splitlines()) == 2


def test_the_first_boot_script_shreds_the_key_even_when_the_tpm_refuses(tmp_path):
    model = encrypted("tpm2")
    config = render(model, machine(), build_plan(model, machine(), Identity.generate(7)),
                    host_platform="x86_64-linux")["configuration.nix"]
    script = tmp_path / "start"
    script.write_text("#!/bin/bash -e\n" + service_script(config))
    script.chmod(0o755)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/systemd-cryptenroll").write_text("#!/bin/sh\necho 'No TPM2 device found.' >&2\nexit 1\n")
    (tmp_path / "bin/systemd-cryptenroll").chmod(0o755)
    key = tmp_path / "key"
    key.write_text(PASSPHRASE)
    done = subprocess.run([str(script), str(key), "/dev/disk/by-uuid/x"], capture_output=True, text=True,
                          env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"})
    assert done.returncode == 1 and "No TPM2 device found." in done.stderr and not key.exists()


def test_the_tpm2_key_file_is_written_into_the_target_for_root_only(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    session = Session(Options(target=str(target), seed=3), encrypted("tpm2"), machine())
    lines: list[str] = []
    written = session.install.write_config(lines.append)
    key = target / unlock.TPM2_KEY_FILE.lstrip("/")
    assert str(key) in written
    assert key.read_text() == PASSPHRASE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.parent.parent.stat().st_mode) == 0o755  # /var/lib stays readable
    assert not any(PASSPHRASE in line for line in lines)
    assert PASSPHRASE not in (target / "etc/nixos/answers.toml").read_text()
    # no key file for FIDO2 (enrolled already) nor the passphrase alone
    other = tmp_path / "other"
    other.mkdir()
    Session(Options(target=str(other), seed=3), encrypted("fido2"), machine()).install.write_config(lines.append)
    assert not (other / "var").exists()


# -- the FIDO2 enrolment, on a real LUKS2 header ----------------------------------------

@pytest.fixture
def luks_image(tmp_path):
    """A small LUKS2 container in a file (cryptsetup works on files; no dm-crypt needed),
    with a cheap PBKDF so the test stays quick."""
    image = tmp_path / "luks.img"
    with open(image, "wb") as f:
        f.truncate(32 * 1024**2)
    subprocess.run(["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "--key-file=-", str(image)],
                   input=PASSPHRASE.encode(), check=True, capture_output=True)
    return image


def run_enroll(monkeypatch, tmp_path, image: Path, **env):
    keys = tmp_path / "run"
    keys.mkdir(exist_ok=True)
    monkeypatch.setattr(enroll_module, "KEY_ROOT", str(keys))
    monkeypatch.setenv("PATH", f"{STANDIN}:{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_RECORD", str(tmp_path / "record"))
    for name, value in env.items():
        monkeypatch.setenv(f"STANDIN_{name}", value)
    [step] = unlock.fido2_steps([type("E", (), {"name": "cryptroot"})()], {"cryptroot": str(image)})
    lines: list[str] = []
    try:
        enroll(step, {"luks_passphrase": PASSPHRASE}, lines.append, [PASSPHRASE])
    finally:
        assert list(keys.iterdir()) == []  # the key file and its directory are gone, whatever happened
    return lines


@needs_cryptsetup
def test_fido2_enrolment_adds_a_key_slot_and_a_systemd_fido2_token_showing_the_touch_prompt(
        monkeypatch, tmp_path, luks_image):
    lines = run_enroll(monkeypatch, tmp_path, luks_image)
    assert lines == [
        "  Initializing FIDO2 credential on security token.",
        "  (Hint: This might require confirmation of user presence on security token.)",
        "  Generating secret key on FIDO2 security token.",
        "  In order to allow secret key generation, please confirm presence on security token.",
        "  New FIDO2 token enrolled as key slot 1.",
    ]
    dump = json.loads(subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", str(luks_image)],
                                     capture_output=True, text=True, check=True).stdout)
    assert sorted(dump["keyslots"]) == ["0", "1"]  # the passphrase stays in slot 0
    [token] = dump["tokens"].values()
    assert token["type"] == "systemd-fido2" and token["keyslots"] == ["1"]
    subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-slot=0", "--key-file=-", str(luks_image)],
                   input=PASSPHRASE.encode(), check=True)
    [entry] = [json.loads(line) for line in (tmp_path / "record").read_text().splitlines()]
    assert entry["key_file_mode"] == "0o600" and entry["key_dir_mode"] == "0o700"
    assert entry["argv"][1:] == [f"--unlock-key-file={tmp_path / 'run'}/{Path(entry['argv'][1].split('=')[1]).parent.name}"
                                 "/unlock.key", "--fido2-device=auto", str(luks_image)]
    assert PASSPHRASE not in json.dumps(entry)  # not in argv, not in the environment


@needs_cryptsetup
@pytest.mark.parametrize("env, says", [({"FIDO2_DEVICES": "0"}, "No FIDO2 devices found."),
                                       ({"FIDO2_PIN": "1"}, "Failed to acquire user PIN")])
def test_a_failed_fido2_enrolment_says_why_and_what_to_do(monkeypatch, tmp_path, luks_image, env, says):
    with pytest.raises(EnrollError) as failed:
        run_enroll(monkeypatch, tmp_path, luks_image, **env)
    assert says in failed.value.output and FIDO2_HINT in failed.value.output
    dump = json.loads(subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", str(luks_image)],
                                     capture_output=True, text=True, check=True).stdout)
    assert list(dump["keyslots"]) == ["0"] and dump["tokens"] == {}


# -- the whole install, where the kernel has dm-crypt ---------------------------------

@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None, reason="needs root for loop devices")
def test_a_loop_install_enrols_the_fido2_key_after_the_luks_format_and_before_nixos_install(tmp_path):
    """The real CLI, unattended: BIOS, ext4, LUKS, unlock = "fido2", the stand-in
    systemd-cryptenroll first on PATH. Its prompts come in the run's output between
    the LUKS steps and nixos-install, and the root container carries the token."""
    import tempfile

    from loopdev import NO_DM_CRYPT, bios_answers, kernel_has_dm_crypt, loop_device, run

    from installer.run import resume

    if not kernel_has_dm_crypt():
        pytest.skip(NO_DM_CRYPT)
    (tmp_path / "passphrase").write_text(PASSPHRASE)
    answers = bios_answers(tmp_path, "DEVICE")
    target = Path(tempfile.mkdtemp(prefix="nti-fido2-", dir="/var/tmp"))
    target.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env["PATH"] = f"{STANDIN}:{env['PATH']}"
    try:
        with loop_device(tmp_path, size=12 * GIB, target=str(target)) as (device, _image):
            answers.write_text(answers.read_text().replace("DEVICE", device)
                               + '[encryption]\nenabled = true\npassphrase_file = "passphrase"\nunlock = "fido2"\n')
            done = subprocess.run(
                [sys.executable, "-m", "installer", "--allow-loop", "--yes", "--skip-eval", "--answers", str(answers),
                 "--target", str(target), "--log", str(tmp_path / "install.log"),
                 "--nixos-install", str(ROOT / "tests/standins/nixos-install"),
                 "--nixos-enter", str(ROOT / "tests/standins/nixos-enter")],
                capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=600, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
            out = done.stdout
            touch = out.index("please confirm presence on security token")
            assert out.rindex("cryptsetup open") < touch < out.index("== [3/5] nixos-install")
            dump = json.loads(run("cryptsetup", "luksDump", "--dump-json-metadata", f"{device}p3"))
            assert [t["type"] for t in dump["tokens"].values()] == ["systemd-fido2"]
            config = (target / "etc/nixos/configuration.nix").read_text()
            assert 'boot.initrd.luks.devices.cryptroot.crypttabExtraOpts = [ "fido2-device=auto" ];' in config
            assert PASSPHRASE not in out + done.stderr + (tmp_path / "install.log").read_text()
    finally:
        resume.forget(Options().state_dir, str(target))
        run("umount", "-R", "-l", str(target), check=False)
        shutil.rmtree(target, ignore_errors=True)


# -- the layouts that keep what is on the disk (issue 18) ------------------------------

def test_a_layout_keeping_the_disk_enrols_fido2_and_renders_tpm2_as_erasing_does(tmp_path):
    from installer.machine.probe import probe

    machine_kept = probe(ROOT / "tests/fixtures/machines/ubuntu-and-free-space.json")
    model = encrypted("fido2")
    model.disk.device = "/dev/sda"
    model.disk.layout = "free-space"
    plan = build_plan(model, machine_kept, Identity.generate(18))
    root = next(p for p in plan.partitions if p.purpose == "root")
    enrols = [s.argv for s in plan.steps if s.action is Action.ENROLL_FIDO2]
    assert enrols == [tuple(unlock.fido2_argv(root.path))]
    model.encryption.unlock = "tpm2"
    config = render(model, machine_kept, build_plan(model, machine_kept, Identity.generate(18)),
                    host_platform="x86_64-linux")["configuration.nix"]
    assert "tpm2-device=auto" in config and unlock.TPM2_SERVICE in config
    target = tmp_path / "target"
    target.mkdir()
    Session(Options(target=str(target), seed=3), model, machine_kept).install.write_config(lambda _line: None)
    assert (target / unlock.TPM2_KEY_FILE.lstrip("/")).read_text() == PASSPHRASE
