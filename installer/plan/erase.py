"""The partition plan: a pure description of what will be done to the disk.

`build_plan(model, machine, identity, target)` turns answers and probe
results into an ordered list of steps plus the resulting layout
(filesystems, LUKS devices, swap) that the templates render. It does no I/O:
the executor runs the steps, `--plan` prints them, the review screen
describes them. The guided ("erase") layouts are built here; what a person
mounted themselves is read by `installer.plan.premounted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from installer.machine.hardware import (
    BIOS_BOOT_TYPE,
    ESP_TYPE,
    LINUX_FS_TYPE,
    LINUX_LUKS_TYPE,
    LINUX_SWAP_TYPE,
    Disk,
    Machine,
)
from installer.machine.eligibility import HIBERNATE_KEEP, hibernate_refusal, hibernate_swap_bytes
from installer.plan.identity import Identity
from installer.plan.types import Action, FsEntry, LuksEntry, PartSpec, Plan, Step, SwapEntry
from installer.answers.model import InstallModel
from installer.answers.resolve import KEEP_LAYOUTS, NEEDS_UEFI, resolve
from installer.base.problems import Problem, ProblemsError
from installer.base.units import GIB, MIB, human_size

# The smallest root worth installing NixOS on: a minimal system plus a
# couple of generations fits; a desktop needs more, but that is a choice.
MIN_ROOT_BYTES = 5 * GIB
# Every partition starts and ends on a 1 MiB boundary; the first MiB holds
# the primary GPT and the last MiB is left for the backup GPT.
ALIGN = MIB
BIOS_BOOT_BYTES = MIB
BOOT_BYTES = GIB  # ext4 /boot beside a LUKS root on BIOS
LUKS_NAME = "cryptroot"
# Hibernation's swap, when the disk is encrypted: a LUKS container of its own (no LVM
# here to put it inside the root's), opened by the initrd with the passphrase typed
# for the root: the scripted initrd reuses it (boot.initrd.luks.reusePassphrases,
# on by default) and systemd's initrd caches it in the kernel keyring and tries it
# on the next volume (crypttab's password-cache, on by default). A random-key swap
# (what plain swap gets beside LUKS) cannot hold an image: its key is new at every boot.
SWAP_LUKS_NAME = "cryptswap"
BTRFS_SUBVOLUMES = (("@", "/"), ("@home", "/home"), ("@nix", "/nix"))
BTRFS_OPTIONS = ("compress=zstd", "noatime")
ESP_OPTIONS = ("fmask=0077", "dmask=0077")


class Add(Protocol):
    """Appends one step to the plan being built (_fill's `add`)."""

    def __call__(self, action: Action, describe: str, argv: Sequence[str] = (), *,
                 call: dict[str, Any] | None = None, stdin: str = "") -> None: ...


# -- small helpers other modules use -------------------------------------------


def partition_path(disk_path: str, number: int) -> str:
    """The kernel's name for a partition: sda -> sda1, nvme0n1/loop0/mmcblk0 -> ...p1."""
    sep = "p" if disk_path[-1:].isdigit() else ""
    return f"{disk_path}{sep}{number}"


def disk_words(disk: Disk) -> str:
    return f"{disk.model} ({disk.path})" if disk.model else disk.path


# -- the plan ------------------------------------------------------------------


def build_plan(model: InstallModel, machine: Machine, identity: Identity, target: str = "/mnt") -> Plan:
    """The plan for the model's disk choice. Raises ProblemsError when refused."""
    target = target.rstrip("/") or "/"
    resolved = resolve(model, machine)
    firmware, loader = resolved.firmware, resolved.loader
    problems: list[Problem] = []
    if firmware == "bios" and loader == "systemd-boot":
        problems.append(Problem("boot.loader", NEEDS_UEFI))
    if model.disk.layout == "premounted":
        if problems:
            raise ProblemsError(problems)
        from installer.plan.premounted import premounted_plan

        return premounted_plan(model, machine, identity, target)
    disk = resolved.disk  # the answers' device, or the one their match rule picks here
    if resolved.problem is not None:
        problems.append(resolved.problem)
    if disk is None or problems:
        raise ProblemsError(problems)
    if model.disk.layout in KEEP_LAYOUTS:
        from installer.plan.keep import keep_plan

        if model.disk.swap == "hibernate":
            raise ProblemsError([Problem("disk.swap", HIBERNATE_KEEP)])
        return keep_plan(model, machine, identity, target, disk, firmware, loader)
    plan = Plan(layout="erase", firmware=firmware, loader=loader, identity=identity, disk=disk, target=target)
    plan.partitions = _layout(model, firmware, disk, identity, problems, machine.memory_bytes)
    if problems:
        raise ProblemsError(problems)
    if loader == "grub":
        plan.grub_device = "nodev" if firmware == "uefi" else disk.stable_path
    plan.zram = model.disk.swap == "zram"
    _fill(plan, model, disk, identity, target)
    return plan


def _layout(
    model: InstallModel, firmware: str, disk: Disk, identity: Identity, problems: list[Problem], memory: int = 0
) -> list[PartSpec]:
    """Partition sizes and places, or a problem saying how much is missing."""
    choice = model.disk
    luks = model.encryption.enabled
    hibernate = choice.swap == "hibernate"
    wanted: list[tuple[str, str, int, str, str]] = []  # name, type, size, purpose, fstype
    if firmware == "uefi":
        wanted.append(("ESP", ESP_TYPE, choice.esp_size_mib * MIB, "esp", "vfat"))
    else:
        wanted.append(("bios", BIOS_BOOT_TYPE, BIOS_BOOT_BYTES, "bios-boot", ""))
        if luks:
            wanted.append(("boot", LINUX_FS_TYPE, BOOT_BYTES, "boot", "ext4"))
    if choice.swap == "partition":
        wanted.append(("swap", LINUX_SWAP_TYPE, choice.swap_size_mib * MIB, "swap", "" if luks else "swap"))
    elif hibernate:
        if hibernate_refusal(memory):
            problems.append(Problem("disk.swap", hibernate_refusal(memory)))
            return []
        # Encrypted, it is a LUKS container like the root's (swap lives inside it).
        wanted.append(("swap", LINUX_LUKS_TYPE if luks else LINUX_SWAP_TYPE, hibernate_swap_bytes(memory), "swap",
                       "crypto_LUKS" if luks else "swap"))
    fixed = sum(w[2] for w in wanted)
    usable_end = (disk.size // ALIGN) * ALIGN - ALIGN
    root_size = usable_end - ALIGN - fixed
    if root_size < MIN_ROOT_BYTES:
        words = {"esp": "ESP", "bios-boot": "BIOS boot", "boot": "/boot",
                 "swap": f"swap to hibernate {human_size(memory)} of RAM into" if hibernate else "swap"}
        parts = " + ".join(f"{human_size(w[2])} {words[w[3]]}" for w in wanted)
        need = fixed + MIN_ROOT_BYTES + 2 * ALIGN
        problems.append(
            Problem(
                "disk.device",
                f"{disk.path} is {human_size(disk.size)}; this layout needs at least {human_size(need)}: "
                f"{parts} + {human_size(MIN_ROOT_BYTES)} root + 2 MiB for the partition tables",
            )
        )
        return []
    root_type = LINUX_LUKS_TYPE if luks else LINUX_FS_TYPE
    wanted.append(("root", root_type, root_size, "root", "crypto_LUKS" if luks else choice.filesystem))
    specs, start = [], ALIGN
    for number, (name, type_guid, size, purpose, fstype) in enumerate(wanted, 1):
        partuuid = identity.swap_uuid if purpose == "swap" and luks and not hibernate else ""
        path = partition_path(disk.path, number)
        specs.append(PartSpec(number, name, type_guid, start, size, purpose, fstype, path, partuuid))
        start += size
    return specs


def _fill(plan: Plan, model: InstallModel, disk: Disk, ident: Identity, target: str) -> None:
    """The steps and the resulting fileSystems/LUKS/swap entries."""
    parts = {p.purpose: p for p in plan.partitions}
    luks = model.encryption.enabled

    def add(action: Action, describe: str, argv: Sequence[str] = (), *,
            call: dict[str, Any] | None = None, stdin: str = "") -> None:
        plan.steps.append(Step(action, describe, tuple(argv), call or {}, stdin))

    _table_steps(plan, disk, ident, add)
    root_dev = format_steps(plan, parts, luks, model.disk.filesystem, ident, add)
    mount_steps(plan, parts, luks, model.disk.filesystem, root_dev, ident, target, add)
    if model.disk.swap == "hibernate":
        _hibernate_steps(plan, parts["swap"], luks, ident, add)
    if luks and model.encryption.unlock == "fido2":
        from installer.plan.unlock import fido2_steps

        made = {LUKS_NAME: parts["root"].path, SWAP_LUKS_NAME: parts["swap"].path if "swap" in parts else ""}
        plan.steps += fido2_steps(plan.luks, made)


def _table_steps(plan: Plan, disk: Disk, ident: Identity, add: Add) -> None:
    who = disk_words(disk)
    old = [p.path for p in disk.partitions if p.path]
    if old:
        # Old RAID/LVM/filesystem signatures would otherwise come back to life
        # when a new partition starts where an old one did.
        add(Action.WIPEFS, f"Wipe the signatures of the {len(old)} old partition(s) on {who}", ["wipefs", "-a", *old])
    add(Action.WIPEFS, f"Wipe old partition tables and signatures from {who}", ["wipefs", "-a", disk.path])
    sector = disk.logical_sector_size
    table = [
        # end is inclusive, as GPT and parted count
        {"number": p.number, "name": p.name, "type_guid": p.type_guid, "start": p.start // sector,
         "end": p.end // sector - 1}
        for p in plan.partitions
    ]
    add(Action.PARTITION, f"Create a GPT partition table on {who}: everything on it will be erased",
        call={"device": disk.path, "table": "gpt", "sector_size": sector, "partitions": table})
    # pyparted built against parted < 3.6 cannot set arbitrary type GUIDs, so
    # sgdisk sets the exact ones (and the disk GUID, and the PARTUUID the
    # configuration names an encrypted swap partition by).
    argv = ["sgdisk", f"--disk-guid={ident.disk_guid}"]
    argv += [f"--typecode={p.number}:{p.type_guid.upper()}" for p in plan.partitions]
    argv += [f"--partition-guid={p.number}:{p.partuuid}" for p in plan.partitions if p.partuuid]
    add(Action.SET_TYPES, f"Set the partition type codes on {disk.path}", argv + [disk.path])
    nodes = [p.path for p in plan.partitions]
    add(Action.WAIT, "Wait for the kernel to show the new partitions", call={"device": disk.path, "nodes": nodes})
    add(Action.WIPEFS, "Clear old signatures from the new partitions", ["wipefs", "-a", *nodes])


def format_steps(plan: Plan, parts: dict[str, PartSpec], luks: bool, fs: str, ident: Identity, add: Add) -> str:
    """mkfs, mkswap and LUKS steps; returns the device the root filesystem is made on."""
    if "esp" in parts:
        esp = parts["esp"].path
        add(Action.MKFS, f"Format {esp} as FAT32 (label BOOT): the EFI system partition",
            ["mkfs.fat", "-F", "32", "-n", "BOOT", "-i", ident.esp_volid_hex, esp])
    if "boot" in parts:
        boot = parts["boot"].path
        add(Action.MKFS, f"Format {boot} as ext4 (label boot) for /boot",
            ["mkfs.ext4", "-F", "-L", "boot", "-U", ident.boot_uuid, boot])
    if "swap" in parts and not luks and parts["swap"].fstype == "swap":  # random-key swap is set up at every boot
        swap = parts["swap"].path
        add(Action.MKFS, f"Make {swap} a swap partition (label swap)", ["mkswap", "-L", "swap", "-U", ident.swap_uuid, swap])
    root_dev = parts["root"].path
    if luks:
        add(Action.LUKS_FORMAT, f"Encrypt {root_dev} with LUKS2 (the passphrase is asked at every boot)",
            ["cryptsetup", "luksFormat", "--type", "luks2", "--uuid", ident.luks_uuid, "--batch-mode",
             "--key-file=-", root_dev], stdin="luks_passphrase")
        add(Action.LUKS_OPEN, f"Unlock {root_dev} as /dev/mapper/{LUKS_NAME}",
            ["cryptsetup", "open", "--key-file=-", root_dev, LUKS_NAME], stdin="luks_passphrase")
        plan.luks.append(LuksEntry(LUKS_NAME, f"/dev/disk/by-uuid/{ident.luks_uuid}"))
        root_dev = f"/dev/mapper/{LUKS_NAME}"
    mkfs = {
        "ext4": ["mkfs.ext4", "-F", "-L", "nixos", "-U", ident.root_uuid],
        "btrfs": ["mkfs.btrfs", "-f", "-L", "nixos", "-U", ident.root_uuid],
        "xfs": ["mkfs.xfs", "-f", "-L", "nixos", "-m", f"uuid={ident.root_uuid}"],
    }[fs]
    add(Action.MKFS, f"Format {root_dev} as {fs} (label nixos) for /", [*mkfs, root_dev])
    return root_dev


def mount_steps(plan: Plan, parts: dict[str, PartSpec], luks: bool, fs: str, root_dev: str, ident: Identity,
                 target: str, add: Add) -> None:
    """Root first, then /boot, then the other btrfs subvolumes, then swap."""
    root_by_uuid = f"/dev/disk/by-uuid/{ident.root_uuid}"
    later: list[tuple[str, str, str]] = []  # btrfs subvolumes mounted after /boot
    if fs == "btrfs":
        add(Action.MOUNT, f"Mount the new btrfs at {target} to make subvolumes", ["mount", "-t", "btrfs", root_dev, target])
        for name, mountpoint in BTRFS_SUBVOLUMES:  # one each: older btrfs-progs take one path only
            add(Action.SUBVOLUME, f"Create the btrfs subvolume {name} for {mountpoint}",
                ["btrfs", "subvolume", "create", f"{target}/{name}"])
        add(Action.UMOUNT, f"Unmount {target} to mount the subvolumes instead", ["umount", target])
        for name, mountpoint in BTRFS_SUBVOLUMES:
            options = (f"subvol={name}", *BTRFS_OPTIONS)
            plan.filesystems.append(FsEntry(mountpoint, root_by_uuid, "btrfs", options))
            if mountpoint == "/":
                add(Action.MOUNT, f"Mount subvolume {name} at {target}",
                    ["mount", "-t", "btrfs", "-o", ",".join(options), root_dev, target])
            else:
                later.append((name, mountpoint, ",".join(options)))
    else:
        plan.filesystems.append(FsEntry("/", root_by_uuid, fs))
        add(Action.MOUNT, f"Mount {root_dev} at {target}", ["mount", "-t", fs, root_dev, target])

    if "esp" in parts or "boot" in parts:
        add(Action.MKDIR, f"Create {target}/boot", ["mkdir", "-p", f"{target}/boot"])
    if "esp" in parts:
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{ident.esp_volid}", "vfat", ESP_OPTIONS))
        add(Action.MOUNT, f"Mount the EFI system partition at {target}/boot, readable by root only",
            ["mount", "-t", "vfat", "-o", "umask=0077", parts["esp"].path, f"{target}/boot"])
    if "boot" in parts:
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{ident.boot_uuid}", "ext4"))
        add(Action.MOUNT, f"Mount {parts['boot'].path} at {target}/boot",
            ["mount", "-t", "ext4", parts["boot"].path, f"{target}/boot"])
    for name, mountpoint, joined in later:
        add(Action.MKDIR, f"Create {target}{mountpoint}", ["mkdir", "-p", f"{target}{mountpoint}"])
        add(Action.MOUNT, f"Mount subvolume {name} at {target}{mountpoint}",
            ["mount", "-t", "btrfs", "-o", joined, root_dev, f"{target}{mountpoint}"])

    swap = parts.get("swap")
    if swap and swap.fstype != "swap" and not swap.partuuid:
        return  # hibernation's encrypted swap: _hibernate_steps
    if swap and luks:
        plan.swaps.append(SwapEntry(f"/dev/disk/by-partuuid/{swap.partuuid}", random_encryption=True))
    elif swap:
        plan.swaps.append(SwapEntry(f"/dev/disk/by-uuid/{ident.swap_uuid}"))
        add(Action.SWAPON, f"Use {swap.path} as swap during the install", ["swapon", swap.path])


def _hibernate_steps(plan: Plan, swap: PartSpec, luks: bool, ident: Identity, add: Add) -> None:
    """The swap hibernation resumes from: plain (made by _format_steps), or in its own LUKS container."""
    if not luks:
        plan.resume_device = f"/dev/disk/by-uuid/{ident.swap_uuid}"
        return
    mapped = f"/dev/mapper/{SWAP_LUKS_NAME}"
    add(Action.LUKS_FORMAT, f"Encrypt {swap.path} with LUKS2 for the hibernation swap (the same passphrase opens it)",
        ["cryptsetup", "luksFormat", "--type", "luks2", "--uuid", ident.swap_luks_uuid, "--batch-mode",
         "--key-file=-", swap.path], stdin="luks_passphrase")
    add(Action.LUKS_OPEN, f"Unlock {swap.path} as {mapped}",
        ["cryptsetup", "open", "--key-file=-", swap.path, SWAP_LUKS_NAME], stdin="luks_passphrase")
    add(Action.MKFS, f"Make {mapped} a swap area (label swap)", ["mkswap", "-L", "swap", "-U", ident.swap_uuid, mapped])
    add(Action.SWAPON, f"Use {mapped} as swap during the install", ["swapon", mapped])
    plan.luks.append(LuksEntry(SWAP_LUKS_NAME, f"/dev/disk/by-uuid/{ident.swap_luks_uuid}"))
    plan.swaps.append(SwapEntry(mapped))
    # The mapping's name, not the swap's UUID: the UUID shows only once the initrd opened it.
    plan.resume_device = mapped


# -- words for the review screen -------------------------------------------------


def lost_words(disk: Disk) -> str:
    """What erasing the disk loses, in words: the Disk step's preview and the
    review both say it so. An empty disk loses nothing, and is said to."""
    holds = disk.holds.strip()
    if holds == "empty" or holds.startswith("empty (") or not (holds or disk.partitions):
        return f"it is {holds or 'empty'}, nothing on it is lost"
    if holds and holds != "nothing":
        return f"{holds} will be lost"
    return "everything on it will be lost"


def summary_lines(plan: Plan) -> list[str]:
    """What will happen, in plain words; the destructive line comes first."""
    if plan.layout == "premounted" or plan.disk is None:
        lines = [f"Nothing will be erased: NixOS goes onto what is mounted at {plan.target}."]
        lines += [f"{fs.mountpoint}: {fs.device} ({fs.fstype})" for fs in plan.filesystems]
        lines += [f"Unlock {e.device} as {e.name} at boot" for e in plan.luks]
        lines += [f"Swap on {s.device}" for s in plan.swaps]
        return lines
    if plan.layout in KEEP_LAYOUTS:
        from installer.plan.keep import summary_lines as keep_lines

        return keep_lines(plan)
    disk = plan.disk
    lines = [f"Erase {disk_words(disk)}, {human_size(disk.size)}: {lost_words(disk)}"]
    words = {
        "esp": "EFI system partition, FAT32, for /boot",
        "bios-boot": "BIOS boot partition for GRUB",
        "boot": "ext4 /boot (GRUB cannot read the encrypted root)",
        "swap": "swap" + (", encrypted with a new random key at every boot" if plan.luks else ""),
    }
    if plan.resume_device:
        words["swap"] = "swap for hibernation (holds all of the RAM)" + (
            ", in LUKS2 encryption opened with the same passphrase" if plan.luks else "")
    for p in plan.partitions:
        if p.purpose == "root":
            fs = plan.filesystems[0].fstype
            what = f"{fs} root filesystem" + (" inside LUKS2 encryption" if plan.luks else "")
            if fs == "btrfs":
                what += " with subvolumes @, @home, @nix"
        else:
            what = words[p.purpose]
        lines.append(f"  {p.path}: {human_size(p.size)} {what}")
    if plan.zram:
        lines.append("  Swap in compressed RAM (zram), no swap partition")
    return lines
