"""What a disk already holds, in words a person understands.

The wizard shows these next to each disk ("EFI system partition, Windows
(NTFS, 64 GiB), Linux ext4 'ubuntu' (64 GiB)") so nobody wipes Windows or
another Linux by picking the wrong line. Pure functions over the hardware
dataclasses; the probe passes in what it learnt about RAID, LVM and os-prober.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from installer.machine.hardware import (
    BIOS_BOOT_TYPE,
    ESP_TYPE,
    LDM_DATA_TYPE,
    LDM_METADATA_TYPE,
    LINUX_SWAP_TYPE,
    MBR_EXTENDED,
    MBR_LDM,
    MAPPER,
    XBOOTLDR_TYPE,
    Disk,
    Partition,
)
from installer.base.units import human_size
from installer.machine.gaps import MBR_FIRST_LOGICAL, Gap, known

MSR_TYPE = "e3c9e316-0b5c-4db8-817d-f92df00215ae"
MS_BASIC_DATA_TYPE = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"
WINDOWS_RECOVERY_TYPE = "de94bba4-06d1-4d40-a16a-bfd50179d6ac"
MBR_ESP = "0xef"
MBR_NTFS = "0x7"
LINUX_FILESYSTEMS = {"ext2", "ext3", "ext4", "btrfs", "xfs", "f2fs", "jfs", "reiserfs", "bcachefs"}
# Partitions with no filesystem signature that still say what they are for.
_EMPTY_TYPE_NAMES = {
    "0xfd": "Linux RAID partition", "a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID partition",
    "0x8e": "LVM partition", "e6d6d379-f507-44c2-a23c-238f2a3df928": "LVM partition",
    "0x82": "Linux swap partition", "9e1a2d38-c612-4316-aa26-8b49521e5a8b": "PReP boot partition",
}
# Gaps smaller than this are alignment slack, not space anyone could use.
FREE_SPACE_MIN = 1024**3


@dataclass
class Context:
    """Facts from outside the partition itself that make a description better."""

    os_names: dict[str, str] = field(default_factory=dict)  # partition path -> "Ubuntu 22.04 LTS" (os-prober)
    raid_of: dict[str, str] = field(default_factory=dict)  # member path -> "md127 (raid1)"
    vg_of: dict[str, str] = field(default_factory=dict)  # PV path -> volume group name
    pool_of: dict[str, str] = field(default_factory=dict)  # ZFS member path -> pool name
    vg_disks: dict[str, list[str]] = field(default_factory=dict)  # volume group -> the disks it spans

    def placed(self, parent: dict[str, str], luks: dict[str, str]) -> Context:
        """With each volume group's disks, and a LUKS partition under its group's
        name: erasing one disk of a group breaks the group on every other."""
        for name, backing in luks.items():  # a PV inside LUKS: the partition holds the group
            if MAPPER + name in self.vg_of:
                self.vg_of.setdefault(backing, self.vg_of[MAPPER + name])
        for pv, vg in self.vg_of.items():
            if not pv.startswith(MAPPER):
                disk, disks = os.path.basename(parent.get(pv, pv)), self.vg_disks.setdefault(vg, [])
                if disk not in disks:
                    disks.append(disk)
        for disks in self.vg_disks.values():
            disks.sort()
        return self

    def volume_group(self, path: str) -> str:
        """ "volume group 'vg0'", with the disks it spans when more than one; "" for no known group."""
        vg = self.vg_of.get(path)
        if not vg:
            return ""
        disks = self.vg_disks.get(vg, [])
        spans = f", which spans {', '.join(disks[:-1])} and {disks[-1]}" if len(disks) > 1 else ""
        return f"volume group '{vg}'{spans}"


def _windows_disk(disk: Disk) -> bool:
    types = {p.type_guid for p in disk.partitions}
    return bool(types & {MSR_TYPE, WINDOWS_RECOVERY_TYPE}) or disk.dynamic or any(
        p.fstype == "ntfs" and p.type_guid in (MS_BASIC_DATA_TYPE, MBR_NTFS) for p in disk.partitions
    )


def describe_partition(part: Partition, disk: Disk | None = None, context: Context | None = None) -> str:
    """One partition (or a filesystem on a whole disk) in a few words."""
    ctx = context or Context()
    size = human_size(part.size)
    fs, kind = part.fstype, part.type_guid
    label = f" '{part.label}'" if part.label else ""
    windows = disk is not None and _windows_disk(disk)
    if kind in MBR_EXTENDED:
        return "extended partition (holds the logical partitions)"
    if kind in (ESP_TYPE, MBR_ESP) and fs in ("vfat", ""):
        loader = ctx.os_names.get(part.path)
        return f"EFI system partition ({loader})" if loader else "EFI system partition"
    if kind == BIOS_BOOT_TYPE:
        return "BIOS boot partition"
    if kind == MSR_TYPE and not fs:
        return "Microsoft reserved partition"
    if kind == LDM_METADATA_TYPE:
        return f"Windows dynamic disk metadata ({size})"
    if kind in (LDM_DATA_TYPE, MBR_LDM) and not fs:
        return f"Windows dynamic disk volumes ({size})"
    if kind == WINDOWS_RECOVERY_TYPE and fs in ("ntfs", ""):
        return f"Windows recovery ({size})"
    if fs == "BitLocker":
        return f"Windows (BitLocker-encrypted, {size})" if windows else f"BitLocker-encrypted data ({size})"
    if fs == "ntfs":
        if windows or kind in (MS_BASIC_DATA_TYPE, MBR_NTFS):
            return f"Windows (NTFS{label}, {size})"
        return f"NTFS data{label} ({size})"
    if fs == "crypto_LUKS":
        group = ctx.volume_group(part.path)
        return f"LUKS-encrypted LVM {group} ({size})" if group else f"LUKS-encrypted data ({size})"
    if fs == "swap" or kind == LINUX_SWAP_TYPE:
        return f"Linux swap ({size})"
    if fs == "linux_raid_member" or fs.endswith("_raid_member"):
        array = ctx.raid_of.get(part.path)
        name = f" of {array}" if array else (f"{label}" if label else "")
        return f"RAID member{name} ({size})"
    if fs == "zfs_member":
        pool = ctx.pool_of.get(part.path) or part.label
        return f"ZFS pool {pool} ({size})" if pool else f"ZFS pool member ({size})"
    if fs == "LVM2_member":
        group = ctx.volume_group(part.path)
        return f"LVM physical volume{f' of {group}' if group else ''} ({size})"
    if fs in LINUX_FILESYSTEMS:
        os_name = ctx.os_names.get(part.path)
        if os_name:
            return f"{os_name} ({fs}{label}, {size})"
        if kind == XBOOTLDR_TYPE:
            return f"Linux /boot ({fs}, {size})"
        return f"Linux {fs}{label} ({size})"
    if fs == "iso9660":
        return f"ISO 9660 image{label} ({size})"
    if fs in ("vfat", "exfat"):
        return f"{part.fsversion or fs.upper()} data{label} ({size})"
    if fs:
        return f"{fs}{label} ({size})"
    if kind in _EMPTY_TYPE_NAMES:
        return f"{_EMPTY_TYPE_NAMES[kind]} ({size})"
    return f"unformatted partition ({size})"


# Partitions that belong to something already named on the line; the
# per-partition view still shows them.
_MINOR_TYPES = {MSR_TYPE, WINDOWS_RECOVERY_TYPE, BIOS_BOOT_TYPE} | MBR_EXTENDED


def free_gaps(disk: Disk) -> list[int]:
    """The sizes of the disk's gaps of at least FREE_SPACE_MIN, in bytes, usable or not: free all the same."""
    return [gap.size for gap in disk.gaps if gap.size >= FREE_SPACE_MIN]


def _where(disk: Disk, gap: Gap) -> str:
    """Where a gap lies, in words: "at the start", "after sda3", "at the end"; a logical gap
    among the logical partitions, a primary one among the primary partitions."""
    logical = gap.slot == "logical"
    level = [p for p in disk.partitions if (p.number >= MBR_FIRST_LOGICAL) == logical] if gap.slot else disk.partitions
    before = [p for p in level if p.start + p.size <= gap.start]
    if before:
        if logical or any(p.start >= gap.end for p in level):
            return f"after {os.path.basename(max(before, key=lambda p: p.start + p.size).path)}"
        return "at the end"
    if logical:
        extended = next((p for p in disk.partitions if p.type_guid in MBR_EXTENDED), None)
        return f"at the start of {os.path.basename(extended.path)}" if extended else "among the logical partitions"
    return "at the start" if disk.partitions else "(the table is empty)"


def describe_free(disk: Disk) -> str:
    """The disk's free space in one short line: "free: 12 GiB at the end", "free: none"; gaps under
    FREE_SPACE_MIN only counted, when there is nothing else. "" without a GPT or MBR (nothing to keep)."""
    if disk.table not in ("gpt", "dos") or disk.kind == "cdrom":
        return ""
    if not known(disk):
        return "free: not known (the record does not say where every partition lies)"
    found = disk.gaps
    words, whys = [], []
    for gap in (g for g in found if g.size >= FREE_SPACE_MIN):
        notes = [n for n in ("logical" if gap.slot == "logical" else "", "unusable" if gap.why else "") if n]
        words.append(f"{human_size(gap.size)} {_where(disk, gap)}" + (f" ({', '.join(notes)})" if notes else ""))
        whys += [gap.why] if gap.why and gap.why not in whys else []
    slack = sum(g.size for g in found if g.size < FREE_SPACE_MIN)
    if slack and not words:  # beside real free space, alignment slack is noise
        words.append(f"only {human_size(slack)}, in gaps under {human_size(FREE_SPACE_MIN)}")
    slots = disk.free_primary_slots
    tail = f"; {slots} primary slot{'s' if slots != 1 else ''} free" if slots is not None and not disk.dynamic else ""
    return "free: " + (", ".join(words) or "none") + tail + "".join(f"; unusable: {why}" for why in whys)


def describe_disk(disk: Disk, context: Context | None = None, whole: Partition | None = None) -> str:
    """What the disk holds today, in one short line.

    `whole` is a filesystem written straight onto the disk (no partition
    table), passed as a pseudo-partition numbered 0.
    """
    if disk.kind == "cdrom":
        return "optical drive"
    if not disk.partitions:
        # A fresh partition table is all free space, which "empty" already says.
        return describe_partition(whole, disk, context) if whole is not None else "empty"
    shown = [p for p in sorted(disk.partitions, key=lambda p: p.start)
             if (p.type_guid not in _MINOR_TYPES or (p.type_guid == MSR_TYPE and p.fstype))
             and (p.fstype or p.size >= FREE_SPACE_MIN)]  # tiny unformatted ones are boot-loader slack
    parts = [describe_partition(p, disk, context) for p in shown]
    if disk.dynamic:
        # Free space in the table is not free: the LDM database may place volumes
        # anywhere, and no partition tool may touch it. Only erasing it is safe.
        listed = [p for p in parts if not p.startswith("Windows dynamic disk")]
        return "Windows dynamic disk" + (f": {', '.join(listed)}" if listed else f" ({human_size(disk.size)})")
    parts += [f"free space {human_size(gap)}" for gap in free_gaps(disk)]
    if not parts:
        return "only reserved partitions"
    return ", ".join(parts)

