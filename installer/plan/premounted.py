""""I partitioned it myself": read and check what is mounted under the target.

The probe has filled `machine.mounts`, `machine.swaps`, `machine.luks`, the
device-mapper stack (`machine.dm_slaves`: LVM on LUKS is walked down to the
LUKS partition) and the disks' partitions; this module turns what sits under the target into
fileSystems/swapDevices/LUKS entries, named by UUID like
nixos-generate-config does, and refuses with a message saying what to mount
when a piece is missing. Nothing here writes anything, so the plan has no
steps.
"""

from __future__ import annotations

import posixpath

from installer.machine.hardware import BIOS_BOOT_TYPE, ESP_TYPE, MAPPER, Disk, Machine, Mount, Partition
from installer.machine.eligibility import (HIBERNATE_NO_MEMORY, HIBERNATE_NO_SWAP, HIBERNATE_SWAP_FILE,
                                          HIBERNATE_ZRAM, hibernate_small_swap)
from installer.plan.identity import Identity
from installer.answers.model import InstallModel
from installer.answers.resolve import boot as boot_choice
from installer.plan.erase import ESP_OPTIONS
from installer.plan.types import FsEntry, LuksEntry, Plan, SwapEntry
from installer.base.problems import Problem, ProblemsError, errors

FIELD = "disk.layout"
# Filesystems that are not on a disk: never part of the installed system's fileSystems.
VIRTUAL = frozenset(
    "proc sysfs tmpfs devtmpfs devpts cgroup cgroup2 efivarfs securityfs debugfs tracefs bpf fusectl "
    "configfs mqueue hugetlbfs pstore autofs binfmt_misc ramfs overlay squashfs nsfs rpc_pipefs".split()
)
NOT_LINUX = frozenset({"vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk", "iso9660"})
KEPT_OPTIONS = ("subvol", "compress", "compress-force", "noatime")
ESP_MBR_TYPES = ("0xef", "ef")


def example_mounts(disk: Disk | None, firmware: str, target: str = "/mnt") -> list[str]:
    """The commands that would mount a layout made by hand on `disk`, for a person
    who chose "use what is mounted" and has mounted nothing yet: its largest
    Linux filesystem at the target, and on UEFI its EFI system partition at
    /boot. Placeholders where the disk has none (/dev/sdXN: a partition to make)."""
    target = target.rstrip("/") or "/"
    parts = disk.partitions if disk is not None else []
    linux = [p for p in parts if p.fstype in ("ext4", "btrfs", "xfs")]
    root = max(linux, key=lambda p: p.size).path if linux else "/dev/sdXN"
    lines = [f"mount {root} {target}"]
    if firmware == "uefi":
        esp = next((p.path for p in parts if p.type_guid == ESP_TYPE or p.type_guid in ESP_MBR_TYPES), "/dev/sdXN")
        lines.append(f"mkdir -p {_join(target, '/boot')} && mount -o umask=0077 {esp} {_join(target, '/boot')}")
    return lines


def premounted_plan(model: InstallModel, machine: Machine, identity: Identity, target: str = "/mnt") -> Plan:
    """The plan for what is mounted under `target`. Raises ProblemsError when a piece is missing."""
    target = target.rstrip("/") or "/"
    firmware, loader = boot_choice(model, machine)
    plan = Plan(
        layout="premounted",
        firmware=firmware,
        loader=loader,
        identity=identity,
        target=target,
    )
    problems: list[Problem] = []
    mounts = _mounts_under(machine, target)
    root = mounts.get("/")
    if root is None:
        problems.append(Problem(FIELD, f"nothing is mounted at {target}; mount your root filesystem there"))
    elif root.fstype in NOT_LINUX:
        problems.append(
            Problem(FIELD, f"{target} is {root.fstype}; NixOS needs a Linux filesystem (ext4, btrfs or xfs) for /")
        )
    elif _shared(machine, target, root):
        problems.append(Problem(FIELD, _shared(machine, target, root)))
    boot = mounts.get("/boot")
    boot_at = _join(target, "/boot")
    if firmware == "uefi":
        if boot is None:
            problems.append(Problem(FIELD, f"{boot_at} is not mounted; mount your EFI system partition there"))
        elif boot.fstype != "vfat":
            problems.append(Problem(FIELD, f"{boot_at} is {boot.fstype}, not an EFI system partition (vfat)"))
        else:
            part = _partition(machine, boot.source)
            if part is None:
                plan.warnings.append(
                    Problem(FIELD, f"could not check that {boot.source} is an EFI system partition", "warning")
                )
            elif part.type_guid.lower() not in (ESP_TYPE, *ESP_MBR_TYPES):
                problems.append(
                    Problem(
                        FIELD,
                        f"{boot_at} ({boot.source}) is FAT but not marked as an EFI system partition; "
                        "set its type to EF00 (gdisk: t, EF00) and mount it again",
                    )
                )

    in_order = sorted(mounts.items(), key=lambda kv: (kv[0].count("/"), kv[0]))
    for mountpoint, mount in in_order:
        where = _join(target, mountpoint)
        if any(disk.path == mount.source for disk in machine.disks):  # a filesystem on a whole disk
            device = mount.source
            problems.append(Problem(FIELD, f"{device} (at {where}) is a whole disk: the new "
                                    "system would name it /dev/..., which may change between boots; put the "
                                    "filesystem on a partition (named by its UUID)"))
        else:
            device = _device_name(machine, mount.source, mount.uuid, f"at {where}", problems)
        options: tuple[str, ...] = ()
        if mount.fstype == "vfat" and mountpoint == "/boot":
            options = ESP_OPTIONS
        elif mount.fstype == "btrfs":
            options = _btrfs_options(mount.options)
        plan.filesystems.append(FsEntry(mountpoint, device, mount.fstype, options))

    swapped = _swaps(model, machine, target, mounts, plan, problems)
    _unlock(machine, [mount.source for _, mount in in_order] + swapped, plan, problems)
    if model.encryption.enabled and root is not None and not machine.luks_under(root.source):
        problems.append(
            Problem(
                "encryption.enabled",
                f"you chose encryption, but {target} is not on a LUKS device; open your LUKS container, "
                "mount the filesystem inside it, or turn encryption off",
            )
        )
    if plan.loader == "grub" and firmware == "bios" and root is not None:
        # GRUB reads the kernels from /boot before anything is unlocked, and
        # cannot read LUKS2 (argon2) at all: /boot must be outside LUKS.
        if boot is None and machine.luks_under(root.source):
            problems.append(Problem(FIELD, f"GRUB cannot read the encrypted root: mount an unencrypted /boot at {boot_at}"))
        elif boot is not None and machine.luks_under(boot.source):
            problems.append(Problem(FIELD, f"GRUB cannot read the encrypted /boot ({boot.source}): mount an "
                                    f"unencrypted /boot at {boot_at}"))
    if plan.loader == "grub":
        plan.grub_device = "nodev" if firmware == "uefi" else _grub_disk(model, machine, mounts, problems)
    if errors(problems):
        raise ProblemsError(problems)
    plan.warnings += problems
    return plan


def _shared(machine: Machine, target: str, root: Mount) -> str:
    """Why the root mounted at `target` is not a filesystem of its own ("" when it is).

    A bind mount (of the running system's /, or of any directory) shows the same
    source as the filesystem it comes from, mounted elsewhere too: the new
    system's fileSystems."/" would name the running system's disk (/dev/vda),
    and nixos-install would write over the running system. So the root's source
    may be mounted nowhere outside the target; on btrfs, not the same subvolume."""
    if target == "/":
        return ""
    for mount in machine.mounts:
        where = posixpath.normpath(mount.target)
        if mount.source != root.source or where == target or where.startswith(target + "/"):
            continue
        if root.fstype == "btrfs" and _subvol(mount.options) != _subvol(root.options):
            continue  # another subvolume of the same btrfs: a filesystem tree of its own
        if where == "/":
            return (f"{target} is the filesystem the running system is on ({root.source}, mounted at /; a bind "
                    "mount of it, or it mounted again): installing there would write over the running system; "
                    f"mount the new system's own root filesystem at {target}")
        return (f"{target} ({root.source}) is also mounted at {where}: a bind mount, or a filesystem in use "
                f"there; unmount it there and mount the new system's own root filesystem at {target}")
    return ""


def _subvol(options: str) -> str:
    return next((o.partition("=")[2].strip("/") for o in options.split(",") if o.startswith("subvol=")), "")


def _join(target: str, mountpoint: str) -> str:
    return posixpath.normpath(target + mountpoint) if target != "/" else mountpoint


def _mounts_under(machine: Machine, target: str) -> dict[str, Mount]:
    """Disk-backed mounts at or below the target, keyed by where they are in the new system."""
    found: dict[str, Mount] = {}
    for mount in machine.mounts:
        if mount.fstype in VIRTUAL:
            continue
        where = posixpath.normpath(mount.target)
        if where == target:
            inside = "/"
        elif target == "/" or where.startswith(target + "/"):
            inside = where[len(target):] if target != "/" else where
        else:
            continue
        found[inside] = mount  # a later mount on the same place hides the earlier one
    return found


def _partition(machine: Machine, source: str) -> Partition | None:
    for disk in machine.disks:
        for part in disk.partitions:
            if source == part.path:
                return part
    return None


def _disk_of(machine: Machine, source: str) -> Disk | None:
    for disk in machine.disks:
        if source == disk.path or any(p.path == source for p in disk.partitions):
            return disk
    return None


def _disks_under(machine: Machine, source: str) -> list[Disk]:
    """The disks a device lives on, through LVM and LUKS down to the partitions."""
    found: list[Disk] = []
    for dev in machine.stack(source):
        disk = _disk_of(machine, dev)
        if disk is not None and disk not in found:
            found.append(disk)
    return found


def _unlock(machine: Machine, sources: list[str], plan: Plan, problems: list[Problem]) -> None:
    """Every LUKS mapping under the sources (itself, or below LVM: vg-root on cryptlvm)
    becomes a LUKS entry naming its backing device, so the initrd unlocks it before it
    looks for the filesystems; each mapping once, however many mounts sit on it."""
    names = dict.fromkeys(name for source in sources for name in machine.luks_under(source))
    for name in names:
        backing = machine.luks[name]
        part = _partition(machine, backing)
        if part is None or not part.uuid:
            problems.append(
                Problem(FIELD, f"{MAPPER}{name} is open from {backing}, but its LUKS UUID is unknown; "
                        "is the backing device a partition of a local disk?")
            )
        else:
            plan.luks.append(LuksEntry(name, f"/dev/disk/by-uuid/{part.uuid}"))


def _device_name(machine: Machine, source: str, uuid: str, where: str, problems: list[Problem]) -> str:
    """by-uuid: the UUID of the partition the probe knows, else the one the mount's
    source reported (a loop or nbd device no disk lists); a /dev/sdX or /dev/nbdNpM
    may name another device at the next boot. Refused when neither is known."""
    part = _partition(machine, source)
    if part is not None and part.uuid:
        return f"/dev/disk/by-uuid/{part.uuid}"
    # A filesystem inside a LUKS mapping or LVM: the mapping's name is fixed by
    # boot.initrd.luks.devices and the volume group, so it is as stable as a UUID.
    if source.startswith(MAPPER):
        return source
    if uuid:
        return f"/dev/disk/by-uuid/{uuid}"
    problems.append(Problem(FIELD, f"the UUID of the filesystem on {source} ({where}) is unknown, so the new "
                            "system would name it by that /dev path, which may name another device at the next "
                            f"boot; check that `blkid {source}` shows a UUID (mkfs gives one), or use a partition "
                            "of a disk listed here"))
    return source


def _btrfs_options(options: str) -> tuple[str, ...]:
    kept = []
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "subvol":
            kept.append(f"subvol={value.lstrip('/')}")
        elif key in KEPT_OPTIONS:
            kept.append(option)
    return tuple(kept)


def _swaps(model: InstallModel, machine: Machine, target: str, mounts: dict[str, Mount], plan: Plan,
           problems: list[Problem]) -> list[str]:
    """Active swap on the disks the new system is mounted from, or a swap file inside it;
    returns the swap devices taken.

    Like Calamares and subiquity, swap elsewhere (another disk, a USB drive, the
    boot medium) is not taken: the installed system would wait for it at every
    boot once that disk is gone.
    """
    ours = [disk for mount in mounts.values() for disk in _disks_under(machine, mount.source)]
    left_out = []
    taken = []
    for source in machine.swaps:
        if source.startswith("/dev/zram"):
            continue  # the ISO's compressed RAM, not part of the new system
        if target != "/" and source.startswith(target + "/"):
            plan.swaps.append(SwapEntry(source[len(target):]))  # a swap file inside the new system
            continue
        disks = _disks_under(machine, source)
        if not disks:
            plan.warnings.append(Problem("disk.swap", f"active swap {source} is not on a local disk; left out", "warning"))
        elif not any(disk in ours for disk in disks):
            left_out.append(source)
            names = ", ".join(d.path for d in disks)
            plan.warnings.append(
                Problem("disk.swap", f"active swap {source} is on {names}, not on a disk the new system is mounted "
                        "from; left out", "warning")
            )
        else:
            taken.append(source)
            plan.swaps.append(SwapEntry(_device_name(machine, source, "", "active swap", problems)))
    plan.zram = model.disk.swap == "zram"
    if model.disk.swap == "partition" and not plan.swaps:
        if left_out:
            message = (f"the active swap ({', '.join(left_out)}) is not on a disk the new system is mounted from; "
                       "run swapon on a swap partition there, or choose zram or no swap")
        else:
            message = "no swap is active; run swapon on your swap partition, or choose zram or no swap"
        problems.append(Problem("disk.swap", message))
    if model.disk.swap == "hibernate":
        _resume_device(machine, plan, problems)
    return taken


def _resume_device(machine: Machine, plan: Plan, problems: list[Problem]) -> None:
    """Hibernation into the swap partition taken above (the first), or why it cannot be."""
    partitions = [s for s in plan.swaps if not s.device.startswith("/") or s.device.startswith("/dev/")]
    if not plan.swaps:
        zram = any(source.startswith("/dev/zram") for source in machine.swaps)
        problems.append(Problem("disk.swap", HIBERNATE_ZRAM if zram else HIBERNATE_NO_SWAP))
    elif not partitions:
        problems.append(Problem("disk.swap", HIBERNATE_SWAP_FILE))
    elif machine.memory_bytes == 0:
        problems.append(Problem("disk.swap", HIBERNATE_NO_MEMORY))
    else:
        device = partitions[0].device
        size = _swap_size(machine, device)
        if 0 < size < machine.memory_bytes:
            problems.append(Problem("disk.swap", hibernate_small_swap(size, machine.memory_bytes)))
        plan.resume_device = device


def _swap_size(machine: Machine, device: str) -> int:
    """The size of the partition `device` names (by UUID, PARTUUID or path); 0 when not known."""
    for disk in machine.disks:
        for part in disk.partitions:
            names = {part.path, f"/dev/disk/by-uuid/{part.uuid}", f"/dev/disk/by-partuuid/{part.partuuid}"}
            if device in names:
                return part.size
    return 0


def _grub_disk(model: InstallModel, machine: Machine, mounts: dict[str, Mount], problems: list[Problem]) -> str:
    """The disk GRUB goes on: the one chosen, else the one holding /boot or /."""
    disk = machine.disk(model.disk.device) if model.disk.device else None
    for mountpoint in ("/boot", "/"):
        mount = mounts.get(mountpoint)
        if disk is None and mount is not None:
            disk = next(iter(_disks_under(machine, mount.source)), None)
    if disk is None:
        problems.append(Problem("disk.device", "choose the disk GRUB should be installed on"))
        return ""
    if disk.table == "gpt" and not any(p.type_guid.lower() == BIOS_BOOT_TYPE for p in disk.partitions):
        problems.append(
            Problem(
                FIELD,
                f"GRUB on the GPT disk {disk.path} needs a 1 MiB BIOS boot partition (type EF02); "
                "create one with gdisk",
            )
        )
    return disk.stable_path
