"""What identifies the medium in a disk slot, read when the person confirms and
again just before the first write.

A path, a by-id link and a size do not identify a disk: a loop device
re-attached to another image, or a virtio disk without a serial swapped for
one of the same size, has all three unchanged. So the confirmation also
records what is written on the medium itself (the partition-table id, which
on GPT is the disk GUID; every partition's PARTUUID and filesystem UUID; a
filesystem UUID on the whole disk), what the hardware says (serial, WWN; a
loop device's backing file), and a hash of the first and the last MiB (a
blank disk has no ids: the bytes decide; the GPT and its backup live there).
Only reads; nothing here writes.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass

from installer.machine.udevdata import blkid_props

MIB = 1024**2


class MediumGone(Exception):
    """The device cannot be opened or read."""


@dataclass(frozen=True)
class Medium:
    path: str
    ptuuid: str = ""  # partition-table id: the GPT disk GUID, or the MBR disk signature
    pttype: str = ""  # gpt, dos, or "" (no table)
    partitions: tuple[tuple[str, str, str], ...] = ()  # (node, PARTUUID, filesystem UUID)
    fs_uuid: str = ""  # a filesystem on the whole disk, or its type when it has no UUID
    serial: str = ""
    wwn: str = ""
    backing: str = ""  # a loop device's backing file, with its device and inode numbers
    head: str = ""  # sha256 of the first MiB
    tail: str = ""  # sha256 of the last MiB


def read_medium(path: str, *, sys_root: str = "/sys", udev_root: str = "/run/udev") -> Medium:
    """The medium now at `path` (a whole-disk node). Raises MediumGone when it cannot be read."""
    name = os.path.basename(os.path.realpath(path))
    block = os.path.join(sys_root, "class/block", name)
    head, tail = _edges(path)
    props = blkid_props(path)
    partitions = []
    for part in _partition_names(block):
        node = "/dev/" + part
        found = blkid_props(node)
        partitions.append((node, found.get("ID_PART_ENTRY_UUID", ""), found.get("ID_FS_UUID", "")))
    fs = props.get("ID_FS_UUID", "") or props.get("ID_FS_TYPE", "")
    udev = _udev(os.path.join(udev_root, "data", "b" + read_text(os.path.join(block, "dev"))))
    serial = (read_text(os.path.join(block, "device/serial")) or read_text(os.path.join(block, "serial"))
              or udev.get("ID_SERIAL_SHORT", "") or udev.get("ID_SERIAL", ""))
    wwn = (read_text(os.path.join(block, "wwid")) or read_text(os.path.join(block, "device/wwid"))
           or udev.get("ID_WWN_WITH_EXTENSION", "") or udev.get("ID_WWN", ""))
    return Medium(
        path=path, ptuuid=props.get("ID_PART_TABLE_UUID", ""), pttype=props.get("ID_PART_TABLE_TYPE", ""),
        partitions=tuple(partitions), fs_uuid=fs, serial=serial, wwn=wwn, backing=_backing(block),
        head=head, tail=tail,
    )


def changes(then: Medium, now: Medium) -> list[str]:
    """What differs between the medium confirmed and the one there now, in words; [] when the same."""
    said: list[str] = []

    def differ(what: str, old: str, new: str) -> None:
        if old != new:
            said.append(f"{what} is {new or 'none'} now, was {old or 'none'}")

    differ("the serial number", then.serial, now.serial)
    differ("the WWN", then.wwn, now.wwn)
    differ("the loop device's backing file", then.backing, now.backing)
    differ("the partition table", then.pttype, now.pttype)
    differ("the partition-table id (PTUUID" + (", the GPT disk GUID)" if "gpt" in (then.pttype, now.pttype) else ")"),
           then.ptuuid, now.ptuuid)
    differ("the filesystem on the whole disk", then.fs_uuid, now.fs_uuid)
    old, new = dict((n, (p, u)) for n, p, u in then.partitions), dict((n, (p, u)) for n, p, u in now.partitions)
    if sorted(old) != sorted(new):
        said.append(f"the partitions are {', '.join(sorted(new)) or 'none'} now, were {', '.join(sorted(old)) or 'none'}")
    for node in sorted(set(old) & set(new)):
        differ(f"{node}'s PARTUUID", old[node][0], new[node][0])
        differ(f"{node}'s filesystem UUID", old[node][1], new[node][1])
    if then.head != now.head:
        said.append("the first MiB holds other bytes")
    if then.tail != now.tail:
        said.append("the last MiB holds other bytes")
    return said


def _edges(path: str) -> tuple[str, str]:
    """sha256 of the first and of the last MiB, read past the page cache where the kernel allows."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECT", 0) | os.O_CLOEXEC)
        direct = True
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise MediumGone(f"cannot open {path}: {error.strerror or error}") from None
        direct = False
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        length = min(MIB, size)
        try:
            return _hash_at(fd, 0, length, direct), _hash_at(fd, max(size - MIB, 0), length, direct)
        except OSError:
            if not direct:
                raise
        # O_DIRECT refused on this device (alignment): read through the cache, after dropping it.
        os.close(fd)
        fd = -1
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return _hash_at(fd, 0, length, False), _hash_at(fd, max(size - MIB, 0), length, False)
    except OSError as error:
        raise MediumGone(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _hash_at(fd: int, offset: int, length: int, direct: bool) -> str:
    if direct:
        buffer = mmap.mmap(-1, MIB)  # page aligned, as O_DIRECT needs
        try:
            got = os.preadv(fd, [buffer], offset)
            return hashlib.sha256(buffer[:got]).hexdigest() if got == length else _short(got, length)
        finally:
            buffer.close()
    data = os.pread(fd, length, offset)
    return hashlib.sha256(data).hexdigest() if len(data) == length else _short(len(data), length)


def _short(got: int, length: int) -> str:
    raise OSError(0, f"read {got} of {length} bytes")


def _partition_names(block: str) -> list[str]:
    try:
        names = os.listdir(block)
    except OSError:
        return []
    return sorted((n for n in names if os.path.exists(os.path.join(block, n, "partition"))),
                  key=lambda n: (len(n), n))


def _backing(block: str) -> str:
    backing = read_text(os.path.join(block, "loop/backing_file"))
    if not backing:
        return ""
    try:
        st = os.stat(backing)
        return f"{backing} (device {st.st_dev}, inode {st.st_ino})"
    except OSError:
        return backing


def _udev(path: str) -> dict[str, str]:
    found = {}
    for line in read_text(path).splitlines():
        if line.startswith("E:") and "=" in line:
            key, _, value = line[2:].partition("=")
            found[key] = value
    return found


def read_text(path: str) -> str:
    """A sysfs or udev-database file's text, stripped; "" when it cannot be read
    (a device gone, an attribute this kernel lacks)."""
    try:
        with open(path, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""
