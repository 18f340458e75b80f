"""Real loop devices for tests: a sparse file, `losetup -fP`, and a clean-up that
always runs (unmount under the target, swap off, detach) even when a test fails.

Other test modules may import these:

    from loopdev import loop_device, needs_root, disk_for, blkid
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import YESCRYPT_HASH
from fullsuite import KERNEL_LIMIT

from installer.machine.hardware import Disk, Machine, Mount, Partition

GIB = 1024**3
MIB = 1024**2

# `pytestmark = ROOT_MARKS` for a whole module, or `@needs_root` on one test.
ROOT_MARKS = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for loop devices"),
    pytest.mark.skipif(shutil.which("losetup") is None, reason="needs losetup (util-linux)"),
]


def needs_root(test):
    for mark in ROOT_MARKS:
        test = mark(test)
    return test


def kernel_has_vfat() -> bool:
    text = Path("/proc/filesystems").read_text()
    return any(line.split()[-1] == "vfat" for line in text.splitlines() if line.split())


def kernel_has_dm_crypt() -> bool:
    if os.path.isdir("/sys/module/dm_crypt"):
        return True
    done = subprocess.run(["dmsetup", "targets"], capture_output=True, text=True) if shutil.which("dmsetup") else None
    return bool(done and done.returncode == 0 and any(line.startswith("crypt") for line in done.stdout.splitlines()))


# Skip reasons in the form tests/fullsuite.py lets `make test` skip on (no package installs these).
NO_VFAT = KERNEL_LIMIT + "this kernel has no vfat filesystem (not in /proc/filesystems): the ESP cannot be mounted"
NO_DM_CRYPT = KERNEL_LIMIT + "this kernel has no dm-crypt (no /sys/module/dm_crypt, no 'crypt' in dmsetup targets)"


def run(*argv: str, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, input=input)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path`, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        where = line.split()[4].replace("\\040", " ")
        if where == path or where.startswith(path.rstrip("/") + "/"):
            found.append(where)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def _on(node: str, device: str) -> bool:
    return node == device or node.startswith(device + "p")


def mappings_on(device: str) -> list[tuple[str, str]]:
    """(dm-N, mapper name) of the device-mapper devices on `device` or its partitions
    (an open LUKS container, LVM on it), the topmost first: the order to close them."""
    block = Path(f"/sys/class/block/{os.path.basename(device)}")
    if not block.is_dir():
        return []
    found: list[tuple[str, str]] = []

    def walk(node: Path) -> None:
        holders = node / "holders"
        for holder in sorted(holders.iterdir()) if holders.is_dir() else ():
            above = Path(f"/sys/class/block/{holder.name}")
            walk(above)
            entry = (holder.name, (above / "dm" / "name").read_text().strip() if (above / "dm" / "name").exists() else "")
            if entry not in found:
                found.append(entry)

    for node in [block, *(p for p in sorted(block.iterdir()) if (p / "partition").exists())]:
        walk(node)
    return found


def _ok(*argv: str) -> bool:
    return subprocess.run(list(argv), capture_output=True).returncode == 0


def _unmount(where: str) -> None:
    # a plain umount releases the device at once, so a mapping under it can be closed next
    if not _ok("umount", where):
        run("umount", "-l", where, check=False)


def release(device: str, target: str | None = None) -> None:
    """Undo everything a test may have left on `device`: swaps, mounts, open LUKS/dm
    mappings on it, the loop itself."""
    mappings = mappings_on(device)
    nodes = {f"/dev/{dm}" for dm, _ in mappings} | {f"/dev/mapper/{name}" for _, name in mappings if name}
    for line in Path("/proc/swaps").read_text().splitlines()[1:]:
        name = line.split()[0]
        if _on(name, device) or name in nodes:
            run("swapoff", name, check=False)
    if target:
        for where in mounts_under(target):
            _unmount(where)
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        left, _, right = line.partition(" - ")
        source = right.split()[1] if right.split()[1:2] else ""
        if source and (_on(source, device) or source in nodes):
            _unmount(left.split()[4])
    for dm, name in mappings:
        # an open LUKS container would make the next run's `cryptsetup open ... cryptroot` fail
        if not _ok("cryptsetup", "close", name or dm):
            run("dmsetup", "remove", "--retry", name or dm, check=False)
    run("losetup", "-d", device, check=False)


@contextlib.contextmanager
def loop_device(directory: Path, size: int = 12 * GIB, target: str | None = None) -> Iterator[tuple[str, Path]]:
    """A fresh sparse image attached as /dev/loopN with partition scanning; yields (device, image)."""
    image = directory / "disk.img"
    with open(image, "wb") as f:
        f.truncate(size)
    device = run("losetup", "-fP", "--show", str(image)).strip()
    try:
        yield device, image
    finally:
        release(device, target)


def appeared(device: str, nodes: list[str]) -> list[str]:
    """The kernel told of the new table, and the nodes there (devtmpfs makes them)."""
    run("partx", "-u", device, check=False)
    run("partx", "-a", device, check=False)  # -u alone has been seen to add only the primary entries
    deadline = time.monotonic() + 20
    while not all(os.path.exists(n) for n in nodes):
        assert time.monotonic() < deadline, f"{nodes} did not appear"
        time.sleep(0.1)
    return nodes


def disk_for(device: str, **kw) -> Disk:
    """The Disk a probe with --allow-loop would report for a loop device (size from sysfs)."""
    name = os.path.basename(device)
    sectors = int(Path(f"/sys/class/block/{name}/size").read_text())
    values = dict(path=device, name=name, size=sectors * 512, bus="loop", kind="loop", model="test image")
    values.update(kw)
    return Disk(**values)


def blkid(node: str) -> dict[str, str]:
    """blkid's tags for one device node (-p: read the device itself, no cache)."""
    out = run("blkid", "-p", "-o", "export", node, check=False)
    tags = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return tags


def sgdisk_info(device: str, number: int) -> dict[str, str]:
    """`sgdisk -i N` as a dict: 'Partition GUID code', 'First sector', 'Partition name', ..."""
    info = {}
    for line in run("sgdisk", "-i", str(number), device).splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            info[key.strip()] = value.strip()
    return info


def machine_with_mounts(device: str, target: str, firmware: str = "uefi") -> Machine:
    """A Machine for `device` as the probe would see it, from blkid, sysfs and mountinfo."""
    disk = disk_for(device, table=blkid(device).get("PTTYPE", ""))
    name = disk.name
    block = Path(f"/sys/class/block/{name}")
    for sub in sorted(block.iterdir()):
        if not (sub / "partition").exists():
            continue
        number = int((sub / "partition").read_text())
        node = f"/dev/{sub.name}"
        tags = blkid(node)
        info = sgdisk_info(device, number)
        disk.partitions.append(
            Partition(
                path=node,
                number=number,
                size=int((sub / "size").read_text()) * 512,
                type_guid=info.get("Partition GUID code", "").split()[0].lower(),
                partlabel=tags.get("PART_ENTRY_NAME", ""),
                fstype=tags.get("TYPE", ""),
                label=tags.get("LABEL", ""),
                uuid=tags.get("UUID", ""),
                partuuid=tags.get("PART_ENTRY_UUID", ""),
            )
        )
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, source, super_options = right.split()[:3]
        where, vfs_options = left.split()[4:6]
        # findmnt's OPTIONS (what recorded machines hold): per-mount then filesystem
        # options, so btrfs's subvol= and compress= are there
        options = ",".join(dict.fromkeys(vfs_options.split(",") + super_options.split(",")))
        if where == target or where.startswith(target + "/"):
            mounts.append(Mount(source=source, target=where, fstype=fstype, options=options))
    swaps = [line.split()[0] for line in Path("/proc/swaps").read_text().splitlines()[1:]]
    return Machine(firmware=firmware, disks=[disk], mounts=mounts, swaps=swaps)


DIGEST_BLOCK = 64 * 1024


def image_digest(path: Path, leave_out: tuple[int, int] = (0, 0)) -> str:
    """A hash of the image's bytes as a reader sees them (a hole reads as zeros):
    any write that changes a byte changes it.

    Where the file keeps its data does not count: the kernel turns unwritten
    extents into written ones on its own (e.g. when the last opener of a loop
    partition closes it), which changes SEEK_DATA's answer but not one byte.
    Only blocks touching allocated ranges are read, so a sparse 12 GiB image
    costs what it holds. `leave_out` (start, end) reads as zeros, e.g. a mounted
    filesystem that updates its own superblock.
    """
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    zeros = bytes(DIGEST_BLOCK)
    last = -1
    with open(path, "rb") as f:
        fd = f.fileno()
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            offset = end
            for block in range(start - start % DIGEST_BLOCK, end, DIGEST_BLOCK):
                if block <= last:
                    continue
                last = block
                f.seek(block)
                data = bytearray(f.read(DIGEST_BLOCK))
                lo, hi = max(block, leave_out[0]), min(block + len(data), leave_out[1])
                if lo < hi:
                    data[lo - block:hi - block] = bytes(hi - lo)
                if data != zeros[:len(data)]:
                    digest.update(f"{block}:".encode())
                    digest.update(data)
    return digest.hexdigest()


def mount_sources(target: str) -> dict[str, str]:
    """mount point -> 'source[subvol]' for everything at or under target."""
    found = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        where, root = fields[4], fields[3]
        if where == target or where.startswith(target + "/"):
            source = right.split()[1]
            found[where[len(target):] or "/"] = source + (f"[{root}]" if root != "/" else "")
    return found


def active_swaps() -> list[str]:
    return [line.split()[0] for line in Path("/proc/swaps").read_text().splitlines()[1:]]


def bios_answers(tmp_path: Path, device: str, *, filesystem: str = "ext4", swap: str | None = None,
                 user_hash: str = YESCRYPT_HASH, root_hash: str | None = None) -> Path:
    """An answers file for an unattended BIOS install on `device` (a loop
    device): one admin user, alice; `swap` (with a 256 MiB partition size)
    and a root account only when given."""
    swap_lines = f'swap = "{swap}"\nswap_size_mib = 256\n' if swap is not None else ""
    root_lines = f"[root]\ndisabled = false\npassword_hash = '{root_hash}'\n" if root_hash is not None else ""
    path = tmp_path / "answers.toml"
    path.write_text(
        f'''
[boot]
firmware = "bios"
[disk]
device = "{device}"
filesystem = "{filesystem}"
{swap_lines}[[users]]
name = "alice"
admin = true
password_hash = '{user_hash}'
{root_lines}'''
    )
    return path
