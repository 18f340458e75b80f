"""A disk's partitions today and after a plan, as two bars of console-safe characters
and one line of labels (the Disk step's picture; issue 18):

    Today ▓▒▒▒▒▒▒▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒
    After ▓▒▒▒▒▒▒▓▓▓▓▓▓██████████▒
          sda5 Ubuntu (ext4) 65 GiB -> 27 GiB | NixOS 38 GiB

Only block glyphs the console font (CP437) has: a kept partition is shaded dark or
medium, alternating so neighbours stay apart, free space light, and NixOS's space solid.
Pure text: the screen shows it, tests read it.
"""

from __future__ import annotations

from installer.base.units import human_size
from installer.machine.hardware import Disk
from installer.plan.offers import part_name as name
from installer.plan.types import Plan

KEPT = ("\u2593", "\u2592")  # dark and medium shade, alternating
FREE = "\u2591"  # light shade
NIXOS = "\u2588"  # full block

Segment = tuple[int, int, str]  # start, end (bytes), glyph


def _kept(parts: list[tuple[int, int]]) -> list[Segment]:
    return [(start, end, KEPT[i % 2]) for i, (start, end) in enumerate(sorted(parts))]


def _bar(size: int, segments: list[Segment], width: int) -> str:
    """`width` columns, each showing what covers its middle; NixOS's space keeps at least one."""
    if size <= 0 or width <= 0:
        return ""
    cells = []
    for col in range(width):
        middle = (2 * col + 1) * size // (2 * width)
        cells.append(next((glyph for start, end, glyph in segments if start <= middle < end), FREE))
    for start, end, glyph in segments:
        if glyph == NIXOS and NIXOS not in cells and end > start:
            cells[min(width - 1, start * width // size)] = NIXOS
    return "".join(cells)


def today(disk: Disk, width: int) -> str:
    return _bar(disk.size, _kept([(p.start, p.start + p.size) for p in disk.partitions]), width)


def after(disk: Disk, plan: Plan, width: int) -> str:
    if plan.layout == "erase":
        return _bar(disk.size, [(p.start, p.end, NIXOS) for p in plan.partitions], width)
    sizes = {c.path: c.new_size for c in plan.changes if c.change == "shrunk"}
    gone = {c.path for c in plan.changes if c.change == "deleted"}
    kept = [(p.start, p.start + sizes.get(p.path, p.size)) for p in disk.partitions if p.path not in gone]
    return _bar(disk.size, _kept(kept) + [(p.start, p.end, NIXOS) for p in plan.partitions], width)


def labels(disk: Disk, plan: Plan) -> str:
    """What changes, in words: "sda5 Ubuntu (ext4) 65 GiB -> 27 GiB | NixOS 38 GiB"."""
    nixos = f"NixOS {human_size(sum(p.size for p in plan.partitions))}"
    if plan.layout == "erase":
        return f"{disk.name}: everything erased | {nixos}"
    parts = {p.path: p for p in disk.partitions}
    words = []
    for change in plan.changes:
        part = parts.get(change.path)
        if part is None:
            continue
        if change.change == "shrunk":
            words.append(f"{name(part)} {human_size(change.size)} -> {human_size(change.new_size)}")
        elif change.change == "deleted":
            words.append(f"{name(part)} {human_size(change.size)} deleted")
    return " | ".join(words + [nixos]) if words else f"free space -> {nixos}, nothing else touched"


def picture(disk: Disk, plan: Plan, width: int) -> list[str]:
    """The three lines: today, after, and the labels (cut to `width`)."""
    room = max(width - 6, 10)
    lines = [f"Today {today(disk, room)}", f"After {after(disk, plan, room)}", f"      {labels(disk, plan)}"]
    return [line if len(line) <= width else line[: width - 3] + "..." for line in lines]
