"""Every rule the answers must meet, each with a message a person can act on.

`validate(model, machine)` returns all problems at once, each tied to the
dotted field it belongs to, so the wizard can show it next to that field and
the CLI can list them all. Warnings (a short password) never block.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from typing import Any

from installer.answers import catalog
from installer.answers.resolve import (BIOS_ON_UEFI, CHOOSE_DISK, KEEP_LAYOUTS, NEEDS_UEFI, UEFI_ON_BIOS,
                                       find_partitions, install_disk)
from installer.base.crypthash import hash_problem
from installer.machine.hardware import Machine
from installer.answers.fields import within
from installer.answers.gpu import gpu_problem
from installer.answers.model import (DESKTOPS, FILESYSTEMS, FIRMWARES, GPU_CHOICES, LAYOUTS, LOADERS, SWAP_KINDS,
                                     UNLOCKS, InstallModel)
from installer.machine.eligibility import HIBERNATE_KEEP, hibernate_refusal
from installer.answers.model import DESKTOPS, FILESYSTEMS, FIRMWARES, LAYOUTS, LOADERS, SWAP_KINDS, InstallModel
from installer.answers.model import WIFI_BACKENDS
# The forms and limits the schema states too live with their fields in the model.
from installer.answers.model import ATTR_PATH_FORM, HOSTNAME_FORM, MIN_ESP_MIB, STATE_VERSION_FORM, USERNAME_FORM
from installer.base.problems import Problem, shown

HOSTNAME = re.compile(HOSTNAME_FORM)
USERNAME = re.compile(USERNAME_FORM)
STATE_VERSION = re.compile(STATE_VERSION_FORM)
ATTR_PATH = re.compile(ATTR_PATH_FORM)

# Accounts NixOS or its modules create; a person's account may not take one.
SYSTEM_USERS = frozenset(
    "root bin daemon adm lp sync shutdown halt mail news uucp operator games ftp nobody nogroup "
    "messagebus sshd polkituser polkitd avahi rtkit pulse pipewire geoclue colord gdm sddm lightdm "
    "nm-openvpn nm-iodine dhcpcd nscd nixbld wheel users systemd-coredump systemd-network "
    "systemd-resolve systemd-timesync systemd-oom fwupd-refresh flatpak cups kvm render video audio "
    "input disk tty".split()
)
SYSTEM_PREFIXES = ("nixbld", "systemd-")

SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)

MAX_SWAP_MIB = 1024 * 1024
SHORT_SECRET = 8


def validate(model: InstallModel, machine: Machine | None = None) -> list[Problem]:
    """Every problem with the model, in field order."""
    problems: list[Problem] = []
    problems += _control_characters(model)
    problems += _system(model)
    problems += _boot(model, machine)
    problems += _disk(model, machine)
    problems += _encryption(model)
    problems += _users(model)
    problems += _software(model)
    problems += _hardware(model, machine)
    problems += _network(model)
    return problems


def validate_section(model: InstallModel, prefix: str, machine: Machine | None = None) -> list[Problem]:
    """The problems of one part of the model, e.g. "system" or "users[1]"."""
    return [p for p in validate(model, machine) if within(p.field, prefix)]


def _control_characters(model: InstallModel) -> list[Problem]:
    problems = []
    for path, value in _strings(model, ""):
        bad = next((c for c in value if unicodedata.category(c) == "Cc" and c != "\n"), None)
        multiline = path.endswith(".ssh_keys") or ".ssh_keys[" in path
        if bad is not None or ("\n" in value and not multiline):
            shown = repr(bad if bad is not None else "\n")
            problems.append(Problem(path, f"contains the control character {shown}; remove it"))
    return problems


def _strings(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _strings(item, f"{path}[{i}]")
    elif is_dataclass(obj):
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is not None:
                yield from _strings(value, f"{path}.{f.name}" if path else f.name)


def _system(model: InstallModel) -> list[Problem]:
    s = model.system
    out = []
    if not s.hostname:
        out.append(Problem("system.hostname", "enter a hostname, e.g. nixos"))
    elif len(s.hostname) > 63:
        out.append(Problem("system.hostname", f"is {len(s.hostname)} characters long; the limit is 63"))
    elif not HOSTNAME.fullmatch(s.hostname):
        out.append(
            Problem(
                "system.hostname",
                "use only lower-case letters a-z, digits and '-', not starting or ending with '-'",
            )
        )
    if s.timezone not in catalog.timezones():
        out.append(Problem("system.timezone", f"{shown(s.timezone)} is not a known timezone (e.g. Europe/Berlin, UTC)"))
    if s.locale not in catalog.locales():
        out.append(Problem("system.locale", f"{shown(s.locale)} is not a glibc UTF-8 locale (e.g. en_US.UTF-8)"))
    if s.keymap not in catalog.keymaps():
        out.append(Problem("system.keymap", f"{shown(s.keymap)} is not a console keymap (e.g. us, de-latin1, fr)"))
    layouts = [part.strip() for part in s.xkb_layout.split(",")]
    unknown = [layout for layout in layouts if layout not in catalog.xkb_layouts()]
    if unknown:
        out.append(Problem("system.xkb_layout", f"{shown(unknown[0])} is not an xkb layout (e.g. us, de, fr)"))
    elif s.xkb_variant:
        known = {v for layout in layouts for v in catalog.xkb_variants().get(layout, {})}
        for variant in (v.strip() for v in s.xkb_variant.split(",")):
            if variant and variant not in known:
                out.append(Problem("system.xkb_variant", f"{shown(variant)} is not a variant of {shown(s.xkb_layout)}"))
    if not STATE_VERSION.fullmatch(s.state_version):
        out.append(Problem("system.state_version",
                           f"{shown(s.state_version)} is not a NixOS release (YY.05 or YY.11 from 21.05 on, e.g. "
                           "25.11; before: 13.10, 14.04, 14.12, then YY.03 and YY.09 from 15.09 to 20.09)"))
    return out


def _boot(model: InstallModel, machine: Machine | None = None) -> list[Problem]:
    b = model.boot
    out = []
    if b.firmware is not None and b.firmware not in FIRMWARES:
        out.append(Problem("boot.firmware", f"must be one of {', '.join(FIRMWARES)}"))
    elif machine is not None and b.firmware not in (None, machine.firmware):
        out.append(Problem("boot.firmware", BIOS_ON_UEFI if b.firmware == "bios" else UEFI_ON_BIOS, "warning"))
    if b.loader is not None and b.loader not in LOADERS:
        out.append(Problem("boot.loader", f"must be one of {', '.join(LOADERS)}"))
    elif b.firmware == "bios" and b.loader == "systemd-boot":
        out.append(Problem("boot.loader", NEEDS_UEFI))
    return out


def _disk(model: InstallModel, machine: Machine | None) -> list[Problem]:
    d = model.disk
    out = []
    if d.layout not in LAYOUTS:
        out.append(Problem("disk.layout", f"must be one of {', '.join(LAYOUTS)}"))
    if d.filesystem not in FILESYSTEMS:
        out.append(Problem("disk.filesystem", f"must be one of {', '.join(FILESYSTEMS)}"))
    if d.swap not in SWAP_KINDS:
        out.append(Problem("disk.swap", f"must be one of {', '.join(SWAP_KINDS)}"))
    if d.swap == "partition" and not 64 <= d.swap_size_mib <= MAX_SWAP_MIB:
        out.append(Problem("disk.swap_size_mib", "a swap partition should be between 64 MiB and 1 TiB"))
    if d.swap == "hibernate" and d.layout == "erase" and machine is not None and hibernate_refusal(machine.memory_bytes):
        out.append(Problem("disk.swap", hibernate_refusal(machine.memory_bytes)))
    elif d.swap == "hibernate" and d.layout in KEEP_LAYOUTS:
        out.append(Problem("disk.swap", HIBERNATE_KEEP))
    if d.layout in ("erase", *KEEP_LAYOUTS) and d.esp_size_mib < MIN_ESP_MIB:
        out.append(
            Problem("disk.esp_size_mib", f"an EFI system partition needs at least {MIN_ESP_MIB} MiB (1024 is best)")
        )
    out += _keep_keys(model, machine)
    if d.layout in ("erase", *KEEP_LAYOUTS):
        if machine is not None:
            _disk_found, problem = install_disk(model, machine)  # a match rule is resolved, never written back
            if problem is not None:
                out.append(problem)
        elif not d.device and d.match is None:
            out.append(Problem("disk.device", CHOOSE_DISK))
    return out


# The keys of the layouts that keep what is on the disk, and the layouts each belongs to.
KEEP_KEYS = {"shrink": ("alongside",), "shrink_to_gib": ("alongside",), "replace": ("replace",),
             "size_gib": KEEP_LAYOUTS}


def _keep_keys(model: InstallModel, machine: Machine | None) -> list[Problem]:
    """Each keep key used with its layout only, sizes not negative, the partition named and
    found on the disk; whether it can be shrunk or replaced, and by how much, the plan says
    (installer.plan.keep, with installer.plan.offers' reasons), at the same keys."""
    d = model.disk
    out = []
    for key, layouts in KEEP_KEYS.items():
        value = getattr(d, key)
        if value and d.layout not in layouts:
            used = " or ".join(f'"{layout}"' for layout in layouts)
            out.append(Problem(f"disk.{key}", f"is used only with layout = {used}; remove it or change the layout"))
        elif isinstance(value, int) and value < 0:
            out.append(Problem(f"disk.{key}", "must be a whole number of GiB, 0 or more"))
    for key, verb in (("shrink", "shrink"), ("replace", "replace")):
        if d.layout not in KEEP_KEYS[key]:
            continue
        name = getattr(d, key)
        if not name:
            out.append(Problem(f"disk.{key}", f"name the partition to {verb}: by path (/dev/sda3), PARTUUID or label"))
        elif machine is not None:
            disk, _problem = install_disk(model, machine)
            if disk is not None and len(find_partitions(disk, name)) != 1:
                out.append(Problem(f"disk.{key}", f"{shown(name)} names no one partition of {disk.path} "
                                                  "(by path, PARTUUID or label)"))
    return out


def _secret_pair(prefix: str, value: str | None, confirm: str | None, what: str) -> list[Problem]:
    if not value:
        return [Problem(f"{prefix}", f"enter a {what}")]
    if confirm != value:
        return [Problem(f"{prefix}_confirm", f"the two {what}s do not match")]
    if what == "password" and _too_long(value):
        return [Problem(prefix, _too_long(value))]
    if len(value) < SHORT_SECRET:
        return [Problem(prefix, f"this {what} is short; {SHORT_SECRET} or more characters are safer", "warning")]
    return []


def _too_long(password: str) -> str:
    """The limit of the installed system's libxcrypt, said at the field ("" when within it)."""
    from installer.base.hashing import password_problem

    problem = password_problem(password)
    return f"this password {problem}" if problem else ""


def _encryption(model: InstallModel) -> list[Problem]:
    e = model.encryption
    if e.unlock not in UNLOCKS:
        return [Problem("encryption.unlock", f"must be one of {', '.join(UNLOCKS)}")]
    if e.unlock != "passphrase" and not e.enabled:
        return [Problem("encryption.unlock", f"unlocking with {UNLOCK_WORDS[e.unlock]} needs an encrypted disk: "
                                             "turn encryption on, or unlock with the passphrase")]
    if not e.enabled:
        return []
    if model.disk.layout == "premounted":
        if e.unlock != "passphrase":
            return [Problem("encryption.unlock", f"{UNLOCK_WORDS[e.unlock]} is enrolled only on a disk the installer "
                                                 "encrypts; on disks you set up yourself, enrol it after installing "
                                                 "with systemd-cryptenroll")]
        return []  # what the person set up themselves is used as it is
    return _secret_pair("encryption.passphrase", e.passphrase, e.passphrase_confirm, "passphrase")


# How the answers and the messages name each way to unlock.
UNLOCK_WORDS = {"passphrase": "the passphrase", "fido2": "a FIDO2 security key", "tpm2": "the TPM2 chip"}


def _users(model: InstallModel) -> list[Problem]:
    out = []
    seen: set[str] = set()
    for i, user in enumerate(model.users):
        at = f"users[{i}]"
        if not user.name:
            out.append(Problem(f"{at}.name", "enter a username, e.g. alice"))
        elif not USERNAME.fullmatch(user.name):
            out.append(
                Problem(
                    f"{at}.name",
                    "start with a-z or '_', then use only a-z, 0-9, '_' or '-', at most 32 characters",
                )
            )
        elif user.name in SYSTEM_USERS or user.name.startswith(SYSTEM_PREFIXES):
            out.append(Problem(f"{at}.name", f"{shown(user.name)} is used by the system; choose another name"))
        elif user.name in seen:
            out.append(Problem(f"{at}.name", f"{shown(user.name)} is already taken by another user above"))
        seen.add(user.name)
        if ":" in user.description:
            out.append(Problem(f"{at}.description", "a full name may not contain ':'"))
        if not user.password_hash:
            out += _secret_pair(f"{at}.password", user.password, user.password_confirm, "password")
        elif hash_problem(user.password_hash):
            out.append(Problem(f"{at}.password_hash", hash_problem(user.password_hash)))
        for k, entry in enumerate(user.ssh_keys):
            # A pasted block may hold several keys, one per line: each must be whole.
            lines = [line for line in entry.splitlines() if line.strip()] or [entry]
            message = next((m for m in map(ssh_key_problem, lines) if m), "")
            if message:
                out.append(Problem(f"{at}.ssh_keys[{k}]", message))
        if user.ssh_keys and not model.software.ssh_server:
            out.append(Problem(f"{at}.ssh_keys", SSH_SERVER_OFF, "warning"))
    r = model.root
    if not r.disabled:
        if not r.password_hash:
            out += _secret_pair("root.password", r.password, r.password_confirm, "password")
        elif problem := hash_problem(r.password_hash):
            out.append(Problem("root.password_hash", problem))
    if r.disabled and not any(u.admin for u in model.users):
        field = "users" if not model.users else "users[0].admin"
        out.append(
            Problem(field, "root login is disabled, so add a user with administrator rights (or enable root)")
        )
    return out


SSH_SERVER_OFF = "the SSH server is off, so these keys cannot log in: turn the SSH server on"


def ssh_key_problem(key: str) -> str:
    """Why `key` is not an OpenSSH public key line, or "" when it is one."""
    parts = key.strip().split(None, 2)
    if len(parts) < 2:
        return "paste a whole public key line, e.g. 'ssh-ed25519 AAAA... you@host'"
    kind, blob = parts[0], parts[1]
    if kind not in SSH_KEY_TYPES:
        return f"{shown(kind[:30])} is not an SSH key type (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)"
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "the key's data is not valid base64; paste the line from your .pub file unchanged"
    # The blob starts with its own type name: a length-prefixed string.
    size = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    if size <= 0 or raw[4 : 4 + size] != kind.encode():
        return f"the key's data does not match its type {kind}; it may be cut or damaged"
    return ""


def _software(model: InstallModel) -> list[Problem]:
    s = model.software
    out = []
    if s.desktop not in DESKTOPS:
        out.append(Problem("software.desktop", f"must be one of {', '.join(DESKTOPS)}"))
    for i, name in enumerate(s.packages):
        if not ATTR_PATH.fullmatch(name):
            out.append(
                Problem(
                    f"software.packages[{i}]",
                    f"{shown(name)} is not a package attribute name (e.g. firefox, python3Packages.requests)",
                )
            )
    return out


def _hardware(model: InstallModel, machine: Machine | None) -> list[Problem]:
    if model.hardware.gpu not in GPU_CHOICES:
        return [Problem("hardware.gpu", f"must be one of {', '.join(GPU_CHOICES)}")]
    why = gpu_problem(model, machine)
    return [Problem("hardware.gpu", why)] if why else []


PROXY = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/?")


def wifi_password_problem(password: str) -> str:
    """WPA2/WPA3 personal: a passphrase of 8-63 printable ASCII characters, or the 64-hex-digit key."""
    if re.fullmatch(r"[0-9A-Fa-f]{64}", password):
        return ""
    if not 8 <= len(password) <= 63:
        return "a Wi-Fi password has 8 to 63 characters"
    if any(not 32 <= ord(c) <= 126 for c in password):
        return "a Wi-Fi password has only letters, digits, spaces and ASCII punctuation"
    return ""


def wifi_ssid_problem(ssid: str) -> str:
    """An SSID is at most 32 bytes (IEEE 802.11)."""
    return "a Wi-Fi network name has at most 32 bytes" if len(ssid.encode()) > 32 else ""


def _network(model: InstallModel) -> list[Problem]:
    n, out = model.network, []
    if wifi_ssid_problem(n.wifi_ssid):
        out.append(Problem("network.wifi_ssid", wifi_ssid_problem(n.wifi_ssid)))
    if n.wifi_password and wifi_password_problem(n.wifi_password):
        out.append(Problem("network.wifi_password", wifi_password_problem(n.wifi_password)))
    if n.wifi_password and not n.wifi_ssid:
        out.append(Problem("network.wifi_ssid", "a Wi-Fi password is given: name its network too"))
    if n.wifi_backend not in WIFI_BACKENDS:
        out.append(Problem("network.wifi_backend", f"must be one of {', '.join(WIFI_BACKENDS)}"))
    elif n.wifi_ssid and n.wifi_backend == "networkmanager" and not model.software.networkmanager:
        out.append(Problem("network.wifi_backend", "the Wi-Fi network is kept through NetworkManager: turn on "
                                                   "software.networkmanager, or choose wpa_supplicant"))
    elif n.wifi_ssid and n.wifi_backend == "wpa_supplicant" and model.software.networkmanager:
        out.append(Problem("network.wifi_backend", "wpa_supplicant and NetworkManager cannot both run: turn "
                                                   "software.networkmanager off, or choose networkmanager"))
    if n.proxy and not PROXY.fullmatch(n.proxy):
        out.append(Problem("network.proxy", "write the proxy as http://HOST:PORT (a proxy password would be "
                                            "saved with the answers, so none is taken)"))
    return out


def suggest_username(full_name: str) -> str:
    """A username from a full name, as other installers suggest: "Zoë Smith" -> "zoe"."""
    folded = unicodedata.normalize("NFKD", full_name).encode("ascii", "ignore").decode().lower()
    first = folded.split()[0] if folded.split() else ""
    name = re.sub(r"[^a-z0-9_-]", "", first)[:32]
    if not name or not re.match(r"[a-z_]", name):
        name = ("u" + name)[:32] if name else ""
    if name in SYSTEM_USERS or name.startswith(SYSTEM_PREFIXES):
        name = name + "1"
    return name
