"""Edits of an existing partition table, through pyparted (issue 18): moving one entry's
end, deleting one entry, adding entries into free space. The executor's own helper
(split out of installer/run/executor.py for the 450-line limit), and with it the only
module allowed to import parted (the one-writer contract in pyproject.toml).

Every edit first checks the entry is where the plan saw it (its start, and for a delete
its end), on a device with the plan's sector size, and changes nothing else: a start
is never moved, other entries are left as they are, and libparted commits only the
entries it was told about. Nothing here decides anything; the plan did.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from installer.run.diskhold import tool_kwargs


class TableError(Exception):
    """The table is not as the plan saw it, or libparted refused the edit."""


@contextmanager
def stderr_to(file: IO[str]) -> Iterator[None]:
    """libparted runs `udevadm settle` through the shell: its chatter goes to `file`, not the console."""
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def fresh_device(parted: Any, path: str) -> Any:
    """The device at `path` as it is now. libparted keeps each device it opened, size and all,
    and hands the same one out for the path again: a loop device re-attached to another (larger)
    image would be edited as the old one (seen: a crash in libparted). So out of its cache first."""
    parted.getDevice(path).removeFromCache()
    return parted.getDevice(path)


def _edit(call: dict[str, Any], change: Callable[[Any, Any, Any], None]) -> str:
    """Open the table on call["device"], let `change(parted, device, disk)` edit it, commit it."""
    try:
        import parted
    except ImportError as error:  # checked before the first write; kept for a module broken meanwhile
        raise TableError(f"pyparted (the Python module 'parted') cannot be imported: {error}") from None
    with tempfile.TemporaryFile(mode="w+") as err, stderr_to(err):
        try:
            device = fresh_device(parted, call["device"])
            try:
                if device.sectorSize != call.get("sector_size", device.sectorSize):
                    raise TableError(f"{call['device']} has {device.sectorSize}-byte sectors; "
                                     f"the plan assumed {call['sector_size']}")
                disk = parted.newDisk(device)
                change(parted, device, disk)
                disk.commit()
            finally:
                device.removeFromCache()
        except TableError:
            raise
        except Exception as error:  # pyparted raises its own exception zoo
            raise TableError(f"{type(error).__name__}: {error}") from None
        err.seek(0)
        return err.read().strip()


def _entry(disk: Any, call: dict[str, Any]) -> Any:
    part = next((p for p in disk.partitions if p.number == call["number"]), None)
    if part is None:
        raise TableError(f"{call['device']} has no partition {call['number']} now")
    if part.geometry.start != call["start_sector"]:
        raise TableError(f"partition {call['number']} on {call['device']} starts at sector {part.geometry.start} "
                         f"now, not {call['start_sector']} as planned; nothing was changed")
    return part


def resize_end(call: dict[str, Any]) -> str:
    """Move one entry's end to call["new_end_sector"]; its start is checked and kept."""
    def change(parted: Any, device: Any, disk: Any) -> None:
        part = _entry(disk, call)
        start, end = call["start_sector"], call["new_end_sector"]
        geometry = parted.Geometry(device=device, start=start, end=end)
        disk.setPartitionGeometry(part, parted.Constraint(exactGeom=geometry), start, end)
        if part.geometry.start != start or part.geometry.end != end:
            raise TableError(f"libparted put partition {call['number']} at {part.geometry.start}-{part.geometry.end}, "
                             f"not {start}-{end}")
    return _edit(call, change)


def delete(call: dict[str, Any]) -> str:
    """Delete one entry, found where the plan saw it (start and end)."""
    def change(parted: Any, device: Any, disk: Any) -> None:
        part = _entry(disk, call)
        if part.geometry.end != call["end_sector"]:
            raise TableError(f"partition {call['number']} on {call['device']} ends at sector {part.geometry.end} "
                             f"now, not {call['end_sector']} as planned; nothing was changed")
        disk.deletePartition(part)
    return _edit(call, change)


def add(call: dict[str, Any]) -> str:
    """Add the planned entries into free space of the table there (a logical one inside the
    extended partition), each at exactly its sectors, number, name and type."""
    def change(parted: Any, device: Any, disk: Any) -> None:
        table = "gpt" if disk.type == "gpt" else "msdos"
        if table != call["table"]:
            raise TableError(f"{call['device']} has a {disk.type} table now, not {call['table']}")
        for spec in call["partitions"]:
            geometry = parted.Geometry(device=device, start=spec["start"], end=spec["end"])
            kind = parted.PARTITION_LOGICAL if spec.get("logical") else parted.PARTITION_NORMAL
            part = parted.Partition(disk=disk, type=kind, geometry=geometry)
            disk.addPartition(part, constraint=parted.Constraint(exactGeom=geometry))
            if part.number != spec["number"]:
                raise TableError(f"partition {spec.get('name') or spec['number']} became number {part.number}")
            if table == "gpt" and spec.get("name"):
                part.set_name(spec["name"])
    said = _edit(call, change)
    # libparted 3.5 sets no type GUID or MBR type byte (pyparted needs a later libparted for
    # that); the tools the erase layout uses set them, one entry at a time, nothing else.
    for spec in call["partitions"]:
        number = str(spec["number"])
        if call["table"] == "gpt" and spec.get("type_guid"):
            said += _tool(["sgdisk", f"--typecode={number}:{spec['type_guid']}", call["device"]])
        elif call["table"] == "msdos" and spec.get("type_id"):
            said += _tool(["sfdisk", "--part-type", call["device"], number, spec["type_id"].removeprefix("0x")])
    return said.strip()


def _tool(argv: list[str]) -> str:
    try:
        done: subprocess.CompletedProcess[str] = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **tool_kwargs())
    except OSError as error:
        raise TableError(f"cannot run {argv[0]}: {error}") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise TableError(f"{' '.join(argv)} failed (exit status {done.returncode}): {output}")
    return "\n" + output
