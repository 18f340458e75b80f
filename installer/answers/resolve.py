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
from installer.machine.eligibility import disk_verdict
from installer.machine.hardware import Disk, Machine

CHOOSE_DISK = "choose the disk to install on"
NEEDS_UEFI = "systemd-boot needs UEFI firmware; use grub on a BIOS machine"
# The firmware chosen against the mode this ISO was started in: warned, never
# refused (a machine can be switched to CSM, or the disk moved to another one).
BIOS_ON_UEFI = ("this computer was started in UEFI mode: a BIOS install boots only if the "
                "firmware's legacy (CSM) boot is turned on; keep UEFI unless you know you need BIOS")
UEFI_ON_BIOS = ("this computer was started in BIOS (legacy) mode: a UEFI install boots only "
                "once the firmware is switched to UEFI; keep BIOS unless you will do that")


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
    """The effective firmware, loader and (for the erase layout) install disk."""
    firmware, loader = boot(model, machine)
    if model.disk.layout != "erase":
        return Resolved(firmware, loader, None, None)
    disk, problem = install_disk(model, machine)
    return Resolved(firmware, loader, disk, problem)
