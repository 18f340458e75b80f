"""The install model: every answer a person gives, as plain dataclasses.

The wizard's screens and the answers file both fill one `InstallModel`; the
planner and the renderer read it. Secrets (plain passwords, the LUKS
passphrase) live here in memory only: `answers.dump` never writes them and
`__repr__` hides them, so a traceback or a log line cannot leak one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from installer.base.units import GIB, MIB  # noqa: F401  (the model's sizes are in these units; taken from here)

Firmware = Literal["uefi", "bios"]
Loader = Literal["systemd-boot", "grub"]
Layout = Literal["erase", "premounted"]
Filesystem = Literal["ext4", "btrfs", "xfs"]
SwapKind = Literal["none", "zram", "partition"]
Desktop = Literal["none", "gnome", "plasma", "xfce"]

FIRMWARES: tuple[Firmware, ...] = ("uefi", "bios")
LOADERS: tuple[Loader, ...] = ("systemd-boot", "grub")
LAYOUTS: tuple[Layout, ...] = ("erase", "premounted")
FILESYSTEMS: tuple[Filesystem, ...] = ("ext4", "btrfs", "xfs")
SWAP_KINDS: tuple[SwapKind, ...] = ("none", "zram", "partition")
DESKTOPS: tuple[Desktop, ...] = ("none", "gnome", "plasma", "xfce")


DEFAULT_STATE_VERSION = "25.11"


def _secret(**kw):
    # Secrets never show up in repr() and never take part in equality, so a
    # model can be compared and printed safely.
    return field(default=None, repr=False, compare=False, **kw)


@dataclass
class System:
    hostname: str = "nixos"
    timezone: str = "UTC"
    locale: str = "en_US.UTF-8"
    keymap: str = "us"
    xkb_layout: str = "us"
    xkb_variant: str = ""
    state_version: str = DEFAULT_STATE_VERSION


@dataclass
class Boot:
    firmware: Firmware | None = None  # None: as the machine was booted (probed)
    loader: Loader | None = None  # None: the firmware's natural choice (installer.answers.resolve.boot)


@dataclass
class DiskMatch:
    """A rule picking the disk on machines whose device names are not known
    in advance (fleet installs); exactly one disk must match."""

    largest: bool = False  # of the disks left, the largest
    ssd: bool | None = None  # True: non-rotational only; False: spinning only
    model: str = ""  # a substring of the disk's model, case-insensitive
    size_min_gib: int = 0
    size_max_gib: int = 0  # 0: no limit
    removable: bool = False  # USB and other removable disks may match too (never by default)


@dataclass
class DiskChoice:
    device: str = ""  # /dev/... or /dev/disk/by-id/...; empty for premounted or a match rule
    match: DiskMatch | None = None
    layout: Layout = "erase"
    filesystem: Filesystem = "ext4"
    swap: SwapKind = "zram"
    swap_size_mib: int = 4096
    esp_size_mib: int = 1024


@dataclass
class Encryption:
    enabled: bool = False
    passphrase: str | None = _secret()
    passphrase_confirm: str | None = _secret()


@dataclass
class User:
    name: str = ""
    description: str = ""
    admin: bool = True
    password_hash: str | None = _secret()
    ssh_keys: list[str] = field(default_factory=list)
    password: str | None = _secret()
    password_confirm: str | None = _secret()


@dataclass
class Root:
    disabled: bool = True  # NixOS default for a wizard: admins use sudo
    password_hash: str | None = _secret()
    password: str | None = _secret()
    password_confirm: str | None = _secret()


@dataclass
class Software:
    desktop: Desktop = "none"
    ssh_server: bool = False
    networkmanager: bool = True
    flakes: bool = True
    allow_unfree: bool = False
    packages: list[str] = field(default_factory=list)


@dataclass
class InstallModel:
    system: System = field(default_factory=System)
    boot: Boot = field(default_factory=Boot)
    disk: DiskChoice = field(default_factory=DiskChoice)
    encryption: Encryption = field(default_factory=Encryption)
    users: list[User] = field(default_factory=list)
    root: Root = field(default_factory=Root)
    software: Software = field(default_factory=Software)

    def secrets(self) -> list[str]:
        """Every secret the model holds, for redaction and leak tests."""
        found: list[str | None] = [
            self.encryption.passphrase,
            self.root.password,
            self.root.password_hash,
        ]
        for user in self.users:
            found += [user.password, user.password_hash]
        return [s for s in found if s]
