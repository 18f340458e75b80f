""""I mounted it myself": each missing piece gives its message; real mounts give fileSystems."""

from __future__ import annotations

import pytest

from installer.hardware import BIOS_BOOT_TYPE, ESP_TYPE, LINUX_FS_TYPE, LINUX_SWAP_TYPE, Disk, Machine, Mount, Partition
from installer.identity import Identity
from installer.model import GIB, MIB, InstallModel
from installer.plan import build_plan
from installer.problems import ProblemsError
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
    machine = good_machine(disks=[disk(fat, ROOT)])
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
        luks={"cryptroot": "/dev/sda2", "unrelated": "/dev/sdc1"},
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
        run("mkfs.btrfs", "-q", "-f", "-U", ROOT_UUID, root)
        run("mount", root, str(target))
        for name in ("@", "@home"):
            run("btrfs", "subvolume", "create", str(target / name))
        run("umount", str(target))
        run("mount", "-o", "subvol=@,compress=zstd,noatime", root, str(target))
        (target / "home").mkdir()
        run("mount", "-o", "subvol=@home,compress=zstd,noatime", root, str(target / "home"))
        machine = machine_with_mounts(device, str(target), firmware="bios")
        plan = build_plan(premounted(firmware="bios"), machine, IDENT, target=str(target))
        by_uuid = f"/dev/disk/by-uuid/{ROOT_UUID}"
        assert [(f.mountpoint, f.device, f.fstype, f.options) for f in plan.filesystems] == [
            ("/", by_uuid, "btrfs", ("noatime", "compress=zstd:3", "subvol=@")),
            ("/home", by_uuid, "btrfs", ("noatime", "compress=zstd:3", "subvol=@home")),
        ]
