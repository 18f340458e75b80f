"""Render configuration.nix and hardware-configuration.nix from the model and plan.

The templates live in the repository's top-level `templates/`; a wheel carries
them inside the package as installer/templates/. The Jinja environment is
strict (an unknown name is an error, not an empty string), escapes nothing by
itself, and offers the filters that make values Nix-safe: every `{{ ... }}` in
a .nix template ends in one of SAFE_FILTERS (or, for the flake export, one of
installer.nixos.export's filters where its file type allows), which
tests/test_render.py enforces for every templates/**/*.j2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from installer.machine.hardware import Disk, Machine
from installer.answers.model import InstallModel
from installer.answers.gpu import plan_gpu
from installer.answers.resolve import boot
from installer.nixos.nixlit import nix, nix_attr_name, nix_attr_path
from installer.plan.types import Plan

if TYPE_CHECKING:
    import jinja2

# A Jinja filter: the value, then the filter's own arguments, if any.
Filter = Callable[..., str]

TEMPLATE_NAMES = {
    "configuration.nix": "configuration.nix.j2",
    "hardware-configuration.nix": "hardware-configuration.nix.j2",
}

# The filters whose output is a Nix literal or attribute path whatever their input.
SAFE_FILTERS = frozenset({"nix", "nix_attr", "nix_pkg"})

# What nixos-generate-config also always finds on PC hardware: USB keyboards
# and USB/SATA-attached disks must work in the initrd (to type a passphrase,
# or to boot from a USB disk).
DEFAULT_INITRD_MODULES = ("sd_mod", "usb_storage", "xhci_pci")

# nixos-generate-config: kvm-intel when /proc/cpuinfo has vmx, kvm-amd when svm.
KVM_MODULES = (("vmx", "kvm-intel"), ("svm", "kvm-amd"))

# Mount options that are a choice about how, not a fact about where: they go in
# configuration.nix, since people regenerate hardware-configuration.nix with
# nixos-generate-config (which writes back only the subvol=).
TUNING_OPTIONS = ("compress", "compress-force", "noatime")


def templates_dir() -> Path:
    """The templates next to the code: installed, the package's own copy; in a checkout, templates/.

    The installed copy comes first: a site-packages may hold some other
    project's top-level `templates/`.
    """
    package = Path(__file__).resolve().parent.parent  # installer/, above installer/nixos/
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / TEMPLATE_NAMES["configuration.nix"]).is_file():
            return candidate
    raise FileNotFoundError(f"the installer's templates are missing (looked in {package / 'templates'} and "
                            f"{package.parent / 'templates'}): reinstall nixos-tui-installer")


def new_environment(filters: dict[str, Filter]) -> jinja2.Environment:
    """A strict Jinja environment over templates/ with the given filters.

    A missing value stops rendering with Jinja's own message, even when it
    goes straight into a filter (str() of StrictUndefined raises).
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    def strict(convert: Filter) -> Filter:
        def apply(value: Any, *args: Any) -> Any:
            if isinstance(value, jinja2.Undefined):
                str(value)
            return convert(value, *args)

        return apply

    env.filters.update({name: strict(convert) for name, convert in filters.items()})
    return env


@cache
def environment() -> jinja2.Environment:
    """The one environment of the NixOS files, built on first use (importing stays cheap)."""
    return new_environment(
        {"nix": nix, "nix_attr": nix_attr_name, "nix_pkg": lambda path: nix_attr_path(path, "pkgs")}
    )


@dataclass(frozen=True)
class UserView:
    name: str
    description: str
    groups: list[str]
    ssh_keys: list[str]


def render(
    model: InstallModel,
    machine: Machine,
    plan: Plan,
    *,
    include_filesystems: bool = True,
    host_platform: str | None = None,
) -> dict[str, str]:
    """Both NixOS files, keyed by file name.

    `include_filesystems=False` leaves out fileSystems, LUKS devices and swap
    partitions (as `nixos-generate-config --no-filesystems` does), for a flake
    whose disko configuration owns the disk layout.
    """
    if host_platform is None:
        from installer.nixos.facts import host_platform as detect

        host_platform = detect()
    context = _context(model, machine, plan, include_filesystems, host_platform)
    env = environment()
    return {name: env.get_template(template).render(context) for name, template in TEMPLATE_NAMES.items()}


def _context(model: InstallModel, machine: Machine, plan: Plan, include_filesystems: bool, platform: str) -> dict[str, Any]:
    software = model.software
    users = [
        UserView(
            name=user.name,
            description=user.description,
            groups=(["wheel"] if user.admin else []) + (["networkmanager"] if software.networkmanager else []),
            ssh_keys=_key_lines(user.ssh_keys),
        )
        for user in model.users
    ]
    # The plan's own, which build_plan took from resolve; the same answer for a plan made without them.
    chosen_firmware, chosen_loader = boot(model, machine)
    firmware: str = plan.firmware or chosen_firmware
    loader: str = plan.loader or chosen_loader
    return {
        "model": model,
        "machine": machine,
        "plan": plan,
        "firmware": firmware,
        "loader": loader,
        "grub_device": _grub_device(plan, firmware),
        "users": users,
        "encrypted": bool(plan.luks) or model.encryption.enabled,
        "include_filesystems": include_filesystems,
        "initrd_modules": initrd_modules(machine, plan),
        "kernel_modules": kernel_modules(machine),
        "bare_metal": machine.virtualisation == "none",
        "filesystems": [replace(fs, options=tuple(o for o in fs.options if not _tuning(o))) for fs in plan.filesystems],
        "filesystem_tuning": [(fs.mountpoint, [o for o in fs.options if _tuning(o)])
                              for fs in plan.filesystems if any(_tuning(o) for o in fs.options)],
        "host_platform": platform,
        **_unlock(model, plan),
        "gpu": plan_gpu(model, machine),
        # nixos-facter's report in place of what the probe found (installer.run.facter writes it)
        "facter": model.hardware.report == "facter",
        **_wifi(model),
    }


def _wifi(model: InstallModel) -> dict[str, Any]:
    """The Wi-Fi network kept through wpa_supplicant (installer.plan.wifi); NetworkManager's needs no option."""
    from installer.plan import wifi

    kept = wifi.kept_wifi(model)
    return {"wpa_wifi": kept if kept is not None and kept.backend == "wpa_supplicant" else None,
            "wpa_secrets_file": wifi.WPA_SECRETS_FILE}


def _unlock(model: InstallModel, plan: Plan) -> dict[str, Any]:
    """How the LUKS containers the plan makes are unlocked besides the passphrase (installer.plan.unlock)."""
    from installer.plan import unlock

    way = model.encryption.unlock if plan.luks and model.disk.layout != "premounted" else "passphrase"
    return {
        "unlock": way,
        "luks_names": [entry.name for entry in plan.luks],
        "crypttab_options": unlock.CRYPTTAB_OPTIONS.get(way, []),
        "tpm2_service": unlock.TPM2_SERVICE,
        "tpm2_args": " ".join([unlock.TPM2_KEY_FILE, *(entry.device for entry in plan.luks)]),
    }


def _tuning(option: str) -> bool:
    return option.split("=", 1)[0] in TUNING_OPTIONS


def kernel_modules(machine: Machine) -> list[str]:
    """boot.kernelModules: KVM for the CPU's virtualisation extension, when the probe read the CPU's flags."""
    flags = machine.cpu_flags or []
    return [module for flag, module in KVM_MODULES if flag in flags]


def _key_lines(keys: list[str]) -> list[str]:
    """One public key per entry: a pasted block of several keys is split into lines.

    sshd reads authorized_keys line by line, so a key must never span two.
    """
    return [line.strip() for key in keys for line in key.splitlines() if line.strip()]


def _grub_device(plan: Plan, firmware: str) -> str:
    if plan.grub_device:
        return plan.grub_device
    if firmware == "uefi":
        return "nodev"  # UEFI GRUB lives on the ESP, not in a disk's first sectors
    return plan.disk.stable_path if plan.disk is not None else ""


def initrd_modules(machine: Machine, plan: Plan) -> list[str]:
    """Kernel modules the initrd may need: the install disks' drivers plus the PC defaults.

    The probe gives every disk its drivers: the ones bound to it in sysfs, or,
    when none were recorded, the controller read off its DEVPATH.
    """
    disks = [plan.disk] if plan.disk is not None else _disks_in_use(machine, plan)
    modules = set(DEFAULT_INITRD_MODULES)
    for disk in disks:
        modules.update(disk.drivers)
    return sorted(modules)


def _disks_in_use(machine: Machine, plan: Plan) -> list[Disk]:
    """For a pre-mounted layout: the disks holding a mounted or planned partition."""
    devices = " ".join([f.device for f in plan.filesystems] + [e.device for e in plan.luks] + [s.device for s in plan.swaps])
    used = [
        disk
        for disk in machine.disks
        if disk.mountpoint
        or any(p.mountpoint or (p.uuid and p.uuid in devices) or (p.partuuid and p.partuuid in devices) for p in disk.partitions)
    ]
    return used or [d for d in machine.disks if d.kind == "disk"]
