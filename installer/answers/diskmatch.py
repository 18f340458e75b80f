"""Pick the install disk by a rule instead of a device name (fleet installs).

Device names differ between machines of a fleet (`sda` here, `nvme0n1`
there), so an answers file can say `[disk.match] ssd = true` instead. A rule
must pick exactly one disk: when it picks none or several, the install is
refused with the candidates named, because guessing which disk to erase is
how data gets lost. The rule is resolved each time it is needed
(installer.answers.resolve), never written into the answers.
"""

from __future__ import annotations

from installer.machine.eligibility import offered_disks
from installer.machine.hardware import Disk, Machine
from installer.answers.model import DiskMatch
from installer.base.units import GIB, human_size


def describe_rule(match: DiskMatch) -> str:
    """The rule as the answers file writes it, e.g. `ssd = true, size_min_gib = 100`."""
    parts = []
    if match.ssd is not None:
        parts.append(f"ssd = {'true' if match.ssd else 'false'}")
    if match.model:
        parts.append(f'model = "{match.model}"')
    if match.size_min_gib:
        parts.append(f"size_min_gib = {match.size_min_gib}")
    if match.size_max_gib:
        parts.append(f"size_max_gib = {match.size_max_gib}")
    if match.largest:
        parts.append("largest = true")
    if match.removable:
        parts.append("removable = true")
    return ", ".join(parts) or "any disk"


def _line(disk: Disk) -> str:
    """One disk as the messages list it: `sdc 14 GiB SSD, USB "SanDisk Ultra"`."""
    kind = disk.rotation
    if disk.detachable:
        kind += ", USB" if disk.bus == "usb" else ", removable"
    size = human_size(disk.size, "GiB")  # the unit the rules count in
    return f"{disk.name} {size} {kind}" + (f' "{disk.model}"' if disk.model else "")


def _offer_text(disks: list[Disk]) -> str:
    if not disks:
        return "no disk is offered on this machine"
    return "offered: " + ", ".join(_line(d) for d in disks)


def _fits(match: DiskMatch, disk: Disk) -> bool:
    # An unknown rotation matches neither ssd = true nor ssd = false: a rule
    # must not erase a disk on a guess about what it is.
    if match.ssd is not None and (disk.rotational is None or match.ssd == disk.rotational):
        return False
    if match.model and match.model.casefold() not in disk.model.casefold():
        return False
    if match.size_min_gib and disk.size < match.size_min_gib * GIB:
        return False
    if match.size_max_gib and disk.size > match.size_max_gib * GIB:
        return False
    return True


def resolve(match: DiskMatch, machine: Machine) -> tuple[Disk | None, str]:
    """The one offered disk the rule picks, or None and a sentence saying why not.

    Refused disks (the boot medium, disks with mounted partitions, ...) are
    never candidates: installer.machine.eligibility, the policy the wizard
    follows, decides which disks are offered.
    Removable disks are candidates only with `removable = true`: an answers
    file replayed on a machine with a USB backup drive plugged in must not
    erase it because it is the largest.
    """
    offered = offered_disks(machine)
    rule = describe_rule(match)
    fitting = [d for d in offered if _fits(match, d)]
    found = [d for d in fitting if match.removable or not d.detachable]
    if not found:
        why = f"no disk matches {rule} ({_offer_text(offered)})"
        detachable = [d for d in fitting if d not in found]
        if detachable:
            why += (f"; removable disks are left out unless the rule says removable = true: "
                    + ", ".join(_line(d) for d in detachable))
        return None, why
    if match.largest and len(found) > 1:
        biggest = max(d.size for d in found)
        top = [d for d in found if d.size == biggest]
        if len(top) > 1:
            listed = ", ".join(_line(d) for d in top)
            return None, f"{len(top)} disks match {rule} with the same size: {listed}; make the rule stricter"
        found = top
    if len(found) > 1:
        listed = ", ".join(_line(d) for d in found)
        return None, (
            f"{len(found)} disks match {rule}: {listed}; make the rule stricter (or add largest = true, or name the device)"
        )
    return found[0], ""
