"""Shrinking a kept filesystem, and checking the kept ones afterwards (issue 18).

Writes, so only the executor calls it, after the confirmation, one step at a
time. One narrow function per command; every tool runs in its own process
group and dies with the installer (installer.run.diskhold.tool_kwargs), and
no argv holds anything but device paths and sizes.

Before any shrink the filesystem is asked again, right then, whether and how
far it may shrink (installer.machine.shrinkable.measure on what blkid finds
there now): a Windows hibernated, or a drive BitLocker-encrypted, since the
plan was made is refused before a byte changes.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

from installer.base.units import human_size
from installer.machine import shrinkable
from installer.machine.udevdata import blkid_props
from installer.run.diskhold import tool_kwargs

TOOLS = {"ntfs": ("ntfsresize", "ntfscat"), "ext4": ("e2fsck", "resize2fs", "dumpe2fs"),
         "ext3": ("e2fsck", "resize2fs", "dumpe2fs"), "ext2": ("e2fsck", "resize2fs", "dumpe2fs"),
         "btrfs": ("btrfs", "unshare", "mount", "umount")}
CHECK_TOOLS = {"ntfs": ("ntfsresize",), "ext4": ("e2fsck",), "ext3": ("e2fsck",), "ext2": ("e2fsck",),
               "btrfs": ("btrfs",)}


class ShrinkError(Exception):
    """A shrink or a check failed or was refused; `output` is what the tool printed."""

    def __init__(self, message: str, output: str = ""):
        self.output = output
        super().__init__(message)


def _run(argv: list[str], *, stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> str:
    try:
        done: subprocess.CompletedProcess[str] = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              stdin=None if stdin is not None else subprocess.DEVNULL, **tool_kwargs())
    except OSError as error:
        raise ShrinkError(f"cannot run {argv[0]}: {error}") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode not in ok:
        raise ShrinkError(f"{' '.join(argv)} failed (exit status {done.returncode})", output)
    return output


# -- the last look before writing -----------------------------------------------------------


def refusal(device: str, fstype: str, new_size: int) -> str:
    """Why `device` may not be shrunk to `new_size` bytes now, read from the device itself; ""
    when it may."""
    found = blkid_props(device).get("ID_FS_TYPE", "")
    minimum, refused = shrinkable.measure(device, found)
    if refused:
        return refused
    if found != fstype:
        return f"{device} holds {found or 'nothing readable'} now; the plan was made for {fstype}"
    if new_size < minimum:
        return (f"{device} cannot shrink to {human_size(new_size)}: its filesystem needs at least "
                f"{human_size(minimum)} now")
    return ""


# -- one function per command -----------------------------------------------------------------


def ntfs_test_run(device: str, new_size: int) -> str:
    """ntfsresize's read-only rehearsal of the resize (it opens the volume read-only)."""
    return _run(["ntfsresize", "--no-action", "--no-progress-bar", "--size", str(new_size), device])


def ntfs_resize(device: str, new_size: int) -> str:
    """The real resize. --force: the rehearsal just passed, and ntfsresize's own yes/no question
    (which it asks without --force) is answered on stdin, as there is no terminal."""
    return _run(["ntfsresize", "--force", "--no-progress-bar", "--size", str(new_size), device], stdin="y\n")


def ext_check(device: str) -> str:
    """e2fsck -f -p: resize2fs refuses a filesystem not checked since it was last mounted.
    Exit 1: errors corrected, which is fine to go on from."""
    return _run(["e2fsck", "-f", "-p", device], ok=(0, 1))


def ext_resize(device: str, new_size: int) -> str:
    return _run(["resize2fs", device, f"{new_size // 1024}K"])


def btrfs_resize(device: str, new_size: int) -> str:
    """Mounted read-write in a mount namespace of its own, resized, unmounted."""
    devid, _ = shrinkable.btrfs_devices(device)
    argv = shrinkable.in_private_mount(device, "rw", ["btrfs", "filesystem", "resize", f"{devid}:{new_size}", '"$2"'])
    try:
        return _run(argv)
    finally:
        _rmdir(argv[-1])


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def shrink_fs(device: str, fstype: str, new_size: int) -> str:
    """Shrink the filesystem on `device` to fit `new_size` bytes, after asking it once more."""
    refused = refusal(device, fstype, new_size)
    if refused:
        raise ShrinkError(f"not shrinking {device}: {refused}; nothing was written to it")
    if fstype == "ntfs":
        return ntfs_test_run(device, new_size) + "\n" + ntfs_resize(device, new_size)
    if fstype == "btrfs":
        return btrfs_resize(device, new_size)
    return ext_check(device) + "\n" + ext_resize(device, new_size)


def filesystem_size(device: str, fstype: str) -> int:
    """How many bytes the filesystem on `device` spans now (read-only), so no partition entry is
    ever cut below it."""
    if fstype == "ntfs":
        found = re.search(r"Current volume size: (\d+) bytes",
                          _run(["ntfsresize", "--info", "--force", "--no-action", "--no-progress-bar", device]))
        if found:
            return int(found.group(1))
    elif fstype == "btrfs":
        found = re.search(r"^dev_item\.total_bytes\s+(\d+)", _run(["btrfs", "inspect-internal", "dump-super", device]),
                          re.M)
        if found:
            return int(found.group(1))
    else:
        text = _run(["dumpe2fs", "-h", device])
        count = re.search(r"^Block count:\s+(\d+)", text, re.M)
        size = re.search(r"^Block size:\s+(\d+)", text, re.M)
        if count and size:
            return int(count.group(1)) * int(size.group(1))
    raise ShrinkError(f"cannot read the size of the {fstype} filesystem on {device}")


# -- after the disk phase -----------------------------------------------------------------------


def check_fs(device: str, fstype: str) -> str:
    """The filesystem's own read-only check of a shrunk filesystem."""
    if fstype == "ntfs":
        problem = shrinkable.ntfs_check(device)
        if problem:
            raise ShrinkError(f"ntfsresize finds a problem on {device}: {problem}")
        return f"{device}: ntfsresize --info: clean"
    if fstype == "btrfs":
        return _run(["btrfs", "check", "--readonly", device])
    return _run(["e2fsck", "-n", "-f", device])


def check_kept(partitions: list[dict[str, Any]], hashed: dict[str, str]) -> str:
    """Every kept partition still whole: a shrunk one passes its filesystem's check, an
    untouched one has the first MiB it had at the confirmation (the plan's hash, else the
    one the confirmation took: `hashed`)."""
    said = []
    for part in partitions:
        path = part["path"]
        if part.get("shrunk"):
            said.append(check_fs(path, part["fstype"]))
            continue
        expected = part.get("first_mib_sha256") or hashed.get(path, "")
        if not expected:
            raise ShrinkError(f"{path} has no hash from the confirmation to compare with")
        try:
            now = shrinkable.first_mib_sha256(path)
        except OSError as error:
            raise ShrinkError(f"cannot read {path}: {error.strerror}") from None
        if now != expected:
            raise ShrinkError(f"the first MiB of {path} changed during the install (it was to be left untouched)")
        said.append(f"{path}: first MiB unchanged")
    return "\n".join(said)
