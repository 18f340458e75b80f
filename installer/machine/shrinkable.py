"""How small a partition's filesystem can get, or why it cannot shrink (issue 18).

Only reads: each answer comes from the filesystem's own tool, run read-only,
so the probe and the executor's last look before it writes ask the same
question the same way:

- NTFS: `ntfsresize --info --no-action` ("You might resize at N bytes"). Without
  --force it refuses a volume Windows marked for checking (the dirty flag), in
  its own words. ntfsresize does not look at hiberfil.sys (it opens the volume
  in forensic mode), so the header is read here with `ntfscat` (read-only) and
  judged by ntfs-3g's own rule (libntfs-3g volume.c, ntfs_volume_check_hiberfile:
  a hiberfil.sys shorter than 4096 bytes, or starting "hibr"/"HIBR", is in use).
  Nor does it look at the journal ($LogFile) before it empties it: a Windows that
  crashed or lost power leaves changes there it has yet to apply, so its restart
  pages are read with `ntfscat` and judged by libntfs-3g's rule (logfile.c,
  ntfs_is_logfile_clean), the one ntfs-3g's read-write mount applies.
  BitLocker (blkid: TYPE=BitLocker) cannot be read at all.
- ext4: `e2fsck -n` must call it clean, then `resize2fs -P` gives the minimum in
  blocks (`dumpe2fs -h` the block size). The writing `e2fsck -f -p` runs in the
  executor after the confirmation.
- btrfs: `btrfs inspect-internal min-dev-size` needs it mounted: read-only, in a
  private mount namespace of its own (`unshare --mount`), so the mount is gone
  when the command ends, even if the installer is killed meanwhile.
- XFS cannot shrink; LUKS, LVM, RAID members, swap and unknown contents are
  refused with the reason. Swap is refused rather than shrunk: it holds nothing
  worth keeping, so NixOS may take its place (replace) instead.

Every refusal's wording is here, once; each is one plain sentence (or two) for a person.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

from installer.machine.hardware import Machine

MIB = 1024**2
HIBERFILE_HEADER = 4096  # NTFS_HIBERFILE_HEADER_SIZE in libntfs-3g
SHRINKABLE = ("ntfs", "ext4", "ext3", "ext2", "btrfs")
TIMEOUT = 600  # ntfsresize walks the whole MFT: minutes on a full disk

# -- the refusals, written once ----------------------------------------------------------
HIBERNATED = ("Windows on {path} is hibernated or was stopped with Fast Startup (its hiberfil.sys is in use), "
              "so shrinking it now would lose what Windows keeps for its next start. Start Windows and shut it "
              "down fully (in a Command Prompt: shutdown /s /t 0, or turn Fast Startup off in the Power Options), "
              "then try again")
BITLOCKER = ("{path} is encrypted with BitLocker, so its files cannot be read to shrink it. In Windows, suspend "
             "BitLocker for this drive (or decrypt it) first, then try again")
MARKED_FOR_CHECK = ("Windows marked {path} for a check. Start Windows once so chkdsk runs (or run chkdsk /f on "
                    "that drive), shut Windows down fully, then try again")
UNCLEAN_LOG = ("Windows did not shut down cleanly: {path} still has changes in its journal ($LogFile) that "
               "Windows applies at its next start, and shrinking it now would throw them away. Start Windows, "
               "then shut it down fully (in a Command Prompt: shutdown /s /t 0), then try again")
NOT_CLEAN = ("e2fsck finds {path} not clean. Check it first from the system that uses it (e2fsck -f {path}), "
             "then try again")
XFS = "{path} holds XFS, which cannot be shrunk (XFS can only grow)"
LUKS = "{path} is encrypted (LUKS); this installer does not shrink an encrypted container"
LVM = "{path} is an LVM physical volume; this installer does not shrink volume groups"
RAID = "{path} is a member of a software RAID array; this installer does not shrink array members"
SWAP = "{path} is swap space: it holds nothing to keep, so it is not shrunk (NixOS may replace it instead)"
UNKNOWN = "{path} holds {what}, which this installer cannot shrink"
NOTHING = "{path} holds no filesystem that could be read, so nothing can tell how small it may get"
MOUNTED = "{path} is mounted at {where}; unmount it first"
SEVERAL_DEVICES = "{path} is one of {count} devices of a btrfs filesystem; this installer shrinks only single-device btrfs"
MISSING = "{tool} is not installed (package {package}), needed to tell how small {path} can get"
FAILED = "{tool} could not read {path}: {said}"

_PACKAGES = {"ntfsresize": "ntfs-3g", "ntfscat": "ntfs-3g", "e2fsck": "e2fsprogs", "resize2fs": "e2fsprogs",
             "dumpe2fs": "e2fsprogs", "btrfs": "btrfs-progs", "unshare": "util-linux", "mount": "util-linux"}


def static_refusal(path: str, fstype: str) -> str:
    """Why a partition of this type cannot shrink, whatever is inside it; "" when its tool must tell."""
    fixed = {"BitLocker": BITLOCKER, "xfs": XFS, "crypto_LUKS": LUKS, "LVM2_member": LVM,
             "linux_raid_member": RAID, "swap": SWAP}
    if fstype in fixed:
        return fixed[fstype].format(path=path)
    if not fstype:
        return NOTHING.format(path=path)
    if fstype not in SHRINKABLE:
        return UNKNOWN.format(path=path, what=fstype)
    return ""


def recorded(path: str, fstype: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """A Partition's min_size and shrink_refusal from a recorded machine's filesystem record:
    subiquity's ESTIMATED_MIN_SIZE (-1: unknown) and our SHRINK_REFUSAL (a live probe's
    verdict). A record without them still loads: the fixed refusals, or nothing known."""
    record = record or {}
    refusal = str(record.get("SHRINK_REFUSAL") or "") or static_refusal(path, fstype)
    try:
        size = int(record.get("ESTIMATED_MIN_SIZE", 0))
    except (TypeError, ValueError):
        size = 0
    return {"min_size": 0 if refusal else max(size, 0), "shrink_refusal": refusal}


def measure(path: str, fstype: str, mountpoint: str = "") -> tuple[int, str]:
    """(smallest size in bytes, "") or (0, why it cannot shrink), asked of the filesystem's own tool."""
    refusal = static_refusal(path, fstype)
    if refusal:
        return 0, refusal
    if mountpoint:
        return 0, MOUNTED.format(path=path, where=mountpoint)
    try:
        if fstype == "ntfs":
            return _ntfs(path)
        if fstype == "btrfs":
            return _btrfs(path)
        return _ext(path)
    except _Refusal as refused:
        return 0, str(refused)


class _Refusal(Exception):
    pass


def _run(argv: list[str], path: str, ok: tuple[int, ...] = (0,)) -> str:
    if shutil.which(argv[0]) is None:
        raise _Refusal(MISSING.format(tool=argv[0], package=_PACKAGES.get(argv[0], argv[0]), path=path))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _Refusal(FAILED.format(tool=argv[0], path=path, said=error)) from None
    output = done.stdout + done.stderr
    if done.returncode not in ok:
        raise _Refusal(FAILED.format(tool=argv[0], path=path, said=_said(output, done.returncode)))
    return output


def _said(output: str, code: int) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip() and "ntfsresize v" not in line]
    return "; ".join(lines[-3:]) or f"exit status {code}"


# -- NTFS --------------------------------------------------------------------------------


def hibernated(path: str) -> bool:
    """Whether hiberfil.sys on the NTFS at `path` is in use, by ntfs-3g's own rule (read-only)."""
    if shutil.which("ntfscat") is None:
        raise _Refusal(MISSING.format(tool="ntfscat", package="ntfs-3g", path=path))
    try:
        with subprocess.Popen(["ntfscat", "-f", path, "hiberfil.sys"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as cat:
            assert cat.stdout is not None and cat.stderr is not None
            header = cat.stdout.read(HIBERFILE_HEADER)
            if len(header) == HIBERFILE_HEADER:
                cat.kill()  # a hiberfil.sys is as large as the RAM: only its header counts
            error = cat.stderr.read().decode(errors="replace")
            cat.wait()
    except OSError as failed:
        raise _Refusal(FAILED.format(tool="ntfscat", path=path, said=failed)) from None
    if cat.returncode not in (0, -9) and not header:
        if "not found" in error.lower() or "no such file" in error.lower():
            return False  # no hiberfil.sys: hibernation was never on
        raise _Refusal(FAILED.format(tool="ntfscat", path=path, said=_said(error, cat.returncode)))
    return len(header) < HIBERFILE_HEADER or header[:4] in (b"hibr", b"HIBR")


# $LogFile's restart pages, as libntfs-3g's logfile.c reads them: NTFS_BLOCK_SIZE, the
# record magics (little-endian u32), LOGFILE_NO_CLIENT and RESTART_VOLUME_IS_CLEAN.
NTFS_BLOCK = 512
LOGFILE_MFT_RECORD = 2  # FILE_LogFile
EMPTY, RSTR, CHKD, RCRD = b"\xff\xff\xff\xff", b"RSTR", b"CHKD", b"RCRD"
LOGFILE_NO_CLIENT = 0xFFFF
RESTART_VOLUME_IS_CLEAN = 0x0002


def log_clean(log: bytes) -> bool:
    """Whether the start of a $LogFile says the volume was shut down cleanly, by libntfs-3g's
    rule (ntfs_check_logfile, then ntfs_is_logfile_clean), which ntfs-3g's read-write mount
    applies and ntfsresize does not (it empties the journal of a volume it resizes):
    look for restart pages at 0 and the powers of two from 512; an empty journal (all
    0xff) is clean; else the newer restart page decides: no client in use, or the
    volume-is-clean flag. A journal with no restart page is not clean."""
    found: list[tuple[int, int, int]] = []  # (lsn, client_in_use_list, flags)
    empty = True
    pos = 0
    while pos + NTFS_BLOCK <= len(log):
        block = log[pos:pos + NTFS_BLOCK]
        if block[:4] != EMPTY:
            empty = False
        elif not empty:
            break
        if block[:4] == RCRD:
            break
        if block[:4] in (RSTR, CHKD):
            ra = int.from_bytes(block[24:26], "little")  # restart_area_offset
            if ra + 16 <= NTFS_BLOCK - 2:  # the fields read lie before the sector's fixup word
                lsn = int.from_bytes(block[ra:ra + 8] if block[:4] == RSTR else block[8:16], "little", signed=True)
                found.append((lsn, int.from_bytes(block[ra + 12:ra + 14], "little"),
                              int.from_bytes(block[ra + 14:ra + 16], "little")))
                if len(found) == 2:
                    break
        pos = NTFS_BLOCK if pos == 0 else pos * 2
    if empty:
        return True
    if not found:
        return False
    _lsn, in_use, flags = max(found, key=lambda page: page[0])  # the first wins a tie, as there
    return in_use == LOGFILE_NO_CLIENT or bool(flags & RESTART_VOLUME_IS_CLEAN)


def journal_start(path: str, limit: int = 4 * MIB) -> bytes:
    """The first `limit` bytes of the NTFS journal ($LogFile, MFT record 2), read with ntfscat.
    Restart pages sit in the first two log pages (4 KiB each as Windows writes them)."""
    if shutil.which("ntfscat") is None:
        raise _Refusal(MISSING.format(tool="ntfscat", package="ntfs-3g", path=path))
    try:
        # -f: a volume marked for chkdsk is still read (that mark has a refusal of its own).
        with subprocess.Popen(["ntfscat", "-f", "-i", str(LOGFILE_MFT_RECORD), path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as cat:
            assert cat.stdout is not None and cat.stderr is not None
            data = cat.stdout.read(limit)
            if len(data) == limit:
                cat.kill()  # a journal is up to 64 MiB: only its start counts
            error = cat.stderr.read().decode(errors="replace")
            cat.wait()
    except OSError as failed:
        raise _Refusal(FAILED.format(tool="ntfscat", path=path, said=failed)) from None
    if cat.returncode not in (0, -9) or not data:
        raise _Refusal(FAILED.format(tool="ntfscat", path=path, said=_said(error, cat.returncode)))
    return data


def _ntfs(path: str) -> tuple[int, str]:
    if hibernated(path):
        return 0, HIBERNATED.format(path=path)
    if not log_clean(journal_start(path)):
        return 0, UNCLEAN_LOG.format(path=path)
    argv = ["ntfsresize", "--info", "--no-action", "--no-progress-bar", path]
    if shutil.which(argv[0]) is None:
        raise _Refusal(MISSING.format(tool=argv[0], package="ntfs-3g", path=path))
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    output = done.stdout + done.stderr
    if "scheduled for check" in output:  # ntfsresize's own refusal of a volume marked dirty
        return 0, MARKED_FOR_CHECK.format(path=path)
    found = re.search(r"You might resize at (\d+) bytes", output)
    if done.returncode != 0 or not found:
        return 0, FAILED.format(tool="ntfsresize", path=path, said=_said(output, done.returncode))
    return int(found.group(1)), ""


def ntfs_check(path: str) -> str:
    """ntfsresize's consistency check of a shrunk NTFS ("" when clean). --force: ntfsresize
    itself marks every volume it resized for a chkdsk at Windows' next start."""
    try:
        output = _run(["ntfsresize", "--info", "--force", "--no-action", "--no-progress-bar", path], path)
    except _Refusal as refused:
        return str(refused)
    return "" if "You might resize at" in output or "Space in use" in output else _said(output, 0)


# -- ext2/3/4 ----------------------------------------------------------------------------


def _ext(path: str) -> tuple[int, str]:
    # -n: open read-only and answer no to every question; any exit but 0 (4: errors left
    # uncorrected, 1: would have fixed something) means it is not clean as it stands
    try:
        _run(["e2fsck", "-n", path], path)
    except _Refusal as refused:
        if shutil.which("e2fsck") is None:
            raise
        return 0, NOT_CLEAN.format(path=path) + f" ({refused})"
    # -f: -P only estimates, and would otherwise want the e2fsck -f that the executor runs first
    blocks = re.search(r"minimum size of the filesystem: (\d+)", _run(["resize2fs", "-f", "-P", path], path))
    size = re.search(r"^Block size:\s+(\d+)", _run(["dumpe2fs", "-h", path], path), re.M)
    if not blocks or not size:
        return 0, FAILED.format(tool="resize2fs", path=path, said="no estimate in its output")
    return int(blocks.group(1)) * int(size.group(1)), ""


# -- btrfs -------------------------------------------------------------------------------


def btrfs_devices(path: str) -> tuple[int, int]:
    """(devid, number of devices) from the superblock, read without mounting."""
    output = _run(["btrfs", "inspect-internal", "dump-super", path], path)
    devid = re.search(r"^dev_item\.devid\s+(\d+)", output, re.M)
    count = re.search(r"^num_devices\s+(\d+)", output, re.M)
    if not devid or not count:
        raise _Refusal(FAILED.format(tool="btrfs", path=path, said="no device id in its superblock"))
    return int(devid.group(1)), int(count.group(1))


def in_private_mount(path: str, options: str, argv: list[str]) -> list[str]:
    """The command line that mounts btrfs `path` in a mount namespace of its own and runs
    `argv` with "$2" the mount point (the device and mount point are passed as arguments, never
    pasted into the script). The namespace, and with it the mount, ends with the command."""
    where = tempfile.mkdtemp(prefix="nixos-installer-btrfs-")
    script = f'mount -t btrfs -o {options} "$1" "$2"; {" ".join(argv)}; umount "$2"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", path, where]


def _btrfs(path: str) -> tuple[int, str]:
    devid, count = btrfs_devices(path)
    if count != 1:
        return 0, SEVERAL_DEVICES.format(path=path, count=count)
    # rescue=nologreplay: a read-only mount would otherwise still replay the log tree (a write)
    argv = in_private_mount(path, "ro,rescue=nologreplay",
                            ["btrfs", "inspect-internal", "min-dev-size", f"--id={devid}", '"$2"'])
    try:
        output = _run(argv, path)
    finally:
        os.rmdir(argv[-1])
    found = re.search(r"^(\d+) bytes", output, re.M)
    if not found:
        return 0, FAILED.format(tool="btrfs", path=path, said=_said(output, 0))
    return int(found.group(1)), ""


def first_mib_sha256(path: str) -> str:
    """sha256 of the first MiB of a partition: what an untouched partition keeps through the install."""
    with open(path, "rb") as device:
        return hashlib.sha256(device.read(MIB)).hexdigest()


# -- the probe's use -----------------------------------------------------------------------------


def fill(machine: Machine, record: dict[str, Any] | None = None, *, loops: bool = False) -> Machine:
    """The live probe's verdicts: min_size and shrink_refusal of every partition on an offered
    disk, measured (only those whose type could shrink and that are not mounted; the rest get
    their fixed refusal). With `record` (--record-machine), each goes into the partition's
    filesystem record as subiquity's ESTIMATED_MIN_SIZE (-1: unknown) and our SHRINK_REFUSAL,
    so the file replays them. Loop devices only with `loops`: they are test images, and
    measuring btrfs mounts it, which would claim an image another program is writing."""
    filesystems = ((record or {}).get("storage") or {}).get("filesystem")
    for disk in machine.disks:
        if disk.refused or (disk.kind == "loop" and not loops):
            continue
        for part in disk.partitions:
            part.min_size, part.shrink_refusal = measure(part.path, part.fstype, part.mountpoint)
            if isinstance(filesystems, dict) and isinstance(filesystems.get(part.path), dict):
                filesystems[part.path]["ESTIMATED_MIN_SIZE"] = part.min_size or -1
                filesystems[part.path]["SHRINK_REFUSAL"] = part.shrink_refusal
    return machine
