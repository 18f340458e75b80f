"""The plans that keep what is on a disk (installer.plan.keep): free-space, alongside and
replace on the recorded machines, their steps' order and arguments, the boot set-up beside
the other systems, and the problems at each answers key."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import valid_model
from installer.answers.model import InstallModel
from installer.base.problems import ProblemsError
from installer.machine.hardware import LINUX_FS_TYPE, XBOOTLDR_TYPE, Machine
from installer.machine.probe import probe
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.plan.keep import GENERATION_BYTES, LOADER_SPARE, OTHERS_SPARE
from installer.plan.offers import XBOOTLDR_BYTES
from installer.plan.types import Action, Plan

MACHINES = Path(__file__).resolve().parent / "fixtures" / "machines"
IDENT = Identity.generate(seed=18)
GIB = 1024**3
MIB = 1024**2


def recorded(name: str, **min_sizes: int) -> Machine:
    """A recorded machine; its partitions' smallest sizes set where the record has none
    (installer.machine.shrinkable reads them from the filesystems' tools on a live machine)."""
    machine = probe(MACHINES / f"{name}.json")
    for disk in machine.disks:
        for part in disk.partitions:
            short = part.path.removeprefix("/dev/")
            if short in min_sizes:
                part.min_size = min_sizes[short]
    return machine


def keep(layout: str, **disk: object) -> InstallModel:
    model = valid_model()
    model.disk.device = "/dev/sda"
    model.disk.layout = layout  # type: ignore[assignment]
    for key, value in disk.items():
        setattr(model.disk, key, value)
    return model


def actions(plan: Plan) -> list[Action]:
    return [s.action for s in plan.steps]


def problems(model: InstallModel, machine: Machine) -> dict[str, str]:
    with pytest.raises(ProblemsError) as caught:
        build_plan(model, machine, IDENT)
    return {p.field: p.message for p in caught.value.problems}


def test_alongside_ubuntu_next_to_windows_shrinks_then_adds_then_checks() -> None:
    machine = recorded("win11-along-ubuntu", sda5=20 * GIB)
    plan = build_plan(keep("alongside", shrink="/dev/sda5", shrink_to_gib=30), machine, IDENT)
    order = actions(plan)
    assert order.index(Action.SHRINK_FS) < order.index(Action.RESIZE_PART) < order.index(Action.ADD_PARTS)
    assert order.index(Action.CHECK_KEPT) < order.index(Action.MOUNT)  # before the ESP is mounted (dirty bit)
    assert Action.WIPEFS in order and Action.PARTITION not in order  # the table is never rewritten whole
    sda5 = next(p for p in machine.disks[0].partitions if p.number == 5)
    shrink = next(s for s in plan.steps if s.action is Action.SHRINK_FS).call
    assert shrink == {"device": "/dev/sda5", "fstype": "ext4", "new_size": 30 * GIB}
    resize = next(s for s in plan.steps if s.action is Action.RESIZE_PART).call
    assert resize["start_sector"] == sda5.start // 512  # its start never moves
    assert resize["new_end_sector"] == (sda5.start + 30 * GIB) // 512 - 1
    added = next(s for s in plan.steps if s.action is Action.ADD_PARTS).call
    assert [p["number"] for p in added["partitions"]] == [6, 7]
    assert added["partitions"][0]["start"] == resize["new_end_sector"] + 1  # NixOS starts where sda5 now ends
    assert added["partitions"][0]["type_guid"] == XBOOTLDR_TYPE  # Windows' ESP is 100 MiB
    assert added["partitions"][1]["type_guid"] == LINUX_FS_TYPE
    # NixOS takes everything up to the recovery partition that follows
    sda4 = next(p for p in machine.disks[0].partitions if p.number == 4)
    assert (added["partitions"][1]["end"] + 1) * 512 <= sda4.start
    check = next(s for s in plan.steps if s.action is Action.CHECK_KEPT).call
    assert [(p["path"], p["shrunk"]) for p in check["partitions"]] == [
        ("/dev/sda1", False), ("/dev/sda2", False), ("/dev/sda3", False), ("/dev/sda4", False), ("/dev/sda5", True)]
    assert {p["first_mib_sha256"] for p in check["partitions"]} == {""}  # hashed by the executor at confirmation
    # the ESP is never formatted: no mkfs names it
    assert not any("/dev/sda1" in s.argv for s in plan.steps if s.action is Action.MKFS)
    mounts = {fs.mountpoint: fs for fs in plan.filesystems}
    esp = machine.disks[0].partitions[0]
    assert mounts["/efi"].device == f"/dev/disk/by-uuid/{esp.uuid}"
    assert mounts["/boot"].device == f"/dev/disk/by-uuid/{IDENT.esp_volid}"
    assert plan.xbootldr and plan.efi_mount == "/efi"
    assert plan.configuration_limit == (XBOOTLDR_BYTES - LOADER_SPARE) // GENERATION_BYTES
    lines = plan.summary_lines()
    assert lines[0].startswith("Shrink /dev/sda5 (Ubuntu Plucky Puffin (ext4, 65 GiB)): 65 GiB -> 30 GiB")
    assert any(line.startswith("  Keep /dev/sda3: Windows (BitLocker-encrypted, 62 GiB)") for line in lines)


def test_free_space_touches_no_partition_and_reuses_a_big_esp() -> None:
    machine = recorded("ubuntu-and-free-space")
    plan = build_plan(keep("free-space"), machine, IDENT)
    assert not {Action.SHRINK_FS, Action.RESIZE_PART, Action.DELETE_PART} & set(actions(plan))
    added = next(s for s in plan.steps if s.action is Action.ADD_PARTS).call["partitions"]
    gap = machine.disks[0].largest_gap
    assert gap is not None
    assert added == [{"number": 4, "name": "nixos", "start": gap.start // 512, "end": gap.end // 512 - 1,
                      "type_guid": LINUX_FS_TYPE}]
    assert not plan.xbootldr and plan.efi_mount == "/boot"  # a 976 MiB ESP holds NixOS's kernels
    esp = machine.disks[0].partitions[0]
    assert plan.configuration_limit == (esp.size - OTHERS_SPARE - LOADER_SPARE) // GENERATION_BYTES
    assert [c.change for c in plan.changes] == ["reused", "kept", "kept"]


def test_size_gib_leaves_the_rest_of_the_gap_free() -> None:
    plan = build_plan(keep("free-space", size_gib=12), recorded("ubuntu-and-free-space"), IDENT)
    assert sum(p.size for p in plan.partitions) == 12 * GIB


def test_replace_on_msdos_under_bios_takes_the_last_logical_partition() -> None:
    machine = recorded("threebuntu-on-msdos")
    model = keep("replace", replace="sda6")
    model.disk.swap = "partition"
    plan = build_plan(model, machine, IDENT)
    assert actions(plan)[0] is Action.DELETE_PART
    deleted = plan.steps[0].call
    assert deleted["number"] == 6
    added = next(s for s in plan.steps if s.action is Action.ADD_PARTS).call
    assert added["table"] == "msdos"
    assert [(p["number"], p["type_id"], p["logical"]) for p in added["partitions"]] == [
        (6, "0x82", True), (7, "0x83", True)]
    assert added["partitions"][0]["start"] == deleted["start_sector"]
    assert Action.SET_TYPES not in actions(plan)  # no sgdisk on an MBR
    assert plan.loader == "grub" and plan.os_prober
    assert plan.grub_device == machine.disks[0].by_id
    assert [c.change for c in plan.changes] == ["kept", "kept", "kept", "kept", "deleted"]
    assert plan.summary_lines()[0].startswith("Delete /dev/sda6 (Ubuntu 22.04 LTS (ext4, 56 GiB))")


def test_each_key_gets_its_own_problem() -> None:
    machine = recorded("win11-along-ubuntu", sda5=20 * GIB)
    assert problems(keep("alongside"), machine)["disk.shrink"].endswith(": /dev/sda5")
    # the record says BitLocker, and shrinkable says what that means (not just "size not known")
    assert "encrypted with BitLocker" in problems(keep("alongside", shrink="/dev/sda3"), machine)["disk.shrink"]
    assert problems(keep("alongside", shrink="nosuch"), machine)["disk.shrink"].startswith("no partition on /dev/sda")
    assert problems(keep("alongside", shrink="sda5", shrink_to_gib=10), machine)["disk.shrink_to_gib"] == \
        "/dev/sda5 can be shrunk to between 25 and 54 GiB"  # 64.75 GiB to sda4, less 10 for NixOS
    assert problems(keep("replace", replace="sda1"), machine)["disk.replace"] == (
        "/dev/sda1 cannot be replaced: it is the EFI system partition the systems on this machine boot from")
    assert "disk.layout" in problems(keep("free-space"), machine)  # 1 MiB free
    assert problems(keep("replace", replace="sda5", size_gib=90), machine)["disk.size_gib"] == \
        "NixOS's share here can be between 10 and 64 GiB"  # 64.75 GiB from sda5 to sda4


def test_a_partition_is_named_by_partuuid_or_label() -> None:
    machine = recorded("win11-along-ubuntu")
    sda5 = machine.disks[0].partitions[4]
    assert sda5.partuuid
    plan = build_plan(keep("replace", replace=f"PARTUUID={sda5.partuuid.upper()}"), machine, IDENT)
    assert plan.steps[0].call["number"] == 5
    sda5.label = "ubuntu-root"
    plan = build_plan(keep("replace", replace="ubuntu-root"), machine, IDENT)
    assert plan.steps[0].call["number"] == 5


def test_luks_swap_partition_gets_its_partuuid_by_sgdisk_keeping_the_disk_guid() -> None:
    model = keep("free-space")
    model.disk.swap = "partition"
    model.encryption.enabled = True
    model.encryption.passphrase = model.encryption.passphrase_confirm = "a long passphrase"
    plan = build_plan(model, recorded("ubuntu-and-free-space"), IDENT)
    sgdisk = next(s for s in plan.steps if s.action is Action.SET_TYPES).argv
    assert f"--partition-guid=4:{IDENT.swap_uuid}" in sgdisk
    assert not any(a.startswith("--disk-guid") for a in sgdisk)
    assert plan.swaps[0].device == f"/dev/disk/by-partuuid/{IDENT.swap_uuid}"


def test_the_boot_set_up_beside_windows_and_beside_three_ubuntus_is_rendered() -> None:
    from installer.nixos.render import render

    machine = recorded("win11-along-ubuntu", sda5=20 * GIB)
    model = keep("alongside", shrink="/dev/sda5")
    files = render(model, machine, build_plan(model, machine, IDENT), host_platform="x86_64-linux")
    config, hardware = files["configuration.nix"], files["hardware-configuration.nix"]
    assert 'boot.loader.efi.efiSysMountPoint = "/efi";' in config
    assert 'boot.loader.systemd-boot.xbootldrMountPoint = "/boot";' in config
    assert "boot.loader.systemd-boot.configurationLimit = 15;" in config  # (1 GiB - 64 MiB) / 64 MiB
    assert "useOSProber" not in config  # systemd-boot finds Windows on the shared ESP itself
    esp = machine.disks[0].partitions[0]
    assert '"/efi" =' in hardware and f"/dev/disk/by-uuid/{esp.uuid}" in hardware
    machine = recorded("threebuntu-on-msdos")
    model = keep("replace", replace="/dev/sda6")
    config = render(model, machine, build_plan(model, machine, IDENT), host_platform="x86_64-linux")["configuration.nix"]
    assert "boot.loader.grub.useOSProber = true;" in config
    assert f'boot.loader.grub.device = "{machine.disks[0].by_id}";' in config
    assert "configurationLimit" not in config and "efiSysMountPoint" not in config


def test_the_disk_today_and_after_as_bars() -> None:
    from installer.plan.diskbar import FREE, KEPT, NIXOS, after, labels, today

    machine = recorded("ubuntu-and-free-space")
    disk = machine.disks[0]
    plan = build_plan(keep("free-space", size_gib=20), machine, IDENT)
    now, then = today(disk, 40), after(disk, plan, 40)
    assert len(now) == len(then) == 40
    # 11.2 GiB of partitions, then 29 GiB free, of 40 GiB: a column a GiB, 11 kept, the rest free
    assert set(now[:11]) <= set(KEPT) and set(now[11:]) == {FREE}
    # NixOS's 20 GiB right after them (columns 11 to 30), the 9 GiB left free after it
    assert then[:11] == now[:11] and then[11:31] == NIXOS * 20 and then[31:] == FREE * 9
    assert labels(disk, plan) == "free space -> NixOS 20 GiB, nothing else touched"
    tiny = build_plan(keep("free-space", size_gib=10), machine, IDENT)
    assert NIXOS in after(disk, tiny, 3)  # NixOS's space never vanishes from a narrow bar


def test_free_space_inside_the_extended_partition_takes_a_logical_partition_after_the_last() -> None:
    from installer.machine.hardware import Disk, Partition

    parts = [Partition("/dev/sda1", 1, 20 * GIB, MIB, "0x83", fstype="ext4"),
             Partition("/dev/sda2", 2, 43 * GIB, 21 * GIB, "0x5"),
             Partition("/dev/sda5", 5, 10 * GIB, 22 * GIB, "0x83", fstype="ext4")]
    disk = Disk("/dev/sda", "sda", 64 * GIB, table="dos", by_id="/dev/disk/by-id/ata-X", partitions=parts)
    machine = Machine(firmware="bios", disks=[disk])
    plan = build_plan(keep("free-space"), machine, IDENT)
    added = next(s for s in plan.steps if s.action is Action.ADD_PARTS).call["partitions"]
    assert [(p["number"], p["type_id"], p["logical"]) for p in added] == [(6, "0x83", True)]
    assert added[0]["start"] * 512 >= 32 * GIB + MIB  # the new EBR's MiB after sda5
    assert (added[0]["end"] + 1) * 512 <= 64 * GIB  # inside the extended partition
    assert plan.partitions[0].path == "/dev/sda6"
