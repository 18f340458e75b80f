"""The confirmed disk is the one written: a different medium in the same slot is refused.

On real loop devices: the person confirms /dev/loopN backed by image A; the
loop device is detached and image B, of the very same size, attached at the
same /dev/loopN (what a re-attached loop device or a virtio disk without a
serial looks like: same path, no by-id link, same size). The disk phase must
then refuse with what changed and leave B's bytes as they were.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from installer.run.executor import Confirmation, ExecutionError, Refused, execute, undo
from installer.machine.hardware import Machine
from installer.plan.identity import Identity
from installer.machine.medium import changes, read_medium
from installer.answers.model import GIB, MIB, InstallModel
from installer.plan.erase import build_plan
from installer.plan.types import Plan, Step
from loopdev import ROOT_MARKS, disk_for, image_digest, mounts_under, release, run

pytestmark = ROOT_MARKS
SIZE = 12 * GIB


def sparse(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(SIZE)
    return path


@dataclasses.dataclass
class Slot:
    """One /dev/loopN whose image can be swapped for another."""

    device: str
    target: str
    lines: list[str]

    def plan(self) -> Plan:
        m = InstallModel()
        m.boot.firmware = "bios"
        m.disk.device = self.device
        m.disk.filesystem = "ext4"
        machine = Machine(firmware="bios", disks=[disk_for(self.device)])
        return build_plan(m, machine, Identity.generate(), target=self.target)

    def swap_in(self, image: Path) -> None:
        """Detach, and attach `image` at the same node at once."""
        run("losetup", "-d", self.device)
        done = subprocess.run(["losetup", "-P", self.device, str(image)], capture_output=True, text=True)
        if done.returncode != 0:  # another process took the free node in between
            pytest.skip(f"{self.device} was taken by another process between detach and attach: {done.stderr}")
        run("partx", "-u", self.device, check=False)

    def execute(self, plan: Plan, confirmation: Confirmation) -> None:
        execute(plan, target=self.target, secrets={}, confirmation=confirmation, log=self.lines.append)


@pytest.fixture
def slot(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    device = run("losetup", "-fP", "--show", str(sparse(tmp_path / "a.img"))).strip()
    try:
        yield Slot(device, str(target), [])
    finally:
        for where in mounts_under(str(target)):
            run("umount", where, check=False)
        release(device, str(target))


def gpt_with_ext4(device: str) -> None:
    run("sgdisk", "-n", "1:1M:+200M", "-n", "2:0:+200M", "-c", "2:data", device)
    run("partx", "-u", device, check=False)
    run("mkfs.ext4", "-q", "-F", f"{device}p2")


def prepare(tmp_path: Path, name: str, how) -> Path:
    """An image the same size as A, made by `how(device)` on a loop device of its own."""
    image = sparse(tmp_path / name)
    if how is not None:
        device = run("losetup", "-fP", "--show", str(image)).strip()
        try:
            how(device)
        finally:
            release(device)
    return image


def refused_and_untouched(slot: Slot, plan: Plan, confirmation: Confirmation, image: Path, *expected: str) -> str:
    before = image_digest(image)
    with pytest.raises(Refused) as excinfo:
        slot.execute(plan, confirmation)
    message = str(excinfo.value)
    assert message.startswith(f"refusing to write to {slot.device}: it is not the medium that was confirmed: ")
    assert message.endswith("nothing was written. Check which disk this is and confirm again")
    for words in expected:
        assert words in message
    assert slot.lines == []
    assert image_digest(image) == before
    return message


def test_another_image_with_its_own_table_at_the_same_node_is_refused(slot, tmp_path):
    gpt_with_ext4(slot.device)
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    b = prepare(tmp_path, "b.img", gpt_with_ext4)
    slot.swap_in(b)
    assert disk_for(slot.device).size == plan.disk.size  # path and size say nothing changed
    message = refused_and_untouched(slot, plan, confirmation, b, "the partition-table id (PTUUID, the GPT disk GUID) is",
                                    f"{slot.device}p2's filesystem UUID is", "the first MiB holds other bytes")
    assert f"{slot.device}p1's PARTUUID is" in message


def test_a_blank_image_in_place_of_a_partitioned_one_is_refused(slot, tmp_path):
    gpt_with_ext4(slot.device)
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    b = prepare(tmp_path, "b.img", None)
    slot.swap_in(b)
    refused_and_untouched(slot, plan, confirmation, b, "the partition table is none now, was gpt",
                          "the partitions are none now")


def test_a_clone_with_new_guids_is_refused(slot, tmp_path):
    """Same layout, same filesystem: only the ids differ (sgdisk -G, tune2fs -U)."""
    gpt_with_ext4(slot.device)
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    run("blockdev", "--flushbufs", slot.device)
    a = tmp_path / "a.img"
    b = tmp_path / "b.img"
    run("cp", "--sparse=always", str(a), str(b))
    clone = run("losetup", "-fP", "--show", str(b)).strip()
    try:
        run("sgdisk", "-G", clone)
        run("partx", "-u", clone, check=False)
        run("tune2fs", "-U", "random", f"{clone}p2")
    finally:
        release(clone)
    slot.swap_in(b)
    refused_and_untouched(slot, plan, confirmation, b, "(PTUUID, the GPT disk GUID)", "p1's PARTUUID",
                          "p2's filesystem UUID")


@pytest.mark.parametrize("where", ["first", "last"])
def test_blank_disks_are_told_apart_by_their_first_and_last_mib(slot, tmp_path, where):
    """No table, no filesystem, no serial: the same image file, re-attached with a few
    bytes written while it was detached (in the first or the last MiB)."""
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    assert confirmation.medium.ptuuid == "" and confirmation.medium.partitions == ()
    a = tmp_path / "a.img"
    with open(a, "r+b") as f:  # while it is attached: only the bytes change, not the file
        f.seek(4096 if where == "first" else SIZE - 4096)
        f.write(b"somebody's data")
    slot.swap_in(a)
    message = refused_and_untouched(slot, plan, confirmation, a, f"the {where} MiB holds other bytes")
    assert "PTUUID" not in message and "backing file" not in message


def test_the_same_medium_re_attached_is_written(slot, tmp_path):
    """The control: the very image back at the same node (same bytes, same file) is the medium confirmed."""
    gpt_with_ext4(slot.device)
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    slot.swap_in(tmp_path / "a.img")
    assert changes(confirmation.medium, read_medium(slot.device)) == []
    slot.execute(plan, confirmation)
    try:
        assert "partitioning, formatting and mounting done" in slot.lines
    finally:
        undo(plan, log=lambda _line: None)


def test_another_backing_file_with_the_same_bytes_is_refused(slot, tmp_path):
    """Blank A, blank B: the bytes agree, the loop device says which file it reads."""
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    b = prepare(tmp_path, "b.img", None)
    slot.swap_in(b)
    refused_and_untouched(slot, plan, confirmation, b, "the loop device's backing file is")


def test_a_retry_with_the_same_confirmation_goes_on_from_what_the_failed_run_left(slot):
    """The wizard's Retry after a failed disk phase keeps its token: the medium the
    executor itself changed is the one it continues with."""
    plan = slot.plan()
    confirmation = Confirmation.for_plan(plan)
    bad = Step("mkfs", "Format a partition that does not exist", ("mkfs.ext4", "-F", f"{slot.device}p9"))
    with pytest.raises(ExecutionError):
        slot.execute(dataclasses.replace(plan, steps=[*plan.steps, bad]), confirmation)
    slot.lines.clear()
    slot.execute(plan, confirmation)
    try:
        assert "partitioning, formatting and mounting done" in slot.lines
    finally:
        undo(plan, log=lambda _line: None)


def test_a_confirmation_without_a_record_of_the_medium_is_refused(slot):
    plan = slot.plan()
    with pytest.raises(Refused, match="holds no record of the medium"):
        slot.execute(plan, Confirmation.for_plan(plan, read=False))
    assert slot.lines == []


def test_serial_and_wwn_count_where_the_hardware_has_them(tmp_path):
    """A virtio disk's serial and a SCSI disk's WWN (sysfs), on a stand-in sysfs tree
    over a real loop device: a changed serial alone is a different medium."""
    device = run("losetup", "-fP", "--show", str(sparse(tmp_path / "a.img"))).strip()
    try:
        name = os.path.basename(device)
        block = tmp_path / "class/block" / name
        (block / "device").mkdir(parents=True)
        (block / "dev").write_text(Path(f"/sys/class/block/{name}/dev").read_text())
        (block / "device/serial").write_text("SERIAL-ONE\n")
        (block / "wwid").write_text("naa.5000c500a1b2c3d4\n")
        then = read_medium(device, sys_root=str(tmp_path))
        assert (then.serial, then.wwn) == ("SERIAL-ONE", "naa.5000c500a1b2c3d4")
        (block / "device/serial").write_text("SERIAL-TWO\n")
        assert changes(then, read_medium(device, sys_root=str(tmp_path))) == [
            "the serial number is SERIAL-TWO now, was SERIAL-ONE"]
    finally:
        release(device)
