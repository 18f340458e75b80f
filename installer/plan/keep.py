"""The plan that keeps what is on a disk: free-space, alongside and replace (issue 18).

Like installer.plan.erase, a pure description: which partitions NixOS gets and
where, the steps that make them, and the fileSystems/LUKS/swap entries the
templates render. The way and its bounds come from installer.plan.offers (which
asks installer.machine.gaps and .eligibility), the boot set-up from
installer.answers.resolve.keep_boot; the filesystems, LUKS and swap are made by
the erase plan's own steps, within the new space.

The order of the steps is the safe one: a filesystem is shrunk (SHRINK_FS)
before its partition entry (RESIZE_PART), never the other way round; a deleted
or shrunk entry goes before the new ones are added (ADD_PARTS); no partition's
start ever moves. CHECK_KEPT then re-checks every partition kept (see its
comment in installer.plan.types for where it stands and who hashes what).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from installer.answers.model import InstallModel
from installer.answers.resolve import KeepBoot, find_partitions, keep_boot
from installer.base.problems import Problem, ProblemsError
from installer.base.units import GIB, MIB, human_size
from installer.machine.gaps import ALIGN, GPT_MAX_ENTRIES, MBR_FIRST_LOGICAL, MBR_PRIMARY_SLOTS
from installer.machine.hardware import (
    BIOS_BOOT_TYPE,
    ESP_TYPE,
    LINUX_FS_TYPE,
    LINUX_LUKS_TYPE,
    LINUX_SWAP_TYPE,
    MBR_EXTENDED,
    XBOOTLDR_TYPE,
    Disk,
    Machine,
    Partition,
)
from installer.plan import erase
from installer.plan.identity import Identity
from installer.plan.offers import XBOOTLDR_BYTES, Offer, extra_sizes, offers, size_range
from installer.plan.types import Action, FsEntry, PartChange, PartSpec, Plan, Step

FIELD = {"alongside": "disk.shrink", "replace": "disk.replace"}
GPT_TYPES = {"esp": ESP_TYPE, "xbootldr": XBOOTLDR_TYPE, "bios-boot": BIOS_BOOT_TYPE, "boot": LINUX_FS_TYPE,
             "swap": LINUX_SWAP_TYPE}
# MBR ids: 0xef EFI system, 0xea the Boot Loader Specification's XBOOTLDR, 0x82 Linux swap, 0x83 Linux.
MBR_TYPES = {"esp": "0xef", "xbootldr": "0xea", "boot": "0x83", "swap": "0x82", "root": "0x83"}
NAMES = {"esp": "ESP", "xbootldr": "XBOOTLDR", "bios-boot": "bios", "boot": "boot", "swap": "swap", "root": "nixos"}
# configurationLimit: how many generations fit on a /boot of a given size. One generation
# takes at most a kernel and its initrd (NixOS's bzImage is ~15 MiB, an initrd 15-40 MiB
# with LUKS and firmware; generations sharing a kernel share its files, so this is the
# bound, not the usual cost). A little is kept for the loader itself and its entries, and,
# on an ESP shared with other systems, for what they keep there (Windows' boot manager and
# its fonts take ~30-100 MiB). Without a limit, rebuilds fail once /boot is full
# (nixpkgs #23926).
GENERATION_BYTES = 64 * MIB
LOADER_SPARE = 64 * MIB
OTHERS_SPARE = 128 * MIB
MIN_GENERATIONS = 2


def chosen_offer(model: InstallModel, machine: Machine, disk: Disk) -> tuple[Offer | None, Problem | None]:
    """The offer the answers pick on `disk`, or the problem at the key that picks it."""
    way = model.disk.layout
    found = [o for o in offers(model, machine, disk) if o.way == way]
    if way == "free-space":
        offer = found[0]
        return (offer, None) if offer.offered else (None, Problem("disk.layout", f"no free space on {disk.path} "
                                                                                 f"can take NixOS: {offer.reason}"))
    key = FIELD[way]
    name = model.disk.shrink if way == "alongside" else model.disk.replace
    verb = "shrink" if way == "alongside" else "replace"
    if not name:
        choices = [o.part.path for o in found if o.offered and o.part is not None]
        hint = f": {', '.join(choices)}" if choices else f"; none on {disk.path} can be: {found[0].reason}"
        return None, Problem(key, f"name the partition to {verb} (by path, PARTUUID or label){hint}")
    parts = find_partitions(disk, name)
    if len(parts) != 1:
        what = "no partition" if not parts else f"{len(parts)} partitions ({', '.join(p.path for p in parts)})"
        return None, Problem(key, f"{what} on {disk.path} answer to {name!r}; name one by path, PARTUUID or label")
    picked = next((o for o in found if o.part is parts[0]), None)
    if picked is None or not picked.offered:
        reason = picked.reason if picked is not None else "it is not on this disk"
        done = "shrunk" if way == "alongside" else "replaced"
        return None, Problem(key, f"{parts[0].path} cannot be {done}: {reason}")
    return picked, None


def keep_plan(model: InstallModel, machine: Machine, identity: Identity, target: str, disk: Disk,
              firmware: str, loader: str) -> Plan:
    """The plan for the model's keep layout on `disk`. Raises ProblemsError when it cannot be."""
    offer, problem = chosen_offer(model, machine, disk)
    if offer is None:
        raise ProblemsError([problem] if problem else [])
    gone = frozenset({offer.part.path}) if offer.way == "replace" and offer.part is not None else frozenset()
    setup = keep_boot(model, machine, disk, gone)
    problems: list[Problem] = []
    start, share, new_size = _space(model, offer, problems)
    if model.encryption.enabled and model.disk.swap == "partition" and disk.table == "dos":
        problems.append(Problem("disk.swap", "an encrypted swap partition is named by its PARTUUID, which this "
                                             "MBR disk's partitions are not given here; choose zram"))
    if setup.esp is not None and not setup.esp.uuid:
        problems.append(Problem("disk.layout", f"the probe read no filesystem UUID on the ESP {setup.esp.path}"))
    if problems:
        raise ProblemsError(problems)
    plan = Plan(layout=offer.way, firmware=firmware, loader=loader, identity=identity, disk=disk, target=target)
    after = _disk_after(offer)
    plan.partitions = _layout(model, identity, setup, disk, after, offer, start, share)
    if loader == "grub":
        plan.grub_device = "nodev" if firmware == "uefi" else disk.stable_path
    plan.zram = model.disk.swap == "zram"
    plan.os_prober = loader == "grub" and setup.os_prober
    plan.xbootldr = setup.xbootldr
    plan.efi_mount = "/efi" if setup.xbootldr else "/boot"
    plan.configuration_limit = _generations(setup)
    plan.changes = _changes(disk, offer, setup, new_size)
    _steps(plan, model, disk, offer, setup, new_size, target)
    return plan


def _space(model: InstallModel, offer: Offer, problems: list[Problem]) -> tuple[int, int, int]:
    """Where NixOS's space starts, how much of it NixOS takes, and (alongside) the kept partition's new size."""
    assert offer.gap is not None
    start, end, new_size = offer.gap.start, offer.gap.end, 0
    choice = model.disk
    if offer.way == "alongside" and offer.part is not None:
        part, lo, hi = offer.part, offer.keep_min, offer.keep_max
        if choice.shrink_to_gib:
            new_size = choice.shrink_to_gib * GIB
            if not lo <= new_size <= hi:
                problems.append(Problem("disk.shrink_to_gib", f"{part.path} can be shrunk to {size_range(lo, hi)}"))
                return start, 0, 0
        elif choice.size_gib:  # as little shrinking as gives NixOS its share
            new_size = max(lo, min(hi, _down(end - choice.size_gib * GIB - part.start)))
        else:
            new_size = lo
        start = _up(part.start + new_size)
    room = end - start
    share = choice.size_gib * GIB if choice.size_gib else _down(room)
    if not offer.need <= share <= room:
        problems.append(Problem("disk.size_gib", f"NixOS's share here can be {size_range(offer.need, room)}"))
    return start, share, new_size


def _disk_after(offer: Offer) -> Disk:
    disk = offer.disk
    if offer.way == "replace":
        return dataclasses.replace(disk, partitions=[p for p in disk.partitions if p is not offer.part])
    return disk


def _numbers(after: Disk, slot: str, start: int, count: int) -> list[int]:
    used = {p.number for p in after.partitions}
    if after.table == "gpt":
        return [n for n in range(1, GPT_MAX_ENTRIES + 1) if n not in used][:count]
    if slot == "primary":
        return [n for n in range(1, MBR_PRIMARY_SLOTS + 1) if n not in used][:count]
    # A logical partition's number is its place in the chain; offers refused a gap with kept
    # logical partitions after it, so the new ones follow those before it.
    before = [p.number for p in after.partitions if p.number >= MBR_FIRST_LOGICAL and p.start < start]
    first = max(before, default=MBR_FIRST_LOGICAL - 1) + 1
    return list(range(first, first + count))


def _layout(model: InstallModel, ident: Identity, setup: KeepBoot, disk: Disk, after: Disk, offer: Offer,
            start: int, share: int) -> list[PartSpec]:
    luks = model.encryption.enabled
    wanted = extra_sizes(model, setup)
    root = share - sum(size for _, size in wanted)
    wanted.append(("root", root))
    slot = offer.gap.slot if offer.gap is not None else ""
    numbers = _numbers(after, slot, start, len(wanted))
    specs, at = [], start
    for number, (purpose, size) in zip(numbers, wanted):
        if disk.table == "gpt":
            kind = (LINUX_LUKS_TYPE if luks else LINUX_FS_TYPE) if purpose == "root" else GPT_TYPES[purpose]
        else:
            kind = MBR_TYPES[purpose]
        fstype = {"esp": "vfat", "xbootldr": "vfat", "bios-boot": "", "boot": "ext4",
                  "swap": "" if luks else "swap"}.get(purpose, "crypto_LUKS" if luks else model.disk.filesystem)
        partuuid = ident.swap_uuid if purpose == "swap" and luks else ""
        path = erase.partition_path(disk.path, number)
        specs.append(PartSpec(number, NAMES[purpose], kind, at, size, purpose, fstype, path, partuuid))
        at += size
    return specs


def _generations(setup: KeepBoot) -> int:
    """How many generations /boot holds when it is small or shared (0: no limit set)."""
    if setup.xbootldr:
        room = XBOOTLDR_BYTES - LOADER_SPARE
    elif setup.esp is not None:
        room = setup.esp.size - OTHERS_SPARE - LOADER_SPARE
    else:
        return 0
    return max(MIN_GENERATIONS, room // GENERATION_BYTES)


def _changes(disk: Disk, offer: Offer, setup: KeepBoot, new_size: int) -> list[PartChange]:
    out = []
    for part in disk.partitions:
        what = part.description or part.path
        if part is offer.part:
            change = "shrunk" if offer.way == "alongside" else "deleted"
            out.append(PartChange(part.path, what, change, part.size, new_size if change == "shrunk" else 0))
        else:
            change = "reused" if setup.esp is part else "kept"
            out.append(PartChange(part.path, what, change, part.size))
    return out


def _steps(plan: Plan, model: InstallModel, disk: Disk, offer: Offer, setup: KeepBoot, new_size: int,
           target: str) -> None:
    ident = plan.identity
    sector = disk.logical_sector_size or 512

    def add(action: Action, describe: str, argv: Sequence[str] = (), *,
            call: dict[str, Any] | None = None, stdin: str = "") -> None:
        plan.steps.append(Step(action, describe, tuple(argv), call or {}, stdin))

    part = offer.part
    if offer.way == "alongside" and part is not None:
        add(Action.SHRINK_FS, f"Shrink the {part.fstype} filesystem on {part.path} to {human_size(new_size)} "
            f"(it is {human_size(part.size)}; what it holds stays)",
            call={"device": part.path, "fstype": part.fstype, "new_size": new_size})
        add(Action.RESIZE_PART, f"Move the end of {part.path} to {human_size(new_size)} after its start "
            "(its start stays where it is)",
            call={"device": disk.path, "number": part.number, "start_sector": part.start // sector,
                  "new_end_sector": (part.start + new_size) // sector - 1, "sector_size": sector})
    if offer.way == "replace" and part is not None:
        add(Action.DELETE_PART, f"Delete {part.path} ({part.description or part.fstype}): what it holds is lost",
            call={"device": disk.path, "number": part.number, "start_sector": part.start // sector,
                  "end_sector": (part.start + part.size) // sector - 1})
    entries = []
    for spec in plan.partitions:
        entry: dict[str, Any] = {"number": spec.number, "name": spec.name, "start": spec.start // sector,
                                 "end": spec.end // sector - 1}
        if disk.table == "gpt":
            entry["type_guid"] = spec.type_guid
        else:
            entry.update(type_id=spec.type_guid, logical=spec.number >= MBR_FIRST_LOGICAL)
        entries.append(entry)
    table = "gpt" if disk.table == "gpt" else "msdos"
    add(Action.ADD_PARTS, f"Add NixOS's {len(entries)} partition(s) to the {table} table on {disk.path}, "
        "nothing else on it touched",
        call={"device": disk.path, "table": table, "sector_size": sector, "partitions": entries})
    if disk.table == "gpt":
        # sgdisk sets the exact type GUIDs (pyparted before parted 3.6 cannot) and an encrypted
        # swap's PARTUUID; no --disk-guid: the disk keeps its own.
        argv = ["sgdisk", *(f"--typecode={p.number}:{p.type_guid.upper()}" for p in plan.partitions)]
        argv += [f"--partition-guid={p.number}:{p.partuuid}" for p in plan.partitions if p.partuuid]
        add(Action.SET_TYPES, f"Set the new partitions' type codes on {disk.path}", [*argv, disk.path])
    nodes = [p.path for p in plan.partitions]
    add(Action.WAIT, "Wait for the kernel to show the new partitions", call={"device": disk.path, "nodes": nodes})
    add(Action.WIPEFS, "Clear old signatures from the new partitions", ["wipefs", "-a", *nodes])
    parts = {p.purpose: p for p in plan.partitions}
    luks = model.encryption.enabled
    root_dev = erase.format_steps(plan, parts, luks, model.disk.filesystem, ident, add)
    if "xbootldr" in parts:
        add(Action.MKFS, f"Format {parts['xbootldr'].path} as FAT32 (label XBOOTLDR) for /boot beside the small ESP",
            ["mkfs.fat", "-F", "32", "-n", "XBOOTLDR", "-i", ident.esp_volid_hex, parts["xbootldr"].path])
    kept = [p for p in disk.partitions if p is not part or offer.way == "alongside"]
    add(Action.CHECK_KEPT, f"Check the {len(kept)} partition(s) kept on {disk.path} are as they were",
        call={"partitions": [{"path": p.path, "fstype": p.fstype, "shrunk": p is part, "first_mib_sha256": ""}
                             for p in kept if p.type_guid.lower() not in MBR_EXTENDED]})
    erase.mount_steps(plan, parts, luks, model.disk.filesystem, root_dev, ident, target, add)
    _boot_mounts(plan, setup, parts, target, add)
    if luks and model.encryption.unlock == "fido2":  # as on an erased disk (installer.plan.unlock)
        from installer.plan.unlock import fido2_steps

        plan.steps += fido2_steps(plan.luks, {erase.LUKS_NAME: parts["root"].path})


def _boot_mounts(plan: Plan, setup: KeepBoot, parts: dict[str, PartSpec], target: str, add: erase.Add) -> None:
    """The reused ESP at /boot, or at /efi with the XBOOTLDR partition at /boot."""
    esp = setup.esp
    if esp is None:
        return  # a new ESP (or none, on BIOS): mounted by the erase plan's steps
    esp_dev = f"/dev/disk/by-uuid/{esp.uuid}"
    if "xbootldr" in parts:
        xbl = parts["xbootldr"].path
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{plan.identity.esp_volid}", "vfat",
                                              erase.ESP_OPTIONS))
        add(Action.MKDIR, f"Create {target}/boot", ["mkdir", "-p", f"{target}/boot"])
        add(Action.MOUNT, f"Mount the XBOOTLDR partition {xbl} at {target}/boot",
            ["mount", "-t", "vfat", "-o", "umask=0077", xbl, f"{target}/boot"])
    where = plan.efi_mount
    plan.filesystems.append(FsEntry(where, esp_dev, "vfat", erase.ESP_OPTIONS))
    add(Action.MKDIR, f"Create {target}{where}", ["mkdir", "-p", f"{target}{where}"])
    add(Action.MOUNT, f"Mount the existing EFI system partition {esp.path} at {target}{where} (never formatted)",
        ["mount", "-t", "vfat", "-o", "umask=0077", esp.path, f"{target}{where}"])


def summary_lines(plan: Plan) -> list[str]:
    """What a keep layout does, in plain words: what is deleted or shrunk first, then what is kept."""
    disk = plan.disk
    assert disk is not None
    lines = []
    for change in plan.changes:
        if change.change == "deleted":
            lines.append(f"Delete {change.path} ({change.what}), {human_size(change.size)}: what it holds will be lost")
        elif change.change == "shrunk":
            lines.append(f"Shrink {change.path} ({change.what}): {human_size(change.size)} -> "
                         f"{human_size(change.new_size)}, what it holds stays")
    share = sum(p.size for p in plan.partitions)
    lines.append(f"Install NixOS into {human_size(share)} on {erase.disk_words(disk)}")
    for change in plan.changes:
        if change.change in ("kept", "reused"):
            use = ", NixOS's boot loader added to it" if change.change == "reused" else ""
            lines.append(f"  Keep {change.path}: {change.what}, {human_size(change.size)}{use}")
    words = {"esp": "new EFI system partition, FAT32, for /boot", "xbootldr": "XBOOTLDR, FAT32, for /boot",
             "bios-boot": "BIOS boot partition for GRUB", "boot": "ext4 /boot (GRUB cannot read the encrypted root)",
             "swap": "swap" + (", encrypted with a new random key at every boot" if plan.luks else "")}
    for p in plan.partitions:
        root = plan.filesystems[0].fstype + " root filesystem" + (" inside LUKS2 encryption" if plan.luks else "")
        what = words.get(p.purpose, root)
        lines.append(f"  New {p.path}: {human_size(p.size)} {what}")
    if plan.zram:
        lines.append("  Swap in compressed RAM (zram), no swap partition")
    return lines


def _up(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


def _down(value: int) -> int:
    return value // ALIGN * ALIGN

