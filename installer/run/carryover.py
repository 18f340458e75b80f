"""The Wi-Fi connection that got the ISO online, carried into the new system.

Written after nixos-install, beside the system and never through the Nix
store or configuration.nix (the store is world-readable):
- NetworkManager: /etc/NetworkManager/system-connections/NAME.nmconnection,
  a keyfile NetworkManager reads at boot, root-only 0600 (NetworkManager
  ignores a keyfile others can read);
- wpa_supplicant: /etc/wpa_supplicant-secrets.conf (0600), the file
  `networking.wireless.secretsFile` names, holding `psk_wifi=PASSWORD` for the
  configuration's `pskRaw = "ext:psk_wifi"` (nixpkgs 25.11's wireless module),
  owned by the wpa_supplicant account its service runs as (installer.plan.wifi).
"""

from __future__ import annotations

import os
import uuid

from installer.base import safefs
from installer.plan.wifi import WPA_SECRET_NAME, WPA_SECRETS_FILE

KEYFILE_DIR = "etc/NetworkManager/system-connections"
WPA_SECRETS = WPA_SECRETS_FILE.lstrip("/")


def _gkeyfile(value: str) -> str:
    """A value as GKeyFile (NetworkManager's keyfile) reads it back: backslash,
    line breaks and tab escaped, a leading space kept by `\\s`."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return "\\s" + out[1:] if out.startswith(" ") else out


def keyfile_text(name: str, ssid: str, password: str | None, *, key_mgmt: str | None, hidden: bool = False,
                 uid: str | None = None) -> str:
    """The NetworkManager keyfile of a Wi-Fi profile (man nm-settings-keyfile)."""
    lines = ["[connection]", f"id={_gkeyfile(name)}", f"uuid={uid or uuid.uuid4()}", "type=wifi",
             "autoconnect=true", "", "[wifi]", "mode=infrastructure", f"ssid={_gkeyfile(ssid)}"]
    if hidden:
        lines.append("hidden=true")
    if key_mgmt is not None:
        lines += ["", "[wifi-security]", f"key-mgmt={key_mgmt}", f"psk={_gkeyfile(password or '')}"]
    lines += ["", "[ipv4]", "method=auto", "", "[ipv6]", "addr-gen-mode=default", "method=auto", ""]
    return "\n".join(lines)


def write_keyfile(target: str, name: str, text: str) -> str:
    """TARGET/etc/NetworkManager/system-connections/NAME.nmconnection, 0600, no link followed."""
    where = safefs.open_dir(KEYFILE_DIR, base=target, create=True, mode=0o755)
    try:
        os.fchmod(where, 0o700)  # NetworkManager's own mode for it: profiles name networks
        shown = f"{target.rstrip('/')}/{KEYFILE_DIR}/{name}.nmconnection"
        safefs.write_at(where, f"{name}.nmconnection", text, mode=0o600, shown=shown)
    finally:
        os.close(where)
    return shown


def write_wpa_secrets(target: str, password: str, owner: tuple[int, int] | None = None) -> str:
    """TARGET/etc/wpa_supplicant-secrets.conf, 0600: the secret the configuration refers to by name,
    owned by `owner` (uid, gid): the account wpa_supplicant runs as must read it."""
    directory, name = os.path.split(WPA_SECRETS)
    where = safefs.open_dir(directory, base=target, create=True, mode=0o755)
    try:
        shown = f"{target.rstrip('/')}/{WPA_SECRETS}"
        safefs.write_at(where, name, f"{WPA_SECRET_NAME}={password}\n", mode=0o600, shown=shown)
        if owner is not None:
            try:
                os.chown(name, *owner, dir_fd=where, follow_symlinks=False)
            except OSError as err:
                raise safefs.failed(err, shown) from None
    finally:
        os.close(where)
    return shown


def account_ids(target: str, account: str) -> tuple[int, int] | None:
    """(uid, gid) of an account in TARGET/etc/passwd (made by the new system's activation
    during nixos-install), or None when it is not there."""
    try:
        where = safefs.open_dir("etc", base=target)
    except OSError:
        return None
    try:  # no link followed out of the target
        fd = os.open("passwd", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=where)
    except OSError:
        return None
    finally:
        os.close(where)
    with os.fdopen(fd, "rb") as f:
        text = f.read(1 << 20).decode("utf-8", "replace")
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == account and fields[2].isdigit() and fields[3].isdigit():
            return int(fields[2]), int(fields[3])
    return None
