"""The disk identity re-check without root: `changes()` on constructed records, and
`same_medium()` / `execute()` reading an image file through a stand-in sysfs tree.

tests/test_medium.py swaps real loop devices (root). These run as any user, so a
re-check that always says "same" (or ignores one of the things that identify a
medium) fails `make test-fast` and a non-root run too.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from installer.answers.model import GIB, MIB, InstallModel
from installer.machine.hardware import Disk, Machine
from installer.machine.medium import Medium, changes, read_medium
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.run.executor import Confirmation, Refused, execute, same_medium
from loopdev import image_digest

CONFIRMED = Medium(
    path="/dev/vda", ptuuid="8f2c6b1e-0d3a-4c55-9a1b-2e7f4d6c8a90", pttype="gpt",
    partitions=(("/dev/vda1", "0a1b2c3d-0001-4e5f-8a9b-000000000001", "B1C2-D3E4"),
                ("/dev/vda2", "0a1b2c3d-0002-4e5f-8a9b-000000000002", "5e6f7a8b-1111-4222-8333-944455556666")),
    fs_uuid="", serial="VIRTIO-SERIAL-1", wwn="naa.5000c500a1b2c3d4",
    backing="/images/a.img (device 2049, inode 131)", head="a" * 64, tail="b" * 64,
)

# One change per thing that identifies a medium, and the words the re-check must say.
ONE_CHANGE = {
    "ptuuid": ("1d2e3f40-5566-4778-899a-abbccddeeff0",
               "the partition-table id (PTUUID, the GPT disk GUID) is 1d2e3f40-5566-4778-899a-abbccddeeff0 now, "
               "was 8f2c6b1e-0d3a-4c55-9a1b-2e7f4d6c8a90"),
    "pttype": ("dos", "the partition table is dos now, was gpt"),
    "fs_uuid": ("ext4", "the filesystem on the whole disk is ext4 now, was none"),
    "serial": ("VIRTIO-SERIAL-2", "the serial number is VIRTIO-SERIAL-2 now, was VIRTIO-SERIAL-1"),
    "wwn": ("", "the WWN is none now, was naa.5000c500a1b2c3d4"),
    "backing": ("/images/b.img (device 2049, inode 132)",
                "the loop device's backing file is /images/b.img (device 2049, inode 132) now, "
                "was /images/a.img (device 2049, inode 131)"),
    "head": ("c" * 64, "the first MiB holds other bytes"),
    "tail": ("d" * 64, "the last MiB holds other bytes"),
    "partitions": (CONFIRMED.partitions[:1], "the partitions are /dev/vda1 now, were /dev/vda1, /dev/vda2"),
}


def test_every_field_but_the_path_is_checked():
    assert set(ONE_CHANGE) == {f.name for f in dataclasses.fields(Medium)} - {"path"}


def test_the_same_record_has_no_changes():
    assert changes(CONFIRMED, dataclasses.replace(CONFIRMED)) == []


@pytest.mark.parametrize("field", sorted(ONE_CHANGE))
def test_one_changed_field_is_named(field):
    value, words = ONE_CHANGE[field]
    assert changes(CONFIRMED, dataclasses.replace(CONFIRMED, **{field: value})) == [words]


@pytest.mark.parametrize("which, words", [(1, "/dev/vda2's PARTUUID is 0a1b2c3d-0002-4e5f-8a9b-0000000000ff now, "
                                              "was 0a1b2c3d-0002-4e5f-8a9b-000000000002"),
                                          (2, "/dev/vda2's filesystem UUID is 0a1b2c3d-0002-4e5f-8a9b-0000000000ff "
                                              "now, was 5e6f7a8b-1111-4222-8333-944455556666")])
def test_a_partitions_new_id_is_named(which, words):
    node = list(CONFIRMED.partitions[1])
    node[which] = "0a1b2c3d-0002-4e5f-8a9b-0000000000ff"
    now = dataclasses.replace(CONFIRMED, partitions=(CONFIRMED.partitions[0], tuple(node)))
    assert changes(CONFIRMED, now) == [words]


def test_a_blank_disk_in_place_of_a_partitioned_one_names_everything_that_went():
    blank = Medium(path="/dev/vda", head="0" * 64, tail="0" * 64, serial=CONFIRMED.serial, wwn=CONFIRMED.wwn,
                   backing=CONFIRMED.backing)
    said = changes(CONFIRMED, blank)
    assert "the partition table is none now, was gpt" in said
    assert "the partitions are none now, were /dev/vda1, /dev/vda2" in said
    assert len(said) == 5  # table, PTUUID, partitions, first MiB, last MiB


# -- same_medium() and execute() on an image file, sysfs stood in by a tmp tree ---------

SIZE = 12 * GIB


@dataclasses.dataclass
class StandIn:
    """An image file read as a disk (blkid and the byte hashes read files as they read
    devices) with its sysfs directory in a tmp tree: serial, backing file, partitions."""

    image: Path
    sys_root: Path

    @property
    def block(self) -> Path:
        return self.sys_root / "class/block" / self.image.name

    def medium(self) -> Medium:
        return read_medium(str(self.image), sys_root=str(self.sys_root))

    def recheck(self, confirmed: Medium | None) -> str:
        return same_medium(str(self.image), confirmed, sys_root=str(self.sys_root))

    def write(self, offset: int, data: bytes) -> None:
        with open(self.image, "r+b") as f:
            f.seek(offset)
            f.write(data)


@pytest.fixture
def standin(tmp_path):
    # Not a /dev name: partition nodes the plan would name (/dev/standin-diskp1) cannot exist.
    image = tmp_path / "standin-disk"
    with open(image, "wb") as f:
        f.truncate(SIZE)
    made = StandIn(image, tmp_path / "sys")
    (made.block / "device").mkdir(parents=True)
    (made.block / "loop").mkdir()
    (made.block / "dev").write_text("259:4095\n")  # no udev data under /run/udev for it
    (made.block / "device/serial").write_text("SERIAL-ONE\n")
    (made.block / "loop/backing_file").write_text(f"{tmp_path / 'a.img'}\n")
    (tmp_path / "a.img").write_bytes(b"")
    (tmp_path / "b.img").write_bytes(b"")
    return made


def test_the_same_image_read_twice_is_the_same_medium(standin):
    then = standin.medium()
    assert then.serial == "SERIAL-ONE" and then.backing.startswith(str(standin.sys_root.parent / "a.img"))
    assert then.head and then.tail and then.head == then.tail  # a blank image: zeros at both ends
    assert standin.recheck(then) == ""


@pytest.mark.parametrize("offset, words", [(4096, "the first MiB holds other bytes"),
                                           (SIZE - 4096, "the last MiB holds other bytes")])
def test_a_blank_image_with_other_bytes_at_either_end_is_another_medium(standin, offset, words):
    then = standin.medium()
    standin.write(offset, b"\x01")
    assert standin.recheck(then) == f"it is not the medium that was confirmed: {words}"


def test_a_partition_table_written_since_is_another_medium(standin):
    then = standin.medium()
    subprocess.run(["sgdisk", "-n", "1:1M:+200M", str(standin.image)], check=True, capture_output=True)
    said = standin.recheck(then)
    assert said.startswith("it is not the medium that was confirmed: ")
    assert "the partition table is gpt now, was none" in said
    assert "the partition-table id (PTUUID, the GPT disk GUID) is " in said


@pytest.mark.parametrize("edit, words", [
    (lambda block, root: (block / "device/serial").write_text("SERIAL-TWO\n"),
     "the serial number is SERIAL-TWO now, was SERIAL-ONE"),
    (lambda block, root: (block / "loop/backing_file").write_text(f"{root / 'b.img'}\n"),
     "the loop device's backing file is "),
    (lambda block, root: (block / "standin-disk1").mkdir() or (block / "standin-disk1/partition").write_text("1\n"),
     "the partitions are /dev/standin-disk1 now, were none"),
])
def test_what_sysfs_says_about_the_slot_counts(standin, edit, words):
    then = standin.medium()
    edit(standin.block, standin.sys_root.parent)
    assert words in standin.recheck(then)


def test_a_medium_gone_or_never_recorded_is_not_the_same(standin):
    assert standin.recheck(None) == \
        "the confirmation holds no record of the medium (it was not readable when confirmed)"
    then = standin.medium()
    standin.image.unlink()
    assert standin.recheck(then).startswith(f"cannot open {standin.image}: ")


def test_the_executor_refuses_another_medium_before_writing(standin, tmp_path):
    """The re-check is the executor's: a plan confirmed on one medium is refused, untouched, on another."""
    m = InstallModel()
    m.boot.firmware = "bios"
    m.disk.device = str(standin.image)
    m.disk.filesystem = "ext4"
    disk = Disk(path=str(standin.image), name=standin.image.name, size=SIZE, bus="loop", kind="loop",
                model="test image")
    target = tmp_path / "target"
    target.mkdir()
    plan = build_plan(m, Machine(firmware="bios", disks=[disk]), Identity.generate(), target=str(target))
    assert plan.steps
    confirmation = Confirmation.for_plan(plan, sys_root=str(standin.sys_root))
    assert confirmation.medium is not None
    standin.write(MIB // 2, b"another disk")
    before = image_digest(standin.image)
    lines: list[str] = []
    with pytest.raises(Refused) as refused:
        execute(plan, target=str(target), secrets={}, confirmation=confirmation, log=lines.append,
                sys_root=str(standin.sys_root))
    assert str(refused.value) == (f"refusing to write to {standin.image}: it is not the medium that was confirmed: "
                                  "the first MiB holds other bytes; nothing was written. "
                                  "Check which disk this is and confirm again")
    assert lines == [] and image_digest(standin.image) == before
    assert os.listdir(target) == []
