""""I mounted it myself": each missing piece gives its message; real mounts give fileSystems."""

from __future__ import annotations

import uuid

import pytest

from installer.machine.hardware import BIOS_BOOT_TYPE, ESP_TYPE, LINUX_FS_TYPE, LINUX_SWAP_TYPE, Disk, Machine, Mount, Partition
from installer.plan.identity import Identity
from installer.answers.model import GIB, MIB, InstallModel
from installer.plan.erase import build_plan
from installer.base.problems import ProblemsError
from loopdev import loop_device, machine_with_mounts, needs_root, run

IDENT = Identity.generate(seed=3)
ESP_UUID = "1234-ABCD"
ROOT_UUID = "0b6f2f1c-7a1e-4c0e-9a51-2f0e6d1d5b10"
HOME_UUID = "5d2b1f9e-93c4-4f1e-8c55-0e3b0b1a7c22"
LUKS_UUID = "9f1c2d3e-4b5a-4697-8a1b-c2d3e4f5a6b7"
SWAP_UUID = "c3d4e5f6-a7b8-4c9d-8e0f-112233445566"


def disk(*parts: Partition, table: str = "gpt") -> Disk:
    return Disk(path="/dev/sda", name="sda", size=100 * GIB, by_id="/dev/disk/by-id/ata-DISK_1", table=table,
                partitions=list(parts))


ESP = Partition("/dev/sda1", 1, GIB, MIB, ESP_TYPE, "ESP", "vfat", uuid=ESP_UUID)
ROOT = Partition("/dev/sda2", 2, 90 * GIB, GIB + MIB, LINUX_FS_TYPE, "root", "ext4", uuid=ROOT_UUID)
HOME = Partition("/dev/sda3", 3, 5 * GIB, 0, LINUX_FS_TYPE, "home", "ext4", uuid=HOME_UUID)
SWAP = Partition("/dev/sda4", 4, 4 * GIB, 0, LINUX_SWAP_TYPE, "swap", "swap", uuid=SWAP_UUID)


def premounted(firmware="uefi", swap="none", luks=False, loader=None) -> InstallModel:
    m = InstallModel()
    m.boot.firmware = firmware
    m.boot.loader = loader
    m.disk.layout = "premounted"
    m.disk.swap = swap
    m.encryption.enabled = luks
    return m


def messages(model: InstallModel, machine: Machine, target="/mnt") -> list[str]:
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(model, machine, IDENT, target=target)
    return [p.message for p in excinfo.value.problems]


def opened(**mappings: str) -> dict:
    """Open LUKS mappings as the probe records them: by name, and in the device-mapper stack."""
    return {"luks": mappings, "dm_slaves": {f"/dev/mapper/{name}": [backing] for name, backing in mappings.items()}}


def good_machine(**kw) -> Machine:
    values = dict(
        firmware="uefi",
        disks=[disk(ESP, ROOT, HOME, SWAP)],
        mounts=[
            Mount("/dev/sda2", "/mnt", "ext4", "rw,relatime"),
            Mount("/dev/sda1", "/mnt/boot", "vfat", "rw,fmask=0022"),
            Mount("/dev/sda3", "/mnt/home", "ext4", "rw"),
            Mount("proc", "/mnt/proc", "proc"),
            Mount("/dev/sdb1", "/iso", "iso9660"),
        ],
        swaps=["/dev/sda4", "/dev/zram0"],
    )
    values.update(kw)
    return Machine(**values)


def test_a_complete_uefi_setup_becomes_filesystems_by_uuid_and_no_steps():
    plan = build_plan(premounted(swap="partition"), good_machine(), IDENT)
    assert plan.layout == "premounted" and plan.steps == [] and not plan.destructive
    assert [(f.mountpoint, f.device, f.fstype, f.options) for f in plan.filesystems] == [
        ("/", f"/dev/disk/by-uuid/{ROOT_UUID}", "ext4", ()),
        ("/boot", f"/dev/disk/by-uuid/{ESP_UUID}", "vfat", ("fmask=0077", "dmask=0077")),
        ("/home", f"/dev/disk/by-uuid/{HOME_UUID}", "ext4", ()),
    ]
    assert [(s.device, s.random_encryption) for s in plan.swaps] == [(f"/dev/disk/by-uuid/{SWAP_UUID}", False)]
    assert plan.luks == [] and plan.grub_device == "" and plan.summary_lines()[0].startswith("Nothing will be erased")


def test_nothing_mounted_at_the_target():
    machine = good_machine(mounts=[Mount("/dev/sda1", "/mnt/boot", "vfat")])
    assert messages(premounted(), machine) == ["nothing is mounted at /mnt; mount your root filesystem there"]


def test_the_esp_is_not_mounted():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ext4")])
    assert messages(premounted(), machine) == ["/mnt/boot is not mounted; mount your EFI system partition there"]


def test_boot_is_not_vfat():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ext4"), Mount("/dev/sda3", "/mnt/boot", "ext4")])
    assert messages(premounted(), machine) == ["/mnt/boot is ext4, not an EFI system partition (vfat)"]


def test_a_fat_boot_without_the_esp_type():
    fat = Partition("/dev/sda1", 1, GIB, MIB, LINUX_FS_TYPE, "", "vfat", uuid=ESP_UUID)
    machine = good_machine(disks=[disk(fat, ROOT, HOME)])  # /mnt/home on a known partition: only the ESP is wrong
    (message,) = messages(premounted(), machine)
    assert message.startswith("/mnt/boot (/dev/sda1) is FAT but not marked as an EFI system partition")


def test_an_mbr_esp_type_is_accepted():
    esp = Partition("/dev/sda1", 1, GIB, MIB, "0xef", "", "vfat", uuid=ESP_UUID)
    plan = build_plan(premounted(), good_machine(disks=[disk(esp, ROOT, HOME, table="dos")]), IDENT)
    assert plan.filesystems[1].mountpoint == "/boot"


def test_both_missing_pieces_at_once_and_another_target():
    machine = good_machine(mounts=[])
    assert messages(premounted(), machine, target="/srv/new/") == [
        "nothing is mounted at /srv/new; mount your root filesystem there",
        "/srv/new/boot is not mounted; mount your EFI system partition there",
    ]


def test_root_on_a_windows_filesystem_is_refused():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ntfs3"), Mount("/dev/sda1", "/mnt/boot", "vfat")])
    assert messages(premounted(), machine) == [
        "/mnt is ntfs3; NixOS needs a Linux filesystem (ext4, btrfs or xfs) for /"
    ]


def test_swap_partition_chosen_but_none_active():
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(premounted(swap="partition"), good_machine(swaps=["/dev/zram0"]), IDENT)
    problems = [(p.field, p.message) for p in excinfo.value.problems]
    assert problems == [
        ("disk.swap", "no swap is active; run swapon on your swap partition, or choose zram or no swap")
    ]


def test_zram_and_swap_file_inside_the_target():
    plan = build_plan(premounted(swap="zram"), good_machine(swaps=["/mnt/swapfile"]), IDENT)
    assert plan.zram and [s.device for s in plan.swaps] == ["/swapfile"]


def test_luks_root_records_the_backing_partition_and_encryption_without_luks_is_refused():
    crypt = Partition("/dev/sda2", 2, 90 * GIB, 0, LINUX_FS_TYPE, "root", "crypto_LUKS", uuid=LUKS_UUID)
    machine = good_machine(
        disks=[disk(ESP, crypt)],
        mounts=[
            Mount("/dev/mapper/cryptroot", "/mnt", "btrfs", "rw,noatime,compress=zstd:3,space_cache=v2,subvol=/@"),
            Mount("/dev/sda1", "/mnt/boot", "vfat"),
        ],
        **opened(cryptroot="/dev/sda2", unrelated="/dev/sdc1"),
        swaps=[],
    )
    plan = build_plan(premounted(luks=True), machine, IDENT)
    assert [(e.name, e.device) for e in plan.luks] == [("cryptroot", f"/dev/disk/by-uuid/{LUKS_UUID}")]
    assert plan.filesystems[0].device == "/dev/mapper/cryptroot"
    assert plan.filesystems[0].options == ("noatime", "compress=zstd:3", "subvol=@")

    assert messages(premounted(luks=True), good_machine()) == [
        "you chose encryption, but /mnt is not on a LUKS device; open your LUKS container, "
        "mount the filesystem inside it, or turn encryption off"
    ]


def test_bios_grub_goes_on_the_disk_holding_root_and_needs_a_bios_boot_partition():
    bios = Partition("/dev/sda1", 1, MIB, MIB, BIOS_BOOT_TYPE, "bios", "")
    machine = good_machine(firmware="bios", disks=[disk(bios, ROOT)], mounts=[Mount("/dev/sda2", "/mnt", "ext4")])
    plan = build_plan(premounted(firmware="bios"), machine, IDENT)
    assert (plan.loader, plan.grub_device) == ("grub", "/dev/disk/by-id/ata-DISK_1")

    no_bios_boot = good_machine(firmware="bios", disks=[disk(ROOT)], mounts=[Mount("/dev/sda2", "/mnt", "ext4")])
    (message,) = messages(premounted(firmware="bios"), no_bios_boot)
    assert "needs a 1 MiB BIOS boot partition (type EF02)" in message


def _mkpart(device: str) -> None:
    run("sgdisk", "-n", "1:1M:+1G", "-t", "1:8300", "-c", "1:root", "-n", "2:0:+1G", "-t", "2:8300", "-c", "2:home",
        device)
    run("partx", "-u", device, check=False)



def _bios_disk_with_ext4(device: str, fs_uuid: str) -> None:
    """p1 a BIOS boot partition, p2 the rest with an ext4 of the given UUID."""
    run("sgdisk", "-n", "1:1M:+1M", "-t", "1:EF02", "-n", "2:0:0", "-t", "2:8300", device)
    run("partx", "-u", device, check=False)
    run("mkfs.ext4", "-q", "-F", "-U", fs_uuid, f"{device}p2")

@needs_root
def test_real_mounts_on_a_loop_device_become_filesystems(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=4 * GIB, target=str(target)) as (device, _image):
        _mkpart(device)
        run("mkfs.ext4", "-q", "-F", "-L", "nixos", "-U", ROOT_UUID, f"{device}p1")
        run("mkfs.ext4", "-q", "-F", "-L", "home", "-U", HOME_UUID, f"{device}p2")
        run("mount", f"{device}p1", str(target))
        (target / "home").mkdir()
        run("mount", f"{device}p2", str(target / "home"))
        machine = machine_with_mounts(device, str(target), firmware="bios")
        machine.disks[0].refused = ""
        m = premounted(firmware="bios")
        m.disk.device = device
        with pytest.raises(ProblemsError) as excinfo:  # no BIOS boot partition on this GPT disk
            build_plan(m, machine, IDENT, target=str(target))
        assert "BIOS boot partition" in excinfo.value.problems[0].message
        m.boot.loader = None
        m.boot.firmware = "uefi"
        with pytest.raises(ProblemsError) as excinfo:
            build_plan(m, machine, IDENT, target=str(target))
        assert [p.message for p in excinfo.value.problems] == [
            f"{target}/boot is not mounted; mount your EFI system partition there"
        ]
        # GRUB for UEFI would still need the ESP; a BIOS disk with a BIOS boot partition is what passes:
        run("sgdisk", "-n", "3:0:+1M", "-t", "3:EF02", "-c", "3:bios", device)
        run("partx", "-u", device, check=False)
        machine = machine_with_mounts(device, str(target), firmware="bios")
        m.boot.firmware = "bios"
        plan = build_plan(m, machine, IDENT, target=str(target))
        assert [(f.mountpoint, f.device, f.fstype) for f in plan.filesystems] == [
            ("/", f"/dev/disk/by-uuid/{ROOT_UUID}", "ext4"),
            ("/home", f"/dev/disk/by-uuid/{HOME_UUID}", "ext4"),
        ]
        assert plan.grub_device == device and plan.steps == []


@needs_root
def test_real_btrfs_subvolumes_keep_their_subvol_options(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=4 * GIB, target=str(target)) as (device, _image):
        run("sgdisk", "-n", "1:1M:+1M", "-t", "1:EF02", "-n", "2:0:0", "-t", "2:8300", device)
        run("partx", "-u", device, check=False)
        root = f"{device}p2"
        # A UUID of its own: mkfs.btrfs refuses one that any device on the machine has,
        # and another worker's test may hold an ext4 made with ROOT_UUID meanwhile.
        root_uuid = str(uuid.uuid4())
        run("mkfs.btrfs", "-q", "-f", "-U", root_uuid, root)
        run("mount", root, str(target))
        for name in ("@", "@home"):
            run("btrfs", "subvolume", "create", str(target / name))
        run("umount", str(target))
        run("mount", "-o", "subvol=@,compress=zstd,noatime", root, str(target))
        (target / "home").mkdir()
        run("mount", "-o", "subvol=@home,compress=zstd,noatime", root, str(target / "home"))
        machine = machine_with_mounts(device, str(target), firmware="bios")
        plan = build_plan(premounted(firmware="bios"), machine, IDENT, target=str(target))
        by_uuid = f"/dev/disk/by-uuid/{root_uuid}"
        assert [(f.mountpoint, f.device, f.fstype, f.options) for f in plan.filesystems] == [
            ("/", by_uuid, "btrfs", ("noatime", "compress=zstd:3", "subvol=@")),
            ("/home", by_uuid, "btrfs", ("noatime", "compress=zstd:3", "subvol=@home")),
        ]


# -- stacked mappings: LVM on LUKS, read from a recorded machine -----------------

BOOT_UUID = "7e3f5a2b-1c4d-4e6f-9a8b-0c1d2e3f4a5b"
SDA = "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"


def _lvm_on_luks(*, probert: bool, boot_mounted: bool = True) -> dict:
    """sda: 1 BIOS boot, 2 ext4 /boot, 3 LUKS2 'cryptlvm' holding VG 'vg' with LVs root and swap.

    probert=False: records as our live probe makes them (sysfs slaves/ of each dm
    device); probert=True: as subiquity's probert does (no slaves; lvm and dmcrypt sections).
    """
    def part(n: int, size_gib: float, type_guid: str, **props) -> tuple[str, dict]:
        return f"/dev/sda{n}", {"DEVNAME": f"/dev/sda{n}", "DEVTYPE": "partition", "DEVPATH": f"{SDA}/sda{n}",
                                "ID_PART_ENTRY_NUMBER": str(n), "ID_PART_ENTRY_TYPE": type_guid, "MAJOR": "8",
                                "MINOR": str(n), "attrs": {"size": str(int(size_gib * GIB)), "partition": str(n)},
                                **props}

    def dm(n: int, name: str, uuid: str, slaves: list[str], **props) -> tuple[str, dict]:
        rec = {"DEVNAME": f"/dev/dm-{n}", "DEVTYPE": "disk", "DEVPATH": f"/devices/virtual/block/dm-{n}",
               "DM_NAME": name, "DM_UUID": uuid, "MAJOR": "253", "MINOR": str(n), "attrs": {"size": str(40 * GIB)},
               **props}
        if not probert:
            rec["slaves"] = slaves
        return f"/dev/dm-{n}", rec

    blockdev = dict([
        ("/dev/sda", {"DEVNAME": "/dev/sda", "DEVTYPE": "disk", "DEVPATH": SDA, "ID_BUS": "ata", "MAJOR": "8",
                      "MINOR": "0", "ID_PART_TABLE_TYPE": "gpt", "DEVLINKS": "/dev/disk/by-id/ata-DISK_1",
                      "attrs": {"size": str(100 * GIB)}}),
        part(1, 1 / 1024, BIOS_BOOT_TYPE),
        part(2, 1, LINUX_FS_TYPE, ID_FS_TYPE="ext4", ID_FS_UUID=BOOT_UUID),
        part(3, 98, LINUX_FS_TYPE, ID_FS_TYPE="crypto_LUKS", ID_FS_UUID=LUKS_UUID, ID_FS_VERSION="2"),
        dm(0, "cryptlvm", "CRYPT-LUKS2-9f1c2d3e4b5a46978a1bc2d3e4f5a6b7-cryptlvm", ["/dev/sda3"],
           ID_FS_TYPE="LVM2_member"),
        dm(1, "vg-root", "LVM-abc-root", ["/dev/dm-0"], DM_VG_NAME="vg", DM_LV_NAME="root",
           ID_FS_TYPE="ext4", ID_FS_UUID=ROOT_UUID),
        dm(2, "vg-swap", "LVM-abc-swap", ["/dev/dm-0"], DM_VG_NAME="vg", DM_LV_NAME="swap",
           ID_FS_TYPE="swap", ID_FS_UUID=SWAP_UUID),
    ])
    mounts = [{"source": "/dev/mapper/vg-root", "target": "/mnt", "fstype": "ext4", "options": "rw", "maj:min": "253:1"}]
    if boot_mounted:
        mounts.append({"source": "/dev/sda2", "target": "/mnt/boot", "fstype": "ext4", "options": "rw", "maj:min": "8:2"})
    storage = {"blockdev": blockdev, "mount": mounts}
    if probert:
        storage["dmcrypt"] = {"cryptlvm": {"blkdevs_used": ["/dev/sda3"]}}
        storage["lvm"] = {"physical_volumes": {"vg": ["/dev/dm-0"]},
                          "logical_volumes": {"vg/root": {"volgroup": "vg"}, "vg/swap": {"volgroup": "vg"}}}
    # /proc/swaps names an LV by its dm-N node
    return {"storage": storage, "machine": {"firmware": "bios", "swaps": ["/dev/dm-2"]}}


@pytest.mark.parametrize("probert", [False, True], ids=["sysfs-slaves", "probert-sections"])
def test_lvm_on_luks_keeps_the_luks_device_and_grub_goes_on_its_disk(probert):
    from installer.machine.probe import machine_from_data

    machine = machine_from_data(_lvm_on_luks(probert=probert))
    assert machine.luks == {"cryptlvm": "/dev/sda3"}
    assert machine.stack("/dev/mapper/vg-root") == ["/dev/mapper/vg-root", "/dev/mapper/cryptlvm", "/dev/sda3"]
    assert machine.swaps == ["/dev/mapper/vg-swap"]
    plan = build_plan(premounted(firmware="bios", swap="partition", luks=True), machine, IDENT)
    assert [(e.name, e.device) for e in plan.luks] == [("cryptlvm", f"/dev/disk/by-uuid/{LUKS_UUID}")]
    assert [(f.mountpoint, f.device) for f in plan.filesystems] == [
        ("/", "/dev/mapper/vg-root"), ("/boot", f"/dev/disk/by-uuid/{BOOT_UUID}")]
    assert [s.device for s in plan.swaps] == ["/dev/mapper/vg-swap"]
    assert plan.grub_device == "/dev/disk/by-id/ata-DISK_1"


def test_lvm_on_luks_reaches_the_rendered_initrd():
    from installer.machine.probe import machine_from_data
    from installer.nixos.render import render

    machine = machine_from_data(_lvm_on_luks(probert=False))
    model = premounted(firmware="bios", luks=True)
    text = render(model, machine, build_plan(model, machine, IDENT))["hardware-configuration.nix"]
    assert f'boot.initrd.luks.devices."cryptlvm".device = "/dev/disk/by-uuid/{LUKS_UUID}";' in text


def test_bios_grub_refuses_an_encrypted_root_without_an_unencrypted_boot():
    from installer.machine.probe import machine_from_data

    machine = machine_from_data(_lvm_on_luks(probert=False, boot_mounted=False))
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(premounted(firmware="bios", luks=True), machine, IDENT)
    assert [(p.field, p.message) for p in excinfo.value.problems] == [
        ("disk.layout", "GRUB cannot read the encrypted root: mount an unencrypted /boot at /mnt/boot")]
    # the plain LUKS case, and /boot inside the same LUKS container
    crypt = Partition("/dev/sda2", 2, 90 * GIB, 0, LINUX_FS_TYPE, "root", "crypto_LUKS", uuid=LUKS_UUID)
    bios = Partition("/dev/sda1", 1, MIB, MIB, BIOS_BOOT_TYPE, "bios", "")
    luks_root = good_machine(firmware="bios", disks=[disk(bios, crypt)], **opened(cryptroot="/dev/sda2"), swaps=[],
                             mounts=[Mount("/dev/mapper/cryptroot", "/mnt", "ext4")])
    assert messages(premounted(firmware="bios", luks=True), luks_root) == [
        "GRUB cannot read the encrypted root: mount an unencrypted /boot at /mnt/boot"]
    luks_root.dm_slaves["/dev/mapper/vg-boot"] = ["/dev/mapper/cryptroot"]
    luks_root.mounts.append(Mount("/dev/mapper/vg-boot", "/mnt/boot", "ext4"))
    assert messages(premounted(firmware="bios", luks=True), luks_root) == [
        "GRUB cannot read the encrypted /boot (/dev/mapper/vg-boot): mount an unencrypted /boot at /mnt/boot"]
    # UEFI reads the kernels from the ESP: the same encrypted root is fine there
    uefi = good_machine(disks=[disk(ESP, crypt)], **opened(cryptroot="/dev/sda2"), swaps=[],
                        mounts=[Mount("/dev/mapper/cryptroot", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat")])
    assert build_plan(premounted(luks=True, loader="grub"), uefi, IDENT).grub_device == "nodev"


# -- swap: only what belongs to the new system --------------------------------------

OTHER = Disk(path="/dev/sdb", name="sdb", size=2000 * GIB, removable=True, table="gpt",
             partitions=[Partition("/dev/sdb2", 2, 8 * GIB, 0, LINUX_SWAP_TYPE, "", "swap", uuid="aaaa-bbbb")])


def test_active_swap_on_another_disk_is_left_out_with_a_warning():
    machine = good_machine(disks=[disk(ESP, ROOT, HOME, SWAP), OTHER], swaps=["/dev/sda4", "/dev/sdb2"])
    plan = build_plan(premounted(swap="partition"), machine, IDENT)
    assert [s.device for s in plan.swaps] == [f"/dev/disk/by-uuid/{SWAP_UUID}"]
    assert [(w.field, w.severity, w.message) for w in plan.warnings] == [
        ("disk.swap", "warning",
         "active swap /dev/sdb2 is on /dev/sdb, not on a disk the new system is mounted from; left out")]


def test_swap_partition_chosen_but_the_only_active_swap_is_elsewhere():
    machine = good_machine(disks=[disk(ESP, ROOT, HOME), OTHER], swaps=["/dev/sdb2"])
    assert messages(premounted(swap="partition"), machine) == [
        "the active swap (/dev/sdb2) is not on a disk the new system is mounted from; "
        "run swapon on a swap partition there, or choose zram or no swap"]
    plan = build_plan(premounted(swap="zram"), machine, IDENT)
    assert plan.swaps == [] and plan.zram


def test_swap_that_is_not_on_a_local_disk_is_left_out():
    plan = build_plan(premounted(), good_machine(swaps=["/dev/nbd0"]), IDENT)
    assert plan.swaps == []
    assert [w.message for w in plan.warnings] == ["active swap /dev/nbd0 is not on a local disk; left out"]


# -- the remaining messages -----------------------------------------------------------


def test_a_luks_mapping_on_an_unknown_device_has_no_uuid_to_name():
    machine = good_machine(
        mounts=[Mount("/dev/mapper/cryptroot", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat")],
        **opened(cryptroot="/dev/sdc1"), swaps=[],
    )
    assert messages(premounted(luks=True), machine) == [
        "/dev/mapper/cryptroot is open from /dev/sdc1, but its LUKS UUID is unknown; "
        "is the backing device a partition of a local disk?"]


def test_an_unknown_luks_device_under_several_mounts_is_reported_once():
    # LVM on LUKS: root, /home and the swap are LVs of one container opened from an unknown device.
    stack = opened(cryptlvm="/dev/nbd0")
    stack["dm_slaves"].update({f"/dev/mapper/vg-{lv}": ["/dev/mapper/cryptlvm"] for lv in ("root", "home", "swap")})
    machine = good_machine(
        mounts=[Mount("/dev/mapper/vg-root", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat"),
                Mount("/dev/mapper/vg-home", "/mnt/home", "ext4")],
        swaps=["/dev/mapper/vg-swap"], **stack,
    )
    assert messages(premounted(luks=True), machine) == [
        "/dev/mapper/cryptlvm is open from /dev/nbd0, but its LUKS UUID is unknown; "
        "is the backing device a partition of a local disk?"]


def test_grub_needs_a_disk_when_root_is_on_no_known_disk():
    machine = good_machine(firmware="bios", mounts=[Mount("/dev/nbd0p1", "/mnt", "ext4", uuid=ROOT_UUID)], swaps=[])
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(premounted(firmware="bios"), machine, IDENT)
    assert [(p.field, p.message) for p in excinfo.value.problems] == [
        ("disk.device", "choose the disk GRUB should be installed on")]
    m = premounted(firmware="bios")
    m.disk.device = "ata-DISK_1"  # naming the disk answers it (and it still needs its BIOS boot partition)
    (message,) = messages(m, machine)
    assert "needs a 1 MiB BIOS boot partition" in message


def test_an_esp_that_is_on_no_known_partition_is_a_warning_not_a_refusal():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ext4"),
                                   Mount("/dev/sdz1", "/mnt/boot", "vfat", uuid=ESP_UUID)], swaps=[])
    plan = build_plan(premounted(), machine, IDENT)
    assert [(w.field, w.severity, w.message) for w in plan.warnings] == [
        ("disk.layout", "warning", "could not check that /dev/sdz1 is an EFI system partition")]
    assert plan.filesystems[1].device == f"/dev/disk/by-uuid/{ESP_UUID}"


# -- always by UUID: a /dev/sdX or /dev/nbdNpM may name another device at the next boot --


def test_a_filesystem_on_no_known_partition_is_named_by_its_own_uuid():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat"),
                                   Mount("/dev/nbd0p1", "/mnt/home", "ext4", uuid=HOME_UUID)])
    plan = build_plan(premounted(), machine, IDENT)
    assert [(f.mountpoint, f.device) for f in plan.filesystems] == [
        ("/", f"/dev/disk/by-uuid/{ROOT_UUID}"), ("/boot", f"/dev/disk/by-uuid/{ESP_UUID}"),
        ("/home", f"/dev/disk/by-uuid/{HOME_UUID}")]


def test_a_filesystem_whose_uuid_is_unknown_is_refused():
    machine = good_machine(mounts=[Mount("/dev/sda2", "/mnt", "ext4"), Mount("/dev/sda1", "/mnt/boot", "vfat"),
                                   Mount("/dev/nbd0p1", "/mnt/home", "ext4")])
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(premounted(), machine, IDENT)
    assert [(p.field, p.message) for p in excinfo.value.problems] == [
        ("disk.layout", "the UUID of the filesystem on /dev/nbd0p1 (at /mnt/home) is unknown, so the new system "
         "would name it by that /dev path, which may name another device at the next boot; check that "
         "`blkid /dev/nbd0p1` shows a UUID (mkfs gives one), or use a partition of a disk listed here")]


def test_a_filesystem_in_a_mapping_keeps_its_mapper_name():
    machine = good_machine(mounts=[Mount("/dev/mapper/vg-root", "/mnt", "ext4", uuid=ROOT_UUID),
                                   Mount("/dev/sda1", "/mnt/boot", "vfat")], swaps=[])
    plan = build_plan(premounted(), machine, IDENT)
    assert plan.filesystems[0].device == "/dev/mapper/vg-root"


@needs_root
def test_the_live_probe_gives_a_mount_its_uuid_and_the_plan_names_it_by_that(tmp_path):
    from installer.machine.probe import probe

    own = str(uuid.uuid4())
    target = tmp_path / "target"
    target.mkdir()
    with loop_device(tmp_path, size=GIB, target=str(target)) as (device, _image):
        _bios_disk_with_ext4(device, own)
        run("mount", f"{device}p2", str(target))
        try:
            machine = probe(allow_loop=True, target=str(target))
        finally:
            run("umount", str(target))
    (mount,) = [m for m in machine.mounts if m.target == str(target)]
    assert (mount.source, mount.uuid) == (f"{device}p2", own)
    # The partition left out of its disk's listing (as a device no disk lists, nbd):
    # the mount's own UUID still names it.
    (loop,) = [d for d in machine.disks if d.path == device]
    loop.partitions = [p for p in loop.partitions if p.path != mount.source]
    model = premounted(firmware="bios")
    model.disk.device = device  # GRUB's disk, no longer found from the partition
    plan = build_plan(model, machine, IDENT, target=str(target))
    assert plan.filesystems[0].device == f"/dev/disk/by-uuid/{own}"


# -- a root that is not a filesystem of its own: a bind mount, the running system's / --


def _refusals(target) -> list[str]:
    """What the plan says of what is really mounted at `target`, as the live probe sees it."""
    from installer.machine.probe import probe

    machine = probe(allow_loop=True, target=str(target))
    with pytest.raises(ProblemsError) as excinfo:
        build_plan(premounted(firmware="bios"), machine, IDENT, target=str(target))
    return [p.message for p in excinfo.value.problems]


@needs_root
def test_a_bind_mount_of_the_running_systems_root_is_refused(tmp_path):
    """The running system's / bound at the target: fileSystems."/" would become its
    disk (/dev/vda here) and nixos-install would write over the running system."""
    running = next(line.split(" - ")[1].split()[1] for line in open("/proc/self/mountinfo")
                   if line.split()[4] == "/")
    if not running.startswith("/dev/"):
        pytest.skip(f"the running system's / is {running}, not a disk")
    target = tmp_path / "target"
    target.mkdir()
    run("mount", "--bind", "/", str(target))
    try:
        found = _refusals(target)
    finally:
        run("umount", str(target))
    assert any(message.startswith(f"{target} is the filesystem the running system is on ({running}, mounted at /")
               for message in found), found


@needs_root
def test_a_bind_mount_of_a_directory_on_another_mounted_filesystem_is_refused(tmp_path):
    own = str(uuid.uuid4())  # not ROOT_UUID: other tests may hold a filesystem with that one meanwhile
    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    with loop_device(tmp_path, size=GIB, target=str(elsewhere)) as (device, _image):
        _bios_disk_with_ext4(device, own)
        run("mount", f"{device}p2", str(elsewhere))
        try:
            (elsewhere / "sub").mkdir()
            run("mount", "--bind", str(elsewhere / "sub"), str(target))
            try:
                found = _refusals(target)
            finally:
                run("umount", str(target))
        finally:
            run("umount", str(elsewhere))
        assert found == [f"{target} ({device}p2) is also mounted at {elsewhere}: a bind mount, or a filesystem in "
                         f"use there; unmount it there and mount the new system's own root filesystem at {target}"]
        run("mount", f"{device}p2", str(target))  # the same filesystem, mounted only there, passes
        try:
            from installer.machine.probe import probe

            plan = build_plan(premounted(firmware="bios"), probe(allow_loop=True, target=str(target)), IDENT,
                              target=str(target))
            assert plan.filesystems[0].device == f"/dev/disk/by-uuid/{own}"
        finally:
            run("umount", str(target))


def test_a_root_on_a_whole_disk_mounted_as_the_running_system_too_is_refused():
    """The case seen in a VM: /dev/vda is the running system's / and bound at /mnt."""
    vda = Disk(path="/dev/vda", name="vda", size=20 * GIB, table="")
    machine = good_machine(firmware="bios", disks=[vda], swaps=[],
                           mounts=[Mount("/dev/vda", "/", "ext4", "rw"), Mount("/dev/vda", "/mnt", "ext4", "rw")])
    found = messages(premounted(firmware="bios"), machine)
    assert found[0].startswith("/mnt is the filesystem the running system is on (/dev/vda, mounted at /")
    assert ("/dev/vda (at /mnt) is a whole disk: the new system would name it /dev/..., which may change "
            "between boots; put the filesystem on a partition (named by its UUID)") in found
