"""Is the disk still the one chosen, and is nothing using it? The executor's last look before writing.

Read from sysfs and /proc at the moment of writing (the probe's picture may be
minutes old): the disk's size and by-id link, its holders, mounts and swaps,
the medium in it (installer.machine.medium), and the names the plan itself
will take (its LUKS mapping, the target's mount points).
"""

from __future__ import annotations

import os

from installer.base.units import human_size
from installer.machine.hardware import MAPPER, Disk
from installer.machine.medium import Medium, MediumGone, changes, read_medium
from installer.plan.types import Action, Plan

Mounts = list[tuple[str, str, str]]  # (major:minor, source, mount point), as mountinfo() reads them


def disk_in_use(disk: Disk, mounts: Mounts, *, sys_root: str = "/sys", proc_root: str = "/proc") -> list[str]:
    """Reasons not to write to `disk` now, given the mounts; empty when it is free and unchanged."""
    name = disk.name or os.path.basename(disk.path)
    block = os.path.join(sys_root, "class/block", name)
    if not os.path.isdir(block):
        return [f"{disk.path} is gone"]
    reasons = []
    size = int(_read(os.path.join(block, "size")) or 0) * 512
    if size != disk.size:
        now, then = human_size(size), human_size(disk.size)
        if now == then:  # rounded alike: the bytes say what changed
            now, then = f"{size} bytes", f"{disk.size} bytes"
        reasons.append(f"{disk.path} is {now} now, but was {then} when chosen")
    if disk.by_id:
        if not os.path.exists(disk.by_id):
            reasons.append(f"{disk.by_id} no longer exists")
        elif os.path.realpath(disk.by_id) != os.path.realpath(disk.path):
            reasons.append(f"{disk.by_id} now points at {os.path.realpath(disk.by_id)}, not {disk.path}")
    names = [name] + sorted(p for p in os.listdir(block) if os.path.exists(os.path.join(block, p, "partition")))
    nodes = {f"/dev/{n}" for n in names}
    numbers = set()
    for n in names:
        here = block if n == name else os.path.join(block, n)
        numbers.add(_read(os.path.join(here, "dev")))
        holders = os.path.join(here, "holders")
        for holder in sorted(os.listdir(holders)) if os.path.isdir(holders) else ():
            reasons.append(f"/dev/{n} is in use by {holder} (an open LUKS, LVM or RAID device)")
    for majmin, source, where in mounts:
        if majmin in numbers or source in nodes:
            reasons.append(f"{source} is mounted at {where}")
    for swap in _active_swaps(proc_root):
        if swap in nodes:
            reasons.append(f"{swap} is an active swap")
    return reasons


def target_in_use(plan: Plan, mounts: Mounts, *, dev_root: str = "/dev") -> list[str]:
    """Reasons the plan's own names are taken, given the mounts: its LUKS mapping is
    open (an earlier run?) or something is mounted at or under the target already."""
    reasons = []
    for name in plan_mappings(plan):
        if os.path.lexists(os.path.join(dev_root, "mapper", name)):
            reasons.append(f"{MAPPER}{name} is already open; close it first (cryptsetup close {name})")
    target = plan.target.rstrip("/") or "/"
    under = [(where, source) for _, source, where in mounts
             if where == target or where.startswith(target.rstrip("/") + "/")]
    for where, source in under:
        reasons.append(f"{source} is already mounted at {where}; unmount it first (umount -R {target})")
    return reasons


def same_medium(path: str, confirmed: Medium | None, *, sys_root: str = "/sys") -> str:
    """"" when the medium at `path` is the one confirmed; otherwise what changed, in words."""
    if confirmed is None:
        return "the confirmation holds no record of the medium (it was not readable when confirmed)"
    try:
        now = read_medium(path, sys_root=sys_root)
    except MediumGone as gone:
        return str(gone)
    found = changes(confirmed, now)
    if not found:
        return ""
    return "it is not the medium that was confirmed: " + "; ".join(found)


def target_problem(target: str) -> str:
    """Why the plan's target cannot take the new system's mounts, or ""."""
    if not os.path.lexists(target):
        return f"the target {target} does not exist (create it: mkdir -p {target})"
    if os.path.islink(target) or not os.path.isdir(target):
        return f"the target {target} is not a directory"
    return ""


def plan_mappings(plan: Plan) -> list[str]:
    """The names of the LUKS mappings the plan opens (its luks-open steps end with the name)."""
    return [step.argv[-1] for step in plan.steps if step.action is Action.LUKS_OPEN]


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _unescape(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def mountinfo(proc_root: str) -> Mounts:
    """(major:minor, source, mount point) of every mount."""
    found = []
    for line in _read(os.path.join(proc_root, "self/mountinfo")).splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) >= 5 and len(rest) >= 2:
            found.append((fields[2], _unescape(rest[1]), _unescape(fields[4])))
    return found


def _active_swaps(proc_root: str) -> list[str]:
    lines = _read(os.path.join(proc_root, "swaps")).splitlines()[1:]
    return [_unescape(line.split()[0]) for line in lines if line.split()]
