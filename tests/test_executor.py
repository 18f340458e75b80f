"""The executor on real loop devices: every layout this kernel can run, the safety
checks before the first write, and undo after a failing step.

A kernel without vfat or dm-crypt (this build host has neither) cannot run
every step: a layout test then runs the rest, checks all of it, and ends as
skipped with the missing kernel feature named, so the report shows what was
not covered. On a kernel with both, the same tests run and check everything.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from pathlib import Path

import pytest
from fullsuite import KERNEL_LIMIT

from installer.run.diskcheck import target_in_use
from installer.run.executor import Confirmation, ExecutionError, MissingTool, Refused, execute, undo
from installer.machine.hardware import Machine
from installer.plan.identity import Identity
from installer.answers.model import GIB, MIB, InstallModel
from installer.plan.erase import LUKS_NAME, build_plan
from installer.plan.types import Plan, Step
from loopdev import (
    NO_DM_CRYPT,
    NO_VFAT,
    ROOT_MARKS,
    active_swaps,
    blkid,
    disk_for,
    kernel_has_dm_crypt,
    kernel_has_vfat,
    image_digest,
    loop_device,
    mount_sources,
    mounts_under,
    release,
    run,
    sgdisk_info,
)

pytestmark = ROOT_MARKS

PASSPHRASE = "correct horse battery staple"
_LEFT: set[tuple[str, str]] = set()  # (device, target) of every loop device this module made


@pytest.fixture(scope="module", autouse=True)
def _sweep():
    """Whatever a failed test left behind is unmounted and detached at the end of the module."""
    yield
    for device, target in sorted(_LEFT):
        release(device, target)


@dataclasses.dataclass
class Rig:
    device: str
    image: Path
    target: str
    lines: list[str]
    model: InstallModel | None = None
    machine: Machine | None = None
    executed: list[Plan] = dataclasses.field(default_factory=list)

    def plan(self, firmware="uefi", fs="ext4", swap="none", luks=False, seed=None, **disk_kw) -> Plan:
        m = InstallModel()
        m.boot.firmware = firmware
        m.disk.device = self.device
        m.disk.filesystem = fs
        m.disk.swap = swap
        if luks:
            m.encryption.enabled = True
            m.encryption.passphrase = m.encryption.passphrase_confirm = PASSPHRASE
        machine = Machine(firmware=firmware, disks=[disk_for(self.device, **disk_kw)])
        self.model, self.machine = m, machine
        # seed None: a fresh identity each run, as btrfs refuses a UUID another attached device has
        return build_plan(m, machine, Identity.generate(seed), target=self.target)

    def execute(self, plan: Plan, confirmation: Confirmation | None = None, **kw) -> None:
        self.executed.append(plan)
        execute(
            plan,
            **kw,
            target=self.target,
            secrets={"luks_passphrase": PASSPHRASE},
            confirmation=confirmation or Confirmation.for_plan(plan),
            log=self.lines.append,
        )


@pytest.fixture
def rig(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=12 * GIB, target=str(target)) as (device, image):
        _LEFT.add((device, str(target)))
        rig = Rig(device, image, str(target), [])
        yield rig
        # what the executor set up (mounts, swap, the open LUKS mapping) is undone by
        # its own undo; loopdev.release then catches whatever a failed test left
        for plan in reversed(rig.executed):
            undo(plan, log=lambda _line: None)
        _LEFT.discard((device, str(target)))


def not_runnable(plan: Plan) -> list[str]:
    """The missing kernel features runnable() leaves steps out for, in words for a skip reason."""
    reasons = []
    if not kernel_has_vfat() and any(s.action == "mount" and "vfat" in s.argv for s in plan.steps):
        reasons.append(NO_VFAT)
    if not kernel_has_dm_crypt() and plan.luks:
        reasons.append(NO_DM_CRYPT + ": the root filesystem inside LUKS was not made, mounted or checked")
    return reasons


def runnable(plan: Plan) -> Plan:
    """The plan minus the steps this kernel cannot run (vfat mount, dm-crypt and what needs it)."""
    steps = []
    for step in plan.steps:
        if not kernel_has_vfat() and step.action == "mount" and "vfat" in step.argv:
            continue
        if not kernel_has_dm_crypt() and plan.luks:
            if step.action == "luks-open" or any(a.startswith("/dev/mapper/") for a in step.argv):
                continue
            if step.action in ("mount", "umount", "mkdir", "subvolume"):
                continue  # the root filesystem inside LUKS never got made
        steps.append(step)
    return dataclasses.replace(plan, steps=steps)


def check_table(rig: Rig, plan: Plan) -> None:
    """sgdisk shows the planned GUIDs, names, sectors (1 MiB aligned) and disk GUID."""
    header = run("sgdisk", "-p", rig.device)
    assert f"Disk identifier (GUID): {plan.identity.disk_guid.upper()}" in header
    rows = [line.split() for line in header.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [p.number for p in plan.partitions]
    for p in plan.partitions:
        info = sgdisk_info(rig.device, p.number)
        assert info["Partition GUID code"].split()[0] == p.type_guid.upper()
        assert info["Partition name"] == f"'{p.name}'"
        first = int(info["First sector"].split()[0])
        last = int(info["Last sector"].split()[0])
        assert first * 512 == p.start and first % 2048 == 0
        assert (last + 1) * 512 == p.end and (last + 1) % 2048 == 0
        if p.partuuid:
            assert info["Partition unique GUID"] == p.partuuid.upper()
    disk_bytes = int(Path(f"/sys/class/block/{os.path.basename(rig.device)}/size").read_text()) * 512
    assert disk_bytes - plan.partitions[-1].end == MIB


def check_filesystems(rig: Rig, plan: Plan) -> None:
    """blkid reports the plan's UUIDs, labels and types; fileSystems/swap entries name real devices."""
    ident = plan.identity
    by_purpose = {p.purpose: blkid(p.path) for p in plan.partitions}
    if "esp" in by_purpose:
        esp = by_purpose["esp"]
        assert (esp["TYPE"], esp["UUID"], esp["LABEL"], esp["VERSION"]) == ("vfat", ident.esp_volid, "BOOT", "FAT32")
    if "boot" in by_purpose:
        boot = by_purpose["boot"]
        assert (boot["TYPE"], boot["UUID"], boot["LABEL"]) == ("ext4", ident.boot_uuid, "boot")
    if "bios-boot" in by_purpose:
        assert "TYPE" not in by_purpose["bios-boot"]
    if "swap" in by_purpose:
        swap = by_purpose["swap"]
        if plan.luks:
            assert "TYPE" not in swap and swap["PART_ENTRY_UUID"] == ident.swap_uuid
        else:
            assert (swap["TYPE"], swap["UUID"], swap["LABEL"]) == ("swap", ident.swap_uuid, "swap")
    root = by_purpose["root"]
    fstype = plan.filesystems[0].fstype
    if plan.luks:
        assert (root["TYPE"], root["UUID"]) == ("crypto_LUKS", ident.luks_uuid)
        assert root["VERSION"] == "2"
        run("cryptsetup", "open", "--test-passphrase", "--key-file=-", plan.partitions[-1].path, input=PASSPHRASE)
        if not kernel_has_dm_crypt():
            return  # nothing inside to look at
        root = by_purpose["inside LUKS"] = blkid(f"/dev/mapper/{LUKS_NAME}")
    assert (root["TYPE"], root["UUID"], root["LABEL"]) == (fstype, ident.root_uuid, "nixos")
    # every device the configuration will name exists with that fs type
    uuids = {tags.get("UUID"): tags.get("TYPE") for tags in by_purpose.values()}
    partuuids = {tags.get("PART_ENTRY_UUID") for tags in by_purpose.values()}
    for entry in plan.filesystems:
        assert entry.device.startswith("/dev/disk/by-uuid/")
        assert uuids[entry.device.rsplit("/", 1)[1]] == entry.fstype
    for swap in plan.swaps:
        if swap.random_encryption:
            assert swap.device.removeprefix("/dev/disk/by-partuuid/") in partuuids
        else:
            assert uuids[swap.device.rsplit("/", 1)[1]] == "swap"


def check_rendered(rig: Rig, plan: Plan) -> None:
    """hardware-configuration.nix names exactly the devices blkid reports, with their fs types."""
    from installer.nixos.render import render

    text = render(rig.model, rig.machine, plan)["hardware-configuration.nix"]
    tags = [blkid(p.path) for p in plan.partitions]
    by_partuuid = {t["PART_ENTRY_UUID"] for t in tags}
    inside_luks = None
    if plan.luks and kernel_has_dm_crypt():
        tags.append(blkid(f"/dev/mapper/{LUKS_NAME}"))
    elif plan.luks:
        inside_luks = plan.identity.root_uuid  # never made: the only UUID not checked against blkid
    by_uuid = {t["UUID"]: t.get("TYPE") for t in tags if "UUID" in t}
    named = re.findall(r'"/dev/disk/by-(uuid|partuuid)/([^"]+)"', text)
    assert named
    for kind, value in named:
        if kind == "partuuid":
            assert value in by_partuuid, value
        elif value != inside_luks:
            assert value in by_uuid, value
    blocks = re.findall(r'fileSystems\."([^"]+)" = \{\s*device = "/dev/disk/by-uuid/([^"]+)";\s*fsType = "([^"]+)";', text)
    assert sorted(b[0] for b in blocks) == sorted(f.mountpoint for f in plan.filesystems)
    for _mountpoint, uuid, fstype in blocks:
        if uuid != inside_luks:
            assert by_uuid[uuid] == fstype
    for entry in plan.luks:
        assert f'boot.initrd.luks.devices."{entry.name}".device = "{entry.device}";' in text
        assert by_uuid[entry.device.rsplit("/", 1)[1]] == "crypto_LUKS"


def check_mounts(rig: Rig, plan: Plan) -> None:
    if plan.luks and not kernel_has_dm_crypt():
        assert mount_sources(rig.target) == {}
        return
    parts = {p.purpose: p.path for p in plan.partitions}
    root = f"/dev/mapper/{LUKS_NAME}" if plan.luks else parts["root"]
    expected = {"/": root}
    if plan.filesystems[0].fstype == "btrfs":
        expected = {"/": f"{root}[/@]", "/home": f"{root}[/@home]", "/nix": f"{root}[/@nix]"}
        listing = run("btrfs", "subvolume", "list", rig.target)
        assert sorted(line.split()[-1] for line in listing.splitlines()) == ["@", "@home", "@nix"]
    if "boot" in parts:
        expected["/boot"] = parts["boot"]
    if "esp" in parts and kernel_has_vfat():
        expected["/boot"] = parts["esp"]
    assert mount_sources(rig.target) == expected
    swap = [p.path for p in plan.partitions if p.purpose == "swap"]
    assert [s for s in active_swaps() if s.startswith(rig.device + "p")] == ([] if plan.luks else swap)


LAYOUTS = [
    pytest.param(fw, fs, swap, False, id=f"{fw}-{fs}-swap-{swap}")
    for fw, fs, swap in itertools.product(("uefi", "bios"), ("ext4", "btrfs", "xfs"), ("partition", "zram", "none"))
] + [
    # The filesystem inside LUKS cannot be made without dm-crypt, so two LUKS
    # layouts cover what runs here (LUKS2 header, /boot, swap by PARTUUID);
    # luksFormat's argon2 benchmark makes each take several seconds.
    pytest.param(fw, fs, "partition", True, id=f"{fw}-{fs}-luks-swap-partition", marks=pytest.mark.slow)
    for fw, fs in (("uefi", "ext4"), ("bios", "btrfs"))
]


@pytest.mark.parametrize("firmware,fs,swap,luks", LAYOUTS)
def test_layout_on_a_loop_device(rig, firmware, fs, swap, luks):
    plan = rig.plan(firmware=firmware, fs=fs, swap=swap, luks=luks)
    rig.execute(runnable(plan))
    check_table(rig, plan)
    check_filesystems(rig, plan)
    check_rendered(rig, plan)
    check_mounts(rig, plan)
    assert all(PASSPHRASE not in line for line in rig.lines)
    assert rig.lines[-1] == "partitioning, formatting and mounting done"
    missing = not_runnable(plan)
    if missing:  # everything above passed; say what this kernel could not cover
        pytest.skip(KERNEL_LIMIT + "; ".join(m.removeprefix(KERNEL_LIMIT) for m in missing)
                    + " (the rest of the layout ran and was checked)")


def test_a_disk_with_an_old_layout_is_wiped_and_repartitioned(rig):
    from loopdev import machine_with_mounts

    # an old install whose root starts exactly where the new root will: without
    # wiping, blkid would still see the old ext4 inside the new partition
    run("sgdisk", "-n", "1:1M:+1G", "-t", "1:EF00", "-n", "2:0:0", "-c", "2:ubuntu", rig.device)
    run("partx", "-u", rig.device, check=False)
    run("mkfs.ext4", "-q", "-F", "-L", "ubuntu", f"{rig.device}p2")
    old = machine_with_mounts(rig.device, rig.target).disks[0]  # as the probe sees it
    assert [p.fstype for p in old.partitions] == ["", "ext4"]
    rig.plan(fs="xfs")
    plan = build_plan(rig.model, Machine(firmware="uefi", disks=[old]), Identity.generate(), target=rig.target)
    assert plan.steps[0].argv == ("wipefs", "-a", f"{rig.device}p1", f"{rig.device}p2")
    rig.execute(runnable(plan))
    check_table(rig, plan)
    check_filesystems(rig, plan)
    assert "ubuntu" not in run("blkid", "-p", f"{rig.device}p2", check=False)


@pytest.mark.skipif(not kernel_has_vfat(), reason=NO_VFAT)
def test_the_esp_is_mounted_readable_by_root_only(rig):
    plan = rig.plan(firmware="uefi", fs="ext4")
    rig.execute(plan)
    options = run("findmnt", "-n", "-o", "OPTIONS", f"{rig.target}/boot")
    assert "fmask=0077" in options and "dmask=0077" in options


@pytest.mark.skipif(not kernel_has_dm_crypt(), reason=NO_DM_CRYPT)
def test_luks_root_is_opened_formatted_and_mounted_and_undo_closes_it(rig):
    plan = rig.plan(firmware="bios", fs="btrfs", swap="partition", luks=True)
    rig.execute(plan)
    assert mount_sources(rig.target)["/"] == "/dev/mapper/cryptroot[/@]"
    assert blkid("/dev/mapper/cryptroot")["UUID"] == plan.identity.root_uuid
    undo(plan, log=rig.lines.append)
    assert mounts_under(rig.target) == []
    assert not os.path.exists("/dev/mapper/cryptroot")
    assert "undo: cryptsetup close cryptroot: ok" in rig.lines


@pytest.mark.skipif(not kernel_has_dm_crypt(), reason=NO_DM_CRYPT)
def test_release_closes_a_luks_mapping_left_open(tmp_path):
    with loop_device(tmp_path, size=64 * MIB) as (device, _image):
        run("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
            "1000", "--key-file=-", device, input=PASSPHRASE)
        run("cryptsetup", "open", "--key-file=-", device, "left-open-by-a-test", input=PASSPHRASE)
        assert os.path.exists("/dev/mapper/left-open-by-a-test")
        release(device)
        assert not os.path.exists("/dev/mapper/left-open-by-a-test")


# -- nothing is written without a confirmation for exactly this disk -----------


def test_no_confirmation_writes_nothing(rig):
    run("sgdisk", "-n", "1:1M:+100M", "-c", "1:old", rig.device)  # something to lose
    before = image_digest(rig.image)
    plan = rig.plan()
    for confirmation in (None, "yes", True):
        with pytest.raises(Refused, match="explicit confirmation"):
            execute(plan, target=rig.target, secrets={}, confirmation=confirmation, log=rig.lines.append)
    with pytest.raises(TypeError):
        Confirmation(rig.device, "", plan.disk.size)  # only for_plan() makes one
    other = rig.plan(size=plan.disk.size - MIB)
    with pytest.raises(Refused, match="confirmation was given for"):
        rig.execute(plan, Confirmation.for_plan(other))
    with pytest.raises(Refused, match="missing secret"):
        luks = rig.plan(luks=True)
        execute(luks, target=rig.target, secrets={}, confirmation=Confirmation.for_plan(luks), log=rig.lines.append)
    assert rig.lines == []
    assert image_digest(rig.image) == before
    assert "'old'" in sgdisk_info(rig.device, 1)["Partition name"]


def test_a_dry_run_session_on_the_live_probe_leaves_the_loop_device_byte_identical(rig):
    from installer.flow.session import Options, Session

    run("sgdisk", "-n", "1:1M:+100M", "-c", "1:old", rig.device)
    before = image_digest(rig.image)
    session = Session(Options(dry_run=True, allow_loop=True, target=rig.target))
    session.probe()
    session.model.disk.device = rig.device
    session.model.boot.firmware = "uefi"
    plan = session.plan()
    assert plan.disk is not None and plan.disk.path == rig.device and plan.steps
    session.install.execute(session.install.confirm(plan.disk.name), rig.lines.append)
    assert len(rig.lines) == len(plan.steps) and all(line.startswith("[dry-run]") for line in rig.lines)
    assert image_digest(rig.image) == before


def test_a_disk_with_a_mounted_partition_is_refused_at_the_last_check(rig, tmp_path):
    run("sgdisk", "-n", "1:1M:+100M", "-n", "2:0:+100M", rig.device)
    run("partx", "-u", rig.device, check=False)
    run("mkfs.ext4", "-q", "-F", f"{rig.device}p1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _LEFT.add((rig.device, str(elsewhere)))
    run("mount", f"{rig.device}p1", str(elsewhere))
    p1 = (MIB, 101 * MIB)  # the mounted filesystem writes its own superblock; all else must stay
    try:
        plan = rig.plan()
        before = image_digest(rig.image, leave_out=p1)
        with pytest.raises(Refused, match=f"{rig.device}p1 is mounted at {elsewhere}"):
            rig.execute(plan)
    finally:
        run("umount", str(elsewhere))
    assert image_digest(rig.image, leave_out=p1) == before
    assert sgdisk_info(rig.device, 2)["First sector"].startswith("206848")


def test_a_disk_with_an_active_swap_is_refused(rig):
    run("sgdisk", "-n", "1:1M:+100M", rig.device)
    run("partx", "-u", rig.device, check=False)
    run("mkswap", f"{rig.device}p1")
    run("swapon", f"{rig.device}p1")
    try:
        with pytest.raises(Refused, match=f"{rig.device}p1 is an active swap"):
            rig.execute(rig.plan())
    finally:
        run("swapoff", f"{rig.device}p1")


def test_size_and_by_id_changes_are_refused(rig, tmp_path):
    before = image_digest(rig.image)
    real = disk_for(rig.device).size
    with pytest.raises(Refused, match=r"is 12 GiB now, but was 13 GiB when chosen"):
        rig.execute(rig.plan(size=real + GIB))
    link = tmp_path / "by-id-link"
    link.symlink_to("/dev/null")
    with pytest.raises(Refused, match="now points at /dev/null"):
        rig.execute(rig.plan(by_id=str(link)))
    with pytest.raises(Refused, match="no longer exists"):
        rig.execute(rig.plan(by_id=str(tmp_path / "gone")))
    assert image_digest(rig.image) == before


def test_the_plan_target_must_be_the_one_executed(rig):
    plan = rig.plan()
    with pytest.raises(Refused, match="plan was made for"):
        execute(plan, target="/mnt", secrets={}, confirmation=Confirmation.for_plan(plan), log=rig.lines.append)


def test_an_open_mapping_with_the_plans_luks_name_is_refused(rig, tmp_path):
    # This kernel has no device-mapper, so a stand-in /dev tree holds the node
    # an earlier run would have left (the test below uses a real one where it can).
    dev = tmp_path / "dev"
    (dev / "mapper").mkdir(parents=True)
    (dev / "mapper" / LUKS_NAME).touch()
    before = image_digest(rig.image)
    plan = rig.plan(luks=True)
    with pytest.raises(Refused, match=r"/dev/mapper/cryptroot is already open; close it first \(cryptsetup close cryptroot\)"):
        rig.execute(plan, dev_root=str(dev))
    assert target_in_use(rig.plan(), [], dev_root=str(dev)) == []  # without LUKS the name is not the plan's
    assert rig.lines == [] and image_digest(rig.image) == before


@pytest.mark.skipif(not kernel_has_dm_crypt(), reason=NO_DM_CRYPT)
def test_a_real_open_cryptroot_on_another_device_is_refused(rig, tmp_path):
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with loop_device(other_dir, size=64 * MIB) as (other, _image):
        run("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
            "1000", "--key-file=-", other, input=PASSPHRASE)
        run("cryptsetup", "open", "--key-file=-", other, LUKS_NAME, input=PASSPHRASE)
        before = image_digest(rig.image)
        with pytest.raises(Refused, match="/dev/mapper/cryptroot is already open"):
            rig.execute(rig.plan(luks=True))
        assert image_digest(rig.image) == before


@pytest.mark.parametrize("where", ["", "boot", "srv/data"])
def test_anything_mounted_at_or_under_the_target_is_refused(rig, where):
    before = image_digest(rig.image)
    at = os.path.join(rig.target, where) if where else rig.target
    os.makedirs(at, exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "size=1M", "leftover", at)
    try:
        with pytest.raises(Refused, match=f"leftover is already mounted at {re.escape(at)}; unmount it first"):
            rig.execute(rig.plan())
    finally:
        run("umount", at)
    assert rig.lines == [] and image_digest(rig.image) == before


# -- a program a step needs is missing: said before anything is written ----------


def test_a_missing_program_is_named_before_the_first_write(rig, tmp_path, monkeypatch):
    import shutil

    plan = rig.plan(firmware="bios", fs="btrfs")
    tools = {s.argv[0] for s in plan.steps if s.argv} | {"partx"}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools - {"mkfs.btrfs"}:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    run("sgdisk", "-n", "1:1M:+100M", "-c", "1:old", rig.device)  # something to lose
    before = image_digest(rig.image)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MissingTool) as excinfo:
        rig.execute(plan)
    assert str(excinfo.value) == (
        f"mkfs.btrfs is not installed (package btrfs-progs), needed to format {rig.device}p2 as btrfs "
        "(label nixos) for /; nothing was written")
    assert isinstance(excinfo.value, ExecutionError)  # callers report it like any failed step
    assert rig.lines == [] and image_digest(rig.image) == before


def test_pyparted_missing_is_a_message_not_a_traceback(rig, monkeypatch):
    import sys

    before = image_digest(rig.image)
    monkeypatch.setitem(sys.modules, "parted", None)  # `import parted` now raises ImportError
    with pytest.raises(MissingTool, match=r"^pyparted \(the Python module 'parted'\) cannot be imported: .*"
                       r"needed to create a GPT partition table on .*; nothing was written$"):
        rig.execute(rig.plan())
    assert rig.lines == [] and image_digest(rig.image) == before


# -- a failing step stops the run and undoes mounts and swap ---------------------


def test_a_failing_step_raises_and_undoes_mounts_and_swap(rig):
    plan = runnable(rig.plan(firmware="uefi", fs="btrfs", swap="partition"))
    bad = Step("mkfs", "Format a partition that does not exist", ("mkfs.ext4", "-F", f"{rig.device}p9"))
    plan = dataclasses.replace(plan, steps=[*plan.steps, bad])
    with pytest.raises(ExecutionError) as excinfo:
        rig.execute(plan)
    assert excinfo.value.step is bad
    assert f"{rig.device}p9" in excinfo.value.output
    assert "Format a partition that does not exist failed" in str(excinfo.value)
    assert mounts_under(rig.target) == []
    assert not [s for s in active_swaps() if s.startswith(rig.device + "p")]
    assert any(line.startswith("undo: umount") for line in rig.lines)
    assert any(line == f"undo: swapoff {rig.device}p2: ok" for line in rig.lines)
    # the disk is free again: the same plan (without the bad step) runs on a retry
    rig.lines.clear()
    rig.execute(runnable(rig.plan(firmware="uefi", fs="btrfs", swap="partition")))
    assert mount_sources(rig.target)["/"] == f"{rig.device}p3[/@]"


def test_undo_releases_a_finished_run_for_a_retry(rig):
    plan = runnable(rig.plan(firmware="bios", fs="xfs", swap="partition"))
    rig.execute(plan)
    assert mounts_under(rig.target)
    undo(plan, log=rig.lines.append)
    assert mounts_under(rig.target) == []
    assert not [s for s in active_swaps() if s.startswith(rig.device + "p")]


def test_a_size_change_too_small_to_show_in_gib_is_given_in_bytes(tmp_path):
    from installer.run.diskcheck import disk_in_use
    from installer.machine.hardware import Disk

    block = tmp_path / "class/block/sdz"
    block.mkdir(parents=True)
    chosen = Disk(path="/dev/sdz", name="sdz", size=100 * GIB)
    (block / "size").write_text(f"{(100 * GIB + MIB) // 512}\n")  # grown by 1 MiB
    assert disk_in_use(chosen, [], sys_root=str(tmp_path), proc_root=str(tmp_path)) == [
        f"/dev/sdz is {100 * GIB + MIB} bytes now, but was {100 * GIB} bytes when chosen"]
    (block / "size").write_text(f"{(101 * GIB) // 512}\n")
    assert disk_in_use(chosen, [], sys_root=str(tmp_path), proc_root=str(tmp_path)) == [
        "/dev/sdz is 101 GiB now, but was 100 GiB when chosen"]
