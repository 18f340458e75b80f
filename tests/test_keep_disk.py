"""Keeping what is on a disk (issue 18), on real loop devices with filesystems made by the
real tools: shrinking NTFS (mkntfs, files written through ntfs-3g's FUSE mount), ext4 and
btrfs, then a new partition in the space freed, through the executor with a plan built
here by hand; the refusals (hibernated Windows, BitLocker, XFS, an unsafe order) before
any byte changes; deleting and adding entries on GPT and MBR (a logical one too) with the
other partitions' first MiB unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from installer.answers.model import InstallModel
from installer.machine import shrinkable
from installer.machine.hardware import Machine, Partition
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.plan.types import Action, Plan, Step
from installer.run import keep, shrink
from installer.run.executor import Confirmation, ExecutionError, Refused, execute
from loopdev import MIB, ROOT_MARKS, appeared, blkid, mounts_under, disk_for, image_digest, loop_device, run, sgdisk_info

pytestmark = [*ROOT_MARKS, pytest.mark.skipif(shutil.which("mkntfs") is None, reason="needs ntfs-3g (mkntfs)")]

SECTOR = 512
DISK = 1024 * MIB
P1_START = 2048  # sectors
P1_SIZE = 700 * MIB
LINUX = "0fc63daf-8483-4772-8e79-3d69d8477de4"


def sectors(size: int) -> int:
    return size // SECTOR


def gpt_disk(device: str, *sizes: int) -> list[str]:
    """A GPT with partitions of these sizes, back to back from 1 MiB; their nodes."""
    argv = ["sgdisk", "-o"]
    start = P1_START
    for number, size in enumerate(sizes, 1):
        argv += [f"-n{number}:{start}:{start + sectors(size) - 1}", f"-t{number}:8300"]
        start += sectors(size)
    run(*argv, device)
    return appeared(device, [keep.node(device, n) for n in range(1, len(sizes) + 1)])


def plan_for(device: str, target: str, steps: list[Step], table: str = "gpt") -> Plan:
    return Plan(layout="alongside", firmware="uefi", loader="systemd-boot", identity=Identity.generate(None),
                disk=disk_for(device, table=table), steps=steps, target=target)


def execute_plan(plan: Plan, lines: list[str]) -> None:
    execute(plan, target=plan.target, secrets={}, confirmation=Confirmation.for_plan(plan), log=lines.append)


def fill(where: Path) -> dict[str, str]:
    """A few files of random bytes, some in a folder; their sha256 by relative path."""
    (where / "Users" / "alice").mkdir(parents=True)
    sums = {}
    for i, size in enumerate((3 * MIB, 200 * 1024, 17, 9 * MIB)):
        data = os.urandom(size)
        name = f"Users/alice/file{i}.bin" if i % 2 else f"top{i}.dat"
        (where / name).write_bytes(data)
        sums[name] = hashlib.sha256(data).hexdigest()
    return sums


def sums_of(where: Path, names: list[str]) -> dict[str, str]:
    return {name: hashlib.sha256((where / name).read_bytes()).hexdigest() for name in names}


def mounted(node: str, where: Path, fstype: str, ro: bool = False) -> None:
    """NTFS through ntfs-3g's FUSE mount (as Windows' files get written and read back), the rest by the kernel."""
    where.mkdir(exist_ok=True)
    if fstype == "ntfs":
        run("ntfs-3g", *(["-o", "ro"] if ro else []), node, str(where))
    else:
        run("mount", "-t", fstype, *(["-o", "ro"] if ro else []), node, str(where))


def unmount(where: Path) -> None:
    """Unmounted, and the device let go: ntfs-3g's FUSE daemon closes it only after umount returns."""
    source = next((line.split(" - ")[1].split()[1] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if line.split()[4] == str(where)), "")
    run("umount", str(where))
    deadline = time.monotonic() + 20
    while source.startswith("/dev/"):
        try:
            os.close(os.open(source, os.O_RDONLY | os.O_EXCL))
            return
        except OSError:
            assert time.monotonic() < deadline, f"{source} still busy after umount {where}"
            time.sleep(0.1)


def make_fs(fstype: str, node: str) -> None:
    mkfs = {"ntfs": ["mkntfs", "-Q", "-F", "-L", "Windows"], "ext4": ["mkfs.ext4", "-q", "-F"],
            "btrfs": ["mkfs.btrfs", "-q", "-f"], "xfs": ["mkfs.xfs", "-q", "-f"]}[fstype]
    run(*mkfs, node)


def shrink_steps(device: str, node: str, fstype: str, new_size: int) -> list[Step]:
    new_end = P1_START + sectors(new_size) - 1
    add_start = new_end + 1
    add_end = sectors(DISK) - 2048 - 1
    new = keep.node(device, 2)
    return [
        Step(Action.SHRINK_FS, f"shrink {fstype} on {node}", call={"device": node, "fstype": fstype, "new_size": new_size}),
        Step(Action.RESIZE_PART, f"move the end of {node}", call={"device": device, "number": 1, "start_sector": P1_START,
                                                               "new_end_sector": new_end, "sector_size": SECTOR}),
        Step(Action.ADD_PARTS, "add NixOS's partition", call={
            "device": device, "table": "gpt", "sector_size": SECTOR,
            "partitions": [{"number": 2, "name": "nixos", "start": add_start, "end": add_end, "type_guid": LINUX,
                            "logical": False}]}),
        Step(Action.WAIT, "wait for the new partition", call={"device": device, "nodes": [new]}),
        Step(Action.MKFS, "format NixOS's partition", argv=("mkfs.ext4", "-q", "-F", "-L", "nixos", new)),
        Step(Action.CHECK_KEPT, "check what was kept", call={"partitions": [{"path": node, "fstype": fstype, "shrunk": True}]}),
    ]


@pytest.mark.parametrize("fstype", ["ntfs", "ext4", "btrfs"])
def test_shrink_keeps_every_file_and_frees_room(tmp_path, fstype):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=DISK) as (device, image):
        (node,) = gpt_disk(device, P1_SIZE)
        make_fs(fstype, node)
        where = tmp_path / "mnt"
        mounted(node, where, fstype)
        sums = fill(where)
        unmount(where)
        minimum, refusal = shrinkable.measure(node, fstype)
        assert refusal == "" and 0 < minimum < 300 * MIB, (minimum, refusal)
        new_size = 360 * MIB
        lines: list[str] = []
        execute_plan(plan_for(device, str(target), shrink_steps(device, node, fstype, new_size)), lines)
        log = "\n".join(lines)
        assert "check what was kept" in log
        # the entry ends where planned and the filesystem fits inside it
        info = sgdisk_info(device, 1)
        assert int(info["First sector"].split()[0]) == P1_START
        assert int(info["Last sector"].split()[0]) == P1_START + sectors(new_size) - 1
        assert shrink.filesystem_size(node, fstype) <= new_size
        assert blkid(keep.node(device, 2))["TYPE"] == "ext4"
        assert sgdisk_info(device, 2)["Partition GUID code"].split()[0] == LINUX.upper()
        if fstype == "ntfs":
            assert shrinkable.ntfs_check(node) == ""
            # ntfsresize marks what it resized for chkdsk at Windows' next start: until then it is refused
            assert shrinkable.measure(node, "ntfs") == (0, shrinkable.MARKED_FOR_CHECK.format(path=node))
        mounted(node, where, fstype, ro=True)
        try:
            assert sums_of(where, list(sums)) == sums
        finally:
            unmount(where)


def hibernate(node: str, where: Path) -> None:
    """hiberfil.sys whose header says Windows is hibernated ("hibr", as ntfs-3g checks it)."""
    mounted(node, where, "ntfs")
    (where / "hiberfil.sys").write_bytes(b"hibr" + bytes(64 * 1024 - 4))
    unmount(where)


def bitlocker(node: str) -> None:
    """BitLocker's on-disk signature: "-FVE-FS-" in the boot sector, three FVE metadata
    offsets at byte 176, and an FVE metadata block (version 2) at each (what blkid reads)."""
    boot = bytearray(512)
    boot[0:3], boot[3:11] = b"\xeb\x58\x90", b"-FVE-FS-"
    struct.pack_into("<HB", boot, 11, 512, 8)
    offsets = (MIB, 2 * MIB, 3 * MIB)
    struct.pack_into("<QQQ", boot, 176, *offsets)
    boot[510:512] = b"\x55\xaa"
    with open(node, "r+b") as f:
        f.write(boot)
        for offset in offsets:
            f.seek(offset)
            f.write(b"-FVE-FS-" + struct.pack("<HH", 0, 2))


def restart_page(lsn: int, in_use: int, flags: int, log_size: int) -> bytes:
    """A $LogFile restart page as Windows writes one (libntfs-3g layout.h: RESTART_PAGE_HEADER,
    RESTART_AREA, one LOG_CLIENT_RECORD named "NTFS"; 4 KiB pages, update sequence array
    applied). in_use 0 with flags 0: a client still had the journal open, unclean."""
    page = bytearray(4096)
    usa_ofs, usa_count, ra, ca = 0x1E, 1 + 4096 // 512, 0x30, 0x60
    page[0:4] = b"RSTR"
    struct.pack_into("<HHqIIHhh", page, 4, usa_ofs, usa_count, 0, 4096, 4096, ra, 1, 1)
    # seq_number_bits = 67 - the file size's bit count; restart_area_length = ca + one client record
    struct.pack_into("<qHHHHIHHqIHHII", page, ra, lsn, 1, 0xFFFF, in_use, flags, 67 - log_size.bit_length(),
                     ca - ra + 0xA0, ca - ra, log_size, 0, 0x30, 0x40, 1, 0)
    struct.pack_into("<qqHHHxxxxxxI", page, ca, lsn, lsn, 0xFFFF, 0xFFFF, 1, 8)
    page[ca + 32:ca + 40] = "NTFS".encode("utf-16-le")
    struct.pack_into("<H", page, usa_ofs, 1)  # the update sequence number; each sector's last word moves to the array
    for i in range(8):
        end = (i + 1) * 512 - 2
        page[usa_ofs + 2 + 2 * i:usa_ofs + 4 + 2 * i] = page[end:end + 2]
        struct.pack_into("<H", page, end, 1)
    return bytes(page)


def write_journal(node: str, in_use: int, flags: int) -> None:
    """Both restart pages written over the start of the $LogFile (MFT record 2) that mkntfs left
    empty, where ntfsinfo says its data lies (the cluster size from the boot sector)."""
    info = run("ntfsinfo", "-i", "2", "-v", node)
    lcn = int(next(line.split()[1] for line in info.splitlines() if line.split()[:1] == ["0x0"]
                   and len(line.split()) == 3), 16)
    log_size = int([line.split()[2] for line in info.splitlines() if "Data size:" in line][-1])
    with open(node, "r+b") as f:
        boot = f.read(512)
        f.seek(lcn * struct.unpack_from("<H", boot, 11)[0] * boot[13])
        f.write(restart_page(100, in_use, flags, log_size) + restart_page(90, in_use, flags, log_size))


@pytest.mark.parametrize("in_use, flags, clean", [(0, 0, False), (0, 2, True), (0xFFFF, 0, True)])
def test_the_journal_is_judged_as_libntfs_3g_judges_it(tmp_path, in_use, flags, clean):
    """The same restart pages, judged by ntfs-3g's own read-write mount (on a copy: it then
    empties the journal) and by shrinkable: "unclean file system" exactly where refused."""
    image = tmp_path / "ntfs.img"
    with open(image, "wb") as f:
        f.truncate(256 * MIB)
    run("mkntfs", "-Q", "-F", "-q", str(image))
    assert shrinkable.log_clean(shrinkable.journal_start(str(image)))  # mkntfs leaves it empty
    write_journal(str(image), in_use, flags)
    before = image_digest(image)
    minimum, refusal = shrinkable.measure(str(image), "ntfs")
    assert (minimum == 0, refusal == shrinkable.UNCLEAN_LOG.format(path=image)) == (not clean, not clean)
    assert image_digest(image) == before
    copy = tmp_path / "copy.img"
    shutil.copyfile(image, copy)
    where = tmp_path / "mnt"
    where.mkdir()
    done = subprocess.run(["ntfs-3g", str(copy), str(where)], capture_output=True, text=True)
    if os.path.ismount(where):
        unmount(where)
    said = done.stdout + done.stderr
    assert ("The disk contains an unclean file system (0, 0)." in said) == (not clean), said


@pytest.mark.parametrize("case", ["hibernated", "unclean-journal", "bitlocker", "xfs"])
def test_refused_before_any_byte_changes(tmp_path, case):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=DISK) as (device, image):
        (node,) = gpt_disk(device, P1_SIZE)
        make_fs("xfs" if case == "xfs" else "ntfs", node)
        if case == "hibernated":
            hibernate(node, tmp_path / "mnt")
        elif case == "unclean-journal":
            write_journal(node, 0, 0)
        elif case == "bitlocker":
            bitlocker(node)
        run("sync")
        fstype = blkid(node)["TYPE"]
        assert fstype == {"hibernated": "ntfs", "unclean-journal": "ntfs", "bitlocker": "BitLocker", "xfs": "xfs"}[case]
        before = image_digest(image)
        minimum, refusal = shrinkable.measure(node, fstype)
        expected = {"hibernated": shrinkable.HIBERNATED, "unclean-journal": shrinkable.UNCLEAN_LOG,
                    "bitlocker": shrinkable.BITLOCKER, "xfs": shrinkable.XFS}[case]
        assert (minimum, refusal) == (0, expected.format(path=node))
        planned = "xfs" if case == "xfs" else "ntfs"  # what the plan thought it was
        lines: list[str] = []
        with pytest.raises(Refused) as refused:
            execute_plan(plan_for(device, str(target), shrink_steps(device, node, planned, 360 * MIB)), lines)
        assert expected.format(path=node) in str(refused.value)
        assert "nothing was written" in str(refused.value)
        # and the step itself asks again right before it writes
        step = shrink_steps(device, node, planned, 360 * MIB)[0]
        with pytest.raises(keep.KeepError, match="not shrinking") as failed:
            keep.run(step, {})
        assert expected.format(path=node) in str(failed.value)
        run("sync")
        assert image_digest(image) == before


def test_a_partition_is_never_cut_before_its_filesystem(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=DISK) as (device, image):
        (node,) = gpt_disk(device, P1_SIZE)
        make_fs("ext4", node)
        steps = shrink_steps(device, node, "ext4", 360 * MIB)
        steps[0], steps[1] = steps[1], steps[0]  # the entry first: the other way round
        before = image_digest(image)
        with pytest.raises(Refused, match="before its filesystem was shrunk"):
            execute_plan(plan_for(device, str(target), steps), [])
        assert image_digest(image) == before


def test_order_problem_names_each_unsafe_order():
    dev, node = "/dev/sda", "/dev/sda3"
    shrink_step = Step(Action.SHRINK_FS, "s", call={"device": node, "fstype": "ntfs", "new_size": 100 * MIB})
    resize = Step(Action.RESIZE_PART, "r", call={"device": dev, "number": 3, "start_sector": 2048,
                                                 "new_end_sector": 2048 + sectors(100 * MIB) - 1, "sector_size": 512})
    too_small = Step(Action.RESIZE_PART, "r", call={**resize.call, "new_end_sector": 2048 + sectors(50 * MIB) - 1})
    add = Step(Action.ADD_PARTS, "a", call={"device": dev, "table": "gpt", "sector_size": 512, "partitions": []})
    assert keep.order_problem([shrink_step, resize, add]) == ""
    assert "before its filesystem was shrunk" in keep.order_problem([resize, shrink_step])
    assert "after its partition entry" in keep.order_problem([shrink_step, resize, shrink_step])
    assert "smaller than the 100 MiB" in keep.order_problem([shrink_step, too_small])
    assert "after new partitions were added" in keep.order_problem([shrink_step, add, resize])
    assert keep.node("/dev/nvme0n1", 3) == "/dev/nvme0n1p3" and keep.node("/dev/sda", 3) == "/dev/sda3"


def first_mib(node: str) -> str:
    return shrinkable.first_mib_sha256(node)


def test_delete_and_add_on_gpt_keep_the_others(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=DISK) as (device, image):
        nodes = gpt_disk(device, 200 * MIB, 300 * MIB, 200 * MIB)
        for n in (nodes[0], nodes[2]):
            make_fs("ext4", n)
        make_fs("btrfs", nodes[1])
        kept = {n: first_mib(n) for n in (nodes[0], nodes[2])}
        p2_start = P1_START + sectors(200 * MIB)
        p2_end = p2_start + sectors(300 * MIB) - 1
        steps = [
            Step(Action.DELETE_PART, "delete partition 2", call={"device": device, "number": 2,
                                                                 "start_sector": p2_start, "end_sector": p2_end}),
            Step(Action.ADD_PARTS, "add two", call={"device": device, "table": "gpt", "sector_size": SECTOR, "partitions": [
                {"number": 2, "name": "boot", "start": p2_start, "end": p2_start + sectors(100 * MIB) - 1,
                 "type_guid": "bc13c2ff-59e6-4262-a352-b275fd6f7172", "logical": False},
                {"number": 4, "name": "nixos", "start": p2_start + sectors(100 * MIB), "end": p2_end,
                 "type_guid": LINUX, "logical": False}]}),
            Step(Action.WAIT, "wait", call={"device": device, "nodes": [keep.node(device, 2), keep.node(device, 4)]}),
            # as the plan leaves them: no hashes (it reads no disk); the confirmation takes them
            Step(Action.CHECK_KEPT, "check", call={"partitions": [
                {"path": n, "fstype": "ext4", "shrunk": False, "first_mib_sha256": ""} for n in kept]}),
        ]
        plan = plan_for(device, str(target), steps)
        confirmation = Confirmation.for_plan(plan)
        assert confirmation.kept == kept
        lines: list[str] = []
        execute(plan, target=plan.target, secrets={}, confirmation=confirmation, log=lines.append)
        assert f"{nodes[0]}: first MiB unchanged" in "\n".join(lines)
        assert {n: first_mib(n) for n in kept} == kept
        assert sgdisk_info(device, 2)["Partition GUID code"].split()[0] == "BC13C2FF-59E6-4262-A352-B275FD6F7172"
        assert sgdisk_info(device, 2)["Partition name"] == "'boot'"
        assert int(sgdisk_info(device, 4)["Last sector"].split()[0]) == p2_end
        # a kept partition written to between the confirmation and the check is caught
        check = [Step(Action.CHECK_KEPT, "check", call={"partitions": [
            {"path": nodes[0], "fstype": "ext4", "shrunk": False, "first_mib_sha256": ""}]})]
        plan = plan_for(device, str(target), check)
        confirmation = Confirmation.for_plan(plan)
        with open(nodes[0], "r+b") as f:
            f.seek(900 * 1024)
            f.write(b"changed behind the installer's back")
        with pytest.raises(ExecutionError, match=f"the first MiB of {nodes[0]} changed"):
            execute(plan, target=plan.target, secrets={}, confirmation=confirmation, log=[].append)


def test_delete_and_add_a_logical_partition_on_mbr(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=DISK) as (device, image):
        # p1 primary 200 MiB, p2 extended over the rest, p5 and p6 logical (sfdisk leaves 1 MiB before each)
        script = "label: dos\n,200M,83\n,,5\n,200M,83\n,300M,83\n"
        run("sfdisk", "-q", device, input=script)
        p1, p5, p6 = appeared(device, [keep.node(device, n) for n in (1, 5, 6)])
        for n in (p1, p5):
            make_fs("ext4", n)
        make_fs("ext4", p6)
        kept = {n: first_mib(n) for n in (p1, p5)}
        table = {int(line.split()[0].rsplit("p", 1)[1].lstrip("art")): line.split()
                 for line in run("sfdisk", "-d", device).splitlines() if line.startswith("/dev/")}
        start6 = int(table[6][3].rstrip(","))
        size6 = int(table[6][5].rstrip(","))
        steps = [
            Step(Action.DELETE_PART, "delete partition 6", call={"device": device, "number": 6, "start_sector": start6,
                                                                 "end_sector": start6 + size6 - 1}),
            Step(Action.ADD_PARTS, "add a logical one", call={"device": device, "table": "msdos", "sector_size": SECTOR,
                 "partitions": [{"number": 6, "name": "", "start": start6, "end": start6 + size6 - 1, "type_id": "0x83",
                                 "logical": True}]}),
            Step(Action.WAIT, "wait", call={"device": device, "nodes": [p6]}),
            Step(Action.MKFS, "format it", argv=("mkfs.ext4", "-q", "-F", "-L", "nixos", p6)),
            Step(Action.CHECK_KEPT, "check", call={"partitions": [
                {"path": n, "fstype": "ext4", "shrunk": False, "first_mib_sha256": h} for n, h in kept.items()]}),
        ]
        execute_plan(plan_for(device, str(target), steps, table="dos"), [])
        assert {n: first_mib(n) for n in kept} == kept
        assert blkid(p6)["LABEL"] == "nixos"
        assert blkid(p6)["PART_ENTRY_TYPE"] == "0x83"


def probed(device: str, firmware: str = "uefi") -> Machine:
    """The Machine the probe would give for the loop device, with each partition's start and
    what shrinkable measures (the live probe leaves loop devices unmeasured)."""
    disk = disk_for(device, table="gpt")
    for number in range(1, 9):
        node = keep.node(device, number)
        if not os.path.exists(node):
            continue
        info, tags = sgdisk_info(device, number), blkid(node)
        first, last = (int(info[k].split()[0]) for k in ("First sector", "Last sector"))
        disk.partitions.append(Partition(
            path=node, number=number, start=first * SECTOR, size=(last - first + 1) * SECTOR,
            type_guid=info["Partition GUID code"].split()[0].lower(), fstype=tags.get("TYPE", ""),
            uuid=tags.get("UUID", ""), partuuid=tags.get("PART_ENTRY_UUID", ""), label=tags.get("LABEL", "")))
    return shrinkable.fill(Machine(firmware=firmware, disks=[disk]), loops=True)


def test_the_alongside_plan_shrinks_windows_and_installs_beside_it(tmp_path):
    """installer.plan.keep's own plan, run by the executor: a disk laid out like Windows'
    (a 100 MiB ESP holding EFI/Microsoft, an MSR, NTFS with files)."""
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=24 * 1024 * MIB, target=str(target)) as (device, image):
        run("sgdisk", "-n1:2048:+100M", "-t1:ef00", "-n2:0:+16M", "-t2:0c01", "-n3:0:0", "-t3:0700", device)
        esp, _msr, win = appeared(device, [keep.node(device, n) for n in (1, 2, 3)])
        run("mkfs.fat", "-F", "32", "-n", "SYSTEM", esp)
        run("mmd", "-i", esp, "::EFI", "::EFI/Microsoft", "::EFI/Microsoft/Boot")
        (tmp_path / "bootmgfw.efi").write_bytes(os.urandom(64 * 1024))
        run("mcopy", "-i", esp, str(tmp_path / "bootmgfw.efi"), "::EFI/Microsoft/Boot/bootmgfw.efi")
        make_fs("ntfs", win)
        where = tmp_path / "mnt"
        mounted(win, where, "ntfs")
        sums = fill(where)
        unmount(where)
        esp_before = first_mib(esp)
        machine = probed(device)
        assert machine.disks[0].partitions[2].min_size > 0
        model = InstallModel()
        model.boot.firmware = "uefi"
        model.disk.device, model.disk.layout, model.disk.shrink, model.disk.shrink_to_gib = device, "alongside", win, 4
        plan = build_plan(model, machine, Identity.generate(None), target=str(target))
        actions = [s.action for s in plan.steps]
        assert actions.index(Action.SHRINK_FS) < actions.index(Action.RESIZE_PART) < actions.index(Action.ADD_PARTS)
        # this kernel may lack vfat: the ESP's and XBOOTLDR's mounts are left out then (they are not kept partitions)
        if "vfat" not in Path("/proc/filesystems").read_text():
            plan = dataclasses.replace(plan, steps=[s for s in plan.steps if not (s.action is Action.MOUNT
                                                                                  and "vfat" in s.argv)])
        lines: list[str] = []
        try:
            execute_plan(plan, lines)
        finally:
            for where_ in reversed(mounts_under(str(target))):
                run("umount", where_, check=False)
        log = "\n".join(lines)
        assert f"{esp}: first MiB unchanged" in log
        assert first_mib(esp) == esp_before
        assert run("mdir", "-i", esp, "-b", "::EFI/Microsoft/Boot").split() == ["::/EFI/Microsoft/Boot/bootmgfw.efi"]
        assert shrinkable.ntfs_check(win) == ""
        assert int(sgdisk_info(device, 3)["Last sector"].split()[0]) + 1 == (machine.disks[0].partitions[2].start
                                                                            + 4 * 1024 * MIB) // SECTOR
        mounted(win, where, "ntfs", ro=True)
        try:
            assert sums_of(where, list(sums)) == sums
        finally:
            unmount(where)
        types = {blkid(p.path).get("TYPE") for p in plan.partitions}
        assert "ext4" in types
