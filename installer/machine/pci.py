"""The machine's PCI devices, read from sysfs.

What the GPU choice (installer.answers.gpu) needs to know about the hardware:
each device's vendor, device and class ids and the driver bound to it, as the
kernel shows them under /sys/bus/pci/devices/DOMAIN:BUS:SLOT.FUNCTION/:

    vendor   "0x10de"      (one line, hex, as sysfs prints it)
    device   "0x1c8d"
    class    "0x030200"    (class, subclass, programming interface)
    driver   -> ../../../bus/pci/drivers/nvidia   (a link; absent when nothing is bound)

A recorded machine carries them as the top-level "pci" list, one object per
device with those names and "slot" (the directory name), values as sysfs
prints them; `devices_from` reads that list back, and a recording made before
there was one (every subiquity/probert recording) gives no devices. (Whether
the machine runs on a battery is installer.machine.udevdata.has_battery's.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from installer.machine.hardware import PciDevice

_SLOT = re.compile(r"([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])")
_HEX = re.compile(r"(0x)?[0-9a-fA-F]{1,8}")


def read_pci(sys_root: str = "/sys") -> list[dict[str, str]]:
    """Every PCI device under SYS_ROOT/bus/pci/devices, in the recorded format, sorted by slot."""
    base = Path(sys_root) / "bus" / "pci" / "devices"
    try:
        slots = sorted(os.listdir(base))
    except OSError:
        return []  # no PCI bus (some ARM boards), or no sysfs: nothing to propose a driver for
    records = []
    for slot in slots:
        entry = base / slot
        record = {"slot": slot}
        for name in ("vendor", "device", "class"):
            record[name] = _read(entry / name)
        driver = entry / "driver"
        record["driver"] = os.path.basename(os.readlink(driver)) if driver.is_symlink() else ""
        records.append(record)
    return records


def devices_from(records: Any) -> list[PciDevice]:
    """The recorded "pci" list as devices; entries that are not a device's record are left out
    (installer.machine.machinefile refuses a file whose list is not of objects)."""
    devices = []
    for rec in records if isinstance(records, list) else []:
        if not isinstance(rec, dict):
            continue
        slot = str(rec.get("slot", ""))
        vendor, device, klass = (_hex(rec.get(key)) for key in ("vendor", "device", "class"))
        if not _SLOT.fullmatch(slot) or not vendor or not device:
            continue
        devices.append(PciDevice(slot=slot.lower(), vendor=vendor, device=device, pci_class=klass.rjust(6, "0"),
                                 driver=str(rec.get("driver") or "")))
    return devices


def nix_bus_id(slot: str) -> str:
    """sysfs's 0000:01:00.0 (hex) as hardware.nvidia.prime's bus id (decimal): "PCI:1:0:0".

    nvidia.nix takes "PCI:BUS@DOMAIN:SLOT:FUNCTION" for a device outside PCI domain 0
    (its busIDType); domain 0, every laptop's, is left out as its examples do."""
    match = _SLOT.fullmatch(slot)
    if not match:
        raise ValueError(f"{slot!r} is not a PCI address such as 0000:01:00.0")
    domain, bus, dev, function = (int(part, 16) for part in match.groups())
    where = f"{bus}@{domain}" if domain else f"{bus}"
    return f"PCI:{where}:{dev}:{function}"


def _hex(value: Any) -> str:
    """"0x10DE" -> "10de"; "" when it is not a hex number."""
    text = str(value or "").strip()
    return text.lower().removeprefix("0x") if _HEX.fullmatch(text) else ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""
