"""The disk-eligibility policy on hand-built machines: each refusal and the verdicts above it."""

from __future__ import annotations

import pytest

from installer.machine import eligibility
from installer.machine.eligibility import (
    Usage,
    Verdict,
    disk_verdict,
    editor_verdict,
    held_through,
    offered_disks,
    own_layout_verdict,
    refusal,
    with_own_layout,
)
from installer.machine.hardware import Disk, Machine, Mount, Partition

GIB = 1024**3
BOOT = "holds the running installer"


def disk(name: str = "sda", size: int = 100 * GIB, parts: int = 0, **kw) -> Disk:
    path = f"/dev/{name}"
    partitions = [Partition(path=f"{path}{n}", number=n, size=GIB, uuid=f"uuid-{n}") for n in range(1, parts + 1)]
    return Disk(path=path, name=name, size=size, partitions=partitions, **kw)


def test_an_ordinary_disk_is_offered() -> None:
    assert refusal(disk(), Usage()) == ""
    assert Verdict().ok and not Verdict("why").ok


@pytest.mark.parametrize(("made", "usage", "reason"), [
    (disk("sr0", kind="cdrom"), Usage(), "optical drive"),
    (disk("loop0", kind="loop"), Usage(),
     "loop device (an image file); start with --allow-loop to install into it"),
    (disk("mpatha", kind="multipath"), Usage(), eligibility.MULTIPATH),
    (disk("sdb"), Usage(boot_medium="/dev/sdb"), "holds the running installer"),
    (disk("sdb"), Usage(boot_medium="sdb"), "holds the running installer"),
    (disk("sdb", by_id="/dev/disk/by-id/usb-X"), Usage(boot_medium="/dev/disk/by-id/usb-X"),
     "holds the running installer"),
    (disk(read_only=True), Usage(), "read-only device"),
    (disk(), Usage(path_of={"/dev/sda": "mpatha"}), "is one path of the multipath device /dev/mapper/mpatha"),
    (disk(), Usage(path_of={"/dev/sda": ""}), "is a multipath path device"),
    (disk(parts=2), Usage(mounted_at={"/dev/sda2": "/home"}), "sda2 is mounted at /home"),
    (disk(parts=2), Usage(mounted_at={"/dev/sda1": "/mnt/boot"}),
     "sda1 is mounted at /mnt/boot (your pre-mounted target)"),
    (disk(parts=2), Usage(mounted_at={"/dev/sda1": "/boot"}, held={"/dev/sda2": ("/", "LUKS and LVM")}),
     "sda2 holds / through LUKS and LVM"),
    (disk(parts=2), Usage(swaps=["/dev/sda2"]), "sda2 is active swap"),
    (disk(parts=1), Usage(in_use={"/dev/sda1": eligibility.in_raid("md0")}),
     "sda1 is part of the active RAID array md0"),
    (disk(parts=1), Usage(in_use={"/dev/sda1": eligibility.in_volume_group("vg")}),
     "sda1 is in the active LVM volume group 'vg'"),
    (disk(parts=1), Usage(in_use={"/dev/sda1": eligibility.backs_mapping("data")}),
     "sda1 backs the open mapping /dev/mapper/data"),
    (disk(parts=1), Usage(in_use={"/dev/sda1": eligibility.backs_luks("cryptroot")}),
     "sda1 backs the open LUKS mapping /dev/mapper/cryptroot"),
    (disk(parts=1), Usage(in_use={"/dev/sda1": eligibility.in_pool("tank")}),
     "sda1 is in the imported ZFS pool tank"),
    (disk("sdc", size=0, removable=True), Usage(), "no medium"),
    (disk(size=8 * GIB), Usage(), "too small: 8 GiB, needs at least 10 GiB"),
])
def test_each_refusal(made: Disk, usage: Usage, reason: str) -> None:
    assert refusal(made, usage) == reason


def test_a_loop_device_is_offered_with_allow_loop() -> None:
    assert refusal(disk("loop0", kind="loop"), Usage(allow_loop=True)) == ""


def test_the_refusals_come_in_order_of_what_matters_most() -> None:
    # The boot medium is named before its mounts; a mount before swap; "/" before "/boot/efi".
    medium = disk("sdb", parts=1)
    assert refusal(medium, Usage(boot_medium="/dev/sdb", mounted_at={"/dev/sdb1": "/iso"})) == BOOT
    both = disk(parts=2)
    assert refusal(both, Usage(mounted_at={"/dev/sda1": "/boot/efi", "/dev/sda2": "/"}, swaps=["/dev/sda2"])) == (
        "sda2 is mounted at /")



def test_held_through_walks_the_stack_from_the_mount_down_to_the_partition() -> None:
    stack = {"/dev/mapper/vg-root": ["/dev/mapper/cryptlvm"], "/dev/mapper/cryptlvm": ["/dev/nvme0n1p3"]}
    layers = {"/dev/mapper/vg-root": "LVM", "/dev/mapper/cryptlvm": "LUKS"}
    mounts = [("/dev/mapper/vg-root", "/home"), ("/dev/mapper/vg-root", "/"), ("/dev/sda1", "/boot")]
    assert held_through(mounts, stack, layers) == {"/dev/nvme0n1p3": ("/", "LUKS and LVM")}


def test_disk_verdict_keeps_the_probes_refusal_and_adds_the_machines_facts() -> None:
    refused = disk("sdb", refused="sdb1 is active swap")
    medium, read_only, fine = disk("sdc"), disk("sdd", read_only=True), disk("sde")
    machine = Machine(disks=[refused, medium, read_only, fine], boot_medium="/dev/sdc")
    assert disk_verdict(refused, machine).reason == "sdb1 is active swap"
    assert disk_verdict(medium, machine).reason == BOOT
    assert disk_verdict(read_only, machine).reason == "read-only device"
    assert disk_verdict(fine, machine).ok
    assert offered_disks(machine) == machine.offered_disks == [fine]


def test_a_partition_editor_opens_on_a_busy_disk_but_not_on_a_dvd_or_the_installers_disk() -> None:
    busy = disk("sda", parts=1, refused="sda1 is mounted at /home")
    dvd = disk("sr0", kind="cdrom", refused="optical drive")
    medium = disk("sdb")  # a hand-built record the probe did not judge
    machine = Machine(disks=[busy, dvd, medium], boot_medium="/dev/sdb")
    assert editor_verdict(busy, machine).ok
    assert editor_verdict(dvd, machine).reason == "optical drive"
    assert editor_verdict(medium, machine).reason == BOOT
    assert editor_verdict(disk("sr1", kind="cdrom"), machine).reason == "optical drive"


def test_an_earlier_runs_layout_offers_its_disk_again_only_when_nothing_else_uses_it() -> None:
    prepared = disk(parts=2, refused="sda2 is mounted at /mnt")
    other = disk("sdb", refused="optical drive")
    mounts = [Mount("/dev/sda2", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat")]
    machine = Machine(disks=[prepared, other], mounts=mounts, swaps=["/dev/sda1"])
    freed = with_own_layout(machine, prepared)
    again = freed.disk("/dev/sda")
    assert again is not None and again.refused == "" and disk_verdict(again, freed).ok
    assert prepared.refused and freed.disk("/dev/sdb") is other  # the rest as it was, nothing changed in place
    assert own_layout_verdict(again, freed, "/mnt", {"uuid-1"}).ok
    assert own_layout_verdict(again, freed, "/mnt", set()).reason == "/dev/sda1 is an active swap the plan did not make"
    assert own_layout_verdict(again, freed, "/target", {"uuid-1"}).reason == "nothing of /dev/sda is mounted at /target"
    freed.mounts.append(Mount("/dev/sda1", "/media/x", "vfat"))
    assert own_layout_verdict(again, freed, "/mnt", {"uuid-1"}).reason == "/dev/sda1 is mounted at /media/x, outside /mnt"
