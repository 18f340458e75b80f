"""The partition plan, pure: every layout's steps, sizes, GUIDs, names and refusals."""

from __future__ import annotations

import itertools
import re

import pytest

from installer.machine.hardware import (
    BIOS_BOOT_TYPE,
    ESP_TYPE,
    LINUX_FS_TYPE,
    LINUX_LUKS_TYPE,
    LINUX_SWAP_TYPE,
    Disk,
    Machine,
    Partition,
)
from installer.plan.identity import Identity
from installer.answers.model import GIB, MIB, InstallModel
from installer.plan.erase import build_plan, partition_path, summary_lines
from installer.plan.types import Action, Step
from installer.base.problems import ProblemsError

PASSPHRASE = "hunter2 with spaces"
IDENT = Identity.generate(seed=7)
SAMSUNG = Disk(
    path="/dev/nvme0n1",
    name="nvme0n1",
    size=500107862016,  # 465.8 GiB, not a whole number of MiB multiples of anything round
    by_id="/dev/disk/by-id/nvme-Samsung_SSD_970_EVO_500GB_S466NX0K123456",
    model="Samsung SSD 970 EVO 500GB",
    bus="nvme",
    holds="Windows (NTFS, 237 GiB)",
)


def machine(*disks: Disk, firmware: str = "uefi", boot_medium: str = "") -> Machine:
    return Machine(firmware=firmware, disks=list(disks) or [SAMSUNG], boot_medium=boot_medium)


def model(firmware="uefi", fs="ext4", swap="zram", luks=False, device="/dev/nvme0n1", loader=None, **disk):
    m = InstallModel()
    m.boot.firmware = firmware
    m.boot.loader = loader
    m.disk.device = device
    m.disk.filesystem = fs
    m.disk.swap = swap
    for key, value in disk.items():
        setattr(m.disk, key, value)
    if luks:
        m.encryption.enabled = True
        m.encryption.passphrase = m.encryption.passphrase_confirm = PASSPHRASE
    return m


def plan_for(**kw):
    disk = kw.pop("disk", SAMSUNG)
    return build_plan(model(**kw), machine(disk, firmware=kw.get("firmware", "uefi")), IDENT)


def argvs(plan, action=None):
    return [s.argv for s in plan.steps if action is None or s.action == action]


def problem_text(excinfo) -> str:
    return "\n".join(f"{p.field}: {p.message}" for p in excinfo.value.problems)


MATRIX = list(itertools.product(("uefi", "bios"), ("ext4", "btrfs", "xfs"), ("none", "zram", "partition"), (False, True)))


@pytest.mark.parametrize("firmware,fs,swap,luks", MATRIX)
def test_every_layout_is_aligned_contiguous_and_leaves_room_for_the_backup_gpt(firmware, fs, swap, luks):
    plan = plan_for(firmware=firmware, fs=fs, swap=swap, luks=luks)
    parts = plan.partitions
    assert parts[0].start == MIB
    for p in parts:
        assert p.start % MIB == 0 and p.size % MIB == 0, p
    for a, b in zip(parts, parts[1:]):
        assert a.end == b.start
    last_mib = (SAMSUNG.size // MIB) * MIB - MIB
    assert parts[-1].end == last_mib
    assert SAMSUNG.size - parts[-1].end >= MIB  # the backup GPT fits after the last partition
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    # the pyparted call carries the same table in sectors (inclusive ends)
    call = next(s.call for s in plan.steps if s.action == "partition")
    assert call["device"] == "/dev/nvme0n1" and call["table"] == "gpt"
    for p, row in zip(parts, call["partitions"]):
        assert row == {"number": p.number, "name": p.name, "type_guid": p.type_guid,
                       "start": p.start // 512, "end": p.end // 512 - 1}
    # no secret in any command line, and the passphrase only as a named stdin
    for step in plan.steps:
        assert PASSPHRASE not in " ".join(step.argv) and PASSPHRASE not in step.shown()
        assert step.stdin in ("", "luks_passphrase")


@pytest.mark.parametrize("firmware,fs,swap,luks", MATRIX)
def test_every_layout_has_the_expected_partitions(firmware, fs, swap, luks):
    plan = plan_for(firmware=firmware, fs=fs, swap=swap, luks=luks)
    expected = []
    if firmware == "uefi":
        expected.append(("ESP", ESP_TYPE, 1024 * MIB, "esp"))
    else:
        expected.append(("bios", BIOS_BOOT_TYPE, MIB, "bios-boot"))
        if luks:
            expected.append(("boot", LINUX_FS_TYPE, GIB, "boot"))
    if swap == "partition":
        expected.append(("swap", LINUX_SWAP_TYPE, 4096 * MIB, "swap"))
    got = [(p.name, p.type_guid, p.size, p.purpose) for p in plan.partitions]
    assert got[:-1] == expected
    root = plan.partitions[-1]
    assert (root.name, root.purpose) == ("root", "root")
    assert root.type_guid == (LINUX_LUKS_TYPE if luks else LINUX_FS_TYPE)
    assert plan.zram is (swap == "zram")
    # sgdisk sets the exact type GUIDs and the disk GUID
    (sgdisk,) = argvs(plan, "set-types")
    for p in plan.partitions:
        assert f"--typecode={p.number}:{p.type_guid.upper()}" in sgdisk
    assert f"--disk-guid={IDENT.disk_guid}" in sgdisk and sgdisk[-1] == "/dev/nvme0n1"


def test_uefi_ext4_steps_in_order_with_identity_uuids():
    plan = plan_for(firmware="uefi", fs="ext4", swap="partition")
    assert [s.action for s in plan.steps] == [
        "wipefs", "partition", "set-types", "wait", "wipefs", "mkfs", "mkfs", "mkfs", "mount", "mkdir", "mount",
        "swapon",
    ]
    assert argvs(plan) == [
        ("wipefs", "-a", "/dev/nvme0n1"),
        (),
        argvs(plan, "set-types")[0],
        (),
        ("wipefs", "-a", "/dev/nvme0n1p1", "/dev/nvme0n1p2", "/dev/nvme0n1p3"),
        ("mkfs.fat", "-F", "32", "-n", "BOOT", "-i", IDENT.esp_volid_hex, "/dev/nvme0n1p1"),
        ("mkswap", "-L", "swap", "-U", IDENT.swap_uuid, "/dev/nvme0n1p2"),
        ("mkfs.ext4", "-F", "-L", "nixos", "-U", IDENT.root_uuid, "/dev/nvme0n1p3"),
        ("mount", "-t", "ext4", "/dev/nvme0n1p3", "/mnt"),
        ("mkdir", "-p", "/mnt/boot"),
        ("mount", "-t", "vfat", "-o", "umask=0077", "/dev/nvme0n1p1", "/mnt/boot"),
        ("swapon", "/dev/nvme0n1p2"),
    ]
    wait = plan.steps[3]
    assert wait.call["nodes"] == ["/dev/nvme0n1p1", "/dev/nvme0n1p2", "/dev/nvme0n1p3"]
    assert [(f.mountpoint, f.device, f.fstype, f.options) for f in plan.filesystems] == [
        ("/", f"/dev/disk/by-uuid/{IDENT.root_uuid}", "ext4", ()),
        ("/boot", f"/dev/disk/by-uuid/{IDENT.esp_volid}", "vfat", ("fmask=0077", "dmask=0077")),
    ]
    assert [(s.device, s.random_encryption) for s in plan.swaps] == [(f"/dev/disk/by-uuid/{IDENT.swap_uuid}", False)]
    assert plan.luks == [] and plan.grub_device == "" and plan.loader == "systemd-boot"
    assert re.fullmatch(r"[0-9A-F]{8}", IDENT.esp_volid_hex)
    assert "everything on it will be erased" in plan.steps[1].describe
    assert "Samsung SSD 970 EVO 500GB" in plan.steps[1].describe


def test_old_partitions_signatures_are_wiped_before_the_table():
    from installer.machine.hardware import Partition

    used = Disk(path="/dev/sda", name="sda", size=64 * GIB, partitions=[
        Partition("/dev/sda1", 1, GIB, fstype="linux_raid_member"), Partition("/dev/sda2", 2, GIB, fstype="LVM2_member"),
    ])
    plan = plan_for(device="/dev/sda", disk=used)
    assert argvs(plan)[:2] == [("wipefs", "-a", "/dev/sda1", "/dev/sda2"), ("wipefs", "-a", "/dev/sda")]
    assert plan.steps[2].action == "partition"


def test_xfs_gets_its_uuid_through_m_uuid():
    plan = plan_for(fs="xfs")
    mkfs = [a for a in argvs(plan, "mkfs") if a[0] == "mkfs.xfs"]
    assert mkfs == [("mkfs.xfs", "-f", "-L", "nixos", "-m", f"uuid={IDENT.root_uuid}", "/dev/nvme0n1p2")]


def test_btrfs_subvolumes_are_created_then_mounted_with_options():
    plan = plan_for(fs="btrfs", swap="none")
    mounts = [a for a in argvs(plan) if a[:1] in (("mount",), ("umount",), ("btrfs",), ("mkdir",))]
    assert mounts == [
        ("mount", "-t", "btrfs", "/dev/nvme0n1p2", "/mnt"),
        ("btrfs", "subvolume", "create", "/mnt/@"),
        ("btrfs", "subvolume", "create", "/mnt/@home"),
        ("btrfs", "subvolume", "create", "/mnt/@nix"),
        ("umount", "/mnt"),
        ("mount", "-t", "btrfs", "-o", "subvol=@,compress=zstd,noatime", "/dev/nvme0n1p2", "/mnt"),
        ("mkdir", "-p", "/mnt/boot"),
        ("mount", "-t", "vfat", "-o", "umask=0077", "/dev/nvme0n1p1", "/mnt/boot"),
        ("mkdir", "-p", "/mnt/home"),
        ("mount", "-t", "btrfs", "-o", "subvol=@home,compress=zstd,noatime", "/dev/nvme0n1p2", "/mnt/home"),
        ("mkdir", "-p", "/mnt/nix"),
        ("mount", "-t", "btrfs", "-o", "subvol=@nix,compress=zstd,noatime", "/dev/nvme0n1p2", "/mnt/nix"),
    ]
    by_uuid = f"/dev/disk/by-uuid/{IDENT.root_uuid}"
    assert {f.mountpoint: (f.device, f.options) for f in plan.filesystems if f.fstype == "btrfs"} == {
        "/": (by_uuid, ("subvol=@", "compress=zstd", "noatime")),
        "/home": (by_uuid, ("subvol=@home", "compress=zstd", "noatime")),
        "/nix": (by_uuid, ("subvol=@nix", "compress=zstd", "noatime")),
    }


def test_uefi_luks_with_swap_partition_uses_random_key_swap_by_partuuid():
    plan = plan_for(fs="ext4", swap="partition", luks=True)
    luks_steps = [s for s in plan.steps if s.action.startswith("luks")]
    assert [s.argv for s in luks_steps] == [
        ("cryptsetup", "luksFormat", "--type", "luks2", "--uuid", IDENT.luks_uuid, "--batch-mode", "--key-file=-",
         "/dev/nvme0n1p3"),
        ("cryptsetup", "open", "--key-file=-", "/dev/nvme0n1p3", "cryptroot"),
    ]
    assert all(s.stdin == "luks_passphrase" and s.shown().endswith("<<< <redacted>") for s in luks_steps)
    assert ("mkfs.ext4", "-F", "-L", "nixos", "-U", IDENT.root_uuid, "/dev/mapper/cryptroot") in argvs(plan)
    assert ("mount", "-t", "ext4", "/dev/mapper/cryptroot", "/mnt") in argvs(plan)
    assert [(e.name, e.device) for e in plan.luks] == [("cryptroot", f"/dev/disk/by-uuid/{IDENT.luks_uuid}")]
    # the swap partition is rewritten with a random key at each boot: no mkswap, no swapon,
    # and the configuration finds it by the PARTUUID sgdisk gives it
    assert not [a for a in argvs(plan) if a[:1] in (("mkswap",), ("swapon",))]
    assert [(s.device, s.random_encryption) for s in plan.swaps] == [
        (f"/dev/disk/by-partuuid/{IDENT.swap_uuid}", True)
    ]
    assert f"--partition-guid=2:{IDENT.swap_uuid}" in argvs(plan, "set-types")[0]
    assert plan.partitions[1].partuuid == IDENT.swap_uuid


def test_bios_luks_has_bios_boot_and_separate_ext4_boot_and_grub_on_the_by_id_path():
    plan = plan_for(firmware="bios", fs="btrfs", swap="none", luks=True)
    assert [(p.number, p.name, p.size) for p in plan.partitions[:2]] == [(1, "bios", MIB), (2, "boot", GIB)]
    assert ("mkfs.ext4", "-F", "-L", "boot", "-U", IDENT.boot_uuid, "/dev/nvme0n1p2") in argvs(plan)
    assert ("mount", "-t", "ext4", "/dev/nvme0n1p2", "/mnt/boot") in argvs(plan)
    assert plan.loader == "grub"
    assert plan.grub_device == SAMSUNG.by_id
    assert ("/boot", f"/dev/disk/by-uuid/{IDENT.boot_uuid}", "ext4") in [
        (f.mountpoint, f.device, f.fstype) for f in plan.filesystems
    ]
    # the BIOS boot partition is never formatted
    assert not any("/dev/nvme0n1p1" in a for a in argvs(plan) if a[:1] != ("wipefs",))


def test_bios_without_luks_has_no_separate_boot_and_grub_falls_back_to_the_path_without_by_id():
    disk = Disk(path="/dev/sda", name="sda", size=64 * GIB)
    plan = plan_for(firmware="bios", device="/dev/sda", disk=disk)
    assert [p.purpose for p in plan.partitions] == ["bios-boot", "root"]
    assert not any(f.mountpoint == "/boot" for f in plan.filesystems)
    assert plan.grub_device == "/dev/sda"


def test_uefi_grub_installs_to_nodev_and_bios_systemd_boot_is_refused():
    assert plan_for(loader="grub").grub_device == "nodev"
    with pytest.raises(ProblemsError) as excinfo:
        plan_for(firmware="bios", loader="systemd-boot")
    assert excinfo.value.problems[0].field == "boot.loader"


def test_firmware_follows_the_machine_when_the_answers_leave_it_open():
    m = model(firmware=None)
    plan = build_plan(m, machine(firmware="bios"), IDENT)
    assert (plan.firmware, plan.loader, plan.partitions[0].purpose) == ("bios", "grub", "bios-boot")


def test_custom_esp_and_swap_sizes_in_mib():
    plan = plan_for(swap="partition", esp_size_mib=512, swap_size_mib=8192)
    assert [p.size for p in plan.partitions[:2]] == [512 * MIB, 8 * GIB]


def test_a_disk_too_small_is_refused_with_the_numbers():
    small = Disk(path="/dev/sda", name="sda", size=8 * GIB)
    with pytest.raises(ProblemsError) as excinfo:
        plan_for(device="/dev/sda", disk=small, swap="partition")
    (problem,) = excinfo.value.problems
    assert problem.field == "disk.device"
    assert problem.message == (
        "/dev/sda is 8 GiB; this layout needs at least 10 GiB: 1 GiB ESP + 4 GiB swap + 5 GiB root"
        " + 2 MiB for the partition tables"
    )


def test_the_smallest_disk_that_fits_is_accepted_and_one_mib_less_is_not():
    exact = 1 * GIB + 5 * GIB + 2 * MIB
    plan = plan_for(device="/dev/sda", disk=Disk(path="/dev/sda", name="sda", size=exact))
    assert plan.partitions[-1].size == 5 * GIB
    with pytest.raises(ProblemsError):
        plan_for(device="/dev/sda", disk=Disk(path="/dev/sda", name="sda", size=exact - MIB))


def test_refused_missing_and_boot_medium_disks():
    refused = Disk(path="/dev/sdb", name="sdb", size=32 * GIB, refused="a partition on it is mounted at /iso")
    with pytest.raises(ProblemsError) as excinfo:
        plan_for(device="/dev/sdb", disk=refused)
    assert problem_text(excinfo) == "disk.device: /dev/sdb cannot be used: a partition on it is mounted at /iso"

    with pytest.raises(ProblemsError) as excinfo:
        plan_for(device="/dev/sdz")
    assert problem_text(excinfo) == "disk.device: /dev/sdz is not a disk on this machine"

    with pytest.raises(ProblemsError) as excinfo:
        plan_for(device="")
    assert problem_text(excinfo) == "disk.device: choose the disk to install on"

    medium = Disk(path="/dev/sdc", name="sdc", size=32 * GIB)
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(model(device="/dev/sdc"), machine(medium, boot_medium="/dev/sdc"), IDENT)
    assert "holds the running installer" in problem_text(excinfo)


def test_the_disk_can_be_chosen_by_its_by_id_link():
    plan = plan_for(device=SAMSUNG.by_id)
    assert plan.disk is SAMSUNG and plan.partitions[0].path == "/dev/nvme0n1p1"


@pytest.mark.parametrize(
    "disk,number,node",
    [
        ("/dev/sda", 1, "/dev/sda1"),
        ("/dev/vdb", 12, "/dev/vdb12"),
        ("/dev/nvme0n1", 1, "/dev/nvme0n1p1"),
        ("/dev/loop0", 3, "/dev/loop0p3"),
        ("/dev/mmcblk0", 2, "/dev/mmcblk0p2"),
    ],
)
def test_partition_node_names(disk, number, node):
    assert partition_path(disk, number) == node


def test_mmc_and_loop_layouts_name_their_partitions_with_p():
    for path in ("/dev/mmcblk0", "/dev/loop7"):
        disk = Disk(path=path, name=path[5:], size=32 * GIB)
        plan = plan_for(device=path, disk=disk)
        assert [p.path for p in plan.partitions] == [f"{path}p1", f"{path}p2"]


def test_four_k_sector_disks_get_sector_numbers_in_4k_units():
    disk = Disk(path="/dev/sdd", name="sdd", size=100 * GIB, logical_sector_size=4096)
    plan = plan_for(device="/dev/sdd", disk=disk)
    rows = next(s.call for s in plan.steps if s.action == "partition")["partitions"]
    assert rows[0]["start"] == 256 and rows[0]["end"] == 256 + 1024 * 256 - 1


def test_summary_names_what_will_be_lost_first():
    lines = summary_lines(plan_for(fs="btrfs", swap="partition", luks=True))
    assert lines[0] == "Erase Samsung SSD 970 EVO 500GB (/dev/nvme0n1), 466 GiB: Windows (NTFS, 237 GiB) will be lost"
    assert any("random key" in line for line in lines)
    assert any("btrfs root filesystem inside LUKS2" in line for line in lines)
    empty = Disk(path="/dev/sda", name="sda", size=64 * GIB, holds="empty")
    assert summary_lines(plan_for(device="/dev/sda", disk=empty))[0].endswith(": it is empty, nothing on it is lost")
    unknown = Disk(path="/dev/sda", name="sda", size=64 * GIB, holds="",
                   partitions=[Partition(path="/dev/sda1", number=1, size=GIB)])
    assert summary_lines(plan_for(device="/dev/sda", disk=unknown))[0].endswith(": everything on it will be lost")


def test_plan_is_deterministic_for_the_same_inputs():
    a, b = plan_for(fs="btrfs", swap="partition", luks=True), plan_for(fs="btrfs", swap="partition", luks=True)
    assert a.steps == b.steps and a.filesystems == b.filesystems


def test_recorded_machines_plan_on_every_offered_disk():
    from conftest import recorded_machines

    from installer.machine import probe

    files = recorded_machines()
    planned = 0
    for path in files:
        found = probe.probe(str(path))
        for disk in found.disks:
            m = model(firmware=found.firmware, device=disk.path, swap="partition")
            if disk.refused:
                with pytest.raises(ProblemsError):
                    build_plan(m, found, IDENT)
                continue
            plan = build_plan(m, found, IDENT)
            planned += 1
            assert plan.partitions[-1].end <= disk.size - MIB
            assert all(p.path.startswith(disk.path) for p in plan.partitions)
    assert planned > 0


# -- the steps' actions ------------------------------------------------------------


@pytest.mark.parametrize("firmware,fs,swap,luks", MATRIX)
def test_every_step_carries_an_action_that_prints_as_its_word(firmware, fs, swap, luks):
    """--plan and the log print an action as the word it always was; the executor
    dispatches on the Action, so a plain string must not slip through."""
    for step in plan_for(firmware=firmware, fs=fs, swap=swap, luks=luks).steps:
        assert type(step.action) is Action
        assert f"{step.action}" == str(step.action) == step.action.value
        assert re.fullmatch(r"[a-z]+(-[a-z]+)?", step.action.value)


def test_a_step_written_with_the_word_gets_its_action_and_an_unknown_word_is_refused():
    assert Step("luks-open", "Unlock", ("cryptsetup", "open")).action is Action.LUKS_OPEN
    wait = Step("wait", "Wait", call={"device": "/dev/sda", "nodes": ["/dev/sda1", "/dev/sda2"]})
    assert wait.action is Action.WAIT and wait.shown() == "wait for /dev/sda1 /dev/sda2"
    with pytest.raises(ValueError):
        Step("format", "Format something")

