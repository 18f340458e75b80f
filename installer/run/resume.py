"""A disk this installer prepared in an earlier run, recognised so a rerun goes on.

When the disk phase is done and a later phase fails (nixos-install could not
download, the person pressed Ctrl+C), the advice is "run this command
again". The rerun is a new process with new random UUIDs, and the disk now
has mounted partitions, which the probe refuses. So after the disk phase
the installer records, in a root-only directory that lasts until reboot
(/run), the identity it gave the new layout; a rerun with the same answers
and target goes on from the configuration, when the disk holds exactly the
planned filesystems (by their UUIDs) and nothing of it is mounted or swapped
on outside what the plan set up. Anything else is not recognised, and the
disk is refused as before (installer.machine.eligibility).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from installer.machine.eligibility import own_layout_verdict
from installer.machine.hardware import Disk, Machine
from installer.plan.identity import Identity
from installer.plan.types import Plan
from installer.base.logfile import open_private

STATE_DIR = "/run/nixos-tui-installer"
BY_UUID = "/dev/disk/by-uuid/"


@dataclass(frozen=True)
class Prepared:
    target: str
    disk: str  # the disk's path, e.g. /dev/sda
    identity: Identity
    layout: str  # layout_digest() of the plan carried out


def layout_digest(plan: Plan) -> str:
    """What the disk phase made, independent of what was on the disk before (the
    old partitions it wiped): the same answers and identity give the same digest."""
    disk = plan.disk.path if plan.disk is not None else ""
    key = repr((plan.layout, plan.firmware, plan.loader, plan.identity, disk, plan.partitions,
                plan.filesystems, plan.luks, plan.swaps, plan.target))
    return hashlib.sha256(key.encode()).hexdigest()


def record_path(state_dir: str, target: str) -> Path:
    name = hashlib.sha256(os.path.realpath(target).encode()).hexdigest()[:24]
    return Path(state_dir) / f"prepared-{name}.json"


def save(state_dir: str, plan: Plan) -> Path:
    """Remember that the disk phase of `plan` is done (root-only, never through a link)."""
    from installer.base import safefs

    assert plan.disk is not None, "only a plan that partitioned a disk is recorded"
    path = record_path(state_dir, plan.target)
    text = json.dumps({"target": plan.target, "disk": plan.disk.path, "identity": dataclasses.asdict(plan.identity),
                       "layout": layout_digest(plan)})
    where = safefs.open_dir(state_dir, create=True, mode=0o700)
    try:
        fd = open_private(path, append=False, dir_fd=where)
        try:
            safefs.write_all(fd, text.encode())
        finally:
            os.close(fd)
    finally:
        os.close(where)
    return path


def load(state_dir: str, target: str) -> Prepared | None:
    path = record_path(state_dir, target)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            data = json.loads(f.read(1 << 16))
        return Prepared(str(data["target"]), str(data["disk"]), Identity(**data["identity"]), str(data["layout"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(state_dir: str, target: str) -> None:
    try:
        os.unlink(record_path(state_dir, target))
    except OSError:
        pass


def mismatch(plan: Plan, disk: Disk, machine: Machine) -> str:
    """Why the disk is not the one `plan` (made with the recorded identity) left, or ""."""
    on_disk = {p.uuid for p in disk.partitions if p.uuid}
    planned = [e.device for e in plan.filesystems if e.device.startswith(BY_UUID)]
    planned += [e.device for e in plan.luks] + [s.device for s in plan.swaps if s.device.startswith(BY_UUID)]
    missing = [d.removeprefix(BY_UUID) for d in planned if d.removeprefix(BY_UUID) not in on_disk]
    if missing:
        return f"{disk.path} does not hold the planned filesystem(s) {', '.join(missing)}"
    if [p.number for p in sorted(disk.partitions, key=lambda p: p.number)] != [p.number for p in plan.partitions]:
        return f"{disk.path} does not have the planned partitions"
    # What uses the disk now must be this layout only (installer.machine.eligibility's words).
    planned_swap = {s.device.removeprefix(BY_UUID) for s in plan.swaps}
    return own_layout_verdict(disk, machine, plan.target, planned_swap).reason
