"""How small a partition can get, from recorded machines (subiquity's ESTIMATED_MIN_SIZE) and
from a live probe that --record-machine writes down (issue 18). The real tools' answers on
real filesystems are in tests/test_keep_disk.py."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from conftest import MACHINES

from installer.machine import shrinkable
from installer.machine.probe import machine_from_data, probe
from loopdev import MIB, appeared, disk_for, loop_device, needs_root, run
from installer.machine.hardware import Machine, Partition


def parts(machine):
    return {p.path: p for d in machine.disks for p in d.partitions}


def test_a_recorded_machine_carries_each_filesystems_minimum_and_refusals():
    found = parts(probe(MACHINES / "win11-along-ubuntu.json"))
    # the numbers subiquity's probe recorded (ESTIMATED_MIN_SIZE), as the record has them
    assert (found["/dev/sda4"].fstype, found["/dev/sda4"].min_size) == ("ntfs", 558575616)
    assert (found["/dev/sda5"].fstype, found["/dev/sda5"].min_size) == ("ext4", 12308815872)
    assert found["/dev/sda5"].shrink_refusal == ""
    assert found["/dev/sda3"].shrink_refusal == shrinkable.BITLOCKER.format(path="/dev/sda3")
    assert found["/dev/sda3"].min_size == 0
    assert found["/dev/sda1"].shrink_refusal == shrinkable.UNKNOWN.format(path="/dev/sda1", what="vfat")


def test_an_old_record_without_the_minimum_still_loads():
    data = json.loads((MACHINES / "win11-along-ubuntu.json").read_text())
    for record in data["storage"]["filesystem"].values():
        record.pop("ESTIMATED_MIN_SIZE", None)
    found = parts(machine_from_data(copy.deepcopy(data)))
    assert found["/dev/sda4"].min_size == 0 and found["/dev/sda4"].shrink_refusal == ""
    assert found["/dev/sda3"].shrink_refusal.startswith("/dev/sda3 is encrypted with BitLocker")


@pytest.mark.parametrize("fstype,words", [("xfs", "can only grow"), ("crypto_LUKS", "encrypted (LUKS)"),
                                          ("LVM2_member", "LVM"), ("linux_raid_member", "RAID"),
                                          ("swap", "swap space"), ("", "no filesystem"), ("zfs_member", "zfs_member")])
def test_each_type_that_cannot_shrink_says_why(fstype, words):
    assert shrinkable.measure("/dev/sdz9", fstype) == (0, shrinkable.static_refusal("/dev/sdz9", fstype))
    assert words in shrinkable.static_refusal("/dev/sdz9", fstype)


@needs_root
@pytest.mark.skipif(shutil.which("mkntfs") is None, reason="needs ntfs-3g (mkntfs)")
def test_the_live_verdicts_go_into_the_record_and_replay(tmp_path):
    with loop_device(tmp_path, size=600 * MIB) as (device, _image):
        run("sgdisk", "-n1:2048:+300M", "-n2:0:+200M", device)
        p1, p2 = appeared(device, [f"{device}p1", f"{device}p2"])
        run("mkntfs", "-Q", "-F", p1)
        run("mkswap", p2)
        disk = disk_for(device, table="gpt", partitions=[Partition(path=p1, number=1, size=300 * MIB, fstype="ntfs"),
                                                         Partition(path=p2, number=2, size=200 * MIB, fstype="swap")])
        record = {"storage": {"filesystem": {p1: {"TYPE": "ntfs"}, p2: {"TYPE": "swap"}}}}
        machine = shrinkable.fill(Machine(disks=[disk]), record, loops=True)
        ntfs, swap = machine.disks[0].partitions
        assert ntfs.shrink_refusal == "" and 0 < ntfs.min_size < 300 * MIB
        assert swap.shrink_refusal == shrinkable.SWAP.format(path=p2)
        assert record["storage"]["filesystem"][p1] == {"TYPE": "ntfs", "ESTIMATED_MIN_SIZE": ntfs.min_size,
                                                         "SHRINK_REFUSAL": ""}
        assert shrinkable.recorded(p1, "ntfs", record["storage"]["filesystem"][p1]) == {
            "min_size": ntfs.min_size, "shrink_refusal": ""}
        assert shrinkable.recorded(p2, "swap", record["storage"]["filesystem"][p2])["shrink_refusal"] == swap.shrink_refusal
        # a loop device is left alone unless asked for: it may be another program's image
        disk.partitions[0].min_size = 0
        shrinkable.fill(Machine(disks=[disk]))
        assert disk.partitions[0].min_size == 0


def test_the_executor_names_each_keep_steps_missing_tool(monkeypatch):
    from installer.plan.identity import Identity
    from installer.plan.types import Action, Plan, Step
    from installer.run import executor

    have = {"blkid", "sgdisk"}
    monkeypatch.setattr(executor.shutil, "which", lambda tool: f"/usr/bin/{tool}" if tool in have else None)
    steps = [Step(Action.SHRINK_FS, "shrink Windows", call={"device": "/dev/sda3", "fstype": "ntfs", "new_size": 1}),
             Step(Action.ADD_PARTS, "add NixOS's partitions", call={"device": "/dev/sda", "table": "msdos",
                                                                    "sector_size": 512, "partitions": []}),
             Step(Action.CHECK_KEPT, "check what was kept", call={"partitions": [
                 {"path": "/dev/sda3", "fstype": "ntfs", "shrunk": True},
                 {"path": "/dev/sda5", "fstype": "ext4", "shrunk": False, "first_mib_sha256": "0" * 64}]})]
    plan = Plan(layout="alongside", firmware="uefi", loader="systemd-boot", identity=Identity.generate(1), steps=steps)
    said = [str(m) for m in executor.missing_tools(plan)]
    assert said[:3] == ["ntfsresize is not installed (package ntfs-3g), needed to shrink Windows; nothing was written",
                        "ntfscat is not installed (package ntfs-3g), needed to shrink Windows; nothing was written",
                        "sfdisk is not installed (package util-linux (Debian: fdisk)), needed to add NixOS's partitions; "
                        "nothing was written"]
    assert not any("e2fsck" in s for s in said)  # the untouched ext4 is only hashed
