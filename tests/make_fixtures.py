"""Derive the trimmed fixture machines.

    python tests/make_fixtures.py [SOURCE_DIR]
        every recorded machine in SOURCE_DIR (default ../shared/machines, subiquity/probert
        recordings), trimmed to what installer.machine.probe reads (installer.machine.udevdata.trim): the udev
        properties and sysfs attributes of each block device, the filesystem, mount, dmcrypt,
        raid, lvm and os-prober sections; network data, I/O counters and the rest dropped.

    python tests/make_fixtures.py --live NAME DEVICE...
        this machine as `nixos-tui-installer --record-machine` writes it, kept to the named
        disks (and their partitions and mounts), as tests/fixtures/machines/NAME.json.
        recorded-loop-host.json was made so on the build host, as root, with a 16 GiB sparse
        file on a loop device (GPT: ESP vfat 'BOOT', active swap, ext4 'nixos' mounted at
        /var/tmp/probe-fixture-target): `--live recorded-loop-host /dev/vda /dev/loopN`.

    Derived machines (DERIVED below), written by the first form too: storage the recordings
    lack, built from one recording's real records and edited only as the named subiquity/probert
    format records such a machine (udev properties, sysfs attributes, the dmcrypt, lvm,
    multipath and zfs sections as probert writes them). Each keeps the recording's disk it
    starts from and only a few mounts.
    - luks-lvm-root (from imsm): Ubuntu's guided "LVM with encryption" on imsm's NVMe disk,
      running: nvme0n1p1 ESP at /boot/efi, p2 ext4 /boot, p3 LUKS2 opened as dm_crypt-0 whose
      LVM VG ubuntu-vg holds ubuntu-lv at /. probert's dmcrypt section names the backing device
      as dmsetup prints it, the bare string "nvme0n1p3"; no sysfs slaves (probert has none).
      imsm's TOSHIBA sdb, empty, is the disk left to offer.
    - multipath (from nvme-over-tcp): its virtio-scsi QEMU disk seen through two paths, sdb and
      sdc (one WWN, ID_FS_TYPE=mpath_member, DM_MULTIPATH_DEVICE_PATH=1), assembled as dm-0
      /dev/mapper/mpatha (DM_UUID mpath-<wwid>, dm-name/dm-uuid/wwn/scsi by-id links), and
      multipathd's maps/paths in storage.multipath; nvme-over-tcp's own sda stays.
    - win-dynamic-disks (from threebuntu-on-msdos, a VirtualBox guest): sda as subiquity's
      ms-win-dyn-disk recording shows an MBR dynamic disk: sfdisk lists one type-42 entry over
      the disk while the kernel's LDM parser shows its two NTFS volumes as sda1/sda2 with no
      ID_PART_ENTRY_*; sdb a GPT dynamic disk (LDM metadata, MSR, LDM data partitions).
    - zfs-pool-desktop (from virtio, QEMU with virtio-blk): vdb and vdc whole-disk members of
      the imported pool "tank" (GPT part1 zfs_member labelled tank, part9 Solaris reserved;
      probert's zfs section lists it, its datasets mounted), vdd a member of the exported pool
      "backup"; vda stays. Also an empty USB card-reader slot sdb (size 0, removable) and a
      SATA disk sda whose recording has no queue/rotational, only ID_ATA_ROTATION_RATE_RPM.
    - the GPU machines (issue 20), a recording's disks with the "pci" list probert does not
      record, each device as sysfs shows it (installer.machine.pci): laptop-intel-nvidia-pascal
      (from win11-and-free-space: Intel + GTX 1050 Mobile, a battery), desktop-nvidia-rtx3060
      and desktop-amd-gpu (from simple), vm-virtio-gpu (from virtio: QEMU's virtio-gpu).

The output is committed so a plain clone needs no ../shared.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installer.machine.udevdata import flatten_mounts, live_data, trim  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "machines"


def write(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def keep_only(data: dict[str, Any], disks: list[str]) -> dict[str, Any]:
    """The recorded machine reduced to `disks`: their records, partitions, filesystems, mounts, swaps."""
    storage = data["storage"]
    blockdev = {dev: rec for dev, rec in storage["blockdev"].items()
                if dev in disks or any(rec.get("DEVPATH", "").startswith(storage["blockdev"][d]["DEVPATH"] + "/")
                                       for d in disks)}
    mounts = [m for m in flatten_mounts(storage.get("mount")) if m["source"] in blockdev]
    machine = dict(data.get("machine") or {})
    machine["swaps"] = [s for s in machine.get("swaps", []) if s in blockdev]
    return {"storage": {"blockdev": blockdev, "mount": mounts,
                        "filesystem": {d: fs for d, fs in (storage.get("filesystem") or {}).items() if d in blockdev}},
            "machine": machine, "pci": data.get("pci", [])}


# -- derived machines --------------------------------------------------------------
GIB = 1024**3
MIB = 1024**2


def _recorded(source: Path, name: str) -> dict[str, Any]:
    return trim(json.loads((source / f"{name}.json").read_text()))


def _mount(source: str, target: str, fstype: str, options: str, majmin: str = "") -> dict[str, str]:
    return {"source": source, "target": target, "fstype": fstype, "options": options, "maj:min": majmin}


def _part(disk: dict[str, Any], number: int, *, start_mib: int, size: int, type_: str, props: dict[str, str],
          sep: str = "") -> tuple[str, dict[str, Any]]:
    """Partition NUMBER of the disk record, with the ID_PART_ENTRY_* udev gives one and its own props."""
    node = f"{disk['DEVNAME']}{sep}{number}"
    rec = {"DEVNAME": node, "DEVTYPE": "partition", "DEVPATH": f"{disk['DEVPATH']}/{node.removeprefix('/dev/')}",
           "MAJOR": disk["MAJOR"], "MINOR": str(int(disk["MINOR"]) + number), "PARTN": str(number),
           "ID_PART_TABLE_TYPE": disk.get("ID_PART_TABLE_TYPE", "gpt"),
           "ID_PART_ENTRY_NUMBER": str(number), "ID_PART_ENTRY_TYPE": type_,
           "ID_PART_ENTRY_OFFSET": str(start_mib * MIB // 512), "ID_PART_ENTRY_SIZE": str(size // 512),
           "ID_PART_ENTRY_DISK": f"{disk['MAJOR']}:{disk['MINOR']}", **props,
           "attrs": {"partition": str(number), "ro": "0", "size": str(size), "start": str(start_mib * MIB // 512)}}
    return node, rec


def _table(disk: dict[str, Any], label: str, entries: list[tuple[str, str]]) -> None:
    disk["ID_PART_TABLE_TYPE"] = label
    disk["partitiontable"] = {"label": label, "partitions": [{"node": n, "type": t} for n, t in entries]}


def luks_lvm_root(source: Path) -> dict[str, Any]:
    base = _recorded(source, "imsm")
    old = base["storage"]["blockdev"]
    nvme = {k: v for k, v in old["/dev/nvme0n1"].items() if not k.startswith("ID_FS_")}
    # Ubuntu's guided partitioning types both p2 and the LUKS p3 as Linux filesystem
    esp, boot, luks = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "0fc63daf-8483-4772-8e79-3d69d8477de4", \
        "0fc63daf-8483-4772-8e79-3d69d8477de4"
    _table(nvme, "gpt", [("/dev/nvme0n1p1", esp.upper()), ("/dev/nvme0n1p2", boot.upper()),
                         ("/dev/nvme0n1p3", luks.upper())])
    nvme["ID_PART_TABLE_UUID"] = "5e0f8a62-3b1c-4a7e-9d2f-6c4b8e1a0f37"
    size = int(nvme["attrs"]["size"])
    crypt_uuid = "9b7c2f4e1d3a4c5b8e6f0a1b2c3d4e5f"
    parts = dict([
        _part(nvme, 1, start_mib=1, size=GIB, type_=esp, sep="p", props={
            "ID_FS_TYPE": "vfat", "ID_FS_VERSION": "FAT32", "ID_FS_UUID": "7A3C-1F2E", "ID_FS_USAGE": "filesystem",
            "ID_PART_ENTRY_UUID": "d2b6c0a4-1e8f-4c3a-9b5d-7f1e2a3c4b5d"}),
        _part(nvme, 2, start_mib=1025, size=2 * GIB, type_=boot, sep="p", props={
            "ID_FS_TYPE": "ext4", "ID_FS_VERSION": "1.0", "ID_FS_UUID": "3c9e1b7a-5d2f-4e8c-a1b3-6f0d2e4c8a9b",
            "ID_FS_USAGE": "filesystem", "ID_PART_ENTRY_UUID": "e4a8c2b6-3f1d-4e5a-8c7b-9d0e1f2a3b4c"}),
        _part(nvme, 3, start_mib=3073, size=size - 3074 * MIB, type_=luks, sep="p", props={
            "ID_FS_TYPE": "crypto_LUKS", "ID_FS_VERSION": "2", "ID_FS_UUID": "9b7c2f4e-1d3a-4c5b-8e6f-0a1b2c3d4e5f",
            "ID_FS_USAGE": "crypto", "ID_PART_ENTRY_UUID": "f6c0e4a8-5b3d-4f7c-9e1a-2b3c4d5e6f70"}),
    ])
    dm0 = {"DEVNAME": "/dev/dm-0", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/dm-0", "MAJOR": "253",
           "MINOR": "0", "DM_NAME": "dm_crypt-0", "DM_UUID": f"CRYPT-LUKS2-{crypt_uuid}-dm_crypt-0",
           "DEVLINKS": "/dev/mapper/dm_crypt-0 /dev/disk/by-id/dm-name-dm_crypt-0 "
                       f"/dev/disk/by-id/dm-uuid-CRYPT-LUKS2-{crypt_uuid}-dm_crypt-0",
           "ID_FS_TYPE": "LVM2_member", "ID_FS_USAGE": "raid", "ID_FS_VERSION": "LVM2 001",
           "attrs": {"removable": "0", "ro": "0", "size": str(size - 3090 * MIB)}}
    dm1 = {"DEVNAME": "/dev/dm-1", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/dm-1", "MAJOR": "253",
           "MINOR": "1", "DM_NAME": "ubuntu--vg-ubuntu--lv", "DM_VG_NAME": "ubuntu-vg", "DM_LV_NAME": "ubuntu-lv",
           "DM_UUID": "LVM-Qm3tZ8kX1pL5nR7vB2cF9dH4jK6wS0yTg1Zx5Vb8Nm2Lq7Ws4Er9Ty3Ui6Op0As",
           "DEVLINKS": "/dev/mapper/ubuntu--vg-ubuntu--lv /dev/ubuntu-vg/ubuntu-lv",
           "ID_FS_TYPE": "ext4", "ID_FS_UUID": "1f3e5d7c-9b2a-4c6e-8d0f-a2b4c6d8e0f1", "ID_FS_USAGE": "filesystem",
           "attrs": {"removable": "0", "ro": "0", "size": str(100 * GIB)}}
    blockdev = {"/dev/nvme0n1": nvme, **parts, "/dev/dm-0": dm0, "/dev/dm-1": dm1, "/dev/sdb": old["/dev/sdb"]}
    return {"storage": {
        "blockdev": dict(sorted(blockdev.items())),
        "dmcrypt": {"dm_crypt-0": {"blkdevname": "dm-0", "blkdevs_used": "nvme0n1p3", "name": "dm_crypt-0",
                                   "subsystem": "CRYPT", "uuid": dm0["DM_UUID"]}},
        "lvm": {"logical_volumes": {"ubuntu-vg/ubuntu-lv": {"fullname": "ubuntu-vg/ubuntu-lv", "name": "ubuntu-lv",
                                                            "size": f"{100 * GIB}B", "volgroup": "ubuntu-vg"}},
                "physical_volumes": {"ubuntu-vg": ["/dev/mapper/dm_crypt-0"]},
                "volume_groups": {"ubuntu-vg": {"devices": ["/dev/mapper/dm_crypt-0"], "name": "ubuntu-vg",
                                                "size": f"{size - 3090 * MIB}B"}}},
        "mount": [_mount("/dev/mapper/ubuntu--vg-ubuntu--lv", "/", "ext4", "rw,relatime", "253:1"),
                  _mount("/dev/nvme0n1p2", "/boot", "ext4", "rw,relatime", "259:3"),
                  _mount("/dev/nvme0n1p1", "/boot/efi", "vfat", "rw,relatime,fmask=0077,dmask=0077", "259:2"),
                  _mount("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", "rw,nosuid,nodev,noexec,relatime")],
    }}


def multipath(source: Path) -> dict[str, Any]:
    base = _recorded(source, "nvme-over-tcp")
    blockdev = dict(base["storage"]["blockdev"])
    wwid = "36001405a1b2c3d4e5f60718293a4b5c6"
    wwn = "0x6001405a1b2c3d4e5f60718293a4b5c6"
    template = base["storage"]["blockdev"]["/dev/sda"]
    paths = []
    for n, name in enumerate(("sdb", "sdc"), 1):
        rec = {k: v for k, v in template.items() if not k.startswith(("ID_PART_TABLE_", "partitiontable"))}
        rec.update({
            "DEVNAME": f"/dev/{name}", "MINOR": str(16 * n), "DM_MULTIPATH_DEVICE_PATH": "1",
            "DEVPATH": f"/devices/pci0000:00/0000:00:01.1/0000:02:00.0/virtio6/host0/target0:0:{n}/0:0:{n}:0/block/{name}",
            "DEVLINKS": f"/dev/disk/by-path/pci-0000:02:00.0-scsi-0:0:{n}:0 /dev/disk/by-diskseq/{10 + n}",
            "ID_FS_TYPE": "mpath_member", "ID_FS_USAGE": "other", "ID_SERIAL": wwid, "ID_SERIAL_SHORT": wwid[1:],
            "ID_WWN": wwn, "ID_MODEL": "disk0", "ID_MODEL_ENC": "disk0\\x20\\x20\\x20"})
        rec["attrs"] = {**template["attrs"], "size": str(40 * GIB)}
        blockdev[f"/dev/{name}"] = rec
        paths.append({"device": name, "serial": wwid[1:], "multipath": "mpatha", "host_wwnn": "[undef]",
                      "target_wwnn": "[undef]", "host_wwpn": "[undef]", "target_wwpn": "[undef]",
                      "host_adapter": "0000:02:00.0"})
    blockdev["/dev/dm-0"] = {
        "DEVNAME": "/dev/dm-0", "DEVTYPE": "disk", "DEVPATH": "/devices/virtual/block/dm-0", "MAJOR": "253",
        "MINOR": "0", "DM_NAME": "mpatha", "DM_UUID": f"mpath-{wwid}",
        "DEVLINKS": f"/dev/mapper/mpatha /dev/disk/by-id/dm-name-mpatha /dev/disk/by-id/dm-uuid-mpath-{wwid} "
                    f"/dev/disk/by-id/wwn-{wwn} /dev/disk/by-id/scsi-{wwid}",
        "ID_SERIAL": wwid, "ID_WWN": wwn,
        "attrs": {"removable": "0", "ro": "0", "size": str(40 * GIB)}}
    storage = {**base["storage"], "blockdev": dict(sorted(blockdev.items())),
               "multipath": {"maps": [{"multipath": wwid, "sysfs": "dm-0", "paths": "2"}], "paths": paths}}
    return {"storage": storage}


def win_dynamic_disks(source: Path) -> dict[str, Any]:
    base = _recorded(source, "threebuntu-on-msdos")
    old = base["storage"]["blockdev"]
    sda = {k: v for k, v in old["/dev/sda"].items() if k != "partitiontable"}
    sda["attrs"] = {**sda["attrs"], "size": str(20 * GIB)}
    _table(sda, "dos", [("/dev/sda1", "42")])  # sfdisk's view: one LDM partition over the disk
    blockdev: dict[str, Any] = {"/dev/sda": sda, "/dev/sr0": old["/dev/sr0"]}
    for number, start, size in ((1, 2048, 10485760000), (2, 20482048, 10985930752)):
        node = f"/dev/sda{number}"
        # the kernel's LDM volumes: no ID_PART_ENTRY_* (no table entry matches them), as recorded
        blockdev[node] = {"DEVNAME": node, "DEVTYPE": "partition", "DEVPATH": f"{sda['DEVPATH']}/sda{number}",
                          "MAJOR": "8", "MINOR": str(number), "PARTN": str(number), "ID_PART_TABLE_TYPE": "dos",
                          "ID_FS_TYPE": "ntfs", "ID_FS_LABEL": "New_Volume", "ID_FS_LABEL_ENC": "New\\x20Volume",
                          "ID_FS_UUID": ("0C3EBBA03EBB80EE", "5610C35710C33D2D")[number - 1], "ID_FS_USAGE": "filesystem",
                          "attrs": {"partition": str(number), "ro": "0", "size": str(size), "start": str(start)}}
    sdb = {k: v for k, v in sda.items() if k != "partitiontable"}
    sdb.update({"DEVNAME": "/dev/sdb", "MINOR": "16", "ID_SERIAL": "VBOX_HARDDISK_VB7d41c2e9-5a03b6f8",
                "ID_SERIAL_SHORT": "VB7d41c2e9-5a03b6f8", "ID_PART_TABLE_UUID": "8e2f4a6c-1b3d-4f5a-9c7e-0d2b4f6a8c1e",
                "DEVPATH": sda["DEVPATH"].replace("ata3/host2/target2:0:0/2:0:0:0/block/sda",
                                                  "ata4/host3/target3:0:0/3:0:0:0/block/sdb"),
                "DEVLINKS": "/dev/disk/by-id/ata-VBOX_HARDDISK_VB7d41c2e9-5a03b6f8 /dev/disk/by-path/pci-0000:00:0d.0-ata-2"})
    sdb["attrs"] = {**sda["attrs"], "size": str(30 * GIB)}
    ldm_meta, msr, ldm_data = ("5808c8aa-7e8f-42e0-85d2-e1e90434cfb3", "e3c9e316-0b5c-4db8-817d-f92df00215ae",
                               "af9b60a0-1431-4f62-bc68-3311714a69ad")
    _table(sdb, "gpt", [("/dev/sdb1", ldm_meta.upper()), ("/dev/sdb2", msr.upper()), ("/dev/sdb3", ldm_data.upper())])
    blockdev["/dev/sdb"] = sdb
    for number, start, size, kind in ((1, 1, MIB, ldm_meta), (2, 2, 127 * MIB, msr), (3, 129, 30 * GIB - 130 * MIB, ldm_data)):
        node, rec = _part(sdb, number, start_mib=start, size=size, type_=kind, props={
            "ID_PART_ENTRY_NAME": ("LDM\\x20metadata\\x20partition", "Microsoft\\x20reserved\\x20partition",
                                   "LDM\\x20data\\x20partition")[number - 1]})
        blockdev[node] = rec
    return {"storage": {"blockdev": dict(sorted(blockdev.items())),
                        "mount": [_mount("/dev/sr0", "/cdrom", "iso9660", "ro,noatime", "11:0")]}}


def zfs_pool_desktop(source: Path) -> dict[str, Any]:
    base = _recorded(source, "virtio")
    old = base["storage"]["blockdev"]
    vda = old["/dev/vda"]
    blockdev: dict[str, Any] = {"/dev/vda": vda, "/dev/sr0": old["/dev/sr0"]}
    zfs_data, solaris_reserved = "6a898cc3-1dd2-11b2-99a6-080020736631", "6a945a3b-1dd2-11b2-99a6-080020736631"
    members = (("vdb", "tank", "14563873264869012345", 5), ("vdc", "tank", "14563873264869012345", 6),
               ("vdd", "backup", "9876543210123456789", 7))
    for name, pool, guid, slot in members:
        disk = {k: v for k, v in vda.items()}
        disk.update({"DEVNAME": f"/dev/{name}", "MINOR": str(16 * (ord(name[-1]) - ord("a"))),
                     "DEVPATH": f"/devices/pci0000:00/0000:00:0{slot}.0/virtio{slot}/block/{name}",
                     "DEVLINKS": f"/dev/disk/by-path/pci-0000:00:0{slot}.0 /dev/disk/by-path/virtio-pci-0000:00:0{slot}.0"})
        disk["attrs"] = {**vda["attrs"], "size": str(20 * GIB)}
        _table(disk, "gpt", [(f"/dev/{name}1", zfs_data.upper()), (f"/dev/{name}9", solaris_reserved.upper())])
        blockdev[disk["DEVNAME"]] = disk
        node, rec = _part(disk, 1, start_mib=1, size=20 * GIB - 10 * MIB, type_=zfs_data, props={
            "ID_FS_TYPE": "zfs_member", "ID_FS_LABEL": pool, "ID_FS_LABEL_ENC": pool, "ID_FS_UUID": guid,
            "ID_FS_UUID_SUB": str(int(guid) // slot), "ID_FS_VERSION": "5000", "ID_FS_USAGE": "filesystem",
            "ID_PART_ENTRY_NAME": "zfs-" + guid[:16]})
        blockdev[node] = rec
        node, rec = _part(disk, 9, start_mib=20 * 1024 - 9, size=8 * MIB, type_=solaris_reserved, props={})
        blockdev[node] = rec
    reader = "/devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
    blockdev["/dev/sdb"] = {
        "DEVNAME": "/dev/sdb", "DEVTYPE": "disk", "DEVPATH": reader, "MAJOR": "8", "MINOR": "16", "ID_BUS": "usb",
        "ID_MODEL": "SD_MMC", "ID_MODEL_ENC": "SD\\x2fMMC\\x20\\x20\\x20\\x20\\x20\\x20\\x20\\x20\\x20\\x20",
        "ID_SERIAL": "Generic-_SD_MMC_20120926571200000-0:0", "ID_SERIAL_SHORT": "20120926571200000",
        "ID_TYPE": "disk", "ID_USB_DRIVER": "usb-storage",
        "DEVLINKS": "/dev/disk/by-id/usb-Generic-_SD_MMC_20120926571200000-0:0",
        "attrs": {"capability": "51", "queue/logical_block_size": "512", "queue/rotational": "1",
                  "removable": "1", "ro": "0", "size": "0"}}
    sata = copy.deepcopy(_recorded(source, "simple")["storage"]["blockdev"]["/dev/sda"])
    sata["attrs"].pop("queue/rotational", None)  # not recorded: the ATA rotation rate says what it is
    sata["ID_ATA_ROTATION_RATE_RPM"] = "7200"
    blockdev["/dev/sda"] = sata
    datasets = {"tank": {}, "tank/home": {}}
    return {"storage": {
        "blockdev": dict(sorted(blockdev.items())),
        "zfs": {"zpools": {"tank": {"datasets": datasets}}},
        "mount": [_mount("tank", "/tank", "zfs", "rw,xattr,noacl", "0:45"),
                  _mount("tank/home", "/tank/home", "zfs", "rw,xattr,noacl", "0:46")]}}


def _pci(slot: str, vendor: str, device: str, klass: str, driver: str = "") -> dict[str, str]:
    """One device of the "pci" list, each value as sysfs prints its file (installer.machine.pci)."""
    return {"slot": slot, "vendor": f"0x{vendor}", "device": f"0x{device}", "class": f"0x{klass}", "driver": driver}


def _with_pci(base: dict[str, Any], facts: dict[str, Any], devices: list[dict[str, str]]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["machine"] = {**(data.get("machine") or {}), **facts}
    data["pci"] = devices
    return data


def laptop_intel_nvidia_pascal(source: Path) -> dict[str, Any]:
    """win11-and-free-space's disks in an Optimus laptop (as a Dell XPS 15 9570's lspci -nn shows it):
    Intel UHD 630 (8086:3e9b) at 00:02.0 bound to i915, and a GeForce GTX 1050 Mobile (GP107M,
    10de:1c8d) at 01:00.0 as a 3D controller (class 0302, no outputs of its own) under nouveau, as the
    ISO boots it; a battery."""
    return _with_pci(_recorded(source, "win11-and-free-space"),
                     {"firmware": "uefi", "cpu_vendor": "intel", "cpu_flags": ["vmx"], "virtualisation": "none",
                      "battery": True},
                     [_pci("0000:00:00.0", "8086", "3ec4", "060000", "skl_uncore"),
                      _pci("0000:00:02.0", "8086", "3e9b", "030000", "i915"),
                      _pci("0000:00:14.0", "8086", "a36d", "0c0330", "xhci_hcd"),
                      _pci("0000:00:17.0", "8086", "a353", "010601", "ahci"),
                      _pci("0000:00:1f.3", "8086", "a348", "040380", "snd_hda_intel"),
                      _pci("0000:01:00.0", "10de", "1c8d", "030200", "nouveau"),
                      _pci("0000:3b:00.0", "168c", "003e", "028000", "ath10k_pci")])


def desktop_nvidia_rtx3060(source: Path) -> dict[str, Any]:
    """simple's disk in an AMD Ryzen desktop (no integrated graphics) with a GeForce RTX 3060
    (GA106, 10de:2503) at 2b:00.0 as a VGA controller, its HDMI audio function beside it."""
    return _with_pci(_recorded(source, "simple"),
                     {"firmware": "uefi", "cpu_vendor": "amd", "cpu_flags": ["svm"], "virtualisation": "none"},
                     [_pci("0000:00:00.0", "1022", "1480", "060000"),
                      _pci("0000:02:00.0", "1022", "43ee", "0c0330", "xhci_hcd"),
                      _pci("0000:02:00.1", "1022", "43eb", "010601", "ahci"),
                      _pci("0000:2b:00.0", "10de", "2503", "030000", "nouveau"),
                      _pci("0000:2b:00.1", "10de", "228e", "040300", "snd_hda_intel"),
                      _pci("0000:2d:00.3", "1022", "149c", "0c0330", "xhci_hcd")])


def desktop_amd_gpu(source: Path) -> dict[str, Any]:
    """simple's disk in a desktop with an AMD Radeon RX 6600 (Navi 23, 1002:73ff) under amdgpu."""
    return _with_pci(_recorded(source, "simple"),
                     {"firmware": "uefi", "cpu_vendor": "amd", "cpu_flags": ["svm"], "virtualisation": "none"},
                     [_pci("0000:00:00.0", "1022", "1480", "060000"),
                      _pci("0000:03:00.0", "1002", "73ff", "030000", "amdgpu"),
                      _pci("0000:03:00.1", "1002", "ab28", "040300", "snd_hda_intel"),
                      _pci("0000:04:00.0", "1022", "43ee", "0c0330", "xhci_hcd")])


def vm_virtio_gpu(source: Path) -> dict[str, Any]:
    """virtio's QEMU guest (i440FX) with a virtio-gpu display (1af4:1050) bound to virtio-pci,
    as QEMU's -device virtio-vga shows it, beside its virtio-blk disk."""
    return _with_pci(_recorded(source, "virtio"),
                     {"firmware": "bios", "cpu_vendor": "intel", "cpu_flags": ["hypervisor"], "virtualisation": "qemu"},
                     [_pci("0000:00:00.0", "8086", "1237", "060000"),
                      _pci("0000:00:01.0", "8086", "7000", "060100"),
                      _pci("0000:00:01.1", "8086", "7010", "010180", "ata_piix"),
                      _pci("0000:00:02.0", "1af4", "1050", "030000", "virtio-pci"),
                      _pci("0000:00:03.0", "1af4", "1000", "020000", "virtio-pci"),
                      _pci("0000:00:04.0", "1af4", "1001", "010000", "virtio-pci")])


DERIVED = {"luks-lvm-root": luks_lvm_root, "multipath": multipath, "win-dynamic-disks": win_dynamic_disks,
           "zfs-pool-desktop": zfs_pool_desktop, "laptop-intel-nvidia-pascal": laptop_intel_nvidia_pascal,
           "desktop-nvidia-rtx3060": desktop_nvidia_rtx3060, "desktop-amd-gpu": desktop_amd_gpu,
           "vm-virtio-gpu": vm_virtio_gpu}


def main(argv: list[str]) -> int:
    if len(argv) > 2 and argv[1] == "--live":
        name, disks = argv[2], argv[3:]
        data = live_data()
        missing = [d for d in disks if d not in data["storage"]["blockdev"]]
        if not disks or missing:
            print(f"name the disks to keep; not found: {missing}", file=sys.stderr)
            return 1
        print(write(name, trim(keep_only(data, disks))))
        return 0
    source = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "machines"
    files = sorted(source.glob("*.json"))
    if not files:
        print(f"no recorded machines in {source}", file=sys.stderr)
        return 1
    for path in files:
        out = write(path.stem, trim(json.loads(path.read_text())))
        print(f"{path.name}: {path.stat().st_size} -> {out.stat().st_size} bytes")
    for name, derive in DERIVED.items():
        out = write(name, trim(derive(source)))
        print(f"{name} (derived): {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
