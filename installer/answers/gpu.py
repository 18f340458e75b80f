"""The graphics driver the new system gets: the one rule, from the PCI devices and the answers.

NVIDIA cards by generation (installer/data/nvidia_generations.tsv, by PCI device id):
- Turing (RTX 20xx, GTX 16xx) and newer: NVIDIA's open kernel modules,
  `hardware.nvidia.open = true` (NVIDIA's own advice, which nvidia.nix's
  assertion repeats: NixOS 25.x refuses `videoDrivers = [ "nvidia" ]` with
  `open` unset);
- Maxwell, Pascal, Volta: the proprietary module, `open = false`, on a driver
  branch that still supports them: 580, the stable branch of NixOS 25.11
  (`STABLE_BRANCH`); where a release's stable driver is 590 or newer, the
  kernel's `nvidiaPackages.legacy_580` (`legacy_package`);
- Kepler and older: nouveau, the kernel's own driver (no option to set): no
  NVIDIA driver NixOS builds for its kernels supports them any more.
NVIDIA's driver is unfree: it is proposed only with `software.allow_unfree`
(the person's consent, asked beside the proposal); without it, nouveau, and
the proposal says so. Intel or AMD graphics beside an NVIDIA card (a hybrid
laptop) get PRIME offload with both bus ids. Intel, AMD and virtual GPUs need
nothing: the kernel's drivers and the desktop's modules handle them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from installer.answers.catalog import DATA
from installer.answers.model import InstallModel
from installer.machine.hardware import Machine, PciDevice
from installer.machine.pci import nix_bus_id

NVIDIA, INTEL, AMD = "10de", "8086", "1002"
VENDORS = {NVIDIA: "NVIDIA", INTEL: "Intel", AMD: "AMD", "1af4": "virtio", "1b36": "QXL", "1234": "Bochs/QEMU std",
           "15ad": "VMware", "80ee": "VirtualBox", "1414": "Hyper-V"}
OPEN_GENERATIONS = ("turing", "ampere", "hopper", "ada", "blackwell", "newer")
CLOSED_GENERATIONS = ("maxwell", "pascal", "volta")
# The stable NVIDIA branch of each NixOS release the templates know (its
# pkgs/os-specific/linux/nvidia-x11/default.nix: stable = production):
# 25.11 has production 580.x (nixpkgs PR 458794 moved it to 580.105.08 in Nov
# 2025); 26.05's is 595.x, which drops Maxwell, Pascal and Volta.
STABLE_BRANCH = {"25.11": 580, "26.05": 595}
LAST_FOR_OLD_CARDS = 580


@dataclass(frozen=True)
class Prime:
    igpu_vendor: str  # "intel" or "amd"
    igpu_bus: str  # "PCI:0:2:0"
    nvidia_bus: str


@dataclass
class GpuPlan:
    """What the driver choice renders and what the wizard says about it."""

    driver: str = ""  # "nvidia-open", "nvidia", "nouveau" or "" (nothing to set)
    generation: str = ""  # the NVIDIA card's, "" without one
    prime: Prime | None = None
    found: list[str] = field(default_factory=list)  # one line per display controller
    says: str = ""  # the proposal in words, with its reason

    @property
    def nvidia_driver(self) -> bool:
        return self.driver in ("nvidia-open", "nvidia")


@cache
def _table() -> tuple[tuple[int, int, str, str], ...]:
    rows = []
    for line in (DATA / "nvidia_generations.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            first, last, generation, chips = line.split("\t")
            rows.append((int(first, 16), int(last, 16), generation, chips))
    return tuple(rows)


def generation(device_id: str) -> str:
    """An NVIDIA PCI device id's generation ("pascal", "turing", ...), "newer", or "unknown"."""
    try:
        number = int(device_id, 16)
    except ValueError:
        return "unknown"
    for first, last, gen, _ in _table():
        if first <= number <= last:
            return gen
    return "newer" if number >= 0x3000 else "unknown"


def legacy_package(release: str) -> str:
    """The kernel's nvidiaPackages attribute Maxwell/Pascal/Volta need on `release`, "" when its stable one does."""
    return "" if STABLE_BRANCH.get(release, 0) <= LAST_FOR_OLD_CARDS else f"legacy_{LAST_FOR_OLD_CARDS}"


def describe(dev: PciDevice) -> str:
    """"NVIDIA 10de:1c8d (Pascal) at 01:00.0", for the wizard and the plan."""
    name = VENDORS.get(dev.vendor, "vendor " + dev.vendor)
    gen = f" ({generation(dev.device).replace('-', ' ').capitalize()})" if dev.vendor == NVIDIA else ""
    bound = f", driver {dev.driver}" if dev.driver else ""
    return f"{name} {dev.vendor}:{dev.device}{gen} at {dev.slot.removeprefix('0000:')}{bound}"


def nvidia_card(machine: Machine) -> PciDevice | None:
    return next((dev for dev in machine.gpus if dev.vendor == NVIDIA), None)


def plan_gpu(model: InstallModel, machine: Machine) -> GpuPlan:
    """The driver for this machine and these answers (validate_gpu says what is wrong with a forced one)."""
    found = [describe(dev) for dev in machine.gpus]
    card = nvidia_card(machine)
    choice = model.hardware.gpu
    if choice == "none":
        return GpuPlan(found=found, says="none: no graphics options (hardware.gpu = \"none\").")
    if card is None:
        if choice == "auto":
            says = ("nothing to set: the kernel's drivers handle these." if found else
                    "nothing to set: no display controller found." if machine.pci else "nothing to set: no PCI devices recorded for this machine.")
            return GpuPlan(found=found, says=says)
        return GpuPlan(found=found, says=f"nothing set: {choice} asked for, but no NVIDIA card was found.")
    gen = generation(card.device)
    driver = choice if choice != "auto" else _auto(gen)
    if driver in ("nvidia-open", "nvidia") and not model.software.allow_unfree:
        return GpuPlan(driver="nouveau", generation=gen, found=found,
                       says="nouveau (NVIDIA's driver is unfree; unfree is not allowed).")
    igpu = next((dev for dev in machine.gpus if dev.vendor in (INTEL, AMD)), None)
    prime = None
    if driver in ("nvidia-open", "nvidia") and igpu is not None:
        prime = Prime("intel" if igpu.vendor == INTEL else "amd", nix_bus_id(igpu.slot), nix_bus_id(card.slot))
    return GpuPlan(driver=driver, generation=gen, prime=prime, found=found, says=_says(driver, gen, prime))


def _auto(gen: str) -> str:
    if gen in OPEN_GENERATIONS:
        return "nvidia-open"
    if gen in CLOSED_GENERATIONS:
        return "nvidia"
    return "nouveau"


def _says(driver: str, gen: str, prime: Prime | None) -> str:
    offload = " with PRIME offload (nvidia-offload PROGRAM)" if prime else ""
    if driver == "nvidia-open":
        return f"NVIDIA open kernel modules{offload}."
    if driver == "nvidia":
        return f"NVIDIA proprietary driver, 580 branch{offload}."
    if gen == "kepler-or-older":
        return "nouveau: NVIDIA's current drivers no longer support this card."
    if gen == "unknown":
        return "nouveau: this card's id is not in the installer's NVIDIA table."
    return "nouveau, as asked."


def gpu_problem(model: InstallModel, machine: Machine | None) -> str:
    """Why the answered hardware.gpu cannot be used on this machine, or ""."""
    choice = model.hardware.gpu
    if choice not in ("nvidia-open", "nvidia"):
        return ""
    if not model.software.allow_unfree:
        return (f"{choice!r} is NVIDIA's unfree driver: also allow unfree software "
                "(software.allow_unfree = true), or choose \"nouveau\"")
    card = nvidia_card(machine) if machine is not None else None
    if machine is None or not machine.pci:
        return ""  # a recording without PCI devices: nothing to hold the choice to
    if card is None:
        return "no NVIDIA card was found on this machine"
    gen = generation(card.device)
    if choice == "nvidia-open" and gen not in OPEN_GENERATIONS:
        return (f"this card ({gen}) cannot run NVIDIA's open kernel modules, which need Turing or newer: "
                "choose \"nvidia\" or \"nouveau\"")
    if gen in ("kepler-or-older", "unknown"):
        return f"this card ({gen}) is not supported by NVIDIA's 580 driver: choose \"nouveau\""
    return ""
