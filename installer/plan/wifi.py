"""The Wi-Fi network the new system keeps: one description, read by the
templates (installer.nixos.render) and by the carry-over that writes its
secret into the target (installer.run.carryover, called by the install
pipeline), so both name the same file and the same secret.

With NetworkManager (the default with Wi-Fi) the configuration only turns
NetworkManager on: the network and its password live in a root-only keyfile
under /etc/NetworkManager/system-connections. With wpa_supplicant, nixpkgs
25.11's wireless module (nixos/modules/services/networking/wpa_supplicant.nix)
writes `networks.<name>` into /etc/wpa_supplicant/nixos.conf in the Nix store
(world-readable); the password stays out of it as `pskRaw = "ext:NAME"`, which
wpa_supplicant looks up in `networking.wireless.secretsFile`
(`ext_password_backend=file:PATH`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from installer.answers.model import InstallModel

# A string, not a Nix path: a path literal would be copied into the world-readable store.
WPA_SECRETS_FILE = "/etc/wpa_supplicant-secrets.conf"
WPA_SECRET_NAME = "psk_wifi"  # the configuration's pskRaw = "ext:psk_wifi"
# The account nixpkgs' wpa_supplicant service runs as (serviceConfig.User): it reads the secrets file.
WPA_USER = "wpa_supplicant"


@dataclass(frozen=True)
class KeptWifi:
    ssid: str
    hidden: bool
    backend: str  # "networkmanager" or "wpa_supplicant"
    secured: bool  # a password is given (else an open network)

    @property
    def psk_raw(self) -> str:
        return f"ext:{WPA_SECRET_NAME}"


def kept_wifi(model: InstallModel) -> KeptWifi | None:
    """The Wi-Fi network the new system joins, or None when the answers name none."""
    n = model.network
    if not n.wifi_ssid:
        return None
    return KeptWifi(n.wifi_ssid, n.wifi_hidden, n.wifi_backend, bool(n.wifi_password))
