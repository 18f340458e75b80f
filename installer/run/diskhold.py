"""The disk phase's grip on the disk: nothing claimed anywhere before the first
write, the disk held open while it is written, its identity re-checked before
every step, and every tool tied to the installer's life.

- `busy_exclusive()`: the kernel refuses an `O_EXCL` open of a block device
  that is mounted or claimed anywhere: in another mount namespace, by a lazily
  unmounted (`umount -l`) filesystem that still has an open file, by a mkfs
  still running from a killed installer. /proc/self/mountinfo sees none of
  those; other processes' mount tables say where such a mount is.
- `DiskHold`: an fd on the whole disk for the whole disk phase. A plain fd,
  not `O_EXCL`: mkfs and wipefs open the partitions and the disk with
  `O_EXCL` themselves, and the kernel refuses their claim while the whole disk
  is claimed. Held open, a loop device cannot be re-attached to another image
  (the detach waits for the last close); a USB disk that drops and comes back
  is a new device. Before each step `verify()` reads the disk again: the same
  device number, size, serial, WWN and loop backing file as confirmed, and
  after partitioning the table id and PARTUUIDs this run created.
- `tool_kwargs()`: each tool in its own process group (a Ctrl+C on the
  terminal reaches the installer, which stops and undoes in order) and killed
  when the installer dies (PR_SET_PDEATHSIG): a killed installer leaves no
  mkfs writing behind it, racing the rerun.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
from collections.abc import Callable
from typing import Any

from installer.machine.medium import Medium, MediumGone, read_medium, read_text

PR_SET_PDEATHSIG = 1
_libc: Any = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl  # resolved before any fork: the child only calls it
except (OSError, AttributeError):  # not glibc/musl Linux: the tool just is not tied
    _prctl = None


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the installer died before prctl took effect
            os._exit(1)
    return preexec


def tool_kwargs() -> dict[str, Any]:
    """subprocess keyword arguments for a disk tool: own process group, dies with the installer.

    PR_SET_PDEATHSIG fires when the thread that started the tool ends; the
    executor waits for each tool in the thread that started it, so that is
    never before the tool ends, unless the installer dies."""
    return {"process_group": 0, "preexec_fn": _die_with_parent(os.getpid())}


# -- nothing claimed anywhere ---------------------------------------------------------


def busy_exclusive(path: str, *, sys_root: str = "/sys", proc_root: str = "/proc") -> list[str]:
    """Reasons, naming the node, why the disk at `path` or one of its partitions is
    claimed somewhere (an `O_EXCL` open refused); [] when nothing is."""
    name = os.path.basename(os.path.realpath(path))
    block = os.path.join(sys_root, "class/block", name)
    parts = _partitions(block)
    reasons = []
    for part in parts:
        reason = _claimed("/dev/" + part, read_text(os.path.join(block, part, "dev")), proc_root)
        if reason:
            reasons.append(reason)
    if not reasons:  # a claimed partition also makes the whole disk refuse: name only the partition
        reason = _claimed(path, read_text(os.path.join(block, "dev")), proc_root)
        if reason:
            reasons.append(reason)
    return reasons


def _claimed(node: str, majmin: str, proc_root: str) -> str:
    try:
        fd = os.open(node, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as error:
        if error.errno != errno.EBUSY:
            return "" if error.errno == errno.ENOENT else f"{node} cannot be opened: {error.strerror}"
        where = mounted_elsewhere(majmin, proc_root) if majmin else []
        if where:
            return f"{node} is mounted " + "; ".join(where)
        return (f"{node} is busy: claimed by the kernel though mounted nowhere (a filesystem unmounted "
                "with umount -l while a file on it is open) or opened exclusively by a program (a mkfs "
                "still running?)")
    os.close(fd)
    return ""


def mounted_elsewhere(majmin: str, proc_root: str = "/proc") -> list[str]:
    """Where device `majmin` is mounted, in every mount namespace a process shows
    ("at /x in the mount namespace of process 123 (sleep)")."""
    found: list[str] = []
    seen: set[str] = set()
    try:
        pids = sorted((p for p in os.listdir(proc_root) if p.isdigit()), key=int)
    except OSError:
        return found
    own = _link(os.path.join(proc_root, "self/ns/mnt"))
    for pid in pids:
        here = os.path.join(proc_root, pid)
        namespace = _link(os.path.join(here, "ns/mnt")) or pid
        if namespace in seen:
            continue
        seen.add(namespace)
        for line in read_text(os.path.join(here, "mountinfo")).splitlines():
            fields = line.split()
            if len(fields) > 4 and fields[2] == majmin:
                place = fields[4].replace("\\040", " ")
                if namespace == own:
                    found.append(f"at {place}")
                else:
                    command = read_text(os.path.join(here, "comm")) or "?"
                    found.append(f"at {place} in the mount namespace of process {pid} ({command})")
    return found


# -- holding and re-checking ------------------------------------------------------------


class DiskChanged(Exception):
    """The device at the disk's path is not the one this disk phase started on."""


class DiskHold:
    """The whole disk open for the disk phase, and what it must still be before each step."""

    def __init__(self, path: str, confirmed: Medium, *, sys_root: str = "/sys") -> None:
        self.path, self.sys_root = path, sys_root
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.rdev = os.fstat(self.fd).st_rdev
        self.size = os.lseek(self.fd, 0, os.SEEK_END)
        self.confirmed = confirmed
        self.layout: tuple[str, tuple[str, ...]] | None = None  # (PTUUID, PARTUUIDs) this run made

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def verify(self) -> None:
        """DiskChanged, in words, unless the disk at the path is the one held and confirmed."""
        try:
            st = os.stat(self.path)
        except OSError as error:
            raise DiskChanged(f"{self.path} is gone ({error.strerror})") from None
        if st.st_rdev != self.rdev:
            raise DiskChanged(f"{self.path} is another device now (device number changed)")
        try:
            now = read_medium(self.path, sys_root=self.sys_root)
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except (MediumGone, OSError) as error:
            raise DiskChanged(f"{self.path} cannot be read: {error}") from None
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
        said = [f"the size is {size} bytes now, was {self.size}"] if size != self.size else []
        for what, old, new in (("serial number", self.confirmed.serial, now.serial),
                               ("WWN", self.confirmed.wwn, now.wwn),
                               ("loop device's backing file", self.confirmed.backing, now.backing)):
            if old != new:
                said.append(f"the {what} is {new or 'none'} now, was {old or 'none'}")
        if self.layout is not None and _layout(now) != self.layout:
            said.append(f"the partition table is not the one this run wrote (id {now.ptuuid or 'none'}, "
                        f"was {self.layout[0]})")
        if said:
            raise DiskChanged(f"{self.path} is not the disk this run started on: " + "; ".join(said))

    def remember_layout(self) -> None:
        """After partitioning (and once the nodes are there): the table id and PARTUUIDs
        this run made, which every later step must still find."""
        try:
            self.layout = _layout(read_medium(self.path, sys_root=self.sys_root))
        except MediumGone:
            self.layout = ("unreadable", ())  # the next verify() says what is wrong


def _layout(medium: Medium) -> tuple[str, tuple[str, ...]]:
    return medium.ptuuid, tuple(partuuid for _, partuuid, _ in medium.partitions)


def _partitions(block: str) -> list[str]:
    try:
        names = os.listdir(block)
    except OSError:
        return []
    return sorted((n for n in names if os.path.exists(os.path.join(block, n, "partition"))), key=lambda n: (len(n), n))


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""

