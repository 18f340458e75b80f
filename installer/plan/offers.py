"""The ways to use a disk, each offered only where it can work (issue 18).

`offers(model, machine, disk)` answers, for one disk, which of the four ways
can put NixOS there and how much room each gives it:

- `erase`: the whole disk, everything on it lost;
- `free-space`: the largest gap, no partition touched;
- `alongside`: one partition shrunk from its end (its start never moves), NixOS in
  the space freed plus the gap right after it;
- `replace`: one partition deleted, NixOS in its space plus the gaps beside it.

The free space comes from installer.machine.gaps (a disk with one partition
shrunk or deleted is handed to it as it would be), whether a disk or a
partition may be touched from installer.machine.eligibility, which words every
reason, and the boot set-up (ESP reused, XBOOTLDR, BIOS boot partition) from
installer.answers.resolve.keep_boot. What depends on the answers lives here:
NixOS's least share is 10 GiB, 25 GiB with a desktop; the partitions it makes
besides its root come out of that share.

The bounds of a shrink: the kept partition keeps what it holds (`min_size`,
read by its filesystem's own tool) plus max(2 GiB, 25 %) of that, so Windows
or the other Linux can still update and grow; a partition whose smallest size
is not known is not offered for shrinking.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from installer.answers.model import InstallModel
from installer.answers.resolve import KeepBoot, keep_boot
from installer.base.units import GIB, MIB, human_size
from installer.machine import eligibility as why
from installer.machine.gaps import ALIGN, MBR_FIRST_LOGICAL, Gap, gaps, known
from installer.machine.hardware import Disk, Machine, Partition

WAYS = ("erase", "free-space", "alongside", "replace")
NIXOS_MIN = 10 * GIB
NIXOS_MIN_DESKTOP = 25 * GIB
HEADROOM_MIN = 2 * GIB
HEADROOM_SHARE = 4  # a quarter of what the partition holds
XBOOTLDR_BYTES = GIB
BIOS_BOOT_BYTES = MIB
BOOT_BYTES = GIB  # ext4 /boot beside a LUKS root on BIOS (GRUB cannot read LUKS2)


@dataclass(frozen=True)
class Offer:
    """One way to use a disk: offered (reason "") or not, and why."""

    way: str
    disk: Disk
    part: Partition | None = None  # the partition shrunk (alongside) or deleted (replace)
    gap: Gap | None = None  # NixOS's space at the most: after the smallest shrink, or the deletion
    need: int = 0  # the least NixOS takes there: its root's minimum and its other partitions
    keep_min: int = 0  # alongside: the smallest size the kept partition may be shrunk to
    reason: str = ""

    @property
    def offered(self) -> bool:
        return not self.reason

    @property
    def room(self) -> int:
        """The most NixOS can get this way, in bytes."""
        if self.way == "erase":
            return self.disk.size
        return self.gap.size if self.gap is not None else 0

    @property
    def keep_max(self) -> int:
        """alongside: the largest size the kept partition may keep (NixOS then gets `need`)."""
        if self.way != "alongside" or self.part is None or self.gap is None:
            return 0
        return min(_down(self.gap.end - self.need - self.part.start), _down(self.part.size) - ALIGN)

    def words(self) -> str:
        """What the offer does, in one short line for a person (the Disk step's list)."""
        room = human_size(self.room)
        if self.way == "erase":
            return f"Erase {self.disk.name}: NixOS on all {room}, everything on it lost"
        if self.way == "free-space":
            return f"Use the free space: NixOS up to {room}, nothing else touched"
        what = part_name(self.part) if self.part is not None else "?"
        if self.way == "alongside":
            return f"Shrink {what}: NixOS up to {room} beside it"
        return f"Replace {what}: NixOS up to {room}, what it holds lost"

    def refusal(self) -> str:
        """Why it is not offered, naming the way and the partition."""
        what = f" {part_name(self.part)}" if self.part is not None else ""
        return f"{WAY_WORDS[self.way]}{what}: {self.reason}"


WAY_WORDS = {"erase": "erase", "free-space": "free space", "alongside": "shrink", "replace": "replace"}
SIZE_IN_WORDS = re.compile(r", [0-9.]+ [KMGT]?i?B\)$")
# Never shrunk nor replaced, and plain from what the disk holds: said last, by name only.
OBVIOUS = (why.KEEP_ESP, why.KEEP_MSR, why.KEEP_EXTENDED, why.KEEP_BIOS_BOOT)


def part_name(part: Partition) -> str:
    """A partition in a few words: "sda5 Ubuntu Plucky Puffin (ext4)" (its size said apart)."""
    what = SIZE_IN_WORDS.sub(")", part.description) if part.description else part.fstype or "partition"
    return f"{part.path.removeprefix('/dev/')} {what}"


def refusal_lines(found: list[Offer], lines: int) -> list[str]:
    """The ways not offered, at most `lines` lines: the telling reasons whole (a BitLocker
    Windows, a full disk), then the partitions never touched (ESP, MSR), by name only."""
    # A partition that cannot be shrunk is what a person looks for first (Windows they meant
    # to keep beside NixOS), then the free space, then what cannot be replaced.
    order = {"alongside": 0, "free-space": 1, "replace": 2, "erase": 3}
    refused = sorted((o for o in found if not o.offered), key=lambda o: order[o.way])
    telling = [o.refusal() for o in refused if o.reason not in OBVIOUS]
    plain = [f"{WAY_WORDS[o.way]} {o.part.path.removeprefix('/dev/')}" for o in refused
             if o.reason in OBVIOUS and o.part is not None]
    if len(telling) + (1 if plain else 0) <= lines:
        return telling + ([f"never touched: {', '.join(plain)} (what other systems boot from)"] if plain else [])
    shown = telling[: lines - 1]
    rest = [f"{WAY_WORDS[o.way]} {o.part.path.removeprefix('/dev/') if o.part else o.disk.name}"
            for o in refused if o.refusal() not in shown]
    return shown + [f"also {', '.join(rest)}"]


def size_range(lo: int, hi: int) -> str:
    """A range of sizes in whole GiB, as the size fields and the answers' keys take them."""
    return f"between {-(-lo // GIB)} and {hi // GIB} GiB"


def nixos_min(model: InstallModel) -> int:
    """The least room NixOS gets on a disk it shares: a desktop with its generations needs more."""
    return NIXOS_MIN_DESKTOP if model.software.desktop != "none" else NIXOS_MIN


def headroom(min_size: int) -> int:
    return max(HEADROOM_MIN, min_size // HEADROOM_SHARE)


def keep_min(part: Partition) -> int:
    """The smallest size `part` may be shrunk to: what it holds plus headroom, on a MiB."""
    return _up(part.min_size + headroom(part.min_size))


def extra_sizes(model: InstallModel, setup: KeepBoot) -> list[tuple[str, int]]:
    """The partitions NixOS makes besides its root in a kept disk's space, in disk order:
    (purpose, bytes). The same choices as the erase layout, within the new space."""
    extras: list[tuple[str, int]] = []
    if setup.new_esp:
        extras.append(("esp", model.disk.esp_size_mib * MIB))
    if setup.xbootldr:
        extras.append(("xbootldr", XBOOTLDR_BYTES))
    if setup.bios_boot:
        extras.append(("bios-boot", BIOS_BOOT_BYTES))
    if setup.esp is None and not setup.new_esp and model.encryption.enabled:
        extras.append(("boot", BOOT_BYTES))
    if model.disk.swap == "partition":
        extras.append(("swap", model.disk.swap_size_mib * MIB))
    return extras


def need(model: InstallModel, setup: KeepBoot) -> int:
    """NixOS's least share: 10 GiB (25 with a desktop), and never less than its other
    partitions plus the smallest root worth installing."""
    from installer.plan.erase import MIN_ROOT_BYTES

    return max(nixos_min(model), sum(size for _, size in extra_sizes(model, setup)) + MIN_ROOT_BYTES)


def offers(model: InstallModel, machine: Machine, disk: Disk) -> list[Offer]:
    """Every way to use `disk`, one Offer per way and partition: the offered ones first,
    the most room first, then the others with their reasons (in WAYS order)."""
    found = [Offer("erase", disk, reason=why.disk_verdict(disk, machine).reason)]
    refused = why.disk_verdict(disk, machine).reason
    if not refused and disk.table not in ("gpt", "dos"):
        refused = why.NO_TABLE_TO_KEEP
    if not refused and not known(disk):
        refused = why.PLACES_UNKNOWN
    if not refused and disk.dynamic:
        refused = why.DYNAMIC_DISK
    if refused:
        found += [Offer(way, disk, reason=refused) for way in WAYS[1:]]
        return _sorted(found)
    found.append(_free_space(model, machine, disk))
    shrinkable = [_alongside(model, machine, disk, p) for p in disk.partitions]
    found += shrinkable or [Offer("alongside", disk, reason=why.NO_PARTITION_TO_SHRINK)]
    replaceable = [_replace(model, machine, disk, p) for p in disk.partitions]
    found += replaceable or [Offer("replace", disk, reason=why.NO_PARTITION_TO_REPLACE)]
    return _sorted(found)


def offered(model: InstallModel, machine: Machine, disk: Disk) -> list[Offer]:
    return [o for o in offers(model, machine, disk) if o.offered]


def _sorted(found: list[Offer]) -> list[Offer]:
    yes = sorted((o for o in found if o.offered), key=lambda o: -o.room)
    no = sorted((o for o in found if not o.offered), key=lambda o: WAYS.index(o.way))
    return yes + no


def _free_space(model: InstallModel, machine: Machine, disk: Disk) -> Offer:
    setup = keep_boot(model, machine, disk)
    wanted = need(model, setup)
    usable = [g for g in gaps(disk) if g.usable]
    if not usable:
        all_gaps = [g for g in gaps(disk) if g.size >= wanted]
        return Offer("free-space", disk, need=wanted, reason=all_gaps[0].why if all_gaps else why.NO_FREE_SPACE)
    best = max(usable, key=lambda g: g.size)
    reason = _fits(model, disk, disk, best, wanted, setup)
    if best.size < wanted and not setup.problem:
        reason = why.free_space_too_small(best.size, wanted)
    return Offer("free-space", disk, None, best, wanted, reason=reason)


def _alongside(model: InstallModel, machine: Machine, disk: Disk, part: Partition) -> Offer:
    verdict = why.part_verdict(part, "alongside")
    if not verdict.ok:
        return Offer("alongside", disk, part, reason=verdict.reason)
    smallest = keep_min(part)
    if smallest >= part.size:
        return Offer("alongside", disk, part, keep_min=smallest, reason=why.shrink_leaves_nothing(smallest, part.size))
    shrunk = dataclasses.replace(part, size=smallest)
    after = dataclasses.replace(disk, partitions=[shrunk if p is part else p for p in disk.partitions])
    setup = keep_boot(model, machine, disk)
    wanted = need(model, setup)
    gap = _gap_at(after, part.start + smallest)
    if gap is None:
        return Offer("alongside", disk, part, keep_min=smallest, need=wanted, reason=why.NO_FREE_SPACE)
    reason = _fits(model, disk, after, gap, wanted, setup)
    return Offer("alongside", disk, part, gap, wanted, smallest, reason)


def _replace(model: InstallModel, machine: Machine, disk: Disk, part: Partition) -> Offer:
    verdict = why.part_verdict(part, "replace")
    if not verdict.ok:
        return Offer("replace", disk, part, reason=verdict.reason)
    after = dataclasses.replace(disk, partitions=[p for p in disk.partitions if p is not part])
    setup = keep_boot(model, machine, disk, frozenset({part.path}))
    wanted = need(model, setup)
    gap = _gap_at(after, part.start)
    if gap is None:
        return Offer("replace", disk, part, need=wanted, reason=why.NO_FREE_SPACE)
    return Offer("replace", disk, part, gap, wanted, reason=_fits(model, disk, after, gap, wanted, setup))


def _gap_at(disk: Disk, where: int) -> Gap | None:
    """The gap holding byte `where` (or starting in the MiB after it: gaps are aligned inward)."""
    for gap in gaps(disk):
        if gap.start - ALIGN <= where < gap.end:
            return gap
    return None


def _fits(model: InstallModel, disk: Disk, after: Disk, gap: Gap, wanted: int, setup: KeepBoot) -> str:
    """Why NixOS's partitions cannot go into `gap` of `after` (the disk as it will be), or ""."""
    if setup.problem:
        return setup.problem
    if not gap.usable:
        return gap.why
    if gap.size < wanted:
        return why.room_too_small(gap.size, wanted)
    count = 1 + len(extra_sizes(model, setup))
    if gap.slot == "primary":
        free = after.free_primary_slots or 0
        if free < count:
            return why.no_slots(count, free)
    if gap.slot == "logical":
        if setup.new_esp:
            return why.ESP_NOT_LOGICAL
        later = [p.path for p in after.partitions if p.number >= MBR_FIRST_LOGICAL and p.start > gap.start]
        if later:
            return why.renumbers(", ".join(later))
    return ""


def _up(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


def _down(value: int) -> int:
    return value // ALIGN * ALIGN
