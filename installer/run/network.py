"""Getting the live system online through NetworkManager (`nmcli`).

One narrow function per nmcli call, each taking the command to run (`nmcli`
by default; tests point it at a stand-in that prints nmcli's real terse
output, captured from a real NetworkManager in the VM test). The NixOS
25.11 minimal ISO runs NetworkManager; where it does not run (25.05 and
before), `installer.run.wpacli` does the same through wpa_supplicant.

The Wi-Fi password never goes into an argv or an environment: the profile
is a keyfile NetworkManager reads (0600 in its 0700 system-connections
directory, on the ISO's tmpfs root), `connection load`ed, then brought up
with no secret agent. Not `connection up ... passwd-file`: nmcli answers
every new request for the key from that file, so after a failed handshake
NetworkManager gets the same wrong password again and again until `--wait`
runs out (seen in the VM test: "Timeout expired (45 seconds)"); with the key in the profile and nobody to
ask, a wrong one fails at once with "Secrets were required, but not provided".
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from installer.base import safefs
from installer.base.processes import child_env
from installer.run import carryover

NMCLI: tuple[str, ...] = ("nmcli",)
CONNECTIONS_ROOT = "/"  # profiles go to CONNECTIONS_ROOT/etc/NetworkManager/system-connections
# A scan takes a few seconds; an association with DHCP up to NetworkManager's own 90 s.
TIMEOUT = 30.0
CONNECT_WAIT = 45


class NetworkError(Exception):
    """What went wrong, in words a person can act on (shown at the field)."""


@dataclass(frozen=True)
class Interface:
    name: str
    kind: str  # "wired", "wireless", or NetworkManager's own type word
    state: str  # "connected", "disconnected", "unavailable", ...
    address: str = ""  # the first IPv4 address with its prefix, "" when none

    @property
    def connected(self) -> bool:
        return self.state == "connected"


@dataclass(frozen=True)
class WifiNetwork:
    ssid: str
    signal: int  # 0-100, as NetworkManager reports it
    security: str  # NetworkManager's words: "" (open), "WPA2", "WPA1 WPA2", "WPA3", "WPA2 WPA3", "WEP"...
    in_use: bool = False

    @property
    def open(self) -> bool:
        return self.security.strip() in ("", "--")

    @property
    def key_mgmt(self) -> str | None:
        """The keyfile's key-mgmt: WPA3-only networks need SAE; a mixed WPA2/WPA3 one takes WPA-PSK,
        which every card can do. nmcli shows no SAE capability of the card (WIFI-PROPERTIES has
        none): a card without it fails the activation, and that reason is shown as NM words it."""
        words = self.security.split()
        if self.open:
            return None
        if "WPA3" in words and not any(w in words for w in ("WPA1", "WPA2")):
            return "sae"
        return "wpa-psk"


KINDS = {"ethernet": "wired", "wifi": "wireless"}


def split_terse(line: str) -> list[str]:
    """One line of `nmcli -t --escape yes`: fields split at ':' that is not
    escaped, with nmcli's `\\:` and `\\\\` undone."""
    fields: list[str] = []
    current: list[str] = []
    chars = iter(line)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def _run(argv: Sequence[str], *, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    # LC_ALL=C: nmcli translates its messages, and its reasons are matched below.
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=child_env(extra={"LC_ALL": "C"}), check=False)
    except FileNotFoundError:
        raise NetworkError("NetworkManager's nmcli is not installed on this system.") from None
    except subprocess.TimeoutExpired:
        raise NetworkError(f"NetworkManager did not answer within {timeout:.0f} seconds.") from None
    except OSError as err:
        raise NetworkError(f"nmcli could not be started: {err.strerror}.") from None


def nm_running(nmcli: Sequence[str] = NMCLI) -> bool:
    """NetworkManager runs here (nmcli installed and the daemon answering)."""
    try:
        done = _run([*nmcli, "-t", "-f", "RUNNING", "general"], timeout=10)
    except NetworkError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "running"


def connectivity(nmcli: Sequence[str] = NMCLI) -> str:
    """NetworkManager's own verdict: "full", "limited", "portal", "none" or
    "unknown" ("none" too when it does not run). Only a hint: the substituter
    check of installer.run.connectivity is what the install relies on."""
    try:
        done = _run([*nmcli, "-t", "networking", "connectivity"], timeout=10)
    except NetworkError:
        return "none"
    word = done.stdout.strip()
    return word if done.returncode == 0 and word else "none"


def online(nmcli: Sequence[str] = NMCLI) -> bool:
    """Already online (a cable, or a network joined before the installer started)."""
    return connectivity(nmcli) == "full"


def interfaces(nmcli: Sequence[str] = NMCLI) -> list[Interface]:
    """Every network interface but loopback, with its state and IPv4 address."""
    done = _run([*nmcli, "-t", "--escape", "yes", "-f", "GENERAL.DEVICE,GENERAL.TYPE,GENERAL.STATE,IP4.ADDRESS",
                 "device", "show"])
    if done.returncode != 0:
        raise NetworkError(f"NetworkManager did not list the interfaces: {_reason(done)}")
    found: list[Interface] = []
    block: dict[str, str] = {}

    def close() -> None:
        if block.get("GENERAL.DEVICE") and block.get("GENERAL.TYPE") != "loopback":
            state = re.sub(r"^\d+ \((.*)\)$", r"\1", block.get("GENERAL.STATE", ""))
            kind = block.get("GENERAL.TYPE", "")
            found.append(Interface(block["GENERAL.DEVICE"], KINDS.get(kind, kind), state.split(" (")[0],
                                   block.get("IP4.ADDRESS[1]", "")))
        block.clear()

    for line in done.stdout.splitlines():
        key, _, value = line.partition(":")
        # Devices are apart by a blank line; a new GENERAL.DEVICE starts one all the same.
        if not line.strip() or key == "GENERAL.DEVICE":
            close()
        if line.strip():
            block.setdefault(key, split_terse(value)[0])
    close()
    return found


def wifi_networks(nmcli: Sequence[str] = NMCLI, *, rescan: bool = False) -> list[WifiNetwork]:
    """The Wi-Fi networks in range, strongest first, each SSID once (hidden ones have none: not listed)."""
    done = _run([*nmcli, "-t", "--escape", "yes", "-f", "IN-USE,SSID,SIGNAL,SECURITY", "device", "wifi", "list",
                 "--rescan", "yes" if rescan else "auto"])
    if done.returncode != 0:
        raise NetworkError(f"NetworkManager did not list the Wi-Fi networks: {_reason(done)}")
    best: dict[str, WifiNetwork] = {}
    for line in done.stdout.splitlines():
        parts = split_terse(line)
        if len(parts) != 4 or not parts[1]:
            continue
        in_use, ssid, signal, security = parts
        net = WifiNetwork(ssid, int(signal) if signal.isdigit() else 0, security.strip(), in_use.strip() == "*")
        old = best.get(ssid)
        if old is None or net.signal > old.signal or net.in_use:
            best[ssid] = net
    return sorted(best.values(), key=lambda n: (-n.in_use, -n.signal, n.ssid))


NO_WIFI_CARD = "This computer has no Wi-Fi card that NetworkManager can use."


def usable_wifi(found: Sequence[Interface]) -> str:
    """The first Wi-Fi interface NetworkManager manages among `found`, or ""."""
    return next((i.name for i in found if i.kind == "wireless" and i.state != "unmanaged"), "")


def wifi_device(nmcli: Sequence[str] = NMCLI) -> str:
    """The first Wi-Fi interface NetworkManager manages, or NetworkError."""
    device = usable_wifi(interfaces(nmcli))
    if not device:
        raise NetworkError(NO_WIFI_CARD)
    return device


def connection_name(ssid: str) -> str:
    """The profile's name: also the keyfile's file name, so a plain one."""
    return "wifi-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", ssid).strip("-.") or "network")


def connection_up(name: str, *, nmcli: Sequence[str] = NMCLI) -> None:
    """Activate the loaded profile, its key in the keyfile and no agent to ask
    (a wrong key fails at once); the profile is removed when it fails."""
    done = _run([*nmcli, "--wait", str(CONNECT_WAIT), "connection", "up", "id", name], timeout=CONNECT_WAIT + 15)
    if done.returncode != 0:
        _run([*nmcli, "connection", "delete", "id", name], timeout=10)
        raise NetworkError(plain_reason(_reason(done)))


def connect(ssid: str, password: str | None, *, hidden: bool = False, security: str | None = None,
            nmcli: Sequence[str] = NMCLI, root: str = CONNECTIONS_ROOT) -> str:
    """Join a Wi-Fi network; returns the profile's name. `security` as the scan
    listed it (None: a hidden network, WPA2-PSK when a password is given)."""
    if not ssid:
        raise NetworkError("Type the network's name (SSID).")
    if password is not None and "\n" in password:
        raise NetworkError("A Wi-Fi password is one line.")
    if security is None:
        key_mgmt = "wpa-psk" if password else None
    else:
        key_mgmt = WifiNetwork(ssid, 0, security).key_mgmt
    if key_mgmt is not None and not password:
        raise NetworkError("This network needs a password.")
    name = connection_name(ssid)
    wifi_device(nmcli)  # no Wi-Fi card: said before a profile is written
    load_profile(name, carryover.keyfile_text(name, ssid, password, key_mgmt=key_mgmt, hidden=hidden),
                 nmcli=nmcli, root=root)
    connection_up(name, nmcli=nmcli)
    return name


def load_profile(name: str, text: str, *, nmcli: Sequence[str] = NMCLI, root: str = CONNECTIONS_ROOT) -> None:
    """The profile as a keyfile (0600) in NetworkManager's directory, then `connection load`."""
    _run([*nmcli, "connection", "delete", "id", name], timeout=10)  # an earlier attempt's profile
    try:
        path = carryover.write_keyfile(root, name, text)
    except (safefs.WriteError, OSError) as err:  # e.g. a root without /etc: said, never a traceback
        raise NetworkError(f"The network's profile could not be written: {err}") from err
    done = _run([*nmcli, "connection", "load", path])
    if done.returncode != 0:
        os.unlink(path)
        raise NetworkError(f"NetworkManager refused the network: {_reason(done)}")


# NetworkManager's activation failures (its NMDeviceStateReason texts, as nmcli
# prints them) and what they mean to the person at the field.
REASONS = (
    ("Secrets were required, but not provided", "The password is wrong (NetworkManager: {nm})."),
    ("802.1X supplicant", "The password is wrong or the network refused it (NetworkManager: {nm})."),
    ("could not be found", "The network is not in range (NetworkManager: {nm})."),
    ("No network with SSID", "The network is not in range (NetworkManager: {nm})."),
    ("IP configuration could not be reserved", "Joined, but the network gave no address (NetworkManager: {nm})."),
    ("Timeout expired", "No answer from the network in time (NetworkManager: {nm})."),
)


def plain_reason(nm: str) -> str:
    # nmcli numbers the reason, "(7) Secrets were ...": the number means nothing to the reader.
    nm = re.sub(r"^\(\d+\)\s*", "", nm.strip()).rstrip(".")
    for needle, words in REASONS:
        if needle.lower() in nm.lower():
            return words.format(nm=nm)
    return f"NetworkManager could not connect: {nm}."


def _reason(done: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((done.stderr or done.stdout).split())
    # nmcli 1.42 says, before the reason, that it had no password to answer NetworkManager's
    # new request with (it words it around 'passwd-file' even when none was given; captured in
    # the VM test): the person needs only the reason after it.
    text = re.sub(r"^Warning: password for '[^']*' not given in 'passwd-file'.*?option\.\s*", "", text)
    text = re.sub(r"^Error: ", "", text)
    text = re.sub(r"Connection activation failed: ", "", text)
    return re.sub(r"\s*Hint: use 'journalctl.*$", "", text) or f"nmcli exited {done.returncode}"
