"""The udev database as data: build it live, trim it, read it back.

A machine record is subiquity/probert's JSON layout, so the recorded machines
other installers collected read the same way as this one:

    {"storage": {"blockdev": {"/dev/sda": {<udev properties>,
                                            "attrs": {<sysfs attributes>},
                                            "partitiontable": {"label": "gpt", ...}}},
                 "filesystem": {"/dev/sda1": {"TYPE": "vfat", "UUID": ...}},
                 "mount": [<findmnt --json tree: target, source, fstype, options, children>],
                 "dmcrypt": {...}, "raid": {...}, "lvm": {...}, "os": {...}},
     "machine": {...}}

The live side fills what a udev daemon would have put in its database when
none runs (the ISO in a container, this build host): ID_FS_* and
ID_PART_ENTRY_* from `blkid -p`, DM_NAME/DM_UUID from sysfs. Our additions to
probert's format, all optional when reading:

- per blockdev record: "drivers" (kernel modules bound along the device's
  sysfs parents, nearest first: installer.machine.drivers; when absent or
  empty the probe reads the controller off DEVPATH, see `devpath_modules`)
  and "slaves" (the devices a dm/md device sits on, from sysfs slaves/);
- attrs "size" is in bytes (as probert stores it), "start" in 512-byte sectors
  (as sysfs has it);
- a top-level "machine" object with facts probert does not record:
  firmware ("uefi"/"bios"), cpu_vendor, cpu_flags (which of vmx, svm and
  hypervisor /proc/cpuinfo lists; absent: unknown), memory_bytes (MemTotal
  from /proc/meminfo; absent: unknown), virtualisation, swaps
  (active swap devices from /proc/swaps), boot_medium (when known by other means),
  battery (true when /sys/class/power_supply has one: a laptop; absent: unknown);
- storage "zfs" holds the imported pools ({"zpools": {NAME: ...}}, as probert's
  zdb dump names them; live from `zpool list`);
- a top-level "pci" list of PCI devices (installer.machine.pci), absent in older recordings;
- a top-level "gaps" object, written by --record-machine only: each partitioned
  disk's free space as the probe worked it out ({"/dev/sda": [{"start", "size"
  (bytes), "slot", "usable", "why"}]}, see `installer.machine.gaps`), for the
  person reading a report. Reading a file never uses it: the gaps are worked out
  again from the partitions' "start" and "size" and the disk's
  queue/logical_block_size and ID_PART_TABLE_TYPE.

Nothing here runs at import time; pyudev is imported inside `live_data`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from installer.machine.drivers import sysfs_drivers
from installer.machine.memory import mem_total

Record = dict[str, Any]

# What the probe reads; make_fixtures keeps exactly these.
KEEP_PROPS = {
    "DEVNAME", "DEVPATH", "DEVTYPE", "DEVLINKS", "MAJOR", "MINOR", "PARTN", "PARTNAME",
    "ID_BUS", "ID_TYPE", "ID_CDROM", "ID_MODEL", "ID_MODEL_ENC", "ID_MODEL_FROM_DATABASE",
    "ID_SERIAL", "ID_SERIAL_SHORT", "ID_WWN", "ID_USB_DRIVER",
    "DM_NAME", "DM_UUID", "DM_VG_NAME", "DM_LV_NAME", "DM_MULTIPATH_DEVICE_PATH",
    "ID_ATA_ROTATION_RATE_RPM",
}
KEEP_PROP_PREFIXES = ("ID_FS_", "ID_PART_ENTRY_", "ID_PART_TABLE_", "MD_")
KEEP_ATTRS = (
    "size", "ro", "removable", "capability", "partition", "start",
    "queue/rotational", "queue/logical_block_size",
    "device/model", "device/serial", "serial", "loop/backing_file", "md/level",
)
KEEP_RECORD_KEYS = ("drivers", "slaves", "unknown_controllers")
KEEP_STORAGE = ("filesystem", "mount", "dmcrypt", "lvm", "os")  # zfs and multipath: see trim
KEEP_RAID = ("devices", "spare_devices", "raidlevel", "container", "MD_NAME", "DEVNAME", "size")

# Controller modules read off a disk's sysfs path, for records without driver
# links (probert's recordings; a live sysfs without them, as in a container).
# First match wins; the patterns go from the most to the least specific.
_DEVPATH_MODULES = (
    (re.compile(r"/virtio\d+/host\d+/"), ("virtio_scsi", "virtio_pci", "sd_mod")),
    (re.compile(r"/virtio\d+/block/"), ("virtio_blk", "virtio_pci")),
    (re.compile(r"/nvme(\d+|-subsystem)/"), ("nvme",)),
    (re.compile(r"/usb\d+/"), ("xhci_pci", "usb_storage", "uas", "sd_mod")),
    # QEMU's i440FX and VirtualBox's PIIX chipsets have their PIIX IDE function at
    # 00:01.1 (as nixos-generate-config finds it bound there: ata_piix); any other
    # ATA port is taken for AHCI, the SATA controller of every later PC.
    (re.compile(r"/pci0000:00/0000:00:01\.1/ata\d+/"), ("ata_piix", "sd_mod")),
    (re.compile(r"/ata\d+/"), ("ahci", "sd_mod")),
    (re.compile(r"/mmc_host/"), ("sdhci_pci", "mmc_block")),
)


def devpath_modules(devpath: str) -> list[str]:
    """The initrd modules a disk at this sysfs DEVPATH needs, as far as the path tells."""
    for pattern, modules in _DEVPATH_MODULES:
        if pattern.search(devpath):
            return list(modules)
    return []


# -- udev string encoding ------------------------------------------------------
def udev_decode(text: str) -> str:
    """Undo udev's \\xNN escaping (ID_FS_LABEL_ENC, ID_PART_ENTRY_NAME, DEVLINKS)."""
    if "\\x" not in text:
        return text
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "replace")


def udev_encode(text: str) -> str:
    """udev's encoding: keep alphanumerics, a few punctuation marks and non-ASCII; escape the rest."""
    return "".join(c if c.isalnum() or c in "#+-.:=@_" or ord(c) > 127 else f"\\x{ord(c):02x}" for c in text)


# -- trimming (tests/make_fixtures.py) ----------------------------------------
def trim_record(record: Record) -> Record:
    """One blockdev record with only what the probe reads."""
    out = {k: v for k, v in record.items() if k in KEEP_PROPS or k.startswith(KEEP_PROP_PREFIXES)}
    attrs = record.get("attrs") or {}
    out["attrs"] = {k: attrs[k] for k in KEEP_ATTRS if attrs.get(k) is not None}
    table = record.get("partitiontable")
    if isinstance(table, dict) and table.get("label"):
        out["partitiontable"] = {"label": table["label"]}
        entries = [{"node": e.get("node", ""), "type": e["type"]} for e in table.get("partitions") or []
                   if isinstance(e, dict) and e.get("type")]
        if entries:
            out["partitiontable"]["partitions"] = entries
    for key in KEEP_RECORD_KEYS:
        if key in record:
            out[key] = record[key]
    return out


def trim(data: Record) -> Record:
    """A recorded machine reduced to what the probe reads (network, counters and noise dropped)."""
    storage = data.get("storage") or {}
    out: Record = {"blockdev": {dev: trim_record(rec) for dev, rec in sorted((storage.get("blockdev") or {}).items())}}
    for key in KEEP_STORAGE:
        if storage.get(key):
            out[key] = storage[key]
    if storage.get("raid"):
        out["raid"] = {dev: {k: v for k, v in rec.items() if k in KEEP_RAID} for dev, rec in storage["raid"].items()}
    # Imported pools by name (zdb lists only those) and their datasets' names; the vdev dumps dropped.
    zpools = (storage.get("zfs") or {}).get("zpools") or {}
    if zpools:
        out["zfs"] = {"zpools": {name: {"datasets": {ds: {} for ds in (pool or {}).get("datasets") or {}}}
                                 for name, pool in zpools.items()}}
    # Assembled maps and the paths that belong to one; multipathd lists every
    # other disk as an "[orphan]" path, which says nothing.
    multipath = storage.get("multipath") or {}
    if multipath.get("maps"):
        out["multipath"] = {"maps": multipath["maps"],
                            "paths": [p for p in multipath.get("paths") or [] if p.get("multipath") != "[orphan]"]}
    result: Record = {"storage": out}
    result.update({key: data[key] for key in ("machine", "pci") if data.get(key)})
    return result


def table_types(record: Record) -> list[str]:
    """The entry types sfdisk listed in the recorded table, as the probe spells them: "0x42", lower-case GUIDs."""
    table = record.get("partitiontable")
    entries = table.get("partitions") if isinstance(table, dict) else None
    types: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        kind = str(entry.get("type", "")).strip().lower() if isinstance(entry, dict) else ""
        if re.fullmatch(r"[0-9a-f]{1,2}", kind):
            kind = f"0x{int(kind, 16):x}"
        if kind and kind not in types:
            types.append(kind)
    return types


def device_names(value: Any) -> list[str]:
    """A device list as recorded: a list, or dmsetup's bare string ("sda5", "sda5,sdb1"); each as /dev/NAME."""
    if isinstance(value, str):
        items = re.split(r"[\s,]+", value)
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = []
    return [item if item.startswith("/") else f"/dev/{item}" for item in (i.strip() for i in items) if item]


def flatten_mounts(tree: list[Record] | None) -> list[Record]:
    """The findmnt tree as a flat list, parents before children."""
    flat: list[Record] = []
    for node in tree or []:
        flat.append({k: node.get(k, "") for k in ("source", "target", "fstype", "options", "maj:min", "uuid")})
        flat.extend(flatten_mounts(node.get("children")))
    return flat


# -- live ----------------------------------------------------------------------
def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def _unescape_mount(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_tree(mountinfo: str) -> list[Record]:
    """/proc/self/mountinfo as findmnt's JSON tree (what probert records)."""
    nodes: dict[str, Record] = {}
    parents: dict[str, str] = {}
    order: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        mount_id, parent, majmin, target, options = fields[0], fields[1], fields[2], fields[4], fields[5]
        fstype, source = fields[dash + 1], fields[dash + 2] if len(fields) > dash + 2 else ""
        # As findmnt shows them: the mount's own options, then the filesystem's
        # (btrfs keeps subvol= and compress= there, which the config must repeat).
        own = options.split(",")
        extra = fields[dash + 3].split(",") if len(fields) > dash + 3 else []
        options = ",".join(own + [o for o in extra if o not in own and o not in ("rw", "ro")])
        source = _unescape_mount(source)
        if source.startswith("/dev/") and os.path.islink(source):
            source = os.path.realpath(source)  # /dev/disk/by-label/... -> /dev/sdb1
        nodes[mount_id] = {"target": _unescape_mount(target), "source": source, "fstype": fstype,
                           "options": options, "maj:min": majmin}
        parents[mount_id] = parent
        order.append(mount_id)
    roots: list[Record] = []
    for mount_id in order:
        above = nodes.get(parents[mount_id])
        if above is None or above is nodes[mount_id]:
            roots.append(nodes[mount_id])
        else:
            above.setdefault("children", []).append(nodes[mount_id])
    return roots


def active_swaps(text: str) -> list[str]:
    """Device (or file) names from /proc/swaps."""
    return [_unescape_mount(line.split()[0]) for line in text.splitlines()[1:] if line.strip()]


def blkid_props(devnode: str) -> dict[str, str]:
    """`blkid -p` (reads the device, no udev needed) as the udev properties it stands for."""
    try:
        out = subprocess.run(["blkid", "-p", "-o", "export", devnode], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    raw: dict[str, str] = {}
    for line in out.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words and "=" in words[0]:
            key, _, value = words[0].partition("=")
            raw[key] = value
    props: dict[str, str] = {}
    for key, value in raw.items():
        if key in ("TYPE", "UUID", "VERSION", "USAGE", "UUID_SUB"):
            props[f"ID_FS_{key}"] = value
        elif key == "LABEL":
            props["ID_FS_LABEL"] = re.sub(r"\s", "_", value)
            props["ID_FS_LABEL_ENC"] = udev_encode(value)
        elif key == "PTTYPE":
            props["ID_PART_TABLE_TYPE"] = value
        elif key == "PTUUID":
            props["ID_PART_TABLE_UUID"] = value
        elif key == "PART_ENTRY_NAME":
            props["ID_PART_ENTRY_NAME"] = udev_encode(value)
        elif key.startswith("PART_ENTRY_"):
            props[f"ID_{key}"] = value
    return props


def mbr_entry_types(node: str | Path) -> list[str]:
    """The type bytes of an MBR's four primary entries, as sfdisk lists them ("42", "7"); [] without an MBR.

    The kernel shows a dynamic disk's LDM volumes as partitions in place of
    its one type-0x42 entry, so only the table itself says what the disk is.
    """
    try:
        with open(node, "rb") as disk:
            sector = disk.read(512)
    except OSError:
        return []
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        return []
    types = (sector[446 + 16 * i + 4] for i in range(4))
    return [f"{kind:x}" for kind in types if kind]


def _live_record(device: Any) -> Record | None:
    sys_path = device.sys_path
    props = {k: v for k, v in device.properties.items()}
    name = device.sys_name
    sectors = _read(f"{sys_path}/size")
    size = int(sectors) * 512 if sectors and sectors.isdigit() else 0
    if size == 0 and name.startswith(("loop", "ram", "nbd")):
        return None  # an unattached loop/nbd or an unused ram disk: nothing there
    attrs: dict[str, str] = {"size": str(size)}
    for attr in KEEP_ATTRS[1:]:
        value = _read(f"{sys_path}/{attr}")
        if value is not None:
            attrs[attr] = value
    record: Record = dict(props)
    record["attrs"] = attrs
    if not any(k in props for k in ("ID_FS_TYPE", "ID_PART_TABLE_TYPE", "ID_PART_ENTRY_TYPE")):
        for key, value in blkid_props(device.device_node).items():
            record.setdefault(key, value)
    if name.startswith("dm-"):
        for key, attr in (("DM_NAME", "dm/name"), ("DM_UUID", "dm/uuid")):
            value = _read(f"{sys_path}/{attr}")
            if value and key not in record:
                record[key] = value
    slaves = sorted(f"/dev/{s}" for s in os.listdir(f"{sys_path}/slaves")) if os.path.isdir(f"{sys_path}/slaves") else []
    if slaves:
        record["slaves"] = slaves
    if device.device_type == "disk" and record.get("ID_PART_TABLE_TYPE") == "dos":
        # probert's partitiontable, as far as the probe reads it: the entry types
        stem = device.device_node + ("p" if device.device_node[-1:].isdigit() else "")
        entries = [{"node": f"{stem}{i}", "type": kind}
                   for i, kind in enumerate(mbr_entry_types(device.device_node), 1)]
        if entries:
            record["partitiontable"] = {"label": "dos", "partitions": entries}
    if device.device_type == "disk":
        record["drivers"], unknown = sysfs_drivers(sys_path)
        if unknown:
            record["unknown_controllers"] = unknown
    return record


def _firmware() -> str:
    return "uefi" if os.path.isdir("/sys/firmware/efi") else "bios"


def _cpu_vendor(text: str) -> str:
    match = re.search(r"^vendor_id\s*:\s*(\S+)", text, re.M)
    return {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(match.group(1) if match else "", "")


# The /proc/cpuinfo flags the installer reads: vmx/svm decide kvm-intel/kvm-amd
# (as nixos-generate-config's hasCPUFeature does), hypervisor says "a VM" when
# nothing else can.
CPU_FLAGS = ("vmx", "svm", "hypervisor")


def cpu_flags(text: str) -> list[str]:
    """The CPU_FLAGS the first CPU in /proc/cpuinfo has."""
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    have = set(match.group(1).split()) if match else set()
    return [flag for flag in CPU_FLAGS if flag in have]


_DMI_VIRT = (("qemu", "qemu"), ("kvm", "qemu"), ("virtualbox", "virtualbox"), ("innotek", "virtualbox"),
             ("vmware", "vmware"), ("virtual machine", "hyperv"))
# systemd-detect-virt's names; nixos-generate-config counts bochs with qemu/kvm.
_DETECT_VIRT = {"qemu": "qemu", "kvm": "qemu", "bochs": "qemu", "oracle": "virtualbox", "vmware": "vmware",
                "microsoft": "hyperv", "none": "none"}


def virtualisation_from(detect_virt: str | None, dmi: str, flags: list[str]) -> str:
    """qemu/virtualbox/vmware/hyperv, "other" for any other hypervisor, "none" on bare metal.

    systemd-detect-virt first, as nixos-generate-config asks it; an answer it
    has no name for here (xen, amazon, parallels...) is still a VM: "other",
    never "none", so bare-metal settings (microcode, not-detected.nix) stay out.
    Without the tool, the DMI strings, then the CPU's hypervisor flag.
    """
    if detect_virt:
        return _DETECT_VIRT.get(detect_virt, "other")
    for needle, virt in _DMI_VIRT:
        if needle in dmi.lower():
            return virt
    return "other" if "hypervisor" in flags else "none"


def _detect_virt() -> str | None:
    tool = shutil.which("systemd-detect-virt")
    if not tool:
        return None
    try:
        # --vm: a container on a VM host still runs on that VM's (virtual) hardware
        out = subprocess.run([tool, "--vm"], capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out or None


def _imported_pools() -> dict[str, Record]:
    """The imported ZFS pools (`zpool list`), as probert's zfs section names them."""
    tool = shutil.which("zpool")
    if not tool:
        return {}
    try:
        out = subprocess.run([tool, "list", "-H", "-o", "name"], capture_output=True, text=True, timeout=20,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {name: {"datasets": {}} for name in out.split()}


def live_data(proc_root: str = "/proc") -> Record:
    """This machine, in the recorded format."""
    import pyudev  # only when probing live

    context = pyudev.Context()
    blockdev: dict[str, Record] = {}
    for device in context.list_devices(subsystem="block"):
        if not device.device_node:
            continue
        record = _live_record(device)
        if record is not None:
            blockdev[device.device_node] = record
    filesystem = {
        dev: {k.removeprefix("ID_FS_"): v for k, v in rec.items() if k.startswith("ID_FS_")}
        for dev, rec in blockdev.items() if rec.get("ID_FS_TYPE")
    }
    dmcrypt = {
        rec["DM_NAME"]: {"uuid": rec.get("DM_UUID", ""), "blkdevs_used": rec.get("slaves", [])}
        for rec in blockdev.values() if rec.get("DM_UUID", "").startswith("CRYPT-")
    }
    storage: Record = {"blockdev": blockdev, "filesystem": filesystem, "dmcrypt": dmcrypt,
                       "mount": mount_tree(_read(f"{proc_root}/self/mountinfo") or "")}
    zpools = _imported_pools()
    if zpools:
        storage["zfs"] = {"zpools": zpools}
    cpuinfo = _read(f"{proc_root}/cpuinfo") or ""
    flags = cpu_flags(cpuinfo)
    dmi = " ".join(filter(None, (_read(f"/sys/class/dmi/id/{f}") for f in ("sys_vendor", "product_name"))))
    machine = {"firmware": _firmware(), "cpu_vendor": _cpu_vendor(cpuinfo), "cpu_flags": flags,
               "virtualisation": virtualisation_from(_detect_virt(), dmi, flags),
               "swaps": active_swaps(_read(f"{proc_root}/swaps") or ""), "battery": has_battery(),
               "memory_bytes": mem_total(proc_root)}
    return {"storage": storage, "machine": machine}


def has_battery(sys_root: str = "/sys") -> bool:
    """A battery among the power supplies: a laptop (or a tablet). A UPS or a
    wireless mouse's battery reports scope "Device", not the system's own."""
    top = os.path.join(sys_root, "class/power_supply")
    for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        kind = (_read(os.path.join(top, name, "type")) or "").strip()
        scope = (_read(os.path.join(top, name, "scope")) or "").strip()
        if kind == "Battery" and scope != "Device":
            return True
    return False
