""""I partitioned it myself": read and check what is mounted under the target.

The probe has filled `machine.mounts`, `machine.swaps`, `machine.luks` and
the disks' partitions; this module turns what sits under the target into
fileSystems/swapDevices/LUKS entries, named by UUID like
nixos-generate-config does, and refuses with a message saying what to mount
when a piece is missing. Nothing here writes anything, so the plan has no
steps.
"""

from __future__ import annotations

import posixpath

from installer.hardware import BIOS_BOOT_TYPE, ESP_TYPE, Disk, Machine, Mount, Partition
from installer.identity import Identity
from installer.model import InstallModel
from installer.plan import ESP_OPTIONS, boot_choice, FsEntry, LuksEntry, Plan, SwapEntry
from installer.problems import Problem, ProblemsError, errors

FIELD = "disk.layout"
# Filesystems that are not on a disk: never part of the installed system's fileSystems.
VIRTUAL = frozenset(
    "proc sysfs tmpfs devtmpfs devpts cgroup cgroup2 efivarfs securityfs debugfs tracefs bpf fusectl "
    "configfs mqueue hugetlbfs pstore autofs binfmt_misc ramfs overlay squashfs nsfs rpc_pipefs".split()
)
NOT_LINUX = frozenset({"vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk", "iso9660"})
KEPT_OPTIONS = ("subvol", "compress", "compress-force", "noatime")
ESP_MBR_TYPES = ("0xef", "ef")


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

    for mountpoint, mount in sorted(mounts.items(), key=lambda kv: (kv[0].count("/"), kv[0])):
        device = _device_name(machine, mount.source, plan, problems)
        options: tuple[str, ...] = ()
        if mount.fstype == "vfat" and mountpoint == "/boot":
            options = ESP_OPTIONS
        elif mount.fstype == "btrfs":
            options = _btrfs_options(mount.options)
        plan.filesystems.append(FsEntry(mountpoint, device, mount.fstype, options))

    _swaps(model, machine, target, plan, problems)
    if model.encryption.enabled and root is not None and not plan.luks:
        problems.append(
            Problem(
                "encryption.enabled",
                f"you chose encryption, but {target} is not on a LUKS device; open your LUKS container, "
                "mount the filesystem inside it, or turn encryption off",
            )
        )
    if plan.loader == "grub":
        plan.grub_device = "nodev" if firmware == "uefi" else _grub_disk(model, machine, mounts, problems)
    if errors(problems):
        raise ProblemsError(problems)
    plan.warnings += problems
    return plan


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


def _mapper_name(source: str) -> str:
    return source[len("/dev/mapper/"):] if source.startswith("/dev/mapper/") else ""


def _device_name(machine: Machine, source: str, plan: Plan, problems: list[Problem]) -> str:
    """by-uuid when the probe knows the UUID; a LUKS mapping also records its backing device."""
    name = _mapper_name(source)
    if name and name in machine.luks:
        backing = machine.luks[name]
        part = _partition(machine, backing)
        if part is None or not part.uuid:
            problems.append(
                Problem(FIELD, f"{source} is open from {backing}, but its LUKS UUID is unknown; "
                        "is the backing device a partition of a local disk?")
            )
        elif not any(e.name == name for e in plan.luks):
            plan.luks.append(LuksEntry(name, f"/dev/disk/by-uuid/{part.uuid}"))
    part = _partition(machine, source)
    if part is not None and part.uuid:
        return f"/dev/disk/by-uuid/{part.uuid}"
    # A filesystem inside a LUKS mapping: the mapping's name is fixed by
    # boot.initrd.luks.devices, so it is as stable as a UUID.
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


def _swaps(model: InstallModel, machine: Machine, target: str, plan: Plan, problems: list[Problem]) -> None:
    for source in machine.swaps:
        if source.startswith("/dev/zram"):
            continue  # the ISO's compressed RAM, not part of the new system
        if target != "/" and source.startswith(target + "/"):
            plan.swaps.append(SwapEntry(source[len(target):]))  # a swap file inside the new system
            continue
        if _partition(machine, source) is None and not _mapper_name(source):
            plan.warnings.append(Problem("disk.swap", f"active swap {source} is not on a local disk; left out", "warning"))
            continue
        plan.swaps.append(SwapEntry(_device_name(machine, source, plan, problems)))
    plan.zram = model.disk.swap == "zram"
    if model.disk.swap == "partition" and not plan.swaps:
        problems.append(
            Problem("disk.swap", "no swap is active; run swapon on your swap partition, or choose zram or no swap")
        )


def _grub_disk(model: InstallModel, machine: Machine, mounts: dict[str, Mount], problems: list[Problem]) -> str:
    """The disk GRUB goes on: the one chosen, else the one holding /boot or /."""
    disk = machine.disk(model.disk.device) if model.disk.device else None
    for mountpoint in ("/boot", "/"):
        if disk is not None:
            break
        mount = mounts.get(mountpoint)
        if mount is None:
            continue
        source = mount.source
        name = _mapper_name(source)
        if name in machine.luks:
            source = machine.luks[name]
        disk = _disk_of(machine, source)
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
