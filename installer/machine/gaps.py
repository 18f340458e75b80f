"""Free space on a disk, as data: the stretches no partition covers where a new one could go.

Modelled on subiquity's subiquity/common/storage/gaps.py: a gap is a frozen
value (start, size) found by walking the partitions in disk order, aligned
inward to 1 MiB (what every partitioning tool of the last fifteen years
aligns to), and a stretch smaller than 1 MiB after that is not a gap.

What the table itself takes:
- GPT: sector 0 is the protective MBR, then the header and 16 KiB of entries
  (128 entries of 128 bytes), so the first usable LBA is 34 with 512-byte
  sectors and 6 with 4096-byte ones; the backup entries and header take the
  last 33 (or 5) sectors.
- MBR ("dos"): sector 0 holds the table, nothing is kept at the end, and an
  MBR cannot address past 2^32 sectors (2 TiB with 512-byte sectors). It has
  four primary slots; one of them may be an extended partition, which holds
  logical partitions (numbered from 5), each behind its own EBR. Free space
  inside the extended partition is a "logical" gap, outside it a "primary"
  one, usable only while a primary slot is free. The MiB before every logical
  partition is kept for its EBR, which fdisk puts 1 MiB before it and other
  tools closer; the records do not say where exactly.

A disk without a partition table, or with one that is neither GPT nor MBR,
has no gaps (erasing it is the only way to use it), and neither has an
optical disc, nor a disk whose partitions' places the record does not give
(a start: START_UNKNOWN; an extended partition's extent): guessing them could
offer space that holds data. On a Windows dynamic disk every gap is listed
but not usable: its LDM database may place volumes anywhere.

`installer.machine.hardware.Disk` offers these as `gaps`, `largest_gap` and
`free_primary_slots`; the functions here take the Disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from installer.base.units import MIB
from installer.machine.hardware import MBR_EXTENDED, START_UNKNOWN

if TYPE_CHECKING:
    from installer.machine.hardware import Disk, Partition

ALIGN = MIB
GPT_ENTRIES_BYTES = 128 * 128
GPT_MAX_ENTRIES = 128
MBR_PRIMARY_SLOTS = 4
MBR_FIRST_LOGICAL = 5
MBR_EBR_SPACE = MIB
MBR_MAX_SECTORS = 2**32

Slot = Literal["primary", "logical", ""]

NO_PRIMARY_SLOT = f"all {MBR_PRIMARY_SLOTS} primary partition slots of the MBR are in use"
NO_GPT_ENTRY = f"all {GPT_MAX_ENTRIES} entries of the GPT are in use"
PAST_MBR_LIMIT = "beyond the 2^32 sectors an MBR can address"
DYNAMIC = "on a Windows dynamic disk: its LDM database owns the space"


@dataclass(frozen=True)
class Gap:
    """A stretch of free space, in bytes from the start of the disk, both ends on a MiB boundary."""

    start: int
    size: int
    # On MBR, the kind of partition it can take: a primary one, or a logical one
    # (inside the extended partition); "" on GPT, where every entry is alike.
    slot: Slot = ""
    why: str = ""  # why no partition can be made in it; "" when one can

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def usable(self) -> bool:
        return not self.why


def _up(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


def _down(value: int) -> int:
    return value // ALIGN * ALIGN


def _free(lo: int, hi: int, used: list[tuple[int, int]], lead: int = 0) -> list[tuple[int, int]]:
    """The aligned stretches of [lo, hi) that no (start, end) in `used` touches, at least ALIGN long.
    `lead` bytes at the start of each stretch are kept for what must precede a new partition (an EBR)."""
    found: list[tuple[int, int]] = []
    cursor = lo
    # Overlapping entries (a hybrid ISO's partition 1 spans the whole image) are fine:
    # the cursor only moves forward.
    for start, end in sorted(used):
        if start > cursor:
            found.append((cursor, min(start, hi)))
        cursor = max(cursor, end)
    if cursor < hi:
        found.append((cursor, hi))
    aligned = ((_up(start + lead), _down(end)) for start, end in found)
    return [(start, end) for start, end in aligned if end - start >= ALIGN]


def _span(part: Partition) -> tuple[int, int]:
    return part.start, part.start + part.size


def _gpt_meta(disk: Disk) -> int:
    """Sectors of the GPT entry array, in bytes, rounded up to whole sectors."""
    sector = disk.logical_sector_size or 512
    return -(-GPT_ENTRIES_BYTES // sector) * sector


def _gpt(disk: Disk) -> list[Gap]:
    sector = disk.logical_sector_size or 512
    first = 2 * sector + _gpt_meta(disk)  # protective MBR, header, entries
    end = disk.size - sector - _gpt_meta(disk)  # backup entries and header
    why = NO_GPT_ENTRY if len(disk.partitions) >= GPT_MAX_ENTRIES else ""
    return [Gap(start, stop - start, "", why) for start, stop in _free(first, end, [_span(p) for p in disk.partitions])]


def _is_logical(part: Partition) -> bool:
    return part.number >= MBR_FIRST_LOGICAL


def _mbr(disk: Disk) -> list[Gap]:
    sector = disk.logical_sector_size or 512
    primaries = [p for p in disk.partitions if not _is_logical(p)]
    logicals = [p for p in disk.partitions if _is_logical(p)]
    # Each logical partition's EBR lies in the MiB before it.
    taken = [(p.start - MBR_EBR_SPACE, p.start + p.size) for p in logicals]
    extended = next((p for p in primaries if p.type_guid in MBR_EXTENDED), None)
    box: tuple[int, int] | None = None
    if extended is not None or logicals:
        # The extended partition's extent, stretched over every logical partition: a record
        # without the table's size for it (the kernel shows 1 KiB of it) must not free its logicals.
        box_start = extended.start if extended is not None else min(start for start, _ in taken)
        ends = [end for _, end in taken] + ([extended.start + extended.size] if extended is not None else [])
        box = (box_start, max(ends))
    outside = _free(sector, disk.size, [_span(p) for p in primaries] + ([box] if box else []))
    primary_why = "" if len(primaries) < MBR_PRIMARY_SLOTS else NO_PRIMARY_SLOT
    found = [Gap(start, end - start, "primary", primary_why) for start, end in outside]
    if box is not None:
        # A new logical partition needs a sector for its own EBR in front of it.
        inside = _free(box[0], box[1], taken, lead=sector)
        found += [Gap(start, end - start, "logical") for start, end in inside]
    limit = MBR_MAX_SECTORS * sector
    addressable: list[Gap] = []
    for gap in sorted(found, key=lambda g: g.start):
        if gap.end <= limit:
            addressable.append(gap)
        elif gap.start >= limit:
            addressable.append(Gap(gap.start, gap.size, gap.slot, PAST_MBR_LIMIT))
        else:  # split where the MBR stops reaching
            addressable.append(Gap(gap.start, limit - gap.start, gap.slot, gap.why))
            addressable.append(Gap(limit, gap.end - limit, gap.slot, PAST_MBR_LIMIT))
    return addressable


def known(disk: Disk) -> bool:
    """Whether the record says where every partition lies: each one's start, and an MBR extended
    partition's extent (a record without its table entry has only the kernel's 1 KiB of it)."""
    return not any(p.start == START_UNKNOWN or (disk.table == "dos" and p.number < MBR_FIRST_LOGICAL
                                                and p.type_guid in MBR_EXTENDED and p.size < ALIGN)
                   for p in disk.partitions)


def gaps(disk: Disk) -> list[Gap]:
    """The disk's free space in disk order (see the module's docstring for what counts)."""
    # An optical disc is not written to, and the kernel does not read the table on one.
    if disk.table not in ("gpt", "dos") or disk.kind == "cdrom":
        return []
    if not known(disk):
        return []
    found = _gpt(disk) if disk.table == "gpt" else _mbr(disk)
    if disk.dynamic:
        return [Gap(g.start, g.size, g.slot, DYNAMIC) for g in found]
    return found


def largest_gap(disk: Disk, *, usable: bool = True) -> Gap | None:
    """The biggest gap (the first of equals), only those a partition can go into unless `usable` is False."""
    best: Gap | None = None
    for gap in gaps(disk):
        if (gap.usable or not usable) and (best is None or gap.size > best.size):
            best = gap
    return best


def free_primary_slots(disk: Disk) -> int | None:
    """How many more primary partitions the MBR takes (0 on a dynamic disk); None on other tables."""
    if disk.table != "dos":
        return None
    if disk.dynamic:
        return 0
    return max(0, MBR_PRIMARY_SLOTS - sum(1 for p in disk.partitions if not _is_logical(p)))


def gaps_record(disks: list[Disk]) -> dict[str, list[dict[str, object]]]:
    """{disk path: its gaps as JSON objects}, for the disks with a GPT or MBR: what --record-machine writes."""
    return {disk.path: [{"start": g.start, "size": g.size, "slot": g.slot, "usable": g.usable, "why": g.why}
                        for g in gaps(disk)]
            for disk in disks if disk.table in ("gpt", "dos") and disk.kind != "cdrom"}
