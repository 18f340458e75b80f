"""Disk match rules: the right disk picked, ambiguity and no-match refused with names."""

from __future__ import annotations

import pytest

from installer.answers.diskmatch import describe_rule, resolve
from installer.machine.hardware import Disk, Machine, Partition
from installer.answers.model import GIB, DiskMatch
from conftest import MACHINES, recorded_machines


def _disk(name: str, gib: float, *, rotational=False, model="", refused="", by_id="", bus="other",
          removable=False) -> Disk:
    return Disk(
        path=f"/dev/{name}",
        name=name,
        size=int(gib * GIB),
        by_id=by_id,
        model=model,
        rotational=rotational,
        refused=refused,
        bus=bus,
        removable=removable,
    )


@pytest.fixture
def workstation() -> Machine:
    """Two NVMe SSDs of one model, a big HDD, a USB stick holding the ISO, a bigger USB backup drive."""
    return Machine(
        disks=[
            _disk("nvme0n1", 476.9, model="Samsung SSD 980 PRO 512GB",
                  by_id="/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_512GB_S5GXNX0T1"),
            _disk("nvme1n1", 931.5, model="Samsung SSD 980 PRO 1TB",
                  by_id="/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T2"),
            _disk("sda", 3726, rotational=True, model="WDC WD40EFRX-68N32N0"),
            _disk("sdb", 28.9, model="SanDisk Ultra", refused="it holds the running installer", bus="usb",
                  removable=True),
            # a USB hard disk case says removable=0: the bus is what tells
            _disk("sdc", 7452, rotational=True, model="WD Elements 25A3", bus="usb"),
        ]
    )


@pytest.mark.parametrize(
    "rule, picked",
    [
        (DiskMatch(ssd=False), "sda"),
        (DiskMatch(model="wdc"), "sda"),  # case-insensitive substring
        (DiskMatch(model="1TB"), "nvme1n1"),
        (DiskMatch(ssd=True, size_min_gib=600), "nvme1n1"),
        (DiskMatch(ssd=True, size_max_gib=600), "nvme0n1"),
        (DiskMatch(ssd=True, largest=True), "nvme1n1"),
        (DiskMatch(largest=True), "sda"),
        (DiskMatch(model="Samsung", largest=True), "nvme1n1"),
    ],
)
def test_rule_picks_the_one_disk(workstation, rule, picked):
    disk, why = resolve(rule, workstation)
    assert why == ""
    assert disk is not None and disk.name == picked


def test_ambiguous_rule_is_refused_naming_the_candidates(workstation):
    disk, why = resolve(DiskMatch(model="Samsung"), workstation)
    assert disk is None
    assert why.startswith('2 disks match model = "Samsung": nvme0n1 477 GiB SSD "Samsung SSD 980 PRO 512GB", '
                          'nvme1n1 932 GiB SSD "Samsung SSD 980 PRO 1TB"; make the rule stricter')


def test_a_usb_backup_drive_is_never_picked_unless_the_rule_allows_removable_disks(workstation):
    assert resolve(DiskMatch(largest=True), workstation)[0].name == "sda"
    assert resolve(DiskMatch(ssd=False, size_min_gib=5000), workstation)[0] is None
    disk, why = resolve(DiskMatch(model="WD Elements"), workstation)
    assert disk is None
    assert why.endswith('; removable disks are left out unless the rule says removable = true: '
                        'sdc 7452 GiB HDD, USB "WD Elements 25A3"')
    assert resolve(DiskMatch(largest=True, removable=True), workstation)[0].name == "sdc"
    assert resolve(DiskMatch(model="WD Elements", removable=True), workstation)[0].name == "sdc"
    assert describe_rule(DiskMatch(largest=True, removable=True)) == "largest = true, removable = true"


def test_refused_disk_is_never_a_candidate(workstation):
    # The installer stick is the only SanDisk and the only disk under 100 GiB.
    disk, why = resolve(DiskMatch(model="sandisk"), workstation)
    assert disk is None
    assert why.startswith('no disk matches model = "sandisk" (offered: nvme0n1 477 GiB SSD')
    assert "sdb" not in why  # refused disks are not offered, so not listed
    disk, why = resolve(DiskMatch(size_max_gib=100), workstation)
    assert disk is None and "no disk matches size_max_gib = 100" in why


def test_no_match_lists_what_is_offered(workstation):
    disk, why = resolve(DiskMatch(ssd=False, size_min_gib=5000), workstation)
    assert disk is None
    assert why.startswith("no disk matches ssd = false, size_min_gib = 5000 (offered: ")
    assert "sda 3726 GiB HDD" in why and "nvme1n1 932 GiB SSD" in why and 'sdc 7452 GiB HDD, USB "WD' in why


def test_largest_tie_is_ambiguous():
    machine = Machine(disks=[_disk("sda", 500), _disk("sdb", 500), _disk("sdc", 100)])
    disk, why = resolve(DiskMatch(largest=True), machine)
    assert disk is None
    assert "2 disks match largest = true with the same size: sda 500 GiB SSD, sdb 500 GiB SSD" in why


def test_no_offered_disk_at_all():
    machine = Machine(disks=[_disk("sda", 500, refused="a partition is mounted")])
    disk, why = resolve(DiskMatch(largest=True), machine)
    assert disk is None and "no disk is offered on this machine" in why


def test_empty_rule_matches_a_single_disk_only():
    assert describe_rule(DiskMatch()) == "any disk"
    one = Machine(disks=[_disk("vda", 20)])
    assert resolve(DiskMatch(), one)[0].name == "vda"
    two = Machine(disks=[_disk("vda", 20), _disk("vdb", 20)])
    assert resolve(DiskMatch(), two)[0] is None


@pytest.mark.parametrize(
    "name, found",
    [
        ("/dev/nvme1n1", "nvme1n1"),
        ("nvme1n1", "nvme1n1"),
        ("/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_512GB_S5GXNX0T1", "nvme0n1"),
        ("nvme-Samsung_SSD_980_PRO_512GB_S5GXNX0T1", "nvme0n1"),
        (" /dev/sda ", "sda"),
        ("/dev/sdz", None),
        ("", None),
        ("/dev/disk/by-id/nvme-Samsung", None),  # a prefix of a link is not the link
        ("/dev/disk/by-id/", None),
    ],
)
def test_machine_disk_resolves_every_name(workstation, name, found):
    disk = workstation.disk(name)
    assert (disk.name if disk else None) == found


def test_partitions_do_not_matter_to_the_rule():
    full = _disk("sda", 500)
    full.partitions = [Partition(path="/dev/sda1", number=1, size=500 * GIB, fstype="ntfs")]
    disk, _ = resolve(DiskMatch(size_min_gib=400), Machine(disks=[full, _disk("sdb", 100)]))
    assert disk is full


# -- the recorded machines --------------------------------------------------------

RECORDED = recorded_machines()


def _recorded(name: str) -> Machine:
    from installer.machine.probe import probe

    return probe(str(MACHINES / name))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_largest_on_every_recorded_machine(path):
    machine = _recorded(path.name)
    offered = machine.offered_disks
    candidates = [d for d in offered if not d.detachable]
    disk, why = resolve(DiskMatch(largest=True), machine)
    if not candidates:
        assert disk is None and ("no disk is offered" in why if not offered else "removable = true" in why)
        return
    biggest = max(d.size for d in candidates)
    top = [d for d in candidates if d.size == biggest]
    if len(top) == 1:
        assert disk is top[0] and why == ""
    else:
        assert disk is None and "make the rule stricter" in why
    # Every offered disk is found again by each of its names.
    for d in offered:
        assert machine.disk(d.path) is d
        assert machine.disk(d.name) is d
        for link in d.by_id_links:
            assert machine.disk(link) is d
            assert machine.disk(link.removeprefix("/dev/disk/by-id/")) is d


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_model_rule_on_every_recorded_machine(path):
    machine = _recorded(path.name)
    for d in machine.offered_disks:
        if not d.model:
            continue
        disk, why = resolve(DiskMatch(model=d.model), machine)
        if d.detachable:
            assert disk is None and "removable = true" in why
            assert resolve(DiskMatch(model=d.model, removable=True), machine)[0] is d
            continue
        same = [o for o in machine.offered_disks if d.model.casefold() in o.model.casefold() and not o.detachable]
        if len(same) == 1:
            assert disk is d, why
        else:
            assert disk is None and f"{len(same)} disks match" in why


@pytest.mark.parametrize(
    "machine_file, rule, picked",
    [
        # sda (same model) holds the running system's mounted root: only sdb is left.
        ("imsm.json", DiskMatch(model="toshiba"), "sdb"),
        # The two NVMe disks are RAID members and sda is mounted: sdb (the 14 GiB USB stick is not a candidate).
        ("imsm.json", DiskMatch(largest=True), "sdb"),
        ("imsm.json", DiskMatch(size_max_gib=100, removable=True), "sdc"),
        ("imsm.json", DiskMatch(removable=True), None),  # sdb and the stick
        ("imsm.json", DiskMatch(), "sdb"),
        ("many-nics-and-disks.json", DiskMatch(model="QEMU HARDDISK"), "sda"),
        ("nvme-over-tcp.json", DiskMatch(largest=True), "sda"),  # nvme1n1 is too small, so not offered
        ("lp1999173-raid1.json", DiskMatch(largest=True), "vda"),  # vdb is an active RAID member
        ("existing-partitions.json", DiskMatch(), "vdb"),  # vda boots the ISO; vdc-vde are RAID/LVM
        ("win11-and-free-space.json", DiskMatch(ssd=False), "sda"),
    ],
)
def test_recorded_machine_picks(machine_file, rule, picked):
    disk, why = resolve(rule, _recorded(machine_file))
    assert (disk.name if disk else None) == picked, why


@pytest.mark.parametrize(
    "machine_file, rule, words",
    [
        ("many-nics-and-disks.json", DiskMatch(largest=True), '4 disks match largest = true with the same size: '
                  'sda 20 GiB rotation unknown "QEMU HARDDISK", vda 20 GiB rotation unknown, vdb 20 GiB '
                  'rotation unknown, vdc 20 GiB rotation unknown'),
        ("many-nics-and-disks.json", DiskMatch(size_min_gib=10), "4 disks match size_min_gib = 10: sda 20 GiB"),
        ("imsm.json", DiskMatch(size_max_gib=100), 'removable disks are left out unless the rule says removable = '
         'true: sdc 14 GiB rotation unknown, USB "Ultra USB 3.0"'),
        ("imsm.json", DiskMatch(model="SanDisk 256GB"), 'no disk matches model = "SanDisk 256GB" (offered: sdb 932 GiB'),
        ("nvme-over-tcp.json", DiskMatch(model="Linux"), 'no disk matches model = "Linux" (offered: sda 10 GiB HDD'),
        ("booted-from-rp.json", DiskMatch(largest=True), "no disk is offered on this machine"),
    ],
)
def test_recorded_machine_refusals(machine_file, rule, words):
    disk, why = resolve(rule, _recorded(machine_file))
    assert disk is None
    assert words in why


def test_the_rule_picks_the_device_without_writing_it(workstation):
    from installer.answers.model import DiskChoice, InstallModel
    from installer.answers.resolve import install_disk, resolve as resolve_answers

    model = InstallModel(disk=DiskChoice(match=DiskMatch(model="1TB")))
    disk, problem = install_disk(model, workstation)
    assert problem is None and disk is not None
    assert disk.stable_path == "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T2"
    assert model.disk.device == ""  # the answers are kept as given: the rule stays a rule
    # A named device wins over the rule.
    model = InstallModel(disk=DiskChoice(device="/dev/sda", match=DiskMatch(model="1TB")))
    disk, problem = install_disk(model, workstation)
    assert problem is None and disk is not None and disk.stable_path == "/dev/sda"
    # No by-id link: the /dev path.
    model = InstallModel(disk=DiskChoice(match=DiskMatch(ssd=False)))
    disk, problem = install_disk(model, workstation)
    assert problem is None and disk is not None and disk.stable_path == "/dev/sda"
    model = InstallModel(disk=DiskChoice(match=DiskMatch(model="Samsung")))
    disk, problem = install_disk(model, workstation)
    assert disk is None and problem is not None and problem.field == "disk.match"
    assert "nvme0n1 477 GiB SSD" in problem.message and "nvme1n1 932 GiB SSD" in problem.message
    assert model.disk.device == ""
    model = InstallModel(disk=DiskChoice(layout="premounted", match=DiskMatch(model="Samsung")))
    resolved = resolve_answers(model, workstation)
    assert resolved.disk is None and resolved.problem is None and model.disk.device == ""


def test_matched_model_validates_and_plans(workstation):
    """Validation and the plan resolve the rule themselves: the answers keep no device."""
    from conftest import valid_model
    from installer.plan.identity import Identity
    from installer.plan.erase import build_plan
    from installer.answers.validate import validate

    model = valid_model()
    model.boot.firmware = "uefi"
    model.disk.device = ""
    model.disk.match = DiskMatch(ssd=True)  # two SSDs: ambiguous
    assert [p.field for p in validate(model, workstation) if p.field.startswith("disk")] == ["disk.match"]
    model.disk.match = DiskMatch(ssd=True, largest=True)
    assert [p for p in validate(model, workstation) if p.field.startswith("disk")] == []
    plan = build_plan(model, workstation, Identity.generate(1))
    assert plan.disk is not None and plan.disk.name == "nvme1n1" and model.disk.device == ""


def test_a_session_plans_by_the_rule_and_saves_the_answers_as_given(workstation, tmp_path):
    """No device is written into the answers: the plan resolves the rule, the saved file keeps it."""
    from conftest import valid_model
    from installer.flow.session import Session

    model = valid_model()
    model.boot.firmware = "uefi"
    model.disk.device = ""
    model.disk.match = DiskMatch(ssd=True, largest=True)
    session = Session(model=model)
    session.machine = workstation
    session.apply_machine_defaults()
    assert model.disk.device == ""
    assert session.validate("disk") == []
    plan = session.plan()
    assert plan.disk is not None and plan.disk.name == "nvme1n1"
    session.save_answers(tmp_path / "answers.toml")
    saved = (tmp_path / "answers.toml").read_text()
    assert "[disk.match]" in saved and "largest = true" in saved
    assert 'device = ""' in saved and "nvme" not in saved
