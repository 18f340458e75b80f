"""The install model: every answer a person gives, as plain dataclasses.

The wizard's screens and the answers file both fill one `InstallModel`; the
planner and the renderer read it. Secrets (plain passwords, the LUKS
passphrase) live here in memory only: `answers.dump` never writes them and
`__repr__` hides them, so a traceback or a log line cannot leak one.

Each field carries what the rest of the program says about it, as
`dataclasses.field` metadata (read by `installer.answers.fields` and `.schema`):
its `doc` (the JSON Schema's description and the README's table), its
default (the field's own, or `default_words` when the machine decides it),
the `pattern` its text must match, and whether it is a `secret`. The schema,
the README table, the loader's and saver's secret lists and `secrets()` are
all made from these, so a field is described once, here.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from installer.base.units import GIB, MIB  # noqa: F401  (the model's sizes are in these units; taken from here)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Firmware = Literal["uefi", "bios"]
Loader = Literal["systemd-boot", "grub"]
Layout = Literal["erase", "free-space", "alongside", "replace", "premounted"]
Filesystem = Literal["ext4", "btrfs", "xfs"]
SwapKind = Literal["none", "zram", "partition", "hibernate"]
Unlock = Literal["passphrase", "fido2", "tpm2"]
Desktop = Literal["none", "gnome", "plasma", "xfce"]
GpuChoice = Literal["auto", "none", "nvidia-open", "nvidia", "nouveau"]
HardwareReport = Literal["generated", "facter"]
WifiBackend = Literal["networkmanager", "wpa_supplicant"]

FIRMWARES: tuple[Firmware, ...] = ("uefi", "bios")
LOADERS: tuple[Loader, ...] = ("systemd-boot", "grub")
LAYOUTS: tuple[Layout, ...] = ("erase", "free-space", "alongside", "replace", "premounted")
FILESYSTEMS: tuple[Filesystem, ...] = ("ext4", "btrfs", "xfs")
SWAP_KINDS: tuple[SwapKind, ...] = ("none", "zram", "partition", "hibernate")
UNLOCKS: tuple[Unlock, ...] = ("passphrase", "fido2", "tpm2")
DESKTOPS: tuple[Desktop, ...] = ("none", "gnome", "plasma", "xfce")
GPU_CHOICES: tuple[GpuChoice, ...] = ("auto", "none", "nvidia-open", "nvidia", "nouveau")
HARDWARE_REPORTS: tuple[HardwareReport, ...] = ("generated", "facter")
WIFI_BACKENDS: tuple[WifiBackend, ...] = ("networkmanager", "wpa_supplicant")


DEFAULT_STATE_VERSION = "25.11"

# The forms some answers must have (regular expressions, as text: compiled
# by installer.answers.validate, which checks them with fullmatch, not at
# start-up). The JSON Schema carries them as the fields' `pattern`.
HOSTNAME_FORM = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
USERNAME_FORM = r"[a-z_][a-z0-9_-]{0,31}"
# NixOS releases: a few irregular ones, then March and September up to
# 20.09, then May and November from 21.05 on (24.05, 24.11, 25.05, ...).
OLD_RELEASES = ("13.10", "14.04", "14.12", "15.09", "16.03", "16.09", "17.03", "17.09", "18.03", "18.09",
                "19.03", "19.09", "20.03", "20.09")
STATE_VERSION_FORM = "|".join([*(r.replace(".", r"\.") for r in OLD_RELEASES), r"(2[1-9]|[3-9]\d)\.(05|11)"])
ATTR = r"[A-Za-z_][A-Za-z0-9_'-]*"
ATTR_PATH_FORM = rf"{ATTR}(\.{ATTR})*"

MIN_ESP_MIB = 256


def answer(
    default: Any = MISSING,
    *,
    doc: str,
    factory: Any = MISSING,
    default_words: str | None = None,
    pattern: str | None = None,
    required: bool = False,
    table_doc: str | None = None,
) -> Any:
    """A field a person answers (and an answers file may hold under its name).

    default_words: the README's default when the model's default is not the
    value used ("detected" for the firmware; "" when nothing is given);
    the schema then states no default. pattern: the form the text (or, for
    a list, each item) must have. table_doc: for a field holding tables
    (`users`, `disk.match`), what one such table is."""
    meta: dict[str, Any] = {"doc": doc}
    if default_words is not None:
        meta["default_words"] = default_words
    if pattern is not None:
        meta["pattern"] = pattern
    if required:
        meta["required"] = True
    if table_doc is not None:
        meta["table_doc"] = table_doc
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def secret(*, doc: str, file_key: str | None = None, file_doc: str | None = None, confirms: str | None = None,
           also_key: str | None = None, also_doc: str | None = None) -> Any:
    """A secret: held in memory only, never in repr() nor in equality (so a
    model can be compared and printed safely), never saved, and redacted
    from logs and child environments by `InstallModel.secrets()`.

    file_key: the key an answers file brings it in with (the loader reads
    it), with file_doc saying what that key holds; None: never from a file.
    confirms: the secret this one repeats (typed twice); a copy, so not
    listed again by `secrets()`. also_key: a second key bringing it in
    (the Wi-Fi password in plain text, or from a file), with also_doc."""
    meta: dict[str, Any] = {"doc": doc, "secret": True}
    if file_key is not None:
        meta["file_key"] = file_key
        meta["file_doc"] = file_doc or doc
    if also_key is not None:
        meta["also_key"] = also_key
        meta["also_doc"] = also_doc or doc
    if confirms is not None:
        meta["confirms"] = confirms
    return field(default=None, repr=False, compare=False, metadata=meta)


@dataclass
class System:
    hostname: str = answer("nixos", doc="RFC 1123 label: a-z, 0-9, '-', 1-63 characters", pattern=HOSTNAME_FORM)
    timezone: str = answer("UTC", doc="a tz database name, e.g. `Europe/Berlin`")
    locale: str = answer("en_US.UTF-8", doc="a glibc UTF-8 locale")
    keymap: str = answer("us", doc="console keymap; also used for the LUKS passphrase prompt")
    xkb_layout: str = answer(
        "us", doc="keyboard layout of a desktop session; left out, the one `system.keymap` types (de-latin1: de)"
    )
    xkb_variant: str = answer("", doc="variant of that layout")
    state_version: str = answer(DEFAULT_STATE_VERSION, doc="`system.stateVersion`; never change it later",
                                default_words="the ISO's release", pattern=STATE_VERSION_FORM)


@dataclass
class Boot:
    # None: as the machine was booted (probed)
    firmware: Firmware | None = answer(None, doc="how the machine boots", default_words="detected")
    # None: the firmware's natural choice (installer.answers.resolve.boot)
    loader: Loader | None = answer(None, doc="systemd-boot needs UEFI", default_words="by firmware")


@dataclass
class DiskMatch:
    """A rule picking the disk on machines whose device names are not known
    in advance (fleet installs); exactly one disk must match."""

    largest: bool = answer(False, doc="of the disks the other keys leave, the largest")
    ssd: bool | None = answer(None, doc="`true`: solid-state disks only; `false`: spinning disks only; "
                                        "a disk of unknown rotation matches neither")
    model: str = answer("", doc="part of the disk's model name (case does not matter)")
    size_min_gib: int = answer(0, doc="at least this many GiB")
    size_max_gib: int = answer(0, doc="at most this many GiB (0: no limit)")
    # Never by default: a plugged-in backup drive must not be picked.
    removable: bool = answer(False, doc="`true`: USB and other removable disks may match too; left out otherwise, "
                                        "so a plugged-in backup drive is never picked")


@dataclass
class DiskChoice:
    # Empty for premounted or a match rule.
    device: str = answer("", doc="the disk to install on: `/dev/sda`, a `/dev/disk/by-id/` link or `sda`",
                         default_words="")
    match: DiskMatch | None = answer(
        None, doc="instead of `device`: a rule exactly one disk must match",
        table_doc="A rule picking the install disk on machines whose device names differ.",
    )
    layout: Layout = answer("erase", doc="`erase` the disk; keep what is on it and install into its largest "
                                         "`free-space`, `alongside` a partition shrunk for it, or to `replace` "
                                         "one partition; or use what is `premounted` at the target")
    shrink: str = answer("", doc="alongside: the partition to shrink, by path (`/dev/sda3`), PARTUUID or label",
                         default_words="")
    shrink_to_gib: int = answer(0, doc="alongside: its new size in GiB (0: as small as it safely goes)")
    replace: str = answer("", doc="replace: the partition whose space NixOS takes, by path, PARTUUID or label",
                          default_words="")
    size_gib: int = answer(0, doc="free-space, alongside, replace: NixOS's share in GiB (0: all the room there is)")
    filesystem: Filesystem = answer("ext4", doc="root filesystem (btrfs: subvolumes `@`, `@home`, `@nix`)")
    swap: SwapKind = answer("zram", doc="swap kind; `hibernate`: a swap partition sized to the RAM (rounded up to "
                                        "a GiB, plus its square root in GiB), `boot.resumeDevice` set to it")
    swap_size_mib: int = answer(4096, doc="swap partition size")
    esp_size_mib: int = answer(1024, doc=f"EFI system partition size (at least {MIN_ESP_MIB})")


@dataclass
class Encryption:
    enabled: bool = answer(False, doc="LUKS2 around the root filesystem")
    passphrase: str | None = secret(
        doc="the LUKS passphrase typed at every boot", file_key="passphrase_file",
        file_doc="file holding the passphrase typed at every boot (relative to the answers file)",
    )
    passphrase_confirm: str | None = secret(doc="the passphrase typed again", confirms="passphrase")
    # The passphrase always stays a key: these add a second way in, never replace it.
    unlock: Unlock = answer("passphrase", doc="how the disk is unlocked at boot besides the passphrase, which always "
                                              "stays: `fido2` (a security key, enrolled during the install) or "
                                              "`tpm2` (the TPM, enrolled at the first boot)")


@dataclass
class User:
    name: str = answer("", doc="`^[a-z_][a-z0-9_-]{0,31}$`, not a system account", default_words="",
                       pattern=USERNAME_FORM, required=True)
    description: str = answer("", doc="full name; no `:`")
    admin: bool = answer(True, doc="member of `wheel` (may use sudo)")
    password_hash: str | None = secret(doc="the password as a crypt hash (`mkpasswd -m yescrypt`)",
                                       file_key="password_hash")
    ssh_keys: list[str] = answer(doc="OpenSSH public keys allowed to log in", factory=list)
    password: str | None = secret(doc="the password in plain text, hashed when the file is read", file_key="password")
    password_confirm: str | None = secret(doc="the password typed again", confirms="password")


@dataclass
class Root:
    # NixOS default for a wizard: admins use sudo
    disabled: bool = answer(True, doc="no root password; administrators use sudo")
    password_hash: str | None = secret(doc="root's password as a crypt hash, when not disabled",
                                       file_key="password_hash")
    password: str | None = secret(doc="root's password in plain text, when not disabled", file_key="password")
    password_confirm: str | None = secret(doc="root's password typed again", confirms="password")


@dataclass
class Software:
    desktop: Desktop = answer("none", doc="desktop environment")
    ssh_server: bool = answer(False, doc="OpenSSH server")
    networkmanager: bool = answer(True, doc="NetworkManager")
    flakes: bool = answer(True, doc="enable `nix-command` and `flakes`")
    allow_unfree: bool = answer(False, doc="allow unfree packages; also the consent NVIDIA's driver needs "
                                                       "(without it an NVIDIA card gets nouveau)")
    packages: list[str] = answer(doc="nixpkgs attribute paths, e.g. `python3Packages.requests`", factory=list,
                                 pattern=ATTR_PATH_FORM)


@dataclass
class Hardware:
    # What each choice sets: installer.answers.gpu, the one rule.
    gpu: GpuChoice = answer(
        "auto", doc="graphics driver options: `\"auto\"` as detected (NVIDIA by the card's generation; "
                    "its driver needs `software.allow_unfree`), `\"none\"` sets none, or force `\"nvidia-open\"` "
                    "(Turing and newer), `\"nvidia\"` (proprietary module) or `\"nouveau\"`")
    report: HardwareReport = answer(
        "generated", doc="how the hardware is described: `\"generated\"` the installer's hardware-configuration.nix; "
                         "`\"facter\"` nixos-facter's report, written to /etc/nixos/facter.json after you confirm and "
                         "read with `hardware.facter.reportPath` (needs nixos-facter; the filesystems stay in "
                         "hardware-configuration.nix)")


@dataclass
class Network:
    wifi_ssid: str = answer("", doc="the Wi-Fi network to join on the ISO and in the new system (empty: none)",
                            default_words="")
    wifi_hidden: bool = answer(False, doc="the network does not announce its name")
    wifi_backend: WifiBackend = answer(
        "networkmanager", doc="how the new system joins it: `networkmanager` (a root-only keyfile in "
        "/etc/NetworkManager/system-connections) or `wpa_supplicant` (`networking.wireless`, needs "
        "`software.networkmanager = false`)")
    proxy: str = answer("", doc="HTTP proxy for the connectivity check and nixos-install, e.g. "
                                "`http://proxy.example:3128`", default_words="")
    wifi_password: str | None = secret(
        doc="the Wi-Fi password (WPA2/WPA3 personal)", file_key="wifi_password",
        file_doc="the Wi-Fi password in plain text (8-63 characters)", also_key="wifi_password_file",
        also_doc="file holding the Wi-Fi password (relative to the answers file; one final newline is ignored)",
    )


@dataclass
class InstallModel:
    """The answers, section by section in the order a person fills them (and the wizard asks)."""

    system: System = answer(doc="The new system's name, clock, language and keyboard.", factory=System)
    boot: Boot = answer(doc="How the machine starts.", factory=Boot)
    disk: DiskChoice = answer(doc="The disk to install on and its layout.", factory=DiskChoice)
    encryption: Encryption = answer(doc="LUKS2 full-disk encryption.", factory=Encryption)
    users: list[User] = answer(doc="The people who log in.", factory=list, table_doc="One account ([[users]]).")
    root: Root = answer(doc="The root account.", factory=Root)
    software: Software = answer(doc="What the new system runs.", factory=Software)
    hardware: Hardware = answer(doc="Drivers for what the machine has.", factory=Hardware)
    network: Network = answer(doc="Getting online: the Wi-Fi network and the proxy.", factory=Network)

    def secrets(self) -> list[str]:
        """Every secret the model holds (each once: not its typed-again copy), in
        field order, for redaction and leak tests."""
        return list(_secret_values(self))


def _secret_values(obj: DataclassInstance) -> Iterator[str]:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("secret"):
            if value and "confirms" not in f.metadata:
                yield value
        elif is_dataclass(value) and not isinstance(value, type):  # a field holds instances, never classes
            yield from _secret_values(value)
        elif isinstance(value, list):
            for item in value:
                if is_dataclass(item) and not isinstance(item, type):
                    yield from _secret_values(item)
