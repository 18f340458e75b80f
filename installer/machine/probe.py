"""Probe the machine: live from udev/sysfs, or from a recorded machine file.

Both roads meet in `machine_from_data`: the live side first builds the same
record a file holds (`installer.machine.udevdata.live_data`), so a bug seen on a
user's machine replays from the file they attach (`record_machine`).

The record format is subiquity/probert's (see `installer.machine.udevdata` for the
layout and our additions, notably the top-level "machine" object with
firmware, cpu_vendor, virtualisation, swaps and boot_medium). When a file has
no "machine.firmware", the firmware is UEFI if efivarfs is mounted at
/sys/firmware/efi/efivars in its mount tree, else BIOS.

What becomes a `Disk`: every whole block device except zram, ram disks,
floppies and the virtual devices built on other disks (dm-*, md*), which are
left out entirely (nobody installs onto them; they still count when deciding
what is in use). Loop devices and optical drives are kept and refused, so the
wizard can say why an image file or a DVD cannot be chosen; an unattached
loop device (size 0) is not a disk at all. A multipath map (dm-* with an
mpath- DM_UUID) is the one device-mapper device listed, once, as
/dev/mapper/NAME, and refused (eligibility.MULTIPATH); its path devices are
listed and refused as its paths. Why a disk is refused is installer.machine.eligibility's
answer, from the facts gathered here.

In use, besides mounted: under a mounted device-mapper stack (the disk under
/ on LVM on LUKS "holds / through LUKS and LVM"), RAID members, PVs of an
active VG, LUKS backing devices, members of an imported ZFS pool.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from installer.machine import eligibility, pci, shrinkable, udevdata
from installer.machine.describe import Context, describe_disk, describe_partition
from installer.machine.gaps import gaps_record
from installer.machine.hardware import (BY_ID, MAPPER, MBR_EXTENDED, START_UNKNOWN, Bus, Disk, Machine,
                                        Mount, Partition)
from installer.machine.machinefile import load_machine_file
from installer.base.problems import ProbeError

_LEFT_OUT = ("zram", "ram", "fd", "dm-", "md", "nbd")
_BY_ID_ORDER = ("ata-", "nvme-", "virtio-", "usb-", "scsi-", "mmc-", "ieee1394-", "memstick-", "dm-uuid-mpath-")

def probe(machine_file: str | os.PathLike[str] | None = None, *, allow_loop: bool = False, target: str = "/mnt") -> Machine:
    """The machine's disks, mounts and facts: live (how far each partition shrinks asked now), or from a file."""
    if machine_file is None:
        return shrinkable.fill(machine_from_data(_live_data(), source="live", allow_loop=allow_loop, target=target))
    return machine_from_data(load_machine_file(machine_file), source=str(machine_file), allow_loop=allow_loop,
                             target=target)


def record_machine(path: str | os.PathLike[str]) -> Machine:
    """Write this machine in the recorded format, for a bug report or a test fixture, and return it.

    The file also carries each disk's gaps as the probe worked them out ("gaps", see
    `installer.machine.udevdata`), for the person reading a report; reading the file
    works them out again from the partitions.
    ProbeError when the machine cannot be read, OSError when the file cannot be written."""
    data = _live_data()
    machine = shrinkable.fill(machine_from_data(data), data)
    data["gaps"] = gaps_record(machine.disks)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    from installer.base import safefs

    safefs.write_file(path, text, mode=0o644)
    return machine


def _live_data() -> dict[str, Any]:
    try:
        return {**udevdata.live_data(), "pci": pci.read_pci()}  # the record's "pci" list: installer.machine.pci
    except ImportError as err:
        raise ProbeError(f"pyudev cannot be imported ({err}); install it to probe this machine") from err
    except Exception as err:  # pyudev and sysfs fail in many ways; the person needs the words, not a traceback
        raise ProbeError(f"probing this machine failed: {type(err).__name__}: {err}") from err


# -- records -> Machine ----------------------------------------------------------
def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _kind(name: str, rec: dict[str, Any]) -> str:
    if name.startswith("loop"):
        return "loop"
    if name.startswith("zram"):
        return "zram"
    if name.startswith("ram"):
        return "ram"
    if name.startswith("sr") or rec.get("ID_CDROM") == "1" or rec.get("ID_TYPE") == "cd":
        return "cdrom"
    return "disk"


def _bus(name: str, rec: dict[str, Any]) -> Bus:
    id_bus = rec.get("ID_BUS", "")
    devpath = rec.get("DEVPATH", "")
    if name.startswith("loop"):
        return "loop"
    if name.startswith("nvme") or id_bus == "nvme":
        return "nvme"
    if name.startswith("mmcblk") or id_bus == "mmc":
        return "mmc"
    if id_bus == "usb" or "/usb" in devpath:
        return "usb"
    if id_bus == "ata" or "/ata" in devpath:
        return "sata"
    if id_bus == "scsi" or re.search(r"/host\d+/target", devpath):
        return "scsi"
    if name.startswith("vd") or "/virtio" in devpath:
        return "virtio"
    return "other"


def _by_id_links(rec: dict[str, Any]) -> list[str]:
    """The disk's /dev/disk/by-id links, the one named for the bus and serial first, chosen the same way every time."""
    links = [udevdata.udev_decode(link) for link in rec.get("DEVLINKS", "").split()]
    ids = [link for link in links if link.startswith(BY_ID)]

    def rank(link: str) -> tuple[int, int, int, str]:
        base = link.removeprefix(BY_ID)
        order = next((i for i, prefix in enumerate(_BY_ID_ORDER) if base.startswith(prefix)), len(_BY_ID_ORDER))
        # nvme-eui./nvme-uuid. name the namespace, not the drive a person bought
        synthetic = int(bool(re.match(r"nvme-(eui|uuid|nguid)\.", base)) or base.startswith("wwn-"))
        return (synthetic, order, len(base), base)

    return sorted(set(ids), key=rank)


def _model(rec: dict[str, Any]) -> str:
    attrs = rec.get("attrs") or {}
    if rec.get("ID_MODEL_FROM_DATABASE"):
        return str(rec["ID_MODEL_FROM_DATABASE"])
    if rec.get("ID_MODEL"):
        return str(rec["ID_MODEL"]).replace("_", " ").strip()
    return (attrs.get("device/model") or "").strip()


def _fs(dev: str, rec: dict[str, Any], filesystems: dict[str, Any], mounted_type: str = "") -> tuple[str, str, str, str]:
    """fstype, version, label, uuid: udev first, then the recorded blkid output, then the mount table."""
    fs = filesystems.get(dev) or {}
    fstype = rec.get("ID_FS_TYPE") or fs.get("TYPE", "") or mounted_type
    version = rec.get("ID_FS_VERSION") or fs.get("VERSION", "")
    label_enc = rec.get("ID_FS_LABEL_ENC") or fs.get("LABEL_ENC")
    label = udevdata.udev_decode(label_enc) if label_enc else (rec.get("ID_FS_LABEL") or fs.get("LABEL", ""))
    uuid = rec.get("ID_FS_UUID") or fs.get("UUID", "")
    return fstype, version, label, uuid


def _partition(dev: str, rec: dict[str, Any], filesystems: dict[str, Any], mounted: dict[str, str],
               mounted_type: dict[str, str]) -> Partition:
    attrs = rec.get("attrs") or {}
    fstype, version, label, uuid = _fs(dev, rec, filesystems, mounted_type.get(dev, ""))
    kind = (rec.get("ID_PART_ENTRY_TYPE") or "").lower()
    # sysfs counts in 512-byte sectors whatever the disk's sector size, and so do udev's
    # ID_PART_ENTRY_*. The kernel shows an extended partition as 1 KiB; its table entry has its extent.
    entry_size = _int(rec.get("ID_PART_ENTRY_SIZE")) * 512
    size = entry_size if kind in MBR_EXTENDED and entry_size else _int(attrs.get("size")) or entry_size
    sectors = _int(attrs.get("start"), -1)
    if sectors < 0:
        sectors = _int(rec.get("ID_PART_ENTRY_OFFSET"), -1)
    start = sectors * 512 if sectors >= 0 else START_UNKNOWN
    name = rec.get("ID_PART_ENTRY_NAME")
    return Partition(
        path=dev,
        number=_int(rec.get("ID_PART_ENTRY_NUMBER") or rec.get("PARTN") or attrs.get("partition")),
        size=size, start=start,
        type_guid=kind,
        partlabel=udevdata.udev_decode(name) if name else rec.get("PARTNAME", ""),
        fstype=fstype, fsversion=version, label=label, uuid=uuid,
        partuuid=(rec.get("ID_PART_ENTRY_UUID") or "").lower(),
        mountpoint=mounted.get(dev, ""), **shrinkable.recorded(dev, fstype, filesystems.get(dev)),
    )


def _parent_of(dev: str, rec: dict[str, Any], disks: dict[str, dict[str, Any]]) -> str | None:
    devpath = rec.get("DEVPATH", "")
    for disk_dev, disk_rec in disks.items():
        disk_path = disk_rec.get("DEVPATH")
        if disk_path and devpath.startswith(disk_path + "/"):
            return disk_dev
    majmin = rec.get("ID_PART_ENTRY_DISK")
    for disk_dev, disk_rec in disks.items():
        if majmin and majmin == f"{disk_rec.get('MAJOR')}:{disk_rec.get('MINOR')}":
            return disk_dev
    match = re.match(r"(/dev/.*?\d+)p\d+$", dev) or re.match(r"(/dev/\D+)\d+$", dev)
    return match.group(1) if match and match.group(1) in disks else None


def _imported_pools(storage: dict[str, Any], mounts: list[Mount]) -> set[str]:
    """ZFS pools this system has imported: probert's zdb dump lists only those; a mounted dataset shows one too."""
    zpools = (storage.get("zfs") or {}).get("zpools") if isinstance(storage.get("zfs"), dict) else None
    pools = set(zpools) if isinstance(zpools, dict) else set()
    pools |= {m.source.split("/")[0] for m in mounts if m.fstype == "zfs" and m.source}
    return pools


def _users(storage: dict[str, Any], blockdev: dict[str, Any], mapper: dict[str, str], mounts: list[Mount],
           parent: dict[str, str]) -> tuple[dict[str, str], dict[str, str], Context]:
    """Who sits on which device: {member: why it is in use}, {LUKS mapping name: backing device}, description context."""
    in_use: dict[str, str] = {}
    luks: dict[str, str] = {}
    ctx = Context()
    raids = dict(storage.get("raid") or {})
    for dev, rec in blockdev.items():
        if os.path.basename(dev).startswith("md") and rec.get("DEVTYPE") == "disk":
            members = [v for k, v in rec.items() if re.fullmatch(r"MD_DEVICE_.+_DEV", k)] + rec.get("slaves", [])
            raids.setdefault(dev, {}).setdefault("devices", members)
    # sorted: an IMSM member names its volume (md126) before the container (md127)
    for array, info in sorted(raids.items()):
        rec = blockdev.get(array) or {}
        level = info.get("raidlevel") or rec.get("MD_LEVEL") or (rec.get("attrs") or {}).get("md/level", "")
        for member in info.get("devices") or []:
            name = os.path.basename(array) + (f" ({level})" if level else "")
            ctx.raid_of.setdefault(member, name)
            in_use.setdefault(member, eligibility.in_raid(os.path.basename(array)))
    lvm = storage.get("lvm") or {}
    active_vgs = {rec.get("DM_VG_NAME") for rec in blockdev.values() if rec.get("DM_VG_NAME")}
    active_vgs |= {lv.get("volgroup") for lv in (lvm.get("logical_volumes") or {}).values()}
    for vg, pvs in (lvm.get("physical_volumes") or {}).items():
        for pv in pvs:
            ctx.vg_of[pv] = vg
            if vg in active_vgs:
                in_use.setdefault(pv, eligibility.in_volume_group(vg))
    for name, info in (storage.get("dmcrypt") or {}).items():
        # probert records dmsetup's column as it prints it, a bare string ("nvme0n1p3"); ours is a list
        for backing in udevdata.device_names((info or {}).get("blkdevs_used") if isinstance(info, dict) else None):
            luks[name] = mapper.get(backing, backing)
    for dev, rec in blockdev.items():
        if not os.path.basename(dev).startswith("dm-"):
            continue
        name = rec.get("DM_NAME")
        for backing in rec.get("slaves") or []:
            if rec.get("DM_VG_NAME"):
                ctx.vg_of.setdefault(backing, rec["DM_VG_NAME"])
            if name and rec.get("DM_UUID", "").startswith("CRYPT-LUKS"):
                luks.setdefault(name, mapper.get(backing, backing))
            in_use.setdefault(backing, eligibility.backs_mapping(name or os.path.basename(dev)))
    for name, backing in luks.items():
        in_use.setdefault(backing, eligibility.backs_luks(name))
    pools = _imported_pools(storage, mounts)
    for dev, rec in blockdev.items():
        if rec.get("ID_FS_TYPE") == "zfs_member":
            pool = rec.get("ID_FS_LABEL") or ""
            if pool:
                ctx.pool_of[dev] = pool
            if pool in pools:
                in_use.setdefault(dev, eligibility.in_pool(pool))
    for dev, info in (storage.get("os") or {}).items():
        if info.get("long"):
            ctx.os_names[dev] = info["long"]
    return in_use, luks, ctx.placed(parent, luks)


def _mapper_names(blockdev: dict[str, Any]) -> dict[str, str]:
    """/dev/dm-N -> /dev/mapper/NAME: sysfs and /proc/swaps use the first, fileSystems the second."""
    return {dev: f"{MAPPER}{rec['DM_NAME']}" for dev, rec in blockdev.items() if rec.get("DM_NAME")}


def _dm_slaves(storage: dict[str, Any], blockdev: dict[str, Any], mapper: dict[str, str],
               luks: dict[str, str]) -> dict[str, list[str]]:
    """/dev/mapper/NAME -> the devices it sits on: from the records' sysfs slaves (ours), else
    from probert's lvm section (an LV sits on its VG's PVs); every open LUKS mapping on its
    backing device, so the stack is the one place to walk down from a mount."""
    pvs = (storage.get("lvm") or {}).get("physical_volumes") or {}
    stack: dict[str, list[str]] = {}
    for dev, rec in blockdev.items():
        if dev not in mapper:
            continue
        below = rec.get("slaves") or (pvs.get(rec["DM_VG_NAME"]) if rec.get("DM_LV_NAME") and rec.get("DM_VG_NAME") else [])
        if below:
            stack[mapper[dev]] = [mapper.get(b, b) for b in below]
    for name, backing in luks.items():
        stack.setdefault(MAPPER + name, [backing])
    return stack


def _layers(blockdev: dict[str, Any], mapper: dict[str, str], luks: dict[str, str]) -> dict[str, str]:
    """/dev/mapper/NAME -> what the mapping is (LUKS, LVM, ...), as eligibility.held_through names it."""
    return {mapper[dev]: eligibility.layer(rec, mapper[dev].removeprefix(MAPPER), luks)
            for dev, rec in blockdev.items() if dev in mapper}


def _multipath_paths(storage: dict[str, Any], blockdev: dict[str, Any],
                     maps: dict[str, dict[str, Any]]) -> dict[str, str]:
    """{path device: its map's name, "" when the map is not known}: from the map's sysfs slaves
    (ours), probert's multipathd listing, and udev's marks on a path (mpath_member)."""
    path_of: dict[str, str] = {}
    for dev, rec in maps.items():
        for slave in udevdata.device_names(rec.get("slaves")):
            path_of[slave] = rec.get("DM_NAME") or os.path.basename(dev)
    multipath = mp if isinstance(mp := storage.get("multipath"), dict) else {}
    for path in multipath.get("paths") or []:
        name = path.get("multipath", "") if isinstance(path, dict) else ""
        if name and name != "[orphan]" and path.get("device"):
            path_of.setdefault(f"/dev/{path['device']}", name)
    for dev, rec in blockdev.items():
        if rec.get("DEVTYPE", "disk") == "disk" and (
                rec.get("DM_MULTIPATH_DEVICE_PATH") == "1" or rec.get("ID_FS_TYPE") == "mpath_member"):
            path_of.setdefault(dev, "")
    return path_of


def _rotational(rec: dict[str, Any], attrs: dict[str, Any]) -> bool | None:
    """queue/rotational, else the ATA rotation rate (0: solid state), else unknown."""
    value = str(attrs.get("queue/rotational", "")).strip()
    if value in ("0", "1"):
        return value == "1"
    rpm = str(rec.get("ID_ATA_ROTATION_RATE_RPM", "")).strip()
    return int(rpm) > 0 if rpm.isdigit() else None


def _multipath_disk(dev: str, rec: dict[str, Any], paths: list[str], disks: dict[str, Disk]) -> Disk:
    """The map /dev/mapper/NAME as one disk (listed once, named by its own by-id/wwn links), over its paths."""
    name = rec.get("DM_NAME") or os.path.basename(dev)
    first = next((disks[p] for p in paths if p in disks), None)
    links = _by_id_links(rec)
    disk = Disk(
        path=MAPPER + name, name=name, size=_int((rec.get("attrs") or {}).get("size")),
        by_id=links[0] if links else "", by_id_links=links,
        model=first.model if first else "", serial=first.serial if first else "",
        bus=first.bus if first else "other", rotational=first.rotational if first else None,
        table=rec.get("ID_PART_TABLE_TYPE") or (first.table if first else ""),
        drivers=(first.drivers if first else []) + ["dm_multipath"], kind="multipath",
    )
    names = ", ".join(os.path.basename(p) for p in paths) or "none recorded"
    inside = describe_disk(first) if first and first.partitions else ""  # a path holds the map's blocks
    disk.holds = f"{inside or 'empty'} (paths {names})"
    disk.refused = eligibility.MULTIPATH
    return disk


def _mount(m: dict[str, str], blockdev: dict[str, Any], numbers: dict[str, str], mapper: dict[str, str],
           filesystems: dict[str, Any]) -> Mount:
    """Its device as the records name it, else by its number (see machine_from_data); its fs UUID names it."""
    key = m["source"] if m["source"] in blockdev else numbers.get(m["maj:min"], m["source"])
    return Mount(source=mapper.get(key, key) if key != m["source"] else key, target=m["target"], fstype=m["fstype"],
                 options=m["options"], uuid=m.get("uuid") or _fs(key, blockdev.get(key) or {}, filesystems)[3])


def machine_from_data(data: dict[str, Any], *, source: str = "live", allow_loop: bool = False,
                      target: str = "/mnt") -> Machine:
    """A Machine from the recorded format, the one road both live and file probes take."""
    storage = data.get("storage") or {}
    facts = data.get("machine") or {}
    blockdev: dict[str, dict[str, Any]] = storage.get("blockdev") or {}
    filesystems = storage.get("filesystem") or {}
    raw_mounts = udevdata.flatten_mounts(storage.get("mount") if isinstance(storage.get("mount"), list) else [])
    # The kernel keeps the name mount(2) was given: NixOS's stage 1 mounts /iso from
    # "/dev/root", a symlink gone by now; the device number still names the disk.
    # Device-mapper devices keep their /dev/mapper name, as fileSystems needs it.
    mapper = _mapper_names(blockdev)
    numbers = {f"{rec.get('MAJOR')}:{rec.get('MINOR')}": dev for dev, rec in blockdev.items() if rec.get("MAJOR")}
    mounts = [_mount(m, blockdev, numbers, mapper, filesystems) for m in raw_mounts]
    mounted_at: dict[str, str] = {}
    mounted_type: dict[str, str] = {}  # when blkid may not read a device (containers), its mount still names the fs
    for mount in mounts:
        if mount.source.startswith("/dev/"):
            mounted_at.setdefault(mount.source, mount.target)
            mounted_type.setdefault(mount.source, mount.fstype)

    disk_recs = {dev: rec for dev, rec in blockdev.items() if rec.get("DEVTYPE", "disk") == "disk"}
    parent: dict[str, str] = {}
    parts_of: dict[str, list[Partition]] = {dev: [] for dev in disk_recs}
    for dev, rec in blockdev.items():
        if rec.get("DEVTYPE") == "partition":
            owner = _parent_of(dev, rec, disk_recs)
            if owner:
                parent[dev] = owner
                parts_of[owner].append(_partition(dev, rec, filesystems, mounted_at, mounted_type))

    in_use, luks, ctx = _users(storage, blockdev, mapper, mounts, parent)
    dm_slaves = _dm_slaves(storage, blockdev, mapper, luks)
    held = eligibility.held_through([(m.source, m.target) for m in mounts], dm_slaves, _layers(blockdev, mapper, luks))
    maps = {dev: rec for dev, rec in blockdev.items() if rec.get("DM_UUID", "").startswith("mpath-")}
    path_of = _multipath_paths(storage, blockdev, maps)
    warnings: list[str] = []
    swaps = [mapper.get(swap, swap) for swap in facts.get("swaps") or []]  # LVM swap shows as /dev/dm-N
    boot_medium = eligibility.boot_medium(mounts, parent, blockdev, facts.get("boot_medium", ""))
    usage = eligibility.Usage(boot_medium=boot_medium, swaps=swaps, in_use=in_use, mounted_at=mounted_at, held=held,
                              path_of=path_of, target=target, allow_loop=allow_loop)
    if "firmware" in facts:
        firmware = facts["firmware"]
    else:
        efi = any(m.fstype == "efivarfs" or m.target == "/sys/firmware/efi/efivars" for m in mounts)
        firmware = "uefi" if efi else "bios"

    disks: list[Disk] = []
    for dev, rec in sorted(disk_recs.items()):
        name = os.path.basename(dev)
        attrs = rec.get("attrs") or {}
        size = _int(attrs.get("size"))
        if name.startswith(_LEFT_OUT) or (name.startswith("loop") and size == 0):
            continue
        # probert's sfdisk "label" alone would call a whole-disk FAT or an ISO "dos"/"PMBR"
        table = rec.get("ID_PART_TABLE_TYPE") or ""
        if not table and parts_of[dev]:
            table = (rec.get("partitiontable") or {}).get("label", "")
        links = _by_id_links(rec)
        disk = Disk(
            path=dev, name=name, size=size, by_id=links[0] if links else "", by_id_links=links, model=_model(rec),
            serial=rec.get("ID_SERIAL_SHORT") or (attrs.get("device/serial") or attrs.get("serial") or "").strip(),
            bus=_bus(name, rec),
            rotational=_rotational(rec, attrs), removable=attrs.get("removable") == "1",
            read_only=attrs.get("ro") == "1",
            logical_sector_size=_int(attrs.get("queue/logical_block_size"), 512) or 512,
            table=table, table_types=udevdata.table_types(rec),
            partitions=sorted(parts_of[dev], key=lambda p: (p.number, p.path)),
            drivers=list(rec.get("drivers") or []) or udevdata.devpath_modules(rec.get("DEVPATH", "")),
            kind=_kind(name, rec), mountpoint=mounted_at.get(dev, ""),
        )
        fstype, version, label, uuid = _fs(dev, rec, filesystems, mounted_type.get(dev, ""))
        whole = None
        if fstype and not disk.partitions:
            whole = Partition(path=dev, number=0, size=size, fstype=fstype, fsversion=version, label=label, uuid=uuid,
                              mountpoint=disk.mountpoint)
        disk.holds = eligibility.NO_MEDIUM if size == 0 and disk.detachable else describe_disk(disk, ctx, whole)
        for part in disk.partitions:
            part.description = describe_partition(part, disk, ctx)
        if disk.kind == "loop" and attrs.get("loop/backing_file"):
            disk.holds = f"{disk.holds} (image {attrs['loop/backing_file']})"
        if dev in path_of:
            name = path_of[dev]
            disk.holds = f"a path of the multipath device {MAPPER}{name}" if name else "a multipath path device"
        disk.refused = eligibility.refusal(disk, usage)
        unknown = [str(c) for c in rec.get("unknown_controllers") or []]
        if disk.kind == "disk" and (unknown or not disk.drivers):
            where = f"controller {', '.join(unknown)}" if unknown else f"controller ({rec.get('DEVPATH') or 'no sysfs path'})"
            warnings.append(f"{name}: no kernel module is known for its {where}; if NixOS cannot find {name} "
                            "at boot, add the module to boot.initrd.availableKernelModules")
        disks.append(disk)
    by_path = {d.path: d for d in disks}
    for dev, rec in sorted(maps.items()):
        disks.append(_multipath_disk(dev, rec, sorted(p for p, m in path_of.items() if m == rec.get("DM_NAME")),
                                     by_path))

    return Machine(
        firmware=firmware, cpu_vendor=facts.get("cpu_vendor", ""), virtualisation=facts.get("virtualisation", "none"),
        cpu_flags=list(facts["cpu_flags"]) if isinstance(facts.get("cpu_flags"), list) else None,
        memory_bytes=max(_int(facts.get("memory_bytes")), 0),
        disks=disks, mounts=mounts, swaps=swaps, luks=luks, dm_slaves=dm_slaves, battery=facts.get("battery") is True,
        boot_medium=boot_medium, source=source, warnings=warnings,
        pci=pci.devices_from(data.get("pci")),
    )
