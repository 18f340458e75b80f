"""The kernel modules a disk's controller needs, read off live sysfs.

As nixos-generate-config finds them: the drivers bound along the device's
sysfs parents, nearest first; a PCI storage controller with no module bound
is looked up by its modalias in modules.alias, as modprobe would. What this
finds goes into the initrd's module list (hardware-configuration.nix).
"""

from __future__ import annotations

import os
from pathlib import Path

# Modules that every machine has bound somewhere in the chain and the initrd
# never needs to name.
_GENERIC_DRIVERS = {"usb", "hub", "pcieport", "scsi_mod", "port", "serial8250"}
_DRIVER_MODULE = {"sd": "sd_mod", "sr": "sr_mod"}


def modules_alias_files() -> list[Path]:
    """modules.alias of the running kernel (NixOS keeps it under /run/booted-system)."""
    release = os.uname().release
    return [Path(base) / release / "modules.alias"
            for base in ("/run/booted-system/kernel-modules/lib/modules", "/lib/modules")]


def module_for_modalias(modalias: str, alias_files: list[Path]) -> str:
    """The module whose alias pattern matches a device's modalias (what `modprobe -R` answers), or ""."""
    import fnmatch

    for path in alias_files:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split()
            if len(words) == 3 and words[0] == "alias" and fnmatch.fnmatchcase(modalias, words[1]):
                return words[2].replace("-", "_")
    return ""


def sysfs_drivers(sys_path: str, devices_root: str = "/sys/devices",
                  alias_files: list[Path] | None = None) -> tuple[list[str], list[str]]:
    """Kernel modules bound along the device's sysfs parents, nearest first (as nixos-generate-config
    finds them), and the PCI storage controllers on the way that no module is bound to nor known for.

    A controller whose module is not loaded is resolved from its modalias, as
    modprobe would load it; one that resolves to nothing is returned for a warning.
    """
    found: list[str] = []
    unknown: list[str] = []
    root = Path(os.path.realpath(devices_root))
    path = Path(os.path.realpath(sys_path))
    while root in path.parents:
        driver = path / "driver"
        name = ""
        if driver.is_symlink():
            module = driver / "module"
            name = os.path.basename(os.readlink(module)) if module.is_symlink() else os.path.basename(os.readlink(driver))
        elif (_read(path / "class") or "").startswith("0x01"):  # a PCI mass-storage controller, unbound
            alias = _read(path / "modalias") or ""
            name = module_for_modalias(alias, modules_alias_files() if alias_files is None else alias_files) if alias else ""
            if not name:
                unknown.append(path.name)
        if name:
            name = _DRIVER_MODULE.get(name, name).replace("-", "_")
            if name not in found and name not in _GENERIC_DRIVERS:
                found.append(name)
        path = path.parent
    return found, unknown


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None
