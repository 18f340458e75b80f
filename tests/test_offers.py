"""The ways to use a disk (installer.plan.offers): each offered only where it can work,
the most room first, each refusal with its reason, on constructed disks."""

from __future__ import annotations

from installer.answers.model import InstallModel
from installer.machine import eligibility as why
from installer.machine.hardware import ESP_TYPE, LINUX_FS_TYPE, Disk, Machine, Partition
from installer.plan.offers import NIXOS_MIN, NIXOS_MIN_DESKTOP, keep_min, offers

MIB = 1024**2
GIB = 1024**3
MSR = "e3c9e316-0b5c-4db8-817d-f92df00215ae"
WINDOWS_DATA = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"


def part(n: int, start: int, size: int, kind: str, fstype: str = "", **kw: object) -> Partition:
    return Partition(f"/dev/sda{n}", n, size, start, kind, fstype=fstype, **kw)  # type: ignore[arg-type]


def windows_disk(ntfs_min: int = 30 * GIB, refusal: str = "", esp_size: int = 100 * MIB) -> Disk:
    """A Windows install's layout on 128 GiB: ESP, MSR, NTFS filling the rest but 20 GiB free at the end."""
    return Disk("/dev/sda", "sda", 128 * GIB, table="gpt", partitions=[
        part(1, MIB, esp_size, ESP_TYPE, "vfat"),
        part(2, MIB + esp_size, 16 * MIB, MSR),
        part(3, 2 * GIB, 106 * GIB, WINDOWS_DATA, "ntfs", min_size=ntfs_min, shrink_refusal=refusal,
             description="Windows (NTFS)"),
    ])


def by_way(found: list, way: str, path: str = ""):  # type: ignore[no-untyped-def]
    return next(o for o in found if o.way == way and (not path or (o.part is not None and o.part.path == path)))


def test_each_way_is_offered_where_it_works_and_sorted_by_room() -> None:
    disk = windows_disk()
    found = offers(InstallModel(), Machine(disks=[disk]), disk)
    shown = [(o.way, o.part.path if o.part else "") for o in found if o.offered]
    # erase 128 GiB > replace sda3 (its 106 GiB + the 20 GiB after) > alongside > free space 20 GiB
    assert shown == [("erase", ""), ("replace", "/dev/sda3"), ("alongside", "/dev/sda3"), ("free-space", "")]
    rooms = [o.room for o in found if o.offered]
    assert rooms == sorted(rooms, reverse=True)
    along = by_way(found, "alongside", "/dev/sda3")
    # 30 GiB held + max(2 GiB, 25 %) = 37.5 GiB kept at the least; NixOS gets the rest and the 20 GiB gap
    assert along.keep_min == 30 * GIB + 30 * GIB // 4
    assert along.gap.start == 2 * GIB + along.keep_min
    assert along.gap.end == 128 * GIB - MIB  # the backup GPT keeps the last MiB
    assert along.need == NIXOS_MIN
    # the largest size Windows may keep still leaves NixOS its 10 GiB
    assert along.gap.end - (2 * GIB + along.keep_max) >= NIXOS_MIN


def test_headroom_is_at_least_two_gib() -> None:
    small = Partition("/dev/sda3", 3, 10 * GIB, min_size=GIB)
    assert keep_min(small) == 3 * GIB
    big = Partition("/dev/sda3", 3, 100 * GIB, min_size=40 * GIB)
    assert keep_min(big) == 50 * GIB


def test_the_reasons_a_partition_is_not_shrunk_or_replaced() -> None:
    disk = windows_disk(ntfs_min=0)
    found = offers(InstallModel(), Machine(disks=[disk]), disk)
    assert by_way(found, "alongside", "/dev/sda3").reason == why.MIN_SIZE_UNKNOWN
    assert by_way(found, "alongside", "/dev/sda1").reason == why.KEEP_ESP
    assert by_way(found, "replace", "/dev/sda1").reason == why.KEEP_ESP
    assert by_way(found, "replace", "/dev/sda2").reason == why.KEEP_MSR
    hibernated = "Windows is hibernated (hiberfil.sys is in use): shut it down fully"
    disk = windows_disk(refusal=hibernated)
    found = offers(InstallModel(), Machine(disks=[disk]), disk)
    assert by_way(found, "alongside", "/dev/sda3").reason == hibernated


def test_a_desktop_needs_25_gib() -> None:
    # 100 GiB held: kept at 125 GiB at the least, nothing left; 80 GiB held: 100 GiB kept,
    # 6 GiB freed + the 20 GiB gap = 26 GiB, enough for a desktop; 84 GiB: 105 GiB kept, 21 GiB
    disk = windows_disk(ntfs_min=84 * GIB)
    model = InstallModel()
    model.software.desktop = "gnome"
    found = offers(model, Machine(disks=[disk]), disk)
    along = by_way(found, "alongside", "/dev/sda3")
    assert along.need == NIXOS_MIN_DESKTOP
    assert along.reason == why.room_too_small(along.room, NIXOS_MIN_DESKTOP)
    assert by_way(found, "free-space").reason == why.free_space_too_small(20 * GIB - MIB, NIXOS_MIN_DESKTOP)
    model.software.desktop = "none"
    assert by_way(offers(model, Machine(disks=[disk]), disk), "alongside", "/dev/sda3").offered
    big = windows_disk(ntfs_min=100 * GIB)
    assert by_way(offers(model, Machine(disks=[big]), big), "alongside", "/dev/sda3").reason == \
        why.shrink_leaves_nothing(keep_min(big.partitions[2]), 106 * GIB)


def test_a_small_esp_costs_nixos_an_xbootldr_partition_but_no_more_than_its_share() -> None:
    model = InstallModel()
    model.disk.swap = "partition"
    model.disk.swap_size_mib = 8192
    disk = windows_disk()
    along = by_way(offers(model, Machine(disks=[disk]), disk), "alongside", "/dev/sda3")
    # XBOOTLDR 1 GiB + swap 8 GiB + the 5 GiB root minimum is more than 10 GiB
    assert along.need == GIB + 8 * GIB + 5 * GIB
    big_esp = windows_disk(esp_size=600 * MIB)
    along = by_way(offers(model, Machine(disks=[big_esp]), big_esp), "alongside", "/dev/sda3")
    assert along.need == 8 * GIB + 5 * GIB


def test_an_esp_that_holds_no_fat_is_not_reused() -> None:
    disk = windows_disk()
    disk.partitions[0].fstype = "ntfs"
    found = offers(InstallModel(), Machine(disks=[disk]), disk)
    assert by_way(found, "free-space").reason == why.not_an_esp("/dev/sda1", "ntfs")
    assert by_way(found, "erase").offered


def test_mbr_without_a_free_primary_slot_is_refused_clearly() -> None:
    parts = [part(n, n * 10 * GIB, 5 * GIB, "0x83", "ext4") for n in (1, 2, 3, 4)]
    disk = Disk("/dev/sda", "sda", 60 * GIB, table="dos", partitions=parts)
    machine = Machine(firmware="bios", disks=[disk])
    found = offers(InstallModel(), machine, disk)
    assert by_way(found, "free-space").reason == "all 4 primary partition slots of the MBR are in use"
    # replacing one frees its slot, and its 5 GiB joins the gaps around it
    assert by_way(found, "replace", "/dev/sda4").offered
    model = InstallModel()
    model.disk.swap = "partition"
    found = offers(model, machine, disk)
    assert by_way(found, "replace", "/dev/sda4").reason == why.no_slots(2, 1)


def test_a_disk_refused_refuses_every_way_with_its_reason() -> None:
    disk = windows_disk()
    disk.refused = "sda3 is mounted at /"
    found = offers(InstallModel(), Machine(disks=[disk]), disk)
    assert {o.reason for o in found} == {"sda3 is mounted at /"}
    assert [o.way for o in found] == ["erase", "free-space", "alongside", "replace"]
    bare = Disk("/dev/sdb", "sdb", 64 * GIB)
    found = offers(InstallModel(), Machine(disks=[bare]), bare)
    assert by_way(found, "erase").offered
    assert {o.reason for o in found if o.way != "erase"} == {why.NO_TABLE_TO_KEEP}


def test_a_new_esp_never_goes_into_a_logical_partition() -> None:
    # UEFI on an MBR disk without an ESP: free space only inside the extended partition
    parts = [part(1, MIB, 20 * GIB, "0x83", "ext4"), part(2, 21 * GIB, 43 * GIB, "0x5"),
             part(5, 22 * GIB, 10 * GIB, "0x83", "ext4")]
    disk = Disk("/dev/sda", "sda", 64 * GIB, table="dos", partitions=parts)
    found = offers(InstallModel(), Machine(firmware="uefi", disks=[disk]), disk)
    assert by_way(found, "free-space").reason == why.ESP_NOT_LOGICAL
    # under BIOS the same space takes NixOS as a logical partition after sda5
    found = offers(InstallModel(), Machine(firmware="bios", disks=[disk]), disk)
    assert by_way(found, "free-space").offered and by_way(found, "free-space").gap.slot == "logical"
