"""Hibernation (issue 20): a swap partition sized to the RAM, `boot.resumeDevice` naming it.

The rule (installer.machine.eligibility.hibernate_swap_bytes) and its refusals are
checked here on plans; the acceptance test installs for real onto a loop device
(BIOS, ext4) through the CLI, on a machine whose /proc/meminfo says 8 GiB.
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
from conftest import ROOT, valid_model

from installer.answers.validate import validate
from installer.base.problems import ProblemsError
from installer.machine import udevdata
from installer.machine.eligibility import (HIBERNATE_NO_MEMORY, HIBERNATE_NO_SWAP, HIBERNATE_SWAP_FILE,
                                          HIBERNATE_ZRAM, hibernate_swap_bytes)
from installer.machine.hardware import BIOS_BOOT_TYPE, Disk, Machine, Mount, Partition
from installer.machine.probe import machine_from_data, probe
from installer.nixos.render import render
from installer.plan.erase import SWAP_LUKS_NAME, build_plan
from installer.plan.identity import Identity

GIB = 1024**3
MEMINFO = "MemTotal:        8388608 kB\nMemFree:         1234567 kB\nSwapTotal:             0 kB\n"


def machine(memory: int = 8 * GIB, size: int = 40 * GIB, firmware: str = "bios") -> Machine:
    disk = Disk(path="/dev/sda", name="sda", size=size, by_id="/dev/disk/by-id/ata-Disk_1", drivers=["ahci"])
    return Machine(firmware=firmware, memory_bytes=memory, disks=[disk])


def hibernating(luks: bool = False):
    m = valid_model()
    m.boot.firmware = "bios"
    m.disk.device = "/dev/sda"
    m.disk.swap = "hibernate"
    m.encryption.enabled = luks
    m.encryption.passphrase = m.encryption.passphrase_confirm = "a long passphrase" if luks else None
    return m


# -- the size rule ------------------------------------------------------------------

@pytest.mark.parametrize("ram, swap", [(8 * GIB, 11 * GIB), (16 * GIB, 20 * GIB), (1 * GIB, 2 * GIB),
                                       (7 * GIB + 1, 11 * GIB), (64 * GIB, 72 * GIB), (1, 2 * GIB)])
def test_the_swap_is_the_ram_rounded_up_to_a_gib_plus_its_square_root(ram, swap):
    assert hibernate_swap_bytes(ram) == swap


def test_the_swap_always_holds_the_ram_with_a_margin():
    for mib in range(1, 200 * 1024, 97):
        ram = mib * 1024**2
        size = hibernate_swap_bytes(ram)
        assert size % GIB == 0 and size >= ram + GIB


# -- the probe: MemTotal, and recordings without it ------------------------------

def test_the_probe_reads_memtotal_under_its_proc_root(tmp_path):
    (tmp_path / "meminfo").write_text(MEMINFO)
    assert udevdata.mem_total(str(tmp_path)) == 8 * GIB
    (tmp_path / "meminfo").write_text("MemFree: 12 kB\n")
    assert udevdata.mem_total(str(tmp_path)) == 0
    assert udevdata.mem_total(str(tmp_path / "nowhere")) == 0


def test_a_recording_carries_the_memory_and_an_old_one_still_loads():
    data = json.loads((ROOT / "tests/fixtures/machines/simple.json").read_text())
    old = machine_from_data(data)
    assert old.memory_bytes == 0 and old.disks
    data.setdefault("machine", {})["memory_bytes"] = 8 * GIB
    assert machine_from_data(data).memory_bytes == 8 * GIB


def test_hibernate_on_a_recording_without_memory_is_refused_with_that_reason():
    recorded = probe(ROOT / "tests/fixtures/machines/simple.json")
    m = hibernating()
    m.boot.firmware = None
    m.disk.device = recorded.offered_disks[0].path
    problems = [p for p in validate(m, recorded) if p.field == "disk.swap"]
    assert [p.message for p in problems] == [HIBERNATE_NO_MEMORY]
    with pytest.raises(ProblemsError) as refused:
        build_plan(m, recorded, Identity.generate(1))
    assert HIBERNATE_NO_MEMORY in [p.message for p in refused.value.problems]


# -- the plan and the files --------------------------------------------------------

def test_plain_hibernation_swap_is_named_by_uuid_in_resume_device():
    mach = machine()
    ident = Identity.generate(3)
    plan = build_plan(hibernating(), mach, ident)
    swap = next(p for p in plan.partitions if p.purpose == "swap")
    assert swap.size == 11 * GIB and swap.fstype == "swap"
    assert plan.resume_device == f"/dev/disk/by-uuid/{ident.swap_uuid}"
    assert [s.device for s in plan.swaps] == [plan.resume_device] and not plan.swaps[0].random_encryption
    files = render(hibernating(), mach, plan, host_platform="x86_64-linux")
    assert f'boot.resumeDevice = "/dev/disk/by-uuid/{ident.swap_uuid}";' in files["configuration.nix"]
    assert "randomEncryption" not in files["hardware-configuration.nix"]
    assert any("swap for hibernation" in line for line in plan.summary_lines())


def test_encrypted_hibernation_swap_is_its_own_luks_container_opened_with_the_same_passphrase():
    mach = machine()
    ident = Identity.generate(4)
    model = hibernating(luks=True)
    plan = build_plan(model, mach, ident)
    swap = next(p for p in plan.partitions if p.purpose == "swap")
    assert swap.fstype == "crypto_LUKS" and not swap.partuuid
    shown = [s.shown() for s in plan.steps]
    assert (f"cryptsetup luksFormat --type luks2 --uuid {ident.swap_luks_uuid} --batch-mode --key-file=- "
            f"{swap.path} <<< <redacted>") in shown
    assert f"cryptsetup open --key-file=- {swap.path} {SWAP_LUKS_NAME} <<< <redacted>" in shown
    assert f"mkswap -L swap -U {ident.swap_uuid} /dev/mapper/{SWAP_LUKS_NAME}" in shown
    assert plan.resume_device == f"/dev/mapper/{SWAP_LUKS_NAME}"
    files = render(model, mach, plan, host_platform="x86_64-linux")
    hardware = files["hardware-configuration.nix"]
    assert (f'boot.initrd.luks.devices."{SWAP_LUKS_NAME}".device = '
            f'"/dev/disk/by-uuid/{ident.swap_luks_uuid}";') in hardware
    assert "randomEncryption" not in hardware  # a random key is new at every boot: no image survives
    assert f'boot.resumeDevice = "/dev/mapper/{SWAP_LUKS_NAME}";' in files["configuration.nix"]
    assert "console.earlySetup = true;" in files["configuration.nix"]


def test_no_room_for_the_hibernation_swap_is_refused_at_the_disk():
    with pytest.raises(ProblemsError) as refused:
        build_plan(hibernating(), machine(memory=32 * GIB, size=30 * GIB), Identity.generate(1))
    [problem] = refused.value.problems
    assert problem.field == "disk.device" and "38 GiB swap to hibernate 32 GiB of RAM into" in problem.message


def premounted_machine(swaps: list[str], memory: int = 8 * GIB) -> Machine:
    parts = [Partition(path="/dev/sda1", number=1, size=20 * GIB, fstype="ext4", uuid="1111-root", mountpoint="/mnt"),
             Partition(path="/dev/sda2", number=2, size=12 * GIB, fstype="swap", uuid="2222-swap"),
             Partition(path="/dev/sda3", number=3, size=1024**2, type_guid=BIOS_BOOT_TYPE)]
    disk = Disk(path="/dev/sda", name="sda", size=40 * GIB, table="gpt", partitions=parts, drivers=["ahci"],
                by_id="/dev/disk/by-id/ata-Disk_1")
    return Machine(firmware="bios", memory_bytes=memory, disks=[disk], swaps=swaps,
                   mounts=[Mount("/dev/sda1", "/mnt", "ext4", uuid="1111-root")])


@pytest.mark.parametrize("swaps, reason", [(["/dev/zram0"], HIBERNATE_ZRAM), ([], HIBERNATE_NO_SWAP),
                                           (["/mnt/swapfile"], HIBERNATE_SWAP_FILE)])
def test_premounted_hibernation_needs_a_swap_partition(swaps, reason):
    m = hibernating()
    m.disk.layout = "premounted"
    with pytest.raises(ProblemsError) as refused:
        build_plan(m, premounted_machine(swaps), Identity.generate(1))
    assert reason in [p.message for p in refused.value.problems if p.field == "disk.swap"]


def test_premounted_hibernation_resumes_from_the_active_swap_partition():
    m = hibernating()
    m.disk.layout = "premounted"
    plan = build_plan(m, premounted_machine(["/dev/sda2"]), Identity.generate(1))
    assert plan.resume_device == "/dev/disk/by-uuid/2222-swap"
    with pytest.raises(ProblemsError) as refused:
        build_plan(m, premounted_machine(["/dev/sda2"], memory=16 * GIB), Identity.generate(1))
    assert "the active swap is only 12 GiB" in refused.value.problems[0].message


# -- acceptance: a real install onto a loop device, on a machine of 8 GiB ---------

# The CLI as `python -m installer` runs it, except that the probe reads MemTotal
# from a meminfo of 8 GiB (the live probe, through its proc_root).
EIGHT_GIB_MACHINE = """
import sys
from installer.machine import udevdata
from installer.cli import main

real = udevdata.mem_total
udevdata.mem_total = lambda proc_root="/proc": real({fake!r})
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None, reason="needs root for loop devices")
def test_a_loop_install_with_hibernate_on_8_gib_makes_a_swap_of_the_ram_named_in_resume_device(tmp_path):
    from loopdev import bios_answers, blkid, loop_device, run

    from installer.flow.session import Options
    from installer.run import resume

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text(MEMINFO)
    target = Path(tempfile.mkdtemp(prefix="nti-hibernate-", dir="/var/tmp"))
    target.chmod(0o755)
    answers = bios_answers(tmp_path, "DEVICE", swap="hibernate")
    try:
        # 1 MiB BIOS boot + 11 GiB swap + the root's 5 GiB at least: a sparse 18 GiB image
        with loop_device(tmp_path, size=18 * GIB, target=str(target)) as (device, _image):
            answers.write_text(answers.read_text().replace("DEVICE", device))
            done = subprocess.run(
                [sys.executable, "-c", EIGHT_GIB_MACHINE.format(fake=str(proc)), "--allow-loop", "--yes", "--skip-eval",
                 "--answers", str(answers), "--target", str(target), "--log", str(tmp_path / "install.log"),
                 "--nixos-install", str(ROOT / "tests/standins/nixos-install"),
                 "--nixos-enter", str(ROOT / "tests/standins/nixos-enter")],
                capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
            swap_node = f"{device}p2"
            tags = blkid(swap_node)
            size = int(run("blockdev", "--getsize64", swap_node))
            assert tags["TYPE"] == "swap" and size >= 8 * GIB and size == 11 * GIB
            config = (target / "etc/nixos/configuration.nix").read_text()
            assert f'boot.resumeDevice = "/dev/disk/by-uuid/{tags["UUID"]}";' in config
            hardware = (target / "etc/nixos/hardware-configuration.nix").read_text()
            assert f'device = "/dev/disk/by-uuid/{tags["UUID"]}";' in hardware
    finally:
        resume.forget(Options().state_dir, str(target))
        run("umount", "-R", "-l", str(target), check=False)
        shutil.rmtree(target, ignore_errors=True)


def test_hibernation_is_refused_when_keeping_what_is_on_the_disk():
    from installer.machine.eligibility import HIBERNATE_KEEP

    kept = probe(ROOT / "tests/fixtures/machines/ubuntu-and-free-space.json")
    kept.memory_bytes = 8 * GIB
    m = hibernating()
    m.boot.firmware = None
    m.disk.layout = "free-space"
    assert HIBERNATE_KEEP in [p.message for p in validate(m, kept) if p.field == "disk.swap"]
    with pytest.raises(ProblemsError) as refused:
        build_plan(m, kept, Identity.generate(1))
    assert [p.message for p in refused.value.problems] == [HIBERNATE_KEEP]
