"""May this disk be used, and if not, why: the one policy, with every refusal's words.

The probe gathers the facts (what is mounted, swapped on, held by a RAID array,
an LVM group, a LUKS mapping or a ZFS pool) into a `Usage`, with the disk it
booted from (`boot_medium`) and what a mounted device-mapper stack holds
(`held_through`) worked out here, and asks `refusal` once per disk; the answer is kept on the disk as
`Disk.refused`, so a recorded machine replays it exactly. Everything above
(validation, the plan, the disk match rule, the CLI, resume and the Disk step's
partition editors) asks `disk_verdict` or `editor_verdict` here instead of
reading the facts itself. The executor re-reads the disk before its first write
(installer.run.executor, installer.machine.medium): that stays the last line,
independent of this one.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from installer.base.units import GIB, human_size
from installer.machine.hardware import MAPPER, MIN_DISK_BYTES, Disk, Machine, Mount

# -- the refusals, in words for a person ------------------------------------------
OPTICAL = "optical drive"
LOOP = "loop device (an image file); start with --allow-loop to install into it"
# Refused, not installed onto: nixpkgs' services.multipath builds multipath.conf
# from hand-given pathGroups (a WWID and a numeric alias each, no default), and
# its initrd part only starts multipathd. nixpkgs' own root-on-multipath test
# (nixos/tests/iscsi-multipath-root.nix) boots a partitionless filesystem on
# /dev/mapper/<alias>, copies /etc/multipath/wwids into the initrd by hand and
# installs no boot loader: nothing covers the ESP + root partitions (kpartx maps)
# and boot loader this installer writes, and this kernel has no dm to test them.
MULTIPATH = ("multipath device: not supported here (booting NixOS from one needs "
             "services.multipath set up by hand)")
BOOT_MEDIUM = "holds the running installer"
READ_ONLY = "read-only device"
NO_MEDIUM = "no medium"  # an empty card-reader slot

# Where live systems mount the medium they booted from: NixOS (/iso), Ubuntu
# (/cdrom), dracut/Fedora, Arch, Debian live.
BOOT_MEDIUM_TARGETS = ("/iso", "/cdrom", "/run/initramfs/live", "/run/archiso/bootmnt",
                       "/run/live/medium", "/lib/live/mount/medium")


def multipath_path(name: str) -> str:
    return f"is one path of the multipath device {MAPPER}{name}" if name else "is a multipath path device"


def too_small(size: int) -> str:
    return f"too small: {human_size(size)}, needs at least {human_size(MIN_DISK_BYTES)}"


# Why a device is in use, each after the device's short name ("sda2 ...").
def in_raid(array: str) -> str:
    return f"is part of the active RAID array {array}"


def in_volume_group(vg: str) -> str:
    return f"is in the active LVM volume group '{vg}'"


def backs_mapping(name: str) -> str:
    return f"backs the open mapping {MAPPER}{name}"


def backs_luks(name: str) -> str:
    return f"backs the open LUKS mapping {MAPPER}{name}"


def in_pool(pool: str) -> str:
    return f"is in the imported ZFS pool {pool}"


# -- the verdict -----------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Whether a disk may be used; `reason` says why not ("" when it may)."""

    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass
class Usage:
    """What the probe saw using the devices, and the options the disks are judged under."""

    boot_medium: str = ""  # the disk holding the running ISO
    swaps: list[str] = field(default_factory=list)
    in_use: dict[str, str] = field(default_factory=dict)  # device -> why (in_raid, in_pool, ...)
    mounted_at: dict[str, str] = field(default_factory=dict)  # device -> its first mount point
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # held_through()
    path_of: dict[str, str] = field(default_factory=dict)  # multipath path device -> its map's name
    target: str = "/mnt"
    allow_loop: bool = False


def holds_installer(disk: Disk, boot_medium: str) -> bool:
    """The recorded boot medium may name the disk by its path, name or by-id link."""
    return bool(boot_medium) and boot_medium in (disk.path, disk.name, disk.by_id)


def refusal(disk: Disk, usage: Usage) -> str:
    """Why the probe refuses `disk`, or "" when it is offered (kept as Disk.refused)."""
    if disk.kind == "cdrom":
        return OPTICAL
    if disk.kind == "loop" and not usage.allow_loop:
        return LOOP
    if disk.kind == "multipath":
        return MULTIPATH
    if holds_installer(disk, usage.boot_medium):
        return BOOT_MEDIUM
    if disk.read_only:
        return READ_ONLY
    if disk.path in usage.path_of:
        return multipath_path(usage.path_of[disk.path])
    devices = [disk.path] + [p.path for p in disk.partitions]
    target = usage.target

    def hint(where: str) -> str:
        return " (your pre-mounted target)" if where == target or where.startswith(target.rstrip("/") + "/") else ""

    # Mounted directly, or under a mounted device-mapper stack (/ on LVM on LUKS);
    # the shortest mount point names it: "/" says more than "/boot/efi".
    busy = [(where, 0, dev, f"is mounted at {where}") for dev, where in usage.mounted_at.items() if dev in devices]
    busy += [(usage.held[dev][0], 1, dev, f"holds {usage.held[dev][0]} through {usage.held[dev][1]}")
             for dev in devices if dev in usage.held]
    if busy:
        where, _, dev, what = min(busy, key=lambda b: (len(b[0]), b))
        return f"{os.path.basename(dev)} {what}{hint(where)}"
    for dev in devices:
        short = os.path.basename(dev)
        if dev in usage.swaps:
            return f"{short} is active swap"
        if dev in usage.in_use:
            return f"{short} {usage.in_use[dev]}"
    if disk.size == 0 and disk.detachable:
        return NO_MEDIUM
    if disk.size < MIN_DISK_BYTES:
        return too_small(disk.size)
    return ""


def held_through(mounts: list[tuple[str, str]], dm_slaves: dict[str, list[str]],
                 layer_of: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{partition: (mount point, "LUKS and LVM")} for every device a mounted device-mapper
    stack sits on: the disk under a running root on LVM on LUKS is as busy as one mounted
    directly. `mounts` are (source, target); `layer_of` names each mapping's kind."""
    held: dict[str, tuple[str, str]] = {}
    for source, target in mounts:
        if not source.startswith(MAPPER) or source not in dm_slaves:
            continue
        chain = Machine(dm_slaves=dm_slaves).stack(source)  # the one walk of the stack, before the Machine exists
        layers: list[str] = []
        for dev in reversed(chain):  # from the disk up, as the data passes through them
            if dev in dm_slaves and layer_of.get(dev, "device-mapper") not in layers:
                layers.append(layer_of.get(dev, "device-mapper"))
        for leaf in (dev for dev in chain if dev not in dm_slaves and not dev.startswith(MAPPER)):
            if leaf not in held or len(target) < len(held[leaf][0]):
                held[leaf] = (target, " and ".join(layers))
    return held


def _host_disk(dev: str, parent: dict[str, str], blockdev: dict[str, Any], mounts: list[Mount], depth: int = 0) -> str:
    """The disk a device lives on; through a loop device to the disk holding its image file."""
    disk = parent.get(dev, dev)
    backing = ((blockdev.get(disk) or {}).get("attrs") or {}).get("loop/backing_file", "")
    if backing and depth < 4:  # an ISO file on a stick (GRUB findiso=, Ventoy): the stick holds the installer
        holders = [m for m in mounts if m.source.startswith("/dev/")
                   and (backing == m.target or backing.startswith(m.target.rstrip("/") + "/"))]
        if holders:
            host = max(holders, key=lambda m: len(m.target))
            return _host_disk(host.source, parent, blockdev, mounts, depth + 1)
    return disk


def boot_medium(mounts: list[Mount], parent: dict[str, str], blockdev: dict[str, Any], recorded: str) -> str:
    """The disk the installer runs from (refused: BOOT_MEDIUM): the recorded one, else the
    disk under the first live-medium mount point; `parent` maps a partition to its disk."""
    if recorded:
        return recorded
    for where in BOOT_MEDIUM_TARGETS:  # /iso first: the NixOS ISO is what we run on
        for mount in mounts:
            if mount.target == where and mount.source.startswith("/dev/"):
                return _host_disk(mount.source, parent, blockdev, mounts)
    return ""


def layer(rec: dict[str, Any], name: str, luks: dict[str, str]) -> str:
    """What the device-mapper device `rec` (/dev/mapper/`name`) is, as "holds / through ..." names it."""
    uuid = rec.get("DM_UUID", "")
    if name in luks or uuid.startswith("CRYPT-"):
        return "LUKS"
    if rec.get("DM_LV_NAME") or rec.get("DM_VG_NAME") or uuid.startswith("LVM-"):
        return "LVM"
    if uuid.startswith("mpath-"):
        return "multipath"
    return "device-mapper"


def disk_verdict(disk: Disk, machine: Machine) -> Verdict:
    """May NixOS be installed on `disk` (erasing it)? The probe's refusal, then the
    machine-wide facts a hand-built or older record may not have applied."""
    if disk.refused:
        return Verdict(disk.refused)
    if holds_installer(disk, machine.boot_medium):
        return Verdict(BOOT_MEDIUM)
    if disk.read_only:
        return Verdict(READ_ONLY)
    return Verdict()


def editor_verdict(disk: Disk, machine: Machine) -> Verdict:
    """May a partition editor (cfdisk, gdisk) be opened on `disk`? Unlike installing,
    yes on a disk in use (freeing it is what the editor is for), but never on an
    optical drive or the disk the installer runs from."""
    if disk.kind == "cdrom":
        return Verdict(disk.refused or OPTICAL)
    if holds_installer(disk, machine.boot_medium):
        return Verdict(disk.refused or BOOT_MEDIUM)
    return Verdict()


def offered_disks(machine: Machine) -> list[Disk]:
    """The disks the install may go on, in the probe's order."""
    return [d for d in machine.disks if disk_verdict(d, machine).ok]


def with_own_layout(machine: Machine, disk: Disk) -> Machine:
    """`machine` with `disk` offered again: what refused it (its mounts and swap) is
    the layout an earlier run of this installer made, which `own_layout_verdict`
    has checked for anything else."""
    free = dataclasses.replace(disk, refused="")
    return dataclasses.replace(machine, disks=[free if d is disk else d for d in machine.disks])


def own_layout_verdict(disk: Disk, machine: Machine, target: str, planned_swaps: set[str]) -> Verdict:
    """Is what uses `disk` only the layout an earlier run made: something of it mounted at
    `target`, nothing of it mounted elsewhere, no swap on it but `planned_swaps` (UUIDs)?"""
    nodes = {disk.path, *(p.path for p in disk.partitions)}
    mounts = [m for m in machine.mounts if m.source in nodes]
    if not any(m.target == target for m in mounts):
        return Verdict(f"nothing of {disk.path} is mounted at {target}")
    elsewhere = [m for m in mounts if not (m.target == target or m.target.startswith(target.rstrip("/") + "/"))]
    if elsewhere:
        return Verdict(f"{elsewhere[0].source} is mounted at {elsewhere[0].target}, outside {target}")
    for part in disk.partitions:
        if part.path in machine.swaps and part.uuid not in planned_swaps:
            return Verdict(f"{part.path} is an active swap the plan did not make")
    return Verdict()


# -- keeping what is on a disk (issue 18): why a way to use it is not offered -------
# installer.plan.offers works out which of erase, free-space, alongside and replace
# can work on a disk; every reason it gives is worded here, once.
NO_TABLE_TO_KEEP = "it has no GPT or MBR partition table, so only erasing it can use it"
DYNAMIC_DISK = ("it is a Windows dynamic disk: its LDM database, not the partition table, "
                "says where its volumes lie")
PLACES_UNKNOWN = "the record does not say where every partition lies"
NO_FREE_SPACE = "it has no free space outside its partitions"
NO_PARTITION_TO_SHRINK = "it has no partition that could be shrunk"
NO_PARTITION_TO_REPLACE = "it has no partition that could be replaced"
MIN_SIZE_UNKNOWN = "its smallest size is not known (no resize tool could read how much it holds)"
KEEP_ESP = "it is the EFI system partition the systems on this machine boot from"
KEEP_MSR = "it is the Microsoft reserved partition Windows needs"
KEEP_EXTENDED = "it is the extended partition that holds the logical ones"
KEEP_BIOS_BOOT = "it is the BIOS boot partition GRUB on this disk lives in"
ESP_NOT_LOGICAL = ("NixOS would need a new EFI system partition there, and UEFI firmware looks for one "
                   "only among the four primary partitions of an MBR")


def shrink_leaves_nothing(keep_min: int, size: int) -> str:
    return (f"it would keep at least {human_size(keep_min)} (what it holds plus room to grow), "
            f"no less than its {human_size(size)} today")


def room_too_small(room: int, need: int) -> str:
    return f"that leaves {human_size(room)} for NixOS, which needs at least {human_size(need)}"


def free_space_too_small(size: int, need: int) -> str:
    return f"its largest free space is {human_size(size)}, and NixOS needs at least {human_size(need)}"


def renumbers(after: str) -> str:
    return (f"a new logical partition there would renumber {after} (the kernel numbers logical "
            "partitions in the order of their chain)")


def not_an_esp(path: str, fstype: str) -> str:
    return (f"{path} is marked as an EFI system partition but holds {fstype or 'no filesystem'}, not FAT; "
            "check it in the partition editor before reusing it")


def no_slots(need: int, free: int) -> str:
    return (f"NixOS needs {need} new primary partition(s) there but the MBR has {free} primary slot(s) free "
            "(use swap in RAM, or free a slot)")


def part_verdict(part: Any, way: str) -> Verdict:
    """May `part` (a Partition) be shrunk ("alongside") or deleted ("replace")? Its kind
    first (what other systems need to start), then, to shrink, what its filesystem's tool said."""
    from installer.machine.hardware import BIOS_BOOT_TYPE, ESP_TYPE, MBR_EXTENDED

    kind = part.type_guid.lower()
    if kind in (ESP_TYPE, "0xef"):
        return Verdict(KEEP_ESP)
    if kind == "e3c9e316-0b5c-4db8-817d-f92df00215ae":  # Microsoft reserved (MSR)
        return Verdict(KEEP_MSR)
    if kind in MBR_EXTENDED:
        return Verdict(KEEP_EXTENDED)
    if kind == BIOS_BOOT_TYPE:
        return Verdict(KEEP_BIOS_BOOT)
    if way == "alongside":
        if part.shrink_refusal:
            return Verdict(part.shrink_refusal)
        if part.min_size <= 0:
            return Verdict(MIN_SIZE_UNKNOWN)
    return Verdict()


# -- hibernation: how big its swap is, and when it cannot be had -----------------
def hibernate_swap_bytes(memory: int) -> int:
    """The swap partition hibernation writes the RAM into: the RAM rounded up to a GiB,
    plus the square root of that in GiB (rounded up), as Ubuntu's and Red Hat's swap
    advice has it for hibernation (8 GiB RAM: 8 + 3 = 11 GiB). The margin is needed
    because the image goes into the swap beside what is already swapped out at that
    moment (the kernel frees memory into swap before writing the image), and the
    kernel's image is compressed but not always small (image_size defaults to 2/5
    of the RAM, and a full page cache of dirty data does not compress)."""
    gib = -(-memory // GIB)
    margin = math.isqrt(gib - 1) + 1 if gib > 0 else 0  # ceil(sqrt(gib))
    return (gib + margin) * GIB


HIBERNATE_NO_MEMORY = ("hibernation needs the size of the RAM, which this recorded machine does not carry "
                       "(recorded before it was added); record the machine again with --record-machine, "
                       "or choose a swap partition")
HIBERNATE_ZRAM = "zram lives in RAM, which is lost when the machine powers off: it cannot hold a hibernation image"
HIBERNATE_NO_SWAP = ("hibernation needs a swap partition at least as big as the RAM; no swap is active on a disk "
                     "the new system is mounted from (run swapon on one, or choose zram or no swap)")
# The ways that keep what is on the disk (free-space, alongside, replace) make a swap
# partition of the size given, not one sized to the RAM: hibernation is offered on erase.
HIBERNATE_KEEP = ("hibernation's swap partition is made when erasing the disk; keeping what is on it, "
                  "choose a swap partition of at least the RAM's size (disk.swap_size_mib) or zram")
HIBERNATE_SWAP_FILE = ("hibernating into a swap file needs its offset on the disk (resume_offset); "
                       "use a swap partition for hibernation")


def hibernate_small_swap(size: int, memory: int) -> str:
    return (f"hibernation writes the RAM ({human_size(memory)}) into swap, but the active swap is only "
            f"{human_size(size)}; use a swap partition of at least {human_size(hibernate_swap_bytes(memory))}")


def hibernate_refusal(memory: int) -> str:
    """Why a machine cannot be given a hibernation swap partition ("" when it can)."""
    return "" if memory > 0 else HIBERNATE_NO_MEMORY
