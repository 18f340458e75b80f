"""The executor's steps that keep what is on a disk (issue 18): shrink a filesystem, move a
partition entry's end, delete an entry, add entries into free space, check what was kept.

installer.run.executor dispatches Action.SHRINK_FS, RESIZE_PART, DELETE_PART, ADD_PARTS
and CHECK_KEPT here; the table edits themselves are installer.run.tables (pyparted), the
filesystem commands installer.run.shrink. Before the first write `problem()` refuses a plan
that would cut a partition entry before its filesystem was shrunk to fit, or that edits
entries after adding new ones, and asks every filesystem to be shrunk once more whether it
may; each step asks again right before it writes.
"""

from __future__ import annotations

import os
from typing import Any

from installer.base.units import human_size
from installer.machine import shrinkable
from installer.machine.udevdata import blkid_props
from installer.plan.types import Action, Step
from installer.run import shrink, tables

KEEP_ACTIONS = {Action.SHRINK_FS, Action.RESIZE_PART, Action.DELETE_PART, Action.ADD_PARTS, Action.CHECK_KEPT}
TABLE_ACTIONS = {Action.RESIZE_PART, Action.DELETE_PART, Action.ADD_PARTS}


class KeepError(Exception):
    """A keep step failed or was refused; `output` is what its tool printed."""

    def __init__(self, message: str, output: str = ""):
        self.output = output
        super().__init__(message)


def node(device: str, number: int) -> str:
    """The kernel's name for partition `number` of `device`: sda3, nvme0n1p3, loop0p3."""
    return f"{device}{'p' if device[-1:].isdigit() else ''}{number}"


def order_problem(steps: list[Step]) -> str:
    """Why the steps' order is unsafe, or "": a partition entry is made smaller only after its
    filesystem was shrunk to fit inside it, and no entry is edited after new ones were added."""
    shrunk: dict[str, int] = {}  # partition node -> the size its filesystem was shrunk to
    resized: set[str] = set()
    added = False
    for number, step in enumerate(steps, 1):
        call = step.call
        if step.action is Action.SHRINK_FS:
            if call["device"] in resized:
                return (f"step {number} shrinks the filesystem on {call['device']} after its partition entry "
                        "was made smaller; a filesystem is always shrunk first")
            shrunk[call["device"]] = call["new_size"]
        elif step.action is Action.RESIZE_PART:
            part = node(call["device"], call["number"])
            room = (call["new_end_sector"] - call["start_sector"] + 1) * call["sector_size"]
            if part not in shrunk:
                return (f"step {number} makes the entry of {part} smaller before its filesystem was shrunk; "
                        "a filesystem is always shrunk first")
            if shrunk[part] > room:
                return (f"step {number} makes {part} {human_size(room)}, smaller than the "
                        f"{human_size(shrunk[part])} its filesystem was shrunk to")
            resized.add(part)
        if step.action in (Action.RESIZE_PART, Action.DELETE_PART) and added:
            return f"step {number} edits an entry after new partitions were added"
        added = added or step.action is Action.ADD_PARTS
    return ""


def problem(steps: list[Step]) -> str:
    """Why these steps may not start, checked before the first write; "" when they may."""
    found = order_problem(steps)
    if found:
        return found
    for step in steps:
        if step.action is Action.SHRINK_FS:
            call = step.call
            refused = shrink.refusal(call["device"], call["fstype"], call["new_size"])
            if refused:
                return refused
    return ""


def tools(step: Step) -> list[str]:
    """The programs a keep step runs (pyparted is asked for apart)."""
    call = step.call
    if step.action is Action.SHRINK_FS:
        return list(shrink.TOOLS.get(call["fstype"], ())) + ["blkid"]
    if step.action is Action.RESIZE_PART:
        return ["blkid"]
    if step.action is Action.ADD_PARTS:
        return ["sgdisk"] if call["table"] == "gpt" else ["sfdisk"]
    if step.action is Action.CHECK_KEPT:
        return [t for p in call["partitions"] if p.get("shrunk") for t in shrink.CHECK_TOOLS.get(p["fstype"], ())]
    return []


def hash_kept(steps: list[Step]) -> dict[str, str]:
    """At the confirmation: the first MiB's sha256 of every partition CHECK_KEPT will find
    untouched (the plan reads no disk, so it leaves them ""). One that cannot be read gets
    none, and the check then says so."""
    hashes = {}
    for step in steps:
        for part in step.call.get("partitions", ()) if step.action is Action.CHECK_KEPT else ():
            if not part.get("shrunk"):
                try:
                    hashes[part["path"]] = shrinkable.first_mib_sha256(part["path"])
                except OSError:
                    pass
    return hashes


def run(step: Step, kept: dict[str, str]) -> str:
    """Run one keep step; KeepError when it fails or is refused. `kept`: hash_kept's hashes."""
    call = step.call
    try:
        if step.action is Action.SHRINK_FS:
            return shrink.shrink_fs(call["device"], call["fstype"], call["new_size"])
        if step.action is Action.CHECK_KEPT:
            return shrink.check_kept(call["partitions"], kept)
        if step.action is Action.RESIZE_PART:
            _fits(call)
            return tables.resize_end(call)
        if step.action is Action.DELETE_PART:
            return tables.delete(call)
        return tables.add(call)
    except shrink.ShrinkError as failed:
        raise KeepError(str(failed), failed.output) from None
    except tables.TableError as failed:
        raise KeepError(str(failed)) from None


def _fits(call: dict[str, Any]) -> None:
    """The filesystem in the entry, as it is now, fits inside the entry's new end: read from the
    device itself, so no entry is ever cut below what its filesystem spans."""
    part = node(call["device"], call["number"])
    if not os.path.exists(part):
        raise KeepError(f"{part} is not there; nothing was changed")
    fstype = blkid_props(part).get("ID_FS_TYPE", "")
    if fstype not in shrink.TOOLS:
        raise KeepError(f"{part} holds {fstype or 'nothing readable'}, whose size cannot be read; "
                        "its entry is left as it is")
    room = (call["new_end_sector"] - call["start_sector"] + 1) * call["sector_size"]
    spans = shrink.filesystem_size(part, fstype)
    if spans > room:
        raise KeepError(f"the {fstype} filesystem on {part} spans {spans} bytes, more than the {room} bytes "
                        "its entry would keep; nothing was changed")
