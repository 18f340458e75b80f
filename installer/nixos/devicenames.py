"""Devices an edited file names that the plan does not set up.

An edit made for one disk and kept after the person chose another would
install GRUB to, or mount, the old disk while the new one is erased. So every
line the person wrote (a line of the edit the generated file does not have)
that names a block device is checked against the names the plan itself
uses: its disk (path and by-id link), the partitions it makes or keeps, the
UUIDs and PARTUUIDs it gives them, its LUKS mappings. A line naming any other
is refused before the disk is touched, saying which line, which device and
how to fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from installer.plan.types import Plan

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DEV = re.compile(r"/dev/[A-Za-z0-9._+:@/=-]+")
_BARE_UUID = re.compile(rf"(?<![0-9A-Za-z-]){_UUID}(?![0-9A-Za-z-])")
# Block devices only: /dev/null, /dev/tty1 or /dev/kvm in an edit are no disk.
_BLOCK = re.compile(r"/dev/(disk/|mapper/|md/|(sd|vd|hd|xvd)[a-z]|nvme\d|mmcblk\d|md\d|dm-\d|loop\d|sr\d)")


@dataclass(frozen=True)
class ForeignDevice:
    line: int  # 1-based, in the edited file
    device: str  # as the line names it
    text: str  # the whole line, stripped
    generated: str  # the newly generated line in its place ("" when there is none)


def plan_names(plan: Plan) -> set[str]:
    """Every device name and identity the plan uses: its disk, the partitions
    it makes or keeps (in its steps, filesystems, LUKS and swap entries) and
    the UUIDs it gives them. Not the partitions on the disk today, which an
    erase destroys."""
    names: set[str] = set()
    if plan.disk is not None:
        names.update(n for n in (plan.disk.path, plan.disk.by_id) if n)
    for value in _strings([plan.identity, plan.partitions, plan.steps, plan.filesystems, plan.luks,
                           plan.swaps, plan.grub_device]):
        if value.startswith("/dev/") or _BARE_UUID.fullmatch(value) or re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}",
                                                                                      value):
            names.add(value)
    names.update(f"/dev/mapper/{entry.name}" for entry in plan.luks)
    for name in list(names):
        tail = name.rsplit("/", 1)[-1]
        if name.startswith(("/dev/disk/by-uuid/", "/dev/disk/by-partuuid/")):
            names.add(tail)
    return {n.lower() for n in names}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _code(line: str) -> str:
    """The line without its comment (a # outside a string)."""
    quoted = False
    for i, c in enumerate(line):
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif c == "#" and not quoted:
            return line[:i]
    return line


def _named(code: str) -> Iterator[str]:
    spans = []
    for match in _DEV.finditer(code):
        spans.append(match.span())
        device = match.group().rstrip(".")
        if _BLOCK.match(device):
            yield device
    for match in _BARE_UUID.finditer(code):
        if not any(s <= match.start() < e for s, e in spans):
            yield match.group()


def _known(device: str, names: set[str]) -> bool:
    device = device.lower()
    if device in names:
        return True
    for kind in ("/dev/disk/by-uuid/", "/dev/disk/by-partuuid/"):
        if device.startswith(kind):
            return device.removeprefix(kind) in names
    return False


def foreign_devices(text: str, generated: str, plan: Plan) -> list[ForeignDevice]:
    """The devices the person's lines of `text` name that `plan` does not set
    up; `generated` is the file as generated for this plan (its own lines are
    the plan's and are not checked)."""
    names = plan_names(plan)
    mine = text.splitlines()
    new = generated.splitlines()
    found = []
    matcher = difflib.SequenceMatcher(None, new, mine, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for offset, line in enumerate(mine[j1:j2]):
            for device in _named(_code(line)):
                if not _known(device, names):
                    found.append(ForeignDevice(j1 + offset + 1, device, line.strip(), _closest(line, new[i1:i2])))
    return found


def _closest(line: str, generated: list[str]) -> str:
    """The generated line the person's line was made from: the one setting the
    same attribute (the text before "="), else the most alike of those in its
    place; "" when none is alike."""
    def setting(text: str) -> str:
        return text.split("=", 1)[0].strip() if "=" in text else ""

    for g in generated:
        if setting(g) and setting(g) == setting(line):
            return g.strip()
    ratio, best = max(((difflib.SequenceMatcher(None, line.strip(), g.strip()).ratio(), g.strip())
                       for g in generated), default=(0.0, ""))
    return best if ratio >= 0.6 else ""


def explain(name: str, found: ForeignDevice, disk: str) -> str:
    """The refusal, in words: which line, which device, and how to fix it."""
    fix = (f"put back the newly generated line\n  {found.generated}\nor edit it" if found.generated
           else "take the newly generated file, or edit the line")
    return (f"{name} line {found.line} names {found.device}, which this install does not set up "
            f"(it installs to {disk}):\n  {found.text}\nGo back to Review (Esc) and {fix}.")
