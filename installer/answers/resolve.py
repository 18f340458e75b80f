"""What the answers mean on this machine: the firmware, the boot loader and the install disk.

The answers are kept exactly as given (a `[disk.match]` rule stays a rule, an
unset firmware stays unset), so the file replays on the next machine of a
fleet; everything that needs the effective choice (validation, the plan, the
rendered files, the screens) asks `resolve` here, the one place it is worked out.
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.answers.model import Firmware, InstallModel, Loader
from installer.base.problems import Problem, named
from installer.base.units import MIB
from installer.machine.eligibility import disk_verdict, not_an_esp
from installer.machine.hardware import BIOS_BOOT_TYPE, ESP_TYPE, Disk, Machine, Partition

CHOOSE_DISK = "choose the disk to install on"
NEEDS_UEFI = "systemd-boot needs UEFI firmware; use grub on a BIOS machine"
# The firmware chosen against the mode this ISO was started in: warned, never
# refused (a machine can be switched to CSM, or the disk moved to another one).
BIOS_ON_UEFI = ("this computer was started in UEFI mode: a BIOS install boots only if the "
                "firmware's legacy (CSM) boot is turned on; keep UEFI unless you know you need BIOS")
UEFI_ON_BIOS = ("this computer was started in BIOS (legacy) mode: a UEFI install boots only "
                "once the firmware is switched to UEFI; keep BIOS unless you will do that")
# The layouts that keep what is on the disk (issue 18); "erase" and "premounted" are the others.
KEEP_LAYOUTS = ("free-space", "alongside", "replace")
# An ESP smaller than this (Windows makes 100 MiB) cannot hold NixOS's kernels and
# initrds for long (nixpkgs #23926: rebuilds fail once it is full): /boot then goes
# onto a new XBOOTLDR partition beside it, and the ESP keeps only the loader.
SMALL_ESP = 500 * MIB
ESP_MBR_TYPE = "0xef"


@dataclass(frozen=True)
class Resolved:
    firmware: Firmware
    loader: Loader
    disk: Disk | None  # the disk the answers pick to erase (by name or by rule), when one may be used
    problem: Problem | None  # why no disk is picked; None when one is, or the layout erases none


def boot(model: InstallModel, machine: Machine | None) -> tuple[Firmware, Loader]:
    """Firmware and loader: the answers', else as the machine was booted, else UEFI;
    the loader defaults to the firmware's natural one."""
    firmware: Firmware = model.boot.firmware or (machine.firmware if machine is not None else "uefi")
    loader: Loader = model.boot.loader or ("grub" if firmware == "bios" else "systemd-boot")
    return firmware, loader


def install_disk(model: InstallModel, machine: Machine) -> tuple[Disk | None, Problem | None]:
    """The disk the answers pick to erase, or None and the problem saying why none.

    A named device wins over a match rule. The rule is resolved here, every
    time, against the machine as probed (installer.answers.diskmatch), never
    written into the answers."""
    choice = model.disk
    if choice.device:
        disk = machine.disk(choice.device)
        if disk is None:
            return None, Problem("disk.device", f"{named(choice.device)} is not a disk on this machine")
        verdict = disk_verdict(disk, machine)
        if not verdict.ok:
            return None, Problem("disk.device", f"{disk.path} cannot be used: {verdict.reason}")
        return disk, None
    if choice.match is not None:
        from installer.answers.diskmatch import resolve as match

        picked, why = match(choice.match, machine)
        return picked, None if picked is not None else Problem("disk.match", why)
    return None, Problem("disk.device", CHOOSE_DISK)


def resolve(model: InstallModel, machine: Machine) -> Resolved:
    """The effective firmware, loader and (for the erase layout and those keeping what is on it) install disk."""
    firmware, loader = boot(model, machine)
    if model.disk.layout not in ("erase", *KEEP_LAYOUTS):
        return Resolved(firmware, loader, None, None)
    disk, problem = install_disk(model, machine)
    return Resolved(firmware, loader, disk, problem)


@dataclass(frozen=True)
class KeepBoot:
    """How NixOS boots beside what a kept disk holds: the boot loader decision for the
    free-space, alongside and replace layouts, made here once for the offers, the plan
    and the templates."""

    esp: Partition | None  # the disk's ESP, reused and never formatted (UEFI); None when there is none
    new_esp: bool  # UEFI without an ESP on the disk: NixOS makes one in its space
    xbootldr: bool  # the ESP is small: /boot is a new XBOOTLDR partition and the ESP goes to /efi
    bios_boot: bool  # BIOS on a GPT disk without a BIOS boot partition: GRUB needs one
    os_prober: bool  # GRUB lists the other systems (systemd-boot finds Windows on the ESP itself)
    problem: str  # why NixOS cannot boot from this disk's set-up ("" when it can)


def is_esp(part: Partition) -> bool:
    return part.type_guid.lower() in (ESP_TYPE, ESP_MBR_TYPE)


def keep_boot(model: InstallModel, machine: Machine, disk: Disk, gone: frozenset[str] = frozenset()) -> KeepBoot:
    """The boot set-up on `disk` when what it holds is kept (`gone`: the paths a replace deletes)."""
    firmware, loader = boot(model, machine)
    grub = loader == "grub"
    if firmware == "bios":
        bios_boot = disk.table == "gpt" and not any(p.type_guid.lower() == BIOS_BOOT_TYPE for p in disk.partitions)
        return KeepBoot(None, False, False, bios_boot, True, "")
    esps = [p for p in disk.partitions if is_esp(p) and p.path not in gone]
    if not esps:
        return KeepBoot(None, True, False, False, grub, "")
    esp = esps[0]
    # A partition typed as an ESP that holds no FAT is not one to write a loader into
    # (nixpkgs #449007: nothing checked that /boot was an EFI partition).
    if esp.fstype != "vfat":
        return KeepBoot(esp, False, False, False, grub, not_an_esp(esp.path, esp.fstype))
    return KeepBoot(esp, False, esp.size < SMALL_ESP, False, grub, "")


def find_partitions(disk: Disk, name: str) -> list[Partition]:
    """The partitions of `disk` an answer names: by path (/dev/sda3, sda3), by PARTUUID
    (bare, PARTUUID=..., or its /dev/disk/by-partuuid/ link), or by label (the filesystem's
    or the GPT name; LABEL= and PARTLABEL= prefixes, /dev/disk/by-label/ links taken too)."""
    name = name.strip()
    if not name:
        return []
    for prefix in ("PARTUUID=", "/dev/disk/by-partuuid/", "LABEL=", "PARTLABEL=", "/dev/disk/by-label/",
                   "/dev/disk/by-partlabel/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    short = name.removeprefix("/dev/")
    by_path = [p for p in disk.partitions if name == p.path or short == p.path.removeprefix("/dev/")]
    if by_path:
        return by_path
    by_uuid = [p for p in disk.partitions if p.partuuid and p.partuuid.lower() == name.lower()]
    return by_uuid or [p for p in disk.partitions if name in (p.label, p.partlabel)]
