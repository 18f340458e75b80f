"""Free space as data (installer.machine.gaps): on constructed disks, on every recorded
machine, and on real loop devices partitioned by sgdisk/sfdisk, probed live and compared
with what `sfdisk --list-free` and `parted print free` say."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopdev import needs_root, release, run

from installer.machine import gaps as gapmod
from installer.machine.describe import describe_free
from installer.machine.gaps import DYNAMIC, NO_GPT_ENTRY, NO_PRIMARY_SLOT, PAST_MBR_LIMIT, Gap, gaps_record
from installer.machine.hardware import ESP_TYPE, LINUX_FS_TYPE, START_UNKNOWN, Disk, Partition
from installer.machine.machinefile import load_machine_file
from installer.machine.probe import machine_from_data, probe

ROOT = Path(__file__).resolve().parent.parent
MACHINES = ROOT / "tests" / "fixtures" / "machines"
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4


def disk(table: str, size: int, *parts: tuple[int, int, int, str], sector: int = 512, **kw) -> Disk:
    """A disk with partitions given as (number, start, size, type)."""
    return Disk(path="/dev/sda", name="sda", size=size, table=table, logical_sector_size=sector,
                partitions=[Partition(f"/dev/sda{n}", n, length, start, kind) for n, start, length, kind in parts], **kw)


def spans(found: list[Gap]) -> list[tuple[int, int, str, bool]]:
    return [(g.start, g.end, g.slot, g.usable) for g in found]


# -- constructed disks ----------------------------------------------------------
def test_an_empty_gpt_is_one_gap_between_the_two_tables() -> None:
    # first usable LBA 34 aligns up to 1 MiB; the backup GPT's 33 sectors push the end down a MiB
    assert spans(disk("gpt", 10 * GIB).gaps) == [(MIB, 10 * GIB - MIB, "", True)]
    assert disk("gpt", 10 * GIB).free_primary_slots is None


def test_gpt_holes_between_unaligned_partitions_are_aligned_inward() -> None:
    d = disk("gpt", 20 * GIB,
             (1, MIB, 512 * MIB, ESP_TYPE),
             (2, 600 * MIB + 3 * 512, 4 * GIB, LINUX_FS_TYPE),  # starts off a MiB boundary
             (3, 10 * GIB, 5 * GIB - 4096, LINUX_FS_TYPE))  # ends off one
    assert spans(d.gaps) == [
        (513 * MIB, 600 * MIB, "", True),
        (4697 * MIB, 10 * GIB, "", True),
        (15 * GIB, 20 * GIB - MIB, "", True),
    ]
    assert d.largest_gap == Gap(4697 * MIB, 10 * GIB - 4697 * MIB)
    assert describe_free(d) == "free: 5.4 GiB after sda2, 5 GiB at the end"


def test_a_stretch_under_a_mib_after_alignment_is_no_gap() -> None:
    first = (1, MIB, 100 * MIB - MIB // 2, LINUX_FS_TYPE)  # ends at 100.5 MiB
    tiny = disk("gpt", 11 * GIB, first, (2, 101 * MIB + 768 * 1024, 10 * GIB, LINUX_FS_TYPE))
    assert [g for g in tiny.gaps if g.end <= 200 * MIB] == []  # 1.25 MiB free, 0.75 MiB once aligned
    one = disk("gpt", 11 * GIB, first, (2, 102 * MIB, 10 * GIB, LINUX_FS_TYPE))
    assert [g for g in one.gaps if g.end <= 200 * MIB] == [Gap(101 * MIB, MIB)]


def test_4k_sectors_keep_the_gpt_tables_and_reach_further_on_mbr() -> None:
    # LBA 6 is the first usable one with 4096-byte sectors: a partition there ends off a MiB boundary
    d = disk("gpt", 10 * GIB, (1, 6 * 4096, MIB, ESP_TYPE), sector=4096)
    assert spans(d.gaps) == [(2 * MIB, 10 * GIB - MIB, "", True)]
    # an MBR addresses 2^32 sectors: 2 TiB of 512 bytes, 16 TiB of 4096
    small = disk("dos", 3 * TIB, (1, MIB, GIB - MIB, "0x83"))
    assert spans(small.gaps) == [(GIB, 2 * TIB, "primary", True), (2 * TIB, 3 * TIB, "primary", False)]
    assert small.gaps[1].why == PAST_MBR_LIMIT
    big = disk("dos", 3 * TIB, (1, MIB, GIB - MIB, "0x83"), sector=4096)
    assert spans(big.gaps) == [(GIB, 3 * TIB, "primary", True)]


def _mbr_with_logicals(extended_size: int = 4 * GIB) -> Disk:
    """The layout the loop-device test writes with sfdisk: p1, an extended p2 holding p5 and p6, p3."""
    return disk("dos", 12 * GIB,
                (1, MIB, GIB, "0x83"),
                (2, 3 * GIB, extended_size, "0x5"),
                (3, 8 * GIB, 2 * GIB, "0x7"),
                (5, 4 * GIB, GIB, "0x83"),
                (6, 6 * GIB, GIB // 2, "0x83"))


def test_mbr_free_space_inside_the_extended_partition_is_logical() -> None:
    d = _mbr_with_logicals()
    assert spans(d.gaps) == [
        (GIB + MIB, 3 * GIB, "primary", True),
        (3 * GIB + MIB, 4 * GIB - MIB, "logical", True),  # a sector for the new EBR; the MiB before p5 for its own
        (5 * GIB + MIB, 6 * GIB - MIB, "logical", True),
        (6 * GIB + GIB // 2 + MIB, 7 * GIB, "logical", True),
        (7 * GIB, 8 * GIB, "primary", True),
        (10 * GIB, 12 * GIB, "primary", True),
    ]
    assert d.free_primary_slots == 1
    assert describe_free(d) == "free: 2 GiB after sda1, 1 GiB after sda2, 2 GiB at the end; 1 primary slot free"


def test_an_extended_partition_without_its_extent_leaves_the_free_space_unknown() -> None:
    d = _mbr_with_logicals(extended_size=1024)  # the kernel's view of it, without the table entry's size
    assert d.gaps == [] and d.largest_gap is None
    assert describe_free(d) == "free: not known (the record does not say where every partition lies)"


def test_a_full_mbr_lists_its_free_space_but_cannot_use_it() -> None:
    d = disk("dos", 20 * GIB, *((n, (n - 1) * 4 * GIB + MIB, 2 * GIB, "0x83") for n in (1, 2, 3, 4)))
    found = d.gaps
    assert [(g.slot, g.why) for g in found] == [("primary", NO_PRIMARY_SLOT)] * len(found) and len(found) == 4
    assert d.free_primary_slots == 0
    assert d.largest_gap is None
    assert gapmod.largest_gap(d, usable=False) == found[-1]  # 20 GiB - 14 GiB - 1 MiB at the end
    assert found[-1] == Gap(14 * GIB + MIB, 6 * GIB - MIB, "primary", NO_PRIMARY_SLOT)


def test_with_every_primary_slot_taken_only_the_extended_partition_has_room() -> None:
    d = disk("dos", 20 * GIB, (1, MIB, GIB, "0x83"), (2, 2 * GIB, GIB, "0x83"), (3, 4 * GIB, GIB, "0x83"),
             (4, 8 * GIB, 8 * GIB, "0xf"), (5, 9 * GIB, GIB, "0x83"))
    assert spans(d.gaps) == [
        (GIB + MIB, 2 * GIB, "primary", False), (3 * GIB, 4 * GIB, "primary", False),
        (5 * GIB, 8 * GIB, "primary", False),
        (8 * GIB + MIB, 9 * GIB - MIB, "logical", True), (10 * GIB + MIB, 16 * GIB, "logical", True),
        (16 * GIB, 20 * GIB, "primary", False),
    ]
    assert d.largest_gap == Gap(10 * GIB + MIB, 6 * GIB - MIB, "logical")
    assert d.free_primary_slots == 0
    assert describe_free(d) == ("free: 1 GiB after sda2 (unusable), 3 GiB after sda3 (unusable), 6 GiB after sda5 "
                                "(logical), 4 GiB at the end (unusable); 0 primary slots free; unusable: all 4 "
                                "primary partition slots of the MBR are in use")


def test_overlapping_entries_of_a_hybrid_iso_leave_no_false_gap() -> None:
    d = disk("dos", GIB, (1, 0, 750 * MIB, "0x0"), (2, 249 * MIB, 4 * MIB, "0xef"))
    assert spans(d.gaps) == [(750 * MIB, GIB, "primary", True)]


def test_no_table_an_optical_disc_and_unknown_starts_have_no_gaps() -> None:
    assert disk("", 10 * GIB).gaps == [] and describe_free(disk("", 10 * GIB)) == ""
    assert disk("PMBR", 10 * GIB).gaps == []
    assert disk("dos", 2 * GIB, kind="cdrom").gaps == []
    unknown = disk("gpt", 10 * GIB, (1, START_UNKNOWN, GIB, LINUX_FS_TYPE))
    assert unknown.gaps == [] and gapmod.known(unknown) is False


def test_a_dynamic_disks_gaps_are_not_usable() -> None:
    d = disk("dos", 20 * GIB, (1, MIB, 10 * GIB, ""), table_types=["0x42"])
    assert [(g.start, g.why) for g in d.gaps] == [(10 * GIB + MIB, DYNAMIC)]
    assert d.largest_gap is None and d.free_primary_slots == 0


def test_a_full_gpt_entry_array_takes_no_more_partitions() -> None:
    d = disk("gpt", 2 * GIB, *((n, n * MIB, MIB, LINUX_FS_TYPE) for n in range(1, 129)))
    assert [(g.start, g.why) for g in d.gaps] == [(129 * MIB, NO_GPT_ENTRY)]


def test_gaps_are_frozen_values() -> None:
    gap = Gap(MIB, GIB)
    with pytest.raises(dataclasses.FrozenInstanceError):
        gap.size = 0  # type: ignore[misc]
    assert gap == Gap(MIB, GIB, "", "") and gap.end == GIB + MIB and gap.usable


# -- every recorded machine -----------------------------------------------------------
def _union(ranges: list[tuple[int, int]]) -> int:
    total, cursor = 0, 0
    for start, end in sorted(ranges):
        start = max(start, cursor)
        if end > start:
            total += end - start
            cursor = end
    return total


@pytest.mark.parametrize("path", sorted(MACHINES.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_disks_gaps_fit_beside_its_partitions(path: Path) -> None:
    machine = probe(path)
    for d in machine.disks:
        found = d.gaps
        assert gapmod.known(d), d.path  # every recording gives the starts and extended extents
        for gap in found:
            assert gap.start % MIB == 0 and gap.size % MIB == 0 and gap.size >= MIB, (d.path, gap)
            assert 0 < gap.start and gap.end <= d.size, (d.path, gap)
        for a, b in zip(found, found[1:]):
            assert a.end <= b.start, (d.path, a, b)
        extended = [p for p in d.partitions if p.type_guid in gapmod.MBR_EXTENDED]
        for part in d.partitions:
            if part in extended:
                continue
            for gap in found:
                assert gap.end <= part.start or part.start + part.size <= gap.start, (d.path, part.path, gap)
        for gap in found:
            inside = any(e.start <= gap.start and gap.end <= e.start + e.size for e in extended)
            assert (gap.slot == "logical") == inside and (gap.slot == "") == (d.table == "gpt"), (d.path, gap)
        used = _union([(p.start, p.start + p.size) for p in d.partitions])
        assert used + sum(g.size for g in found) <= d.size, d.path


def test_recorded_machines_free_space_in_words() -> None:
    def free(name: str, dev: str = "/dev/sda") -> str:
        return describe_free(probe(MACHINES / f"{name}.json").disk(dev))

    assert free("ubuntu-and-free-space") == "free: 29 GiB at the end"
    assert free("win11-and-free-space") == "free: 69 GiB after sda3"  # Windows' recovery partition sits at the end
    assert free("win11-along-ubuntu") == "free: only 1 MiB, in gaps under 1 GiB"
    assert free("threebuntu-on-msdos") == "free: only 1 MiB, in gaps under 1 GiB; 1 primary slot free"
    assert free("booted-from-rp", "/dev/vda") == "free: 124 GiB at the end"
    assert free("simple") == ""  # no partition table: erasing is all there is
    assert free("existing-partitions", "/dev/vdb") == "free: none"


def test_recorded_gaps_exactly() -> None:
    sda = probe(MACHINES / "ubuntu-and-free-space.json").disk("/dev/sda")
    # sda3 ends at 12051910656 (11493.5 MiB); 40 GiB less the backup GPT, aligned down
    assert sda.gaps == [Gap(11494 * MIB, 40 * GIB - MIB - 11494 * MIB)]
    win = probe(MACHINES / "win11-and-free-space.json").disk("/dev/sda")
    assert win.largest_gap == Gap(63037243392, 136755281920 - 63037243392)  # up to the recovery partition
    mbr = probe(MACHINES / "threebuntu-on-msdos.json").disk("/dev/sda")
    extended = next(p for p in mbr.partitions if p.number == 2)
    assert (extended.start, extended.size) == (97658878 * 512, 215863298 * 512)  # the table's extent, not 1 KiB
    assert (mbr.table, mbr.free_primary_slots) == ("dos", 1)
    dynamic = probe(MACHINES / "win-dynamic-disks.json").disk("/dev/sda")
    assert dynamic.gaps and not any(g.usable for g in dynamic.gaps)


def _strip(data: dict, *keys: str) -> dict:
    for rec in data["storage"]["blockdev"].values():
        if rec.get("DEVTYPE") == "partition":
            for key in keys:
                rec.pop(key, None)
                (rec.get("attrs") or {}).pop(key, None)
    return data


def test_a_record_without_starts_still_loads_and_claims_no_free_space() -> None:
    data = load_machine_file(MACHINES / "ubuntu-and-free-space.json")
    offsets = machine_from_data(_strip(json.loads(json.dumps(data)), "start")).disk("/dev/sda")
    assert offsets.gaps == probe(MACHINES / "ubuntu-and-free-space.json").disk("/dev/sda").gaps  # ID_PART_ENTRY_OFFSET
    sda = machine_from_data(_strip(data, "start", "ID_PART_ENTRY_OFFSET")).disk("/dev/sda")
    assert [p.start for p in sda.partitions] == [START_UNKNOWN] * 3
    assert sda.gaps == [] and "free space" not in sda.holds
    assert sda.holds == "EFI system partition, Linux ext4 (977 MiB), Linux ext4 (9.3 GiB)"
    assert describe_free(sda) == "free: not known (the record does not say where every partition lies)"


# -- real loop devices ---------------------------------------------------------------------
@contextlib.contextmanager
def _loop(tmp_path: Path, sector: int = 512, size: int = 12 * GIB) -> Iterator[str]:
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(size)
    dev = run("losetup", "-fP", "--show", f"--sector-size={sector}", str(image)).strip()
    try:
        yield dev
    finally:
        release(dev)


def _reread(dev: str, numbers: list[int]) -> None:
    """No udev here, and this kernel may not read tables itself: partx adds the partitions
    (-a: -u stops at the first missing number, before the logical ones); wait for them in sysfs."""
    name = os.path.basename(dev)
    wanted = [Path(f"/sys/class/block/{name}p{n}") for n in numbers]
    for _ in range(100):
        run("partx", "-a", dev, check=False)
        if all(p.exists() for p in wanted) and len(list(Path(f"/sys/block/{name}").glob(f"{name}p*"))) == len(numbers):
            return
        time.sleep(0.1)
    raise AssertionError(f"the kernel did not show partitions {numbers} of {dev}")


def _sfdisk_free(dev: str) -> list[tuple[int, int]]:
    """`sfdisk --list-free` as [start, end) in bytes."""
    out = run("sfdisk", "--list-free", dev)
    sector = int(re.search(r"Units: sectors of 1 \* (\d+)", out).group(1))
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+\d+\s+\S+\s*$", out, re.M)
    return [(int(a) * sector, (int(b) + 1) * sector) for a, b in rows]


def _parted_free(dev: str) -> list[tuple[int, int]]:
    """`parted -m unit B print free`'s free lines as [start, end) in bytes."""
    out = run("parted", "-s", "-m", dev, "unit", "B", "print", "free")
    rows = [line.rstrip(";").split(":") for line in out.splitlines()]
    return [(int(r[1][:-1]), int(r[2][:-1]) + 1) for r in rows if len(r) >= 5 and r[4] == "free"]


def _aligned(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    inward = ((-(-s // MIB) * MIB, e // MIB * MIB) for s, e in regions)
    return [(s, e) for s, e in inward if e - s >= MIB]


def _inside(gap: Gap, regions: list[tuple[int, int]]) -> bool:
    return any(s <= gap.start and gap.end <= e for s, e in regions)


def _live(dev: str) -> Disk:
    found = probe(allow_loop=True).disk(dev)
    assert found is not None
    return found


@needs_root
@pytest.mark.parametrize("sector", [512, 4096])
def test_live_gpt_gaps_equal_what_sfdisk_and_parted_list_free(tmp_path: Path, sector: int) -> None:
    with _loop(tmp_path, sector) as dev:
        # holes before, between and after; p3 ends off a MiB boundary
        run("sgdisk", "-n1:1MiB:+100MiB", "-n2:2GiB:+1GiB", "-n3:0:+513K", "-n4:5GiB:+3GiB", dev)
        _reread(dev, [1, 2, 3, 4])
        d = _live(dev)
        assert (d.table, d.logical_sector_size) == ("gpt", sector)
        name = d.name
        assert [(g.start, g.end) for g in d.gaps] == _aligned(_sfdisk_free(dev)) == [
            (101 * MIB, 2 * GIB), (3 * GIB + MIB, 5 * GIB), (8 * GIB, 12 * GIB - MIB)]
        parted = _parted_free(dev)
        assert all(_inside(g, parted) for g in d.gaps), (d.gaps, parted)
        assert [(s, e) for s, e in _aligned(parted)] == [(g.start, g.end) for g in d.gaps]
        assert describe_free(d) == f"free: 1.9 GiB after {name}p1, 2 GiB after {name}p3, 4 GiB at the end"


MBR_SCRIPT = """label: dos
start=2048, size=2097152, type=83
start=6291456, size=8388608, type=5
start=8388608, size=2097152, type=83
start=12582912, size=1048576, type=83
start=16777216, size=4194304, type=7
"""


@needs_root
def test_live_mbr_with_logical_partitions_matches_the_tools(tmp_path: Path) -> None:
    with _loop(tmp_path) as dev:
        run("sfdisk", "-q", dev, input=MBR_SCRIPT)
        _reread(dev, [1, 2, 3, 5, 6])
        d = _live(dev)
        assert d.table == "dos" and [(p.number, p.start, p.size) for p in d.partitions] == [
            (p.number, p.start, p.size) for p in _mbr_with_logicals().partitions]  # extended: its full extent
        assert d.gaps == _mbr_with_logicals().gaps
        tool = _sfdisk_free(dev)
        assert all(_inside(g, tool) for g in d.gaps), (d.gaps, tool)
        # each region sfdisk lists holds one gap, smaller by at most the MiB kept for an EBR
        # and the MiB sfdisk counts over the next logical partition's EBR
        for start, end in _aligned(tool):
            assert any(g.start >= start and g.end <= end and g.size >= end - start - 2 * MIB for g in d.gaps)
        primaries = [g for g in d.gaps if g.slot == "primary"]
        assert [(g.start, g.end) for g in primaries] == [
            r for r in _aligned(tool) if not 3 * GIB <= r[0] < 7 * GIB]
        # parted keeps its own room before a logical partition: its regions hold ours but for that room
        for gap in d.gaps:
            assert any(s <= gap.start and gap.end - e <= 2 * MIB and e > gap.start for s, e in _parted_free(dev))
        extended = (3 * GIB, 7 * GIB)
        assert all((g.slot == "logical") == (extended[0] <= g.start < extended[1]) for g in d.gaps)
        assert d.free_primary_slots == 1


@needs_root
def test_live_full_mbr_lists_the_free_space_as_unusable(tmp_path: Path) -> None:
    with _loop(tmp_path) as dev:
        # 1 MiB + 2 GiB at 0, 4 and 8 GiB; 1 GiB at 10.5 GiB: holes between all four
        script = "label: dos\n" + "".join(f"start={n * 4 * 1024 * 2048 + 2048}, size={2 * 1024 * 2048}, type=83\n"
                                          for n in range(3)) + "start=22020096, size=2097152, type=83\n"
        run("sfdisk", "-q", dev, input=script)
        _reread(dev, [1, 2, 3, 4])
        d = _live(dev)
        assert [(g.start, g.end) for g in d.gaps] == _aligned(_sfdisk_free(dev))
        assert d.gaps and all(g.why == NO_PRIMARY_SLOT for g in d.gaps)
        assert d.free_primary_slots == 0 and d.largest_gap is None


@needs_root
def test_record_machine_carries_the_gaps_and_prints_the_free_space(tmp_path: Path) -> None:
    with _loop(tmp_path) as dev:
        run("sfdisk", "-q", dev, input=MBR_SCRIPT)
        _reread(dev, [1, 2, 3, 5, 6])
        out = tmp_path / "machine.json"
        done = subprocess.run([sys.executable, "-m", "installer", "--record-machine", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        name = os.path.basename(dev)
        assert (f"  {name} (12 GiB, MBR): free: 2 GiB after {name}p1, 1 GiB after {name}p2, "
                "2 GiB at the end; 1 primary slot free") in done.stdout.splitlines()
        data = json.loads(out.read_text())
        replay = probe(out, allow_loop=True)
        assert data["gaps"][dev] == gaps_record([replay.disk(dev)])[dev] == gaps_record([_live(dev)])[dev]
        assert data["gaps"][dev][1] == {"start": 3 * GIB + MIB, "size": GIB - 2 * MIB, "slot": "logical",
                                        "usable": True, "why": ""}
        assert data["gaps"] == gaps_record(replay.disks)  # every disk, recomputed from the file alone
