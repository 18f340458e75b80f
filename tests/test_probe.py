"""The probe: recorded machines (derived from ../shared/machines) and this live machine.

Recorded machines check what is offered, what is refused and why, and what
each disk holds in words; live tests partition a real loop device and check
the probe sees exactly what was written, through the same code as the files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import recorded_machines

from installer.machine import drivers, udevdata
from installer.machine.describe import describe_partition
from installer.machine.hardware import ESP_TYPE, LINUX_FS_TYPE, Partition
from installer.machine.probe import ProbeError, machine_from_data, probe, record_machine

ROOT = Path(__file__).resolve().parent.parent
MACHINES = ROOT / "tests" / "fixtures" / "machines"
SHARED = ROOT.parent / "shared" / "machines"
GIB = 1024**3


def fixture(name: str) -> Path:
    return MACHINES / f"{name}.json"


def load(name: str) -> dict:
    return json.loads(fixture(name).read_text())


# -- every recorded machine ------------------------------------------------------
# name: (firmware, boot medium, {offered disk: holds}, {refused disk: reason})
EXPECTED = {
    "win11-along-ubuntu": ("uefi", "/dev/sr0", {
        "/dev/sda": "EFI system partition (Windows Boot Manager), Windows (BitLocker-encrypted, 62 GiB), "
                    "Ubuntu Plucky Puffin (ext4, 65 GiB)",
    }, {"/dev/sr0": "optical drive"}),
    "win11-and-free-space": ("uefi", "/dev/sr0", {
        "/dev/sda": "EFI system partition (Windows Boot Manager), Windows (BitLocker-encrypted, 59 GiB), "
                    "free space 69 GiB",
    }, {"/dev/sr0": "optical drive", "/dev/sdb": "too small: 1 GiB, needs at least 10 GiB"}),
    "win10": ("uefi", "/dev/sr0", {
        "/dev/sda": "EFI system partition (Windows Boot Manager), Windows (BitLocker-encrypted, 79 GiB)",
    }, {"/dev/sr0": "optical drive"}),
    "threebuntu-on-msdos": ("bios", "/dev/sr0", {
        "/dev/sda": "Ubuntu 20.04.4 LTS (ext4, 47 GiB), Ubuntu 21.10 (ext4, 47 GiB), Ubuntu 22.04 LTS (ext4, 56 GiB), "
                    "EFI system partition",
    }, {"/dev/sr0": "optical drive"}),
    "booted-from-rp": ("uefi", "/dev/vda", {}, {
        "/dev/sr0": "optical drive", "/dev/vda": "holds the running installer",
    }),
    "existing-partitions": ("bios", "/dev/vda", {
        "/dev/vdb": "EFI system partition, Linux swap (502 MiB), Linux ext4 'root' (4 GiB), Linux xfs 'home' (5 GiB)",
    }, {
        "/dev/sr0": "optical drive", "/dev/vda": "holds the running installer",
        "/dev/vdc": "vdc1 is part of the active RAID array md127",
        "/dev/vdd": "vdd1 is part of the active RAID array md127",
        "/dev/vde": "vde1 is in the active LVM volume group 'amazing-vg'",
    }),
    "simple": ("bios", "/dev/sr0", {"/dev/sda": "empty"}, {"/dev/sr0": "optical drive"}),
    "virtio": ("bios", "", {"/dev/vda": "empty"}, {"/dev/sr0": "optical drive"}),
    "many-nics-and-disks": ("bios", "", {
        "/dev/sda": "LUKS-encrypted data (1 GiB), Linux RAID partition (19 GiB)",
        "/dev/vda": "Linux ext4 (20 GiB)",
        "/dev/vdb": "LVM physical volume (20 GiB)",
        "/dev/vdc": "LVM physical volume (20 GiB)",
    }, {"/dev/sr0": "optical drive"}),
    "nvme-over-tcp": ("bios", "", {
        "/dev/sda": "EFI system partition, Linux /boot (ext4, 913 MiB), Linux ext4 'cloudimg-rootfs' (9 GiB)",
    }, {"/dev/nvme1n1": "too small: 5 GiB, needs at least 10 GiB"}),
    "imsm": ("uefi", "", {"/dev/sdb": "empty", "/dev/sdc": "empty"}, {
        "/dev/nvme0n1": "nvme0n1 is part of the active RAID array md126",
        "/dev/nvme1n1": "nvme1n1 is part of the active RAID array md126",
        "/dev/sda": "sda2 is mounted at /",
        "/dev/sr0": "optical drive",
    }),
    "lp1999173-raid1": ("uefi", "/dev/sr0", {"/dev/vda": "empty"}, {
        "/dev/sr0": "optical drive", "/dev/vdb": "vdb2 is part of the active RAID array md127",
    }),
    "ubuntu-and-free-space": ("uefi", "/dev/sr0", {
        "/dev/sda": "EFI system partition, Linux ext4 (977 MiB), Linux ext4 (9.3 GiB), free space 29 GiB",
    }, {"/dev/sr0": "optical drive"}),
    "two-nics-one-up-one-down": ("uefi", "/dev/sr0", {"/dev/vdb": "empty"}, {
        "/dev/sr0": "optical drive", "/dev/vda": "too small: 364 KiB, needs at least 10 GiB",
    }),
    # ours: simple.json with its disk cut to 8 GiB and a loop device added (the Disk step's "no usable disk")
    "no-usable-disk": ("bios", "/dev/sr0", {}, {
        "/dev/loop0": "loop device (an image file); start with --allow-loop to install into it",
        "/dev/sda": "too small: 8 GiB, needs at least 10 GiB", "/dev/sr0": "optical drive",
    }),
    # ours: recorded on the build host with record_machine (see tests/make_fixtures.py --live)
    "recorded-loop-host": ("bios", "", {}, {
        "/dev/loop1": "loop device (an image file); start with --allow-loop to install into it",
        "/dev/vda": "vda is mounted at /",
    }),
    # derived from the shared recordings (tests/make_fixtures.py DERIVED)
    "luks-lvm-root": ("uefi", "", {"/dev/sdb": "empty"}, {
        "/dev/nvme0n1": "nvme0n1p3 holds / through LUKS and LVM",
    }),
    "multipath": ("bios", "", {
        "/dev/sda": "EFI system partition, Linux /boot (ext4, 913 MiB), Linux ext4 'cloudimg-rootfs' (9 GiB)",
    }, {
        "/dev/nvme1n1": "too small: 5 GiB, needs at least 10 GiB",
        "/dev/sdb": "is one path of the multipath device /dev/mapper/mpatha",
        "/dev/sdc": "is one path of the multipath device /dev/mapper/mpatha",
        "/dev/mapper/mpatha": "multipath device: not supported here (booting NixOS from one needs "
                              "services.multipath set up by hand)",
    }),
    "win-dynamic-disks": ("bios", "/dev/sr0", {
        "/dev/sda": "Windows dynamic disk: Windows (NTFS 'New Volume', 9.8 GiB), Windows (NTFS 'New Volume', 10 GiB)",
        "/dev/sdb": "Windows dynamic disk (30 GiB)",
    }, {"/dev/sr0": "optical drive"}),
    "zfs-pool-desktop": ("bios", "", {
        "/dev/sda": "empty", "/dev/vda": "empty", "/dev/vdd": "ZFS pool backup (20 GiB)",
    }, {
        "/dev/sdb": "no medium", "/dev/sr0": "optical drive",
        "/dev/vdb": "vdb1 is in the imported ZFS pool tank", "/dev/vdc": "vdc1 is in the imported ZFS pool tank",
    }),
    # the GPU machines: a recording's disks with a "pci" list (tests/test_gpu.py reads that)
    "laptop-intel-nvidia-pascal": ("uefi", "/dev/sr0", {
        "/dev/sda": "EFI system partition (Windows Boot Manager), Windows (BitLocker-encrypted, 59 GiB), "
                    "free space 69 GiB",
    }, {"/dev/sr0": "optical drive", "/dev/sdb": "too small: 1 GiB, needs at least 10 GiB"}),
    "desktop-nvidia-rtx3060": ("uefi", "/dev/sr0", {"/dev/sda": "empty"}, {"/dev/sr0": "optical drive"}),
    "desktop-amd-gpu": ("uefi", "/dev/sr0", {"/dev/sda": "empty"}, {"/dev/sr0": "optical drive"}),
    "vm-virtio-gpu": ("bios", "", {"/dev/vda": "empty"}, {"/dev/sr0": "optical drive"}),
}
DERIVED = ("luks-lvm-root", "multipath", "win-dynamic-disks", "zfs-pool-desktop", "laptop-intel-nvidia-pascal",
           "desktop-nvidia-rtx3060", "desktop-amd-gpu", "vm-virtio-gpu")
FROM_SHARED = sorted(name for name in EXPECTED
                     if name not in ("recorded-loop-host", "no-usable-disk") and name not in DERIVED)


def test_every_fixture_has_expectations() -> None:
    on_disk = {p.stem for p in MACHINES.glob("*.json")}
    assert on_disk == set(EXPECTED)
    assert {"win11-along-ubuntu", "win10", "threebuntu-on-msdos", "booted-from-rp", "existing-partitions",
            "simple", "virtio", "many-nics-and-disks", "nvme-over-tcp"} <= on_disk


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_machine(name: str) -> None:
    firmware, boot_medium, offered, refused = EXPECTED[name]
    machine = probe(fixture(name))
    assert machine.source == str(fixture(name))
    assert machine.firmware == firmware
    assert machine.boot_medium == boot_medium
    assert {d.path: d.holds for d in machine.offered_disks} == offered
    assert {d.path: d.refused for d in machine.disks if not d.offered} == refused


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_virtual_and_memory_devices_are_left_out(name: str) -> None:
    names = {d.name for d in probe(fixture(name)).disks}
    assert not {n for n in names if n.startswith(("dm-", "md", "zram", "ram", "fd"))}


def test_disk_facts_from_udev_properties() -> None:
    sda = probe(fixture("win11-along-ubuntu")).disk("/dev/sda")
    assert sda is not None
    assert (sda.by_id, sda.model, sda.serial, sda.bus) == (
        "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001", "QEMU HARDDISK", "QM00001", "sata")
    assert (sda.size, sda.table, sda.rotational, sda.removable, sda.read_only, sda.logical_sector_size) == (
        137438953472, "gpt", True, False, False, 512)
    assert [p.number for p in sda.partitions] == [1, 2, 3, 4, 5]
    esp, msr, bitlocker, recovery, linux = sda.partitions
    assert (esp.type_guid, esp.fstype, esp.fsversion, esp.uuid, esp.start, esp.size) == (
        ESP_TYPE, "vfat", "FAT32", "C067-F4C9", 2048 * 512, 104857600)
    assert esp.partlabel == "Basic data partition"  # decoded from Basic\x20data\x20partition
    assert msr.partlabel == "Microsoft reserved partition" and msr.fstype == ""
    assert bitlocker.fstype == "BitLocker"
    assert recovery.fstype == "ntfs" and recovery.uuid == "54E00B0AE00AF252"
    assert (linux.type_guid, linux.fstype, linux.uuid, linux.partuuid) == (
        LINUX_FS_TYPE, "ext4", "b1f15892-c6df-45f7-8f90-8bbee11253de", "7f4132a7-5112-4168-a098-a16aac06a47a")
    assert sda.stable_path == sda.by_id


@pytest.mark.parametrize(("name", "dev", "by_id", "bus"), [
    ("nvme-over-tcp", "/dev/nvme1n1", "/dev/disk/by-id/nvme-Linux_ca304f0d6bc24b8b8c2c", "nvme"),
    ("nvme-over-tcp", "/dev/sda", "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_lxd_root", "scsi"),
    ("imsm", "/dev/nvme0n1", "/dev/disk/by-id/nvme-A400_NVMe_SanDisk_256GB_171877421152", "nvme"),
    ("imsm", "/dev/sdc", "/dev/disk/by-id/usb-SanDisk_Ultra_USB_3.0_4C530000021125101524-0:0", "usb"),
    ("existing-partitions", "/dev/vdb", "/dev/disk/by-id/virtio-serial1", "virtio"),
    ("virtio", "/dev/vda", "", "virtio"),  # no serial, no by-id link: the plan falls back to /dev/vda
])
def test_by_id_and_bus(name: str, dev: str, by_id: str, bus: str) -> None:
    disk = probe(fixture(name)).disk(dev)
    assert disk is not None
    assert (disk.by_id, disk.bus, disk.stable_path) == (by_id, bus, by_id or dev)


@pytest.mark.parametrize(("name", "dev", "named"), [
    ("win11-along-ubuntu", "/dev/sda", "ata-QEMU_HARDDISK_QM00001"),  # the bare by-id name the README allows
    ("simple", "/dev/sda", "/dev/disk/by-id/scsi-0ATA_QEMU_HARDDISK_QM00001"),  # not the shown link
    ("imsm", "/dev/sdb", "/dev/disk/by-id/wwn-0x5000039fedcc17ce"),
    ("imsm", "/dev/sdb", "wwn-0x5000039fedcc17ce"),
    ("imsm", "/dev/nvme1n1", "/dev/disk/by-id/nvme-eui.1718774241910001001b444a444601b7"),
    ("imsm", "/dev/nvme1n1", "nvme1n1"),
    ("imsm", "/dev/nvme1n1", "/dev/nvme1n1"),
])
def test_every_by_id_link_names_the_disk(name: str, dev: str, named: str) -> None:
    machine = probe(fixture(name))
    disk = machine.disk(named)
    assert disk is not None and disk.path == dev


def test_all_links_are_kept_and_the_stable_one_is_shown() -> None:
    nvme = probe(fixture("imsm")).disk("/dev/nvme1n1")
    assert nvme.by_id_links == ["/dev/disk/by-id/nvme-A400_NVMe_SanDisk_256GB_171877424191",
                                "/dev/disk/by-id/nvme-eui.1718774241910001001b444a444601b7"]
    assert nvme.stable_path == nvme.by_id == nvme.by_id_links[0]
    sdb = probe(fixture("imsm")).disk("/dev/sdb")
    assert sdb.by_id == "/dev/disk/by-id/ata-TOSHIBA_DT01ACA100_Z6NVLPBMS" and len(sdb.by_id_links) == 6


def test_a_disk_named_by_a_bare_or_secondary_link_validates_and_plans() -> None:
    from conftest import valid_model
    from installer.plan.identity import Identity
    from installer.plan.erase import build_plan
    from installer.answers.validate import validate

    machine = probe(fixture("imsm"))
    for named in ("wwn-0x5000039fedcc17ce", "/dev/disk/by-id/scsi-35000039fedcc17ce"):
        model = valid_model()
        model.boot.firmware, model.boot.loader = "bios", "grub"
        model.disk.device = named
        assert [p for p in validate(model, machine) if p.field.startswith("disk")] == []
        plan = build_plan(model, machine, Identity.generate(1))
        assert plan.disk.path == "/dev/sdb"
        assert plan.grub_device == "/dev/disk/by-id/ata-TOSHIBA_DT01ACA100_Z6NVLPBMS"  # the stable link


def test_removable_usb_stick() -> None:
    sdc = probe(fixture("imsm")).disk("/dev/sdc")
    assert sdc is not None and sdc.removable and sdc.bus == "usb"


def test_partition_descriptions_name_windows_pieces() -> None:
    machine = probe(fixture("win10"))
    sda = machine.disk("/dev/sda")
    assert sda is not None
    assert [text for _, text in ((p, p.description) for p in sda.partitions)] == [
        "EFI system partition (Windows Boot Manager)", "Microsoft reserved partition",
        "Windows (BitLocker-encrypted, 79 GiB)", "Windows recovery (508 MiB)",
    ]


def test_partition_descriptions_on_mbr_with_logical_partitions() -> None:
    machine = probe(fixture("threebuntu-on-msdos"))
    sda = machine.disk("/dev/sda")
    assert sda is not None
    texts = dict((p.number, t) for p, t in ((p, p.description) for p in sda.partitions))
    assert texts[2] == "extended partition (holds the logical partitions)"
    assert texts[6] == "Ubuntu 22.04 LTS (ext4, 56 GiB)"
    assert [p.type_guid for p in sda.partitions] == ["0x83", "0x5", "0xef", "0x83", "0x83"]


@pytest.mark.parametrize(("part", "expected"), [
    (Partition("/dev/x1", 1, 64 * GIB, type_guid="ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", fstype="ntfs"),
     "Windows (NTFS, 64 GiB)"),
    (Partition("/dev/x1", 1, 64 * GIB, type_guid=LINUX_FS_TYPE, fstype="ext4", label="ubuntu"),
     "Linux ext4 'ubuntu' (64 GiB)"),
    (Partition("/dev/x1", 1, 20 * GIB, type_guid=LINUX_FS_TYPE, fstype="btrfs"), "Linux btrfs (20 GiB)"),
    (Partition("/dev/x1", 1, 20 * GIB, type_guid="ca7d7ccb-63ed-4c53-861c-1742536059cc", fstype="crypto_LUKS"),
     "LUKS-encrypted data (20 GiB)"),
    (Partition("/dev/x1", 1, 20 * GIB, type_guid=LINUX_FS_TYPE, fstype="BitLocker"), "BitLocker-encrypted data (20 GiB)"),
    (Partition("/dev/x1", 1, 8 * GIB, type_guid="0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", fstype="swap"),
     "Linux swap (8 GiB)"),
    (Partition("/dev/x1", 1, 1 * GIB, type_guid=ESP_TYPE, fstype="vfat"), "EFI system partition"),
    (Partition("/dev/x1", 1, 3 * GIB, type_guid=LINUX_FS_TYPE, fstype=""), "unformatted partition (3 GiB)"),
])
def test_describe_partition(part: Partition, expected: str) -> None:
    assert describe_partition(part) == expected


# -- refusal rules on edited records ---------------------------------------------
def _simple_with(*, extra: dict | None = None, mounts: list | None = None, machine: dict | None = None) -> dict:
    data = copy.deepcopy(load("simple"))
    data["storage"]["blockdev"].update(copy.deepcopy(extra or {}))
    data["storage"]["mount"] = (data["storage"].get("mount") or []) + (mounts or [])
    if machine is not None:
        data["machine"] = machine
    return data


def _usb_stick(size: int = 32 * GIB, fstype: str = "iso9660") -> dict:
    base = "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
    return {
        "/dev/sdb": {"DEVNAME": "/dev/sdb", "DEVTYPE": "disk", "DEVPATH": base, "ID_BUS": "usb", "MAJOR": "8",
                     "MINOR": "16", "ID_PART_TABLE_TYPE": "dos", "ID_FS_TYPE": "iso9660",
                     "DEVLINKS": "/dev/disk/by-id/usb-Kingston_DataTraveler_3.0_E0D55EA5-0:0",
                     "attrs": {"size": str(size), "removable": "1", "ro": "0"}},
        "/dev/sdb1": {"DEVNAME": "/dev/sdb1", "DEVTYPE": "partition", "DEVPATH": base + "/sdb1", "ID_FS_TYPE": fstype,
                      "ID_FS_LABEL": "nixos-minimal-25.05-x86_64", "ID_PART_ENTRY_NUMBER": "1",
                      "ID_PART_ENTRY_TYPE": "0x0", "attrs": {"size": str(size // 2), "start": "0"}},
    }


def test_nixos_iso_on_usb_mounted_at_iso_is_the_boot_medium() -> None:
    mount = {"source": "/dev/sdb1", "target": "/iso", "fstype": "iso9660", "options": "ro,relatime"}
    machine = machine_from_data(_simple_with(extra=_usb_stick(), mounts=[mount]))
    sdb = machine.disk("/dev/sdb")
    assert sdb is not None
    assert machine.boot_medium == "/dev/sdb"
    assert sdb.refused == "holds the running installer"
    assert machine.disk("/dev/sda").offered  # the internal disk is still offered


def test_iso_mounted_from_dev_root_is_found_by_device_number() -> None:
    """NixOS's scripted stage 1 mounts /iso from /dev/root; mountinfo keeps that name."""
    mount = {"source": "/dev/root", "target": "/iso", "fstype": "iso9660", "options": "ro", "maj:min": "8:17"}
    stick = _usb_stick()
    stick["/dev/sdb1"].update(MAJOR="8", MINOR="17")
    machine = machine_from_data(_simple_with(extra=stick, mounts=[mount]))
    assert machine.boot_medium == "/dev/sdb"
    assert machine.disk("/dev/sdb").refused == "holds the running installer"
    assert any(m.source == "/dev/sdb1" and m.target == "/iso" for m in machine.mounts)


def test_iso_file_on_a_stick_through_a_loop_device() -> None:
    """GRUB findiso=/Ventoy: /iso is a loop device whose image file lives on the stick."""
    loop = {"/dev/loop20": {"DEVNAME": "/dev/loop20", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/loop20",
                           "attrs": {"size": str(GIB), "loop/backing_file": "/run/ventoy/isos/nixos.iso"}}}
    mounts = [{"source": "/dev/sdb1", "target": "/run/ventoy", "fstype": "exfat", "options": "ro"},
              {"source": "/dev/loop20", "target": "/iso", "fstype": "iso9660", "options": "ro"}]
    machine = machine_from_data(_simple_with(extra={**_usb_stick(fstype="exfat"), **loop}, mounts=mounts),
                                allow_loop=True)
    assert machine.boot_medium == "/dev/sdb"
    assert machine.disk("/dev/sdb").refused == "holds the running installer"
    assert machine.disk("/dev/loop20").refused == "loop20 is mounted at /iso"


def test_same_stick_not_mounted_at_iso_is_offered() -> None:
    machine = machine_from_data(_simple_with(extra=_usb_stick()))
    assert machine.boot_medium == "/dev/sr0"
    assert machine.disk("/dev/sdb").offered


def test_mounted_partition_and_premounted_target_are_named() -> None:
    mount = {"source": "/dev/sdb1", "target": "/mnt", "fstype": "ext4", "options": "rw"}
    machine = machine_from_data(_simple_with(extra=_usb_stick(fstype="ext4"), mounts=[mount]), target="/mnt")
    assert machine.disk("/dev/sdb").refused == "sdb1 is mounted at /mnt (your pre-mounted target)"
    assert machine.disk("/dev/sdb").partitions[0].mountpoint == "/mnt"
    assert any(m.source == "/dev/sdb1" and m.target == "/mnt" and m.fstype == "ext4" for m in machine.mounts)


def test_a_recorded_mount_gets_its_filesystems_uuid() -> None:
    """From udev's ID_FS_UUID of its device (found by name or number), or findmnt's UUID when recorded;
    a recording with neither still loads, the UUID unknown."""
    stick = _usb_stick(fstype="ext4")
    stick["/dev/sdb1"].update(MAJOR="8", MINOR="17", ID_FS_UUID="0b6f2f1c-7a1e-4c0e-9a51-2f0e6d1d5b10")
    mounts = [{"source": "/dev/sdb1", "target": "/mnt", "fstype": "ext4", "options": "rw"},
              {"source": "/dev/root", "target": "/mnt/a", "fstype": "ext4", "options": "rw", "maj:min": "8:17"},
              {"source": "/dev/nbd0p1", "target": "/mnt/b", "fstype": "ext4", "options": "rw", "uuid": "5d2b-1f9e"},
              {"source": "/dev/nbd1p1", "target": "/mnt/c", "fstype": "ext4", "options": "rw"}]
    machine = machine_from_data(_simple_with(extra=stick, mounts=mounts))
    assert [(m.source, m.uuid) for m in machine.mounts if m.target.startswith("/mnt")] == [
        ("/dev/sdb1", "0b6f2f1c-7a1e-4c0e-9a51-2f0e6d1d5b10"), ("/dev/sdb1", "0b6f2f1c-7a1e-4c0e-9a51-2f0e6d1d5b10"),
        ("/dev/nbd0p1", "5d2b-1f9e"), ("/dev/nbd1p1", "")]


def test_active_swap_is_refused() -> None:
    machine = machine_from_data(_simple_with(extra=_usb_stick(fstype="swap"), machine={"swaps": ["/dev/sdb1"]}))
    assert machine.swaps == ["/dev/sdb1"]
    assert machine.disk("/dev/sdb").refused == "sdb1 is active swap"


@pytest.mark.parametrize("table", ["gpt", "dos"])
def test_a_partition_table_without_partitions_is_empty(table: str) -> None:
    data = _simple_with()
    data["storage"]["blockdev"]["/dev/sda"]["ID_PART_TABLE_TYPE"] = table
    sda = machine_from_data(data).disk("/dev/sda")
    assert (sda.table, sda.partitions, sda.holds) == (table, [], "empty")


def test_open_luks_mapping_is_refused_and_recorded() -> None:
    dm = {"/dev/dm-0": {"DEVNAME": "/dev/dm-0", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/dm-0",
                        "DM_NAME": "cryptroot", "DM_UUID": "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-cryptroot",
                        "slaves": ["/dev/sdb1"], "attrs": {"size": str(15 * GIB)}}}
    mount = {"source": "/dev/mapper/cryptroot", "target": "/mnt", "fstype": "ext4", "options": "rw", "maj:min": "253:0"}
    dm["/dev/dm-0"].update(MAJOR="253", MINOR="0")
    machine = machine_from_data(_simple_with(extra={**_usb_stick(fstype="crypto_LUKS"), **dm}, mounts=[mount]))
    assert [(m.source, m.target) for m in machine.mounts if m.target == "/mnt"] == [("/dev/mapper/cryptroot", "/mnt")]
    assert machine.luks == {"cryptroot": "/dev/sdb1"}
    assert machine.dm_slaves == {"/dev/mapper/cryptroot": ["/dev/sdb1"]}
    assert machine.disk("/dev/sdb").refused == "sdb1 holds /mnt through LUKS (your pre-mounted target)"
    assert machine.disk("/dev/dm-0") is None


def test_live_style_md_and_lvm_records_name_their_members() -> None:
    """What the live probe records without udev: slaves/ links and sysfs md/level."""
    stick = _usb_stick(fstype="linux_raid_member")
    md = {"/dev/md0": {"DEVNAME": "/dev/md0", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/md0",
                       "slaves": ["/dev/sdb1"], "attrs": {"size": str(16 * GIB), "md/level": "raid1"}}}
    machine = machine_from_data(_simple_with(extra={**stick, **md}))
    assert machine.disk("/dev/sdb").refused == "sdb1 is part of the active RAID array md0"
    assert machine.disk("/dev/sdb").holds == "RAID member of md0 (raid1) (16 GiB), free space 16 GiB"
    lv = {"/dev/dm-1": {"DEVNAME": "/dev/dm-1", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/dm-1",
                        "DM_NAME": "vg0-root", "DM_VG_NAME": "vg0", "slaves": ["/dev/sdb1"], "attrs": {"size": "1"}}}
    machine = machine_from_data(_simple_with(extra={**_usb_stick(fstype="LVM2_member"), **lv}))
    assert machine.disk("/dev/sdb").refused == "sdb1 backs the open mapping /dev/mapper/vg0-root"
    assert machine.disk("/dev/sdb").holds.startswith("LVM physical volume of volume group 'vg0' (16 GiB)")
    assert machine.luks == {}


def test_dmcrypt_section_alone_names_the_mapping() -> None:
    data = _simple_with(extra=_usb_stick(fstype="crypto_LUKS"))
    data["storage"]["dmcrypt"] = {"cryptroot": {"blkdevs_used": ["/dev/sdb1"]}}
    machine = machine_from_data(data)
    assert machine.luks == {"cryptroot": "/dev/sdb1"}
    assert machine.disk("/dev/sdb").refused == "sdb1 backs the open LUKS mapping /dev/mapper/cryptroot"
    # The stack walks down to the backing partition from the device-mapper records alone.
    assert machine.dm_slaves == {"/dev/mapper/cryptroot": ["/dev/sdb1"]}
    assert machine.stack("/dev/mapper/cryptroot") == ["/dev/mapper/cryptroot", "/dev/sdb1"]


def test_read_only_and_loop_rules() -> None:
    stick = _usb_stick(fstype="ext4")
    stick["/dev/sdb"]["attrs"]["ro"] = "1"
    loop = {"/dev/loop3": {"DEVNAME": "/dev/loop3", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/loop3",
                           "attrs": {"size": str(12 * GIB), "loop/backing_file": "/var/tmp/disk.img"}},
            "/dev/loop4": {"DEVNAME": "/dev/loop4", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/loop4",
                           "attrs": {"size": "0"}}}
    data = _simple_with(extra={**stick, **loop})
    machine = machine_from_data(data)
    assert machine.disk("/dev/sdb").refused == "read-only device"
    assert machine.disk("/dev/loop3").refused.startswith("loop device")
    assert machine.disk("/dev/loop3").bus == "loop" and machine.disk("/dev/loop3").kind == "loop"
    assert machine.disk("/dev/loop4") is None  # unattached
    allowed = machine_from_data(data, allow_loop=True)
    assert allowed.disk("/dev/loop3").offered
    assert allowed.disk("/dev/loop3").holds == "empty (image /var/tmp/disk.img)"


def test_machine_facts_override_and_firmware_from_efivarfs() -> None:
    assert machine_from_data(_simple_with()).firmware == "bios"
    efivars = {"source": "efivarfs", "target": "/sys/firmware/efi/efivars", "fstype": "efivarfs", "options": ""}
    assert machine_from_data(_simple_with(mounts=[efivars])).firmware == "uefi"
    facts = {"firmware": "uefi", "cpu_vendor": "intel", "virtualisation": "qemu"}
    machine = machine_from_data(_simple_with(machine=facts))
    assert (machine.firmware, machine.cpu_vendor, machine.virtualisation) == ("uefi", "intel", "qemu")


def test_our_own_recording_carries_drivers_and_machine_facts() -> None:
    machine = probe(fixture("recorded-loop-host"), allow_loop=True)
    assert (machine.firmware, machine.cpu_vendor, machine.virtualisation) == ("bios", "amd", "qemu")
    assert machine.swaps == ["/dev/loop1p2"]
    vda, loop = machine.disk("/dev/vda"), machine.disk("/dev/loop1")
    assert (vda.bus, vda.drivers, vda.serial, vda.by_id) == ("virtio", ["virtio_blk", "virtio_pci"], "2006642013961205", "")
    assert vda.holds == "Linux ext4 (256 GiB)"  # blkid could not read it; the mount table names the fs
    assert loop.refused == "loop1p3 is mounted at /var/tmp/probe-fixture-target"
    assert loop.holds == ("EFI system partition, Linux swap (2 GiB), Linux ext4 'nixos' (13 GiB)"
                          " (image /var/tmp/probe-fixture.img)")
    esp, swap, root = loop.partitions
    assert (esp.partlabel, esp.label, esp.uuid, esp.fstype) == ("ESP", "BOOT", "1A2B-3C4D", "vfat")
    assert (swap.fstype, swap.uuid) == ("swap", "0b9f5d1e-2c3a-4b6d-8e7f-a1b2c3d4e5f6")
    assert (root.label, root.uuid, root.partuuid, root.mountpoint) == (
        "nixos", "3f1e2d4c-5b6a-4789-8a9b-0c1d2e3f4a5b", "9d3c3b1e-5e2a-4c55-9b7a-1f0e2d3c4b5a",
        "/var/tmp/probe-fixture-target")


def test_swap_refusal_on_our_recording_once_nothing_is_mounted() -> None:
    data = load("recorded-loop-host")
    data["storage"]["mount"] = [m for m in data["storage"]["mount"] if m["source"] != "/dev/loop1p3"]
    machine = machine_from_data(data, allow_loop=True)
    assert machine.disk("/dev/loop1").refused == "loop1p2 is active swap"
    data["machine"]["swaps"] = []
    assert machine_from_data(data, allow_loop=True).disk("/dev/loop1").offered


def test_drivers_are_read_from_the_record() -> None:
    data = _simple_with()
    data["storage"]["blockdev"]["/dev/sda"]["drivers"] = ["sd_mod", "ahci"]
    assert machine_from_data(data).disk("/dev/sda").drivers == ["sd_mod", "ahci"]
    data["storage"]["blockdev"]["/dev/sda"]["drivers"] = []  # a live sysfs without driver links
    assert machine_from_data(data).disk("/dev/sda").drivers == ["ata_piix", "sd_mod"]


# probert does not record drivers: the controller is read off DEVPATH
@pytest.mark.parametrize(("name", "dev", "modules"), [
    ("nvme-over-tcp", "/dev/sda", ["virtio_scsi", "virtio_pci", "sd_mod"]),  # .../virtio6/host0/target0:0:0/...
    ("virtio", "/dev/vda", ["virtio_blk", "virtio_pci"]),
    ("lp1999173-raid1", "/dev/vda", ["virtio_blk", "virtio_pci"]),
    ("simple", "/dev/sda", ["ata_piix", "sd_mod"]),  # QEMU's PIIX IDE at 00:01.1, as -hda attaches a disk
    ("win10", "/dev/sda", ["ahci", "sd_mod"]),  # QEMU q35's AHCI at 00:1f.2
    ("imsm", "/dev/sdc", ["xhci_pci", "usb_storage", "uas", "sd_mod"]),
    ("win11-and-free-space", "/dev/sdb", ["xhci_pci", "usb_storage", "uas", "sd_mod"]),
    ("imsm", "/dev/nvme0n1", ["nvme"]),
    ("nvme-over-tcp", "/dev/nvme1n1", ["nvme"]),  # /devices/virtual/nvme-subsystem/...
    ("recorded-loop-host", "/dev/vda", ["virtio_blk", "virtio_pci"]),  # ours: recorded from sysfs, kept
])
def test_initrd_modules_from_the_devpath_when_no_driver_was_recorded(name: str, dev: str, modules: list[str]) -> None:
    assert probe(fixture(name), allow_loop=True).disk(dev).drivers == modules


@pytest.mark.parametrize("path", recorded_machines(), ids=lambda p: p.stem)
def test_every_recorded_disk_names_its_initrd_drivers(path: Path) -> None:
    """The initrd gets its disk modules only from Disk.drivers: no disk may come without them."""
    for disk in probe(path, allow_loop=True).disks:
        if disk.kind == "disk":
            assert disk.drivers, f"{path.name}: {disk.name} ({disk.bus}) has no drivers"


def test_the_virtio_scsi_disk_boots_with_virtio_scsi_in_the_initrd() -> None:
    from conftest import valid_model
    from installer.plan.identity import Identity
    from installer.plan.erase import build_plan
    from installer.nixos.render import render

    machine = probe(fixture("nvme-over-tcp"))
    model = valid_model()
    model.disk.device = "/dev/sda"
    text = render(model, machine, build_plan(model, machine, Identity.generate(1)))["hardware-configuration.nix"]
    modules = re.search(r"boot\.initrd\.availableKernelModules = \[([^\]]*)\]", text).group(1).split()
    assert {'"virtio_scsi"', '"virtio_pci"', '"sd_mod"'} <= set(modules)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not a recorded machine (not JSON"),
    ('{"storage": {"blockdev": []}}', "no storage.blockdev section"),
    ('[1, 2]', "no storage.blockdev section"),
])
def test_bad_machine_file_gives_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "machine.json"
    bad.write_text(content)
    with pytest.raises(ProbeError, match=re.escape(message)):
        probe(bad)
    with pytest.raises(ProbeError, match="cannot read the machine file"):
        probe(tmp_path / "missing.json")


# -- the record layer --------------------------------------------------------------
def _bind(device: Path, driver: str, module: str | None, sysfs: Path) -> None:
    drv = sysfs / "bus" / "drivers" / driver
    drv.mkdir(parents=True, exist_ok=True)
    if module and not (drv / "module").exists():
        (sysfs / "module" / module).mkdir(parents=True, exist_ok=True)
        (drv / "module").symlink_to(sysfs / "module" / module)
    device.mkdir(parents=True, exist_ok=True)
    (device / "driver").symlink_to(drv)


def test_drivers_walk_the_sysfs_parents(tmp_path: Path) -> None:
    """A USB stick behind xhci: the modules nixos-generate-config would put in the initrd."""
    sysfs = tmp_path / "sys"
    pci = sysfs / "devices" / "pci0000:00" / "0000:00:14.0"
    iface = pci / "usb1" / "1-1" / "1-1:1.0"
    scsi = iface / "host6" / "target6:0:0" / "6:0:0:0"
    _bind(pci, "xhci_hcd", "xhci_pci", sysfs)
    _bind(pci / "usb1" / "1-1", "usb", None, sysfs)  # usbcore, built in and generic
    _bind(iface, "usb-storage", "usb_storage", sysfs)
    _bind(scsi, "sd", None, sysfs)  # built-in sd: still named by its module name
    block = scsi / "block" / "sdb"
    block.mkdir(parents=True)
    assert drivers.sysfs_drivers(str(block), str(sysfs / "devices"), []) == (["sd_mod", "usb_storage", "xhci_pci"], [])


def test_udev_encoding_round_trip() -> None:
    for text in ("Basic data partition", "EFI system", "ümlaut é", "a/b\\c", "nixos-25.05"):
        assert udevdata.udev_decode(udevdata.udev_encode(text)) == text
    assert udevdata.udev_encode("Basic data") == "Basic\\x20data"


def test_mount_tree_from_mountinfo() -> None:
    text = (
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "40 27 7:0 / /iso ro,relatime - iso9660 /dev/sdb1 ro\n"
        "41 27 7:1 / /mnt/my\\040disk rw - ext4 /dev/sdc2 rw\n"
        "42 41 0:5 / /mnt/my\\040disk/proc rw - proc proc rw\n"
    )
    tree = udevdata.mount_tree(text)
    assert [n["target"] for n in tree] == ["/"]
    flat = udevdata.flatten_mounts(tree)
    assert [(m["source"], m["target"], m["fstype"]) for m in flat] == [
        ("/dev/vda", "/", "ext4"), ("/dev/sdb1", "/iso", "iso9660"), ("/dev/sdc2", "/mnt/my disk", "ext4"),
        ("proc", "/mnt/my disk/proc", "proc")]


def test_active_swaps_parser() -> None:
    text = "Filename\tType\tSize\tUsed\tPriority\n/dev/zram0   partition\t1000\t0\t100\n/swap\\040file file 10 0 -2\n"
    assert udevdata.active_swaps(text) == ["/dev/zram0", "/swap file"]


def test_trimmed_record_keeps_only_what_the_probe_reads() -> None:
    record = {"DEVNAME": "/dev/sda", "ID_FS_TYPE": "ext4", "USEC_INITIALIZED": "1", "ID_ATA_SATA": "1",
              "attrs": {"size": "10", "stat": "1 2 3", "queue/rotational": "0", "bdi": None},
              "partitiontable": {"label": "gpt", "partitions": [{"node": "/dev/sda1"}]}}
    assert udevdata.trim_record(record) == {
        "DEVNAME": "/dev/sda", "ID_FS_TYPE": "ext4", "attrs": {"size": "10", "queue/rotational": "0"},
        "partitiontable": {"label": "gpt"}}


shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/machines is not next to this clone")


@shared
@pytest.mark.parametrize("name", FROM_SHARED)
def test_fixture_is_the_trimmed_shared_machine(name: str) -> None:
    """tests/make_fixtures.py output is committed: it must match what the script makes now."""
    full = json.loads((SHARED / f"{name}.json").read_text())
    assert udevdata.trim(full) == load(name)


@shared
@pytest.mark.parametrize("name", FROM_SHARED)
def test_trimming_loses_nothing_the_probe_uses(name: str) -> None:
    assert probe(SHARED / f"{name}.json").disks == probe(fixture(name)).disks


@shared
@pytest.mark.parametrize("name", DERIVED)
def test_derived_fixture_is_what_make_fixtures_derives(name: str) -> None:
    import make_fixtures

    assert udevdata.trim(make_fixtures.DERIVED[name](SHARED)) == load(name)


# -- storage the installer had never met (issue 13) --------------------------------
def test_luks_lvm_root_with_a_bare_string_blkdevs_used_refuses_its_disk() -> None:
    """probert writes dmsetup's blkdevs_used as printed: "nvme0n1p3", not a list."""
    data = load("luks-lvm-root")
    assert data["storage"]["dmcrypt"]["dm_crypt-0"]["blkdevs_used"] == "nvme0n1p3"
    machine = machine_from_data(data)
    assert machine.luks == {"dm_crypt-0": "/dev/nvme0n1p3"}
    assert machine.stack("/dev/mapper/ubuntu--vg-ubuntu--lv") == [
        "/dev/mapper/ubuntu--vg-ubuntu--lv", "/dev/mapper/dm_crypt-0", "/dev/nvme0n1p3"]
    nvme = machine.disk("/dev/nvme0n1")
    assert not nvme.offered and nvme.refused == "nvme0n1p3 holds / through LUKS and LVM"
    assert [d.path for d in machine.offered_disks] == ["/dev/sdb"]
    # the list form (ours, and other probert versions) reads the same
    data["storage"]["dmcrypt"]["dm_crypt-0"]["blkdevs_used"] = ["nvme0n1p3"]
    assert machine_from_data(data).disk("/dev/nvme0n1").refused == nvme.refused
    assert udevdata.device_names("sda5,sdb1") == ["/dev/sda5", "/dev/sdb1"]
    assert udevdata.device_names(["/dev/sda5"]) == ["/dev/sda5"]
    assert udevdata.device_names(None) == []


def test_multipath_map_is_listed_once_and_its_paths_never_offered() -> None:
    machine = probe(fixture("multipath"))
    wwn = "/dev/disk/by-id/wwn-0x6001405a1b2c3d4e5f60718293a4b5c6"
    maps = [d for d in machine.disks if d.kind == "multipath"]
    assert [(d.path, d.name, d.size) for d in maps] == [("/dev/mapper/mpatha", "mpatha", 40 * GIB)]
    mpath = maps[0]
    assert wwn in mpath.by_id_links and machine.disk(wwn) is mpath and machine.disk("mpatha") is mpath
    assert mpath.by_id == "/dev/disk/by-id/scsi-36001405a1b2c3d4e5f60718293a4b5c6"
    assert mpath.holds == "empty (paths sdb, sdc)" and "dm_multipath" in mpath.drivers
    assert "services.multipath" in mpath.refused
    for path in ("/dev/sdb", "/dev/sdc"):
        assert machine.disk(path).refused == "is one path of the multipath device /dev/mapper/mpatha"
    assert [d.path for d in machine.offered_disks] == ["/dev/sda"]
    # a path udev marks (DM_MULTIPATH_DEVICE_PATH=1) is refused even when no map names it
    data = load("multipath")
    del data["storage"]["multipath"], data["storage"]["blockdev"]["/dev/dm-0"]
    lone = machine_from_data(data)
    assert lone.disk("/dev/sdb").refused == "is a multipath path device"
    assert not [d for d in lone.disks if d.kind == "multipath"]


def test_windows_dynamic_disks_are_named_and_show_no_free_space() -> None:
    machine = probe(fixture("win-dynamic-disks"))
    mbr, gpt = machine.disk("/dev/sda"), machine.disk("/dev/sdb")
    assert mbr.table_types == ["0x42"] and [p.type_guid for p in mbr.partitions] == ["", ""]
    assert mbr.holds.startswith("Windows dynamic disk: Windows (NTFS 'New Volume'")
    assert gpt.holds == "Windows dynamic disk (30 GiB)"  # no "free space": LDM owns the whole disk
    assert [p.description for p in gpt.partitions] == [
        "Windows dynamic disk metadata (1 MiB)", "Microsoft reserved partition", "Windows dynamic disk volumes (30 GiB)"]
    # without the kernel's LDM parser the one 0x42 partition shows as itself
    data = load("win-dynamic-disks")
    del data["storage"]["blockdev"]["/dev/sda2"]
    sda1 = data["storage"]["blockdev"]["/dev/sda1"]
    for key in ("ID_FS_TYPE", "ID_FS_LABEL", "ID_FS_LABEL_ENC", "ID_FS_UUID", "ID_FS_USAGE"):
        del sda1[key]
    sda1.update(ID_PART_ENTRY_TYPE="0x42", ID_PART_ENTRY_NUMBER="1")
    del data["storage"]["blockdev"]["/dev/sda"]["partitiontable"]["partitions"]
    assert machine_from_data(data).disk("/dev/sda").holds == "Windows dynamic disk (20 GiB)"


def test_zfs_members_are_named_by_pool_and_in_use_while_imported() -> None:
    machine = probe(fixture("zfs-pool-desktop"))
    assert machine.disk("/dev/vdb").holds == "ZFS pool tank (20 GiB)"
    assert machine.disk("/dev/vdb").refused == "vdb1 is in the imported ZFS pool tank"
    assert machine.disk("/dev/vdd").offered and machine.disk("/dev/vdd").holds == "ZFS pool backup (20 GiB)"
    # the mounted datasets alone say the pool is imported (a live probe without zpool)
    data = load("zfs-pool-desktop")
    del data["storage"]["zfs"]
    assert machine_from_data(data).disk("/dev/vdc").refused == "vdc1 is in the imported ZFS pool tank"
    data["storage"]["mount"] = []
    assert machine_from_data(data).disk("/dev/vdc").offered  # exported: nothing holds it


def test_empty_card_reader_slot_says_no_medium() -> None:
    reader = probe(fixture("zfs-pool-desktop")).disk("/dev/sdb")
    assert (reader.size, reader.removable, reader.refused, reader.holds) == (0, True, "no medium", "no medium")


def test_rotation_from_the_ata_rotation_rate_else_unknown() -> None:
    machine = probe(fixture("zfs-pool-desktop"))
    assert machine.disk("/dev/sda").rotational is True  # ID_ATA_ROTATION_RATE_RPM=7200, no queue/rotational
    assert machine.disk("/dev/vda").rotational is None and machine.disk("/dev/vda").rotation == "rotation unknown"
    data = load("zfs-pool-desktop")
    data["storage"]["blockdev"]["/dev/sda"]["ID_ATA_ROTATION_RATE_RPM"] = "0"
    assert machine_from_data(data).disk("/dev/sda").rotational is False
    data["storage"]["blockdev"]["/dev/sda"]["attrs"]["queue/rotational"] = "1"  # sysfs wins
    assert machine_from_data(data).disk("/dev/sda").rotational is True
    # imsm is a real machine recorded without queue/rotational: its TOSHIBA sdb is a 7200 rpm disk
    assert probe(fixture("imsm")).disk("/dev/sdb").rotational is None


def test_unknown_scsi_host_adapter_is_warned_about() -> None:
    """A controller no DEVPATH rule knows (here VMware's PVSCSI slot) gets no guessed module, a warning instead."""
    disk = copy.deepcopy(load("simple")["storage"]["blockdev"]["/dev/sda"])
    disk["DEVPATH"] = "/devices/pci0000:00/0000:00:15.0/0000:03:00.0/host2/target2:0:0/2:0:0:0/block/sdb"
    disk.update(DEVNAME="/dev/sdb", MINOR="16", ID_BUS="scsi")
    machine = machine_from_data(_simple_with(extra={"/dev/sdb": disk}))
    assert machine.disk("/dev/sdb").drivers == []
    assert len(machine.warnings) == 1 and machine.warnings[0].startswith("sdb: no kernel module is known for its controller")
    assert "boot.initrd.availableKernelModules" in machine.warnings[0]


def test_an_unbound_storage_controller_is_resolved_from_its_modalias(tmp_path: Path) -> None:
    """Live: no driver link on the HBA (module not loaded) -> its modalias, as modprobe would resolve it."""
    sysfs = tmp_path / "sys"
    hba = sysfs / "devices" / "pci0000:00" / "0000:00:10.0"
    scsi = hba / "host2" / "target2:0:0" / "2:0:0:0"
    _bind(scsi, "sd", None, sysfs)
    (hba / "class").write_text("0x010000\n")
    (hba / "modalias").write_text("pci:v00001000d00000030sv000015ADsd00001976bc01sc00i00\n")
    block = scsi / "block" / "sda"
    block.mkdir(parents=True)
    aliases = tmp_path / "modules.alias"
    aliases.write_text("alias pci:v00001000d00000030sv*sd*bc*sc*i* mptspi\nalias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci\n")
    assert drivers.sysfs_drivers(str(block), str(sysfs / "devices"), [aliases]) == (["sd_mod", "mptspi"], [])
    aliases.write_text("")
    assert drivers.sysfs_drivers(str(block), str(sysfs / "devices"), [aliases]) == (["sd_mod"], ["0000:00:10.0"])
    record = {**load("simple")["storage"]["blockdev"]["/dev/sda"], "drivers": ["sd_mod"],
              "unknown_controllers": ["0000:00:10.0"]}
    machine = machine_from_data(_simple_with(extra={"/dev/sda": record}))
    assert machine.warnings and "controller 0000:00:10.0" in machine.warnings[0]


def test_mbr_entry_types_are_read_from_the_first_sector(tmp_path: Path) -> None:
    image = tmp_path / "mbr.img"
    sector = bytearray(512)
    sector[446 + 4], sector[446 + 16 + 4], sector[510:512] = 0x42, 0x07, b"\x55\xaa"
    image.write_bytes(bytes(sector) + bytes(1024))
    assert udevdata.mbr_entry_types(image) == ["42", "7"]
    image.write_bytes(bytes(1024))  # no boot signature: no MBR
    assert udevdata.mbr_entry_types(image) == []
    assert udevdata.mbr_entry_types(tmp_path / "missing") == []


def test_cpu_flags_and_virtualisation_as_nixos_generate_config_reads_them() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme vmx sse2 hypervisor\n"
    assert udevdata.cpu_flags(cpuinfo) == ["vmx", "hypervisor"]
    assert udevdata.cpu_flags("flags : fpu svm\n") == ["svm"] and udevdata.cpu_flags("") == []
    assert udevdata.virtualisation_from("kvm", "", []) == "qemu"
    assert udevdata.virtualisation_from("oracle", "", []) == "virtualbox"
    assert udevdata.virtualisation_from("xen", "", []) == "other"  # a VM all the same: no microcode
    assert udevdata.virtualisation_from("none", "QEMU Standard PC", ["hypervisor"]) == "none"  # the tool decides
    assert udevdata.virtualisation_from(None, "innotek GmbH VirtualBox", []) == "virtualbox"
    assert udevdata.virtualisation_from(None, "Dell Inc. XPS 13", ["hypervisor"]) == "other"
    assert udevdata.virtualisation_from(None, "Dell Inc. XPS 13", []) == "none"
    facts = {"cpu_vendor": "amd", "cpu_flags": ["svm"], "virtualisation": "none"}
    assert machine_from_data(_simple_with(machine=facts)).cpu_flags == ["svm"]
    assert machine_from_data(_simple_with()).cpu_flags is None  # probert records no flags: unknown


# -- live: this machine and real loop devices -----------------------------------
needs_root = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for loop devices"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("losetup", "sgdisk", "mkfs.ext4", "blkid")),
                       reason="needs losetup, sgdisk, mkfs.ext4 and blkid"),
]


def sh(*argv: str) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout


class Loop:
    def __init__(self, dev: str, image: Path, esp_uuid: str, root_uuid: str, root_partuuid: str) -> None:
        self.image = image
        self.dev, self.esp_uuid, self.root_uuid, self.root_partuuid = dev, esp_uuid, root_uuid, root_partuuid
        self.p1, self.p2 = f"{dev}p1", f"{dev}p2"


def wait_for_nodes(dev: str, *nodes: str) -> None:
    """No udev here: the kernel's partition nodes appear in devtmpfs a moment after the re-read."""
    for attempt in range(100):
        if all(os.path.exists(n) for n in nodes):
            return
        if attempt == 2:
            subprocess.run(["partx", "-u", dev], capture_output=True)
        time.sleep(0.1)
    raise AssertionError(f"partition nodes {nodes} did not appear")


@contextlib.contextmanager
def loop_disk(size: str = "12G") -> Iterator[Loop]:
    """A sparse file as a GPT disk: p1 a 512 MiB ESP-typed partition (FAT), p2 ext4 'testroot'."""
    workdir = Path(tempfile.mkdtemp(prefix="probe-", dir="/var/tmp"))
    image = workdir / "disk.img"
    dev = ""
    try:
        sh("truncate", "-s", size, str(image))
        dev = sh("losetup", "-fP", "--show", str(image)).strip()
        root_partuuid = str(uuidlib.uuid4())
        sh("sgdisk", "-n1:1MiB:+512MiB", "-t1:ef00", "-c1:EFI system", "-n2:0:0", "-t2:8300", "-c2:nixos root",
           f"-u2:{root_partuuid}", dev)
        wait_for_nodes(dev, f"{dev}p1", f"{dev}p2")
        root_uuid = str(uuidlib.uuid4())
        esp_uuid = "ABCD-1234"
        sh("mkfs.vfat", "-F", "32", "-n", "BOOT", "-i", esp_uuid.replace("-", ""), f"{dev}p1")
        sh("mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-L", "testroot", "-U", root_uuid, f"{dev}p2")
        yield Loop(dev, image, esp_uuid, root_uuid, root_partuuid)
    finally:
        if dev:
            for part in (f"{dev}p1", f"{dev}p2", dev):
                subprocess.run(["umount", "-l", part], capture_output=True)
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def blkid(node: str) -> dict[str, str]:
    out = sh("blkid", "-p", "-o", "export", node)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_live_probe_runs_and_reads_machine_facts() -> None:
    machine = probe()
    assert machine.source == "live"
    assert machine.firmware == ("uefi" if os.path.isdir("/sys/firmware/efi") else "bios")
    cpuinfo = Path("/proc/cpuinfo").read_text()
    if "GenuineIntel" in cpuinfo:
        assert machine.cpu_vendor == "intel"
    elif "AuthenticAMD" in cpuinfo:
        assert machine.cpu_vendor == "amd"
    root = next(m for m in machine.mounts if m.target == "/")
    if root.source.startswith("/dev/"):
        disk = next((d for d in machine.disks if root.source in [d.path] + [p.path for p in d.partitions]), None)
        if disk is not None:
            assert "is mounted at /" in disk.refused
    vda = machine.disk("/dev/vda")
    if vda is not None and os.path.exists("/sys/block/vda/device/driver"):
        assert vda.bus == "virtio" and "virtio_blk" in vda.drivers


class TestLoopDevice:
    pytestmark = needs_root

    def test_partitions_equal_what_blkid_reports(self) -> None:
        with loop_disk() as loop:
            disk = probe(allow_loop=True).disk(loop.dev)
            assert disk is not None
            assert (disk.kind, disk.bus, disk.table, disk.size) == ("loop", "loop", "gpt", 12 * GIB)
            esp, root = disk.partitions
            for part in (esp, root):
                seen = blkid(part.path)
                assert (part.fstype, part.label, part.uuid) == (seen["TYPE"], seen.get("LABEL", ""), seen["UUID"])
                assert part.partuuid == seen["PART_ENTRY_UUID"]
                assert part.type_guid == seen["PART_ENTRY_TYPE"]
                assert part.start == int(seen["PART_ENTRY_OFFSET"]) * 512
                assert part.size == int(seen["PART_ENTRY_SIZE"]) * 512
            assert (esp.number, esp.type_guid, esp.partlabel, esp.label, esp.uuid, esp.size) == (
                1, ESP_TYPE, "EFI system", "BOOT", loop.esp_uuid, 512 * 1024**2)
            assert (root.number, root.type_guid, root.partlabel, root.fstype, root.label, root.uuid, root.partuuid) == (
                2, LINUX_FS_TYPE, "nixos root", "ext4", "testroot", loop.root_uuid, loop.root_partuuid)
            from installer.base.units import human_size

            root_size = human_size(root.size)
            assert disk.holds == f"EFI system partition, Linux ext4 'testroot' ({root_size}) (image {loop.image})"

    def test_an_empty_gpt_is_empty(self, tmp_path: Path) -> None:
        from loopdev import loop_device

        with loop_device(tmp_path, size=12 * GIB) as (dev, image):
            sh("sgdisk", "-o", dev)
            disk = probe(allow_loop=True).disk(dev)
            assert (disk.table, disk.partitions, disk.holds) == ("gpt", [], f"empty (image {image})")

    def test_an_mbr_dynamic_disk_is_named_live(self, tmp_path: Path) -> None:
        """A type-0x42 MBR entry, read off the disk itself (the live record has no sfdisk table)."""
        from loopdev import loop_device

        with loop_device(tmp_path, size=12 * GIB) as (dev, _image):
            subprocess.run(["sfdisk", "-q", dev], input="label: dos\nstart=2048, type=42\n", text=True,
                           check=True, capture_output=True)
            subprocess.run(["partx", "-u", dev], capture_output=True)
            assert udevdata.mbr_entry_types(dev) == ["42"]
            disk = probe(allow_loop=True).disk(dev)
            assert disk.table_types == ["0x42"] and disk.holds.startswith("Windows dynamic disk"), disk.holds

    def test_loop_refused_without_allow_loop_offered_with_it(self) -> None:
        with loop_disk() as loop:
            refused = probe().disk(loop.dev)
            assert refused is not None and refused.refused.startswith("loop device")
            offered = probe(allow_loop=True).disk(loop.dev)
            assert offered is not None and offered.offered, offered.refused

    def test_too_small_loop_is_refused_with_numbers(self) -> None:
        with loop_disk("8G") as loop:
            machine = probe(allow_loop=True)
            disk = machine.disk(loop.dev)
            assert disk is not None, [d.path for d in machine.disks]
            assert disk.refused == "too small: 8 GiB, needs at least 10 GiB", disk

    def test_mounted_partition_refuses_the_disk(self) -> None:
        with loop_disk() as loop, tempfile.TemporaryDirectory(dir="/var/tmp") as where:
            sh("mount", loop.p2, where)
            try:
                machine = probe(allow_loop=True)
                disk = machine.disk(loop.dev)
                assert disk is not None
                assert disk.refused == f"{os.path.basename(loop.p2)} is mounted at {where}"
                assert disk.partitions[1].mountpoint == where
                assert any(m.source == loop.p2 and m.target == where and m.fstype == "ext4" for m in machine.mounts)
            finally:
                sh("umount", where)
            assert probe(allow_loop=True).disk(loop.dev).offered

    def test_active_swap_refuses_the_disk(self) -> None:
        with loop_disk() as loop:
            sh("mkswap", loop.p2)
            if subprocess.run(["swapon", loop.p2], capture_output=True).returncode != 0:
                pytest.skip("swapon on a loop device is not permitted here")
            try:
                machine = probe(allow_loop=True)
                assert loop.p2 in machine.swaps
                assert machine.disk(loop.dev).refused == f"{os.path.basename(loop.p2)} is active swap"
            finally:
                subprocess.run(["swapoff", loop.p2], capture_output=True)

    def test_record_machine_round_trip(self, tmp_path: Path) -> None:
        with loop_disk() as loop:
            recorded = tmp_path / "machine.json"
            record_machine(recorded)
            live = probe(allow_loop=True)
            replay = probe(recorded, allow_loop=True)
            data = json.loads(recorded.read_text())
            assert loop.dev in data["storage"]["blockdev"] and "machine" in data
            assert (replay.firmware, replay.cpu_vendor, replay.virtualisation) == (
                live.firmware, live.cpu_vendor, live.virtualisation)
            assert replay.disk(loop.dev) == live.disk(loop.dev)
            # other tests may attach loop devices meanwhile; the real disks must agree exactly
            assert [d for d in replay.disks if d.kind != "loop"] == [d for d in live.disks if d.kind != "loop"]
            assert [(m.source, m.target, m.fstype) for m in replay.mounts if m.source.startswith("/dev/")
                    and not m.source.startswith("/dev/loop")] == [
                (m.source, m.target, m.fstype) for m in live.mounts if m.source.startswith("/dev/")
                and not m.source.startswith("/dev/loop")]


def test_mount_options_include_the_filesystems_own_as_findmnt_shows_them() -> None:
    from installer.machine.udevdata import mount_tree

    line = ("36 1 0:33 /@ /mnt rw,noatime shared:1 - btrfs /dev/loop3p3 "
            "rw,compress=zstd:3,space_cache=v2,subvolid=256,subvol=/@\n")
    (root,) = mount_tree(line)
    assert root["options"] == "rw,noatime,compress=zstd:3,space_cache=v2,subvolid=256,subvol=/@"
