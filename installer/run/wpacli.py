"""Getting online through wpa_supplicant and `wpa_cli`, where NetworkManager does not run.

The NixOS 25.05 (and older) minimal ISO runs wpa_supplicant with a control
socket per interface under /run/wpa_supplicant and no NetworkManager; its
manual has people type `wpa_cli` commands by hand. This module types them:
one narrow function per wpa_cli command, each taking the command to run
(`wpa_cli` by default) and the control directory, so tests point them at a
real wpa_supplicant (the VM test, on a mac80211_hwsim radio) or a stand-in.

The password never goes into an argv or an environment: `set_network N psk`
is typed into wpa_cli's interactive mode on its standard input (wpa_cli
keeps no history of it: HOME is not passed, and it filters psk lines from
its history anyway). The SSID goes in hex, so no quoting of it can go wrong.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Sequence

from installer.base.processes import child_env
from installer.run.network import NetworkError, WifiNetwork

WPA_CLI: tuple[str, ...] = ("wpa_cli",)
CTRL_DIR = "/run/wpa_supplicant"
TIMEOUT = 15.0
# A WPA2 association and 4-way handshake take a few seconds; a wrong key is
# known after the first failed handshake (wpa_supplicant marks the network TEMP-DISABLED).
CONNECT_WAIT = 30.0


def _run(argv: Sequence[str], *, stdin: str | None = None,
         timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    # No HOME: wpa_cli's interactive mode would keep a history file there.
    env = {k: v for k, v in child_env(extra={"LC_ALL": "C"}).items() if k != "HOME"}
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def _cli(iface: str, *args: str, wpa_cli: Sequence[str], ctrl_dir: str) -> str:
    """One non-secret wpa_cli command; its reply, or NetworkError when wpa_supplicant refused it."""
    done = _run([*wpa_cli, "-p", ctrl_dir, "-i", iface, *args])
    reply = done.stdout.strip()
    if done.returncode != 0 or reply.startswith("FAIL") or reply.startswith("Failed to connect"):
        why = reply or done.stderr.strip() or f"wpa_cli exited {done.returncode}"
        raise NetworkError(f"wpa_supplicant refused `{args[0]}` on {iface}: {why}")
    return reply


def interfaces(ctrl_dir: str = CTRL_DIR) -> list[str]:
    """The interfaces wpa_supplicant controls here: the sockets in its control directory."""
    try:
        names = sorted(os.listdir(ctrl_dir))
    except OSError:
        return []
    found = []
    for name in names:
        try:
            # Not the global socket, nor a P2P device's (wpa_supplicant's own, beside a Wi-Fi card's).
            if stat.S_ISSOCK(os.lstat(os.path.join(ctrl_dir, name)).st_mode) and not name.startswith(("global", "p2p-dev-")):
                found.append(name)
        except OSError:
            continue
    return found


def scan(iface: str, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> None:
    """Ask for a new scan; a scan already running (FAIL-BUSY) is as good."""
    done = _run([*wpa_cli, "-p", ctrl_dir, "-i", iface, "scan"])
    reply = done.stdout.strip()
    if done.returncode != 0 or (reply != "OK" and reply != "FAIL-BUSY"):
        raise NetworkError(f"wpa_supplicant did not scan on {iface}: {reply or done.stderr.strip()}")


def decode_ssid(text: str) -> str:
    """An SSID as scan_results prints it (wpa_supplicant's printf_encode: \\xNN, \\\\, \\", \\e, \\n, \\r, \\t)."""
    simple = {"\\": b"\\", '"': b'"', "e": b"\x1b", "n": b"\n", "r": b"\r", "t": b"\t"}
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    while i < len(raw):
        ch = raw[i:i + 1]
        nxt = raw[i + 1:i + 2].decode("latin-1")
        if ch == b"\\" and nxt == "x" and re.fullmatch(rb"[0-9a-fA-F]{2}", raw[i + 2:i + 4]):
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        elif ch == b"\\" and nxt in simple:
            out += simple[nxt]
            i += 2
        else:
            out += ch
            i += 1
    return out.decode("utf-8", "replace")


def security(flags: str) -> str:
    """scan_results' flags ([WPA2-PSK-CCMP][SAE-CCMP][ESS]) in NetworkManager's words (WifiNetwork.security)."""
    words = []
    if "[WPA-" in flags:
        words.append("WPA1")
    if re.search(r"\[(WPA2|RSN)-[^]]*PSK", flags) or "[WPA2-EAP" in flags:
        words.append("WPA2")
    if "SAE" in flags:
        words.append("WPA3")
    if not words and "[WEP]" in flags:
        words.append("WEP")
    return " ".join(words)


def quality(dbm: int) -> int:
    """A signal in dBm as NetworkManager's 0-100 (nm_wifi_utils_level_to_quality): -100 dBm 0, -40 and up 100."""
    if dbm >= 0:
        return min(dbm, 100)  # drivers that report a percentage already
    return 100 - int(100 * abs(max(-100, min(-40, dbm)) + 40) / 60)


def scan_results(iface: str, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> list[WifiNetwork]:
    """The networks the last scan found, strongest first, each SSID once (hidden ones: not listed)."""
    best: dict[str, WifiNetwork] = {}
    for line in _cli(iface, "scan_results", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir).splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) != 5 or not parts[4]:
            continue
        _bssid, _freq, level, flags, ssid = parts
        net = WifiNetwork(decode_ssid(ssid), quality(int(level)) if re.fullmatch(r"-?\d+", level) else 0,
                          security(flags))
        if net.ssid not in best or net.signal > best[net.ssid].signal:
            best[net.ssid] = net
    return sorted(best.values(), key=lambda n: (-n.signal, n.ssid))


def add_network(iface: str, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> int:
    reply = _cli(iface, "add_network", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
    if not reply.isdigit():
        raise NetworkError(f"wpa_supplicant gave no network id on {iface}: {reply}")
    return int(reply)


def set_network(iface: str, nid: int, key: str, value: str, *, wpa_cli: Sequence[str] = WPA_CLI,
                ctrl_dir: str = CTRL_DIR) -> None:
    """A setting that is no secret (ssid in hex, key_mgmt, scan_ssid): in argv."""
    _cli(iface, "set_network", str(nid), key, value, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)


def set_secret(iface: str, nid: int, key: str, password: str, *, wpa_cli: Sequence[str] = WPA_CLI,
               ctrl_dir: str = CTRL_DIR) -> None:
    """`set_network N psk "..."` (or sae_password) typed into wpa_cli's interactive mode on stdin."""
    if not re.fullmatch(r"[ -~]{8,63}", password):
        raise NetworkError("A WPA password is 8 to 63 characters (letters, digits, spaces, punctuation).")
    done = _run([*wpa_cli, "-p", ctrl_dir, "-i", iface], stdin=f'set_network {nid} {key} "{password}"\nquit\n')
    # The interactive mode prints its banner, a prompt, then the reply on a line of its own.
    replies = [line.strip().lstrip(">").strip() for line in done.stdout.splitlines()]
    if done.returncode != 0 or "OK" not in replies:
        raise NetworkError(f"wpa_supplicant did not take the password on {iface}.")


def select_network(iface: str, nid: int, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> None:
    """Enable this network and disable the others (enable_network alone would leave them competing)."""
    _cli(iface, "select_network", str(nid), wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)


def remove_network(iface: str, nid: int, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> None:
    _cli(iface, "remove_network", str(nid), wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)


def status(iface: str, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> dict[str, str]:
    """`status` as a dict: wpa_state (COMPLETED once associated and the handshake passed), ssid, ip_address..."""
    out = _cli(iface, "status", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def network_flags(iface: str, nid: int, *, wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR) -> str:
    """list_networks' flags of one network ([CURRENT], [TEMP-DISABLED], ...)."""
    for line in _cli(iface, "list_networks", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir).splitlines()[1:]:
        parts = line.split("\t")
        if parts[0] == str(nid):
            return parts[3] if len(parts) > 3 else ""
    return ""


def connect(ssid: str, password: str | None, iface: str, *, hidden: bool = False, security: str | None = None,
            wpa_cli: Sequence[str] = WPA_CLI, ctrl_dir: str = CTRL_DIR, wait: float = CONNECT_WAIT) -> int:
    """Join a Wi-Fi network on `iface`; returns wpa_supplicant's network id. A wrong
    password or no answer in time removes the network again and raises NetworkError."""
    if not ssid:
        raise NetworkError("Type the network's name (SSID).")
    key_mgmt = WifiNetwork(ssid, 0, security).key_mgmt if security is not None else ("wpa-psk" if password else None)
    if key_mgmt is not None and not password:
        raise NetworkError("This network needs a password.")
    nid = add_network(iface, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
    try:
        set_network(iface, nid, "ssid", ssid.encode().hex(), wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        set_network(iface, nid, "scan_ssid", "1" if hidden else "0", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        set_network(iface, nid, "key_mgmt", {None: "NONE", "sae": "SAE"}.get(key_mgmt, "WPA-PSK"),
                    wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        if key_mgmt is not None and password:
            set_secret(iface, nid, "sae_password" if key_mgmt == "sae" else "psk", password,
                       wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
            if key_mgmt == "sae":
                set_network(iface, nid, "ieee80211w", "2", wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        select_network(iface, nid, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if status(iface, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir).get("wpa_state") == "COMPLETED":
                return nid
            if "TEMP-DISABLED" in network_flags(iface, nid, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir):
                raise NetworkError("The password is wrong (wpa_supplicant: the 4-way handshake failed).")
            time.sleep(0.5)
        raise NetworkError(f"No answer from the network in time (wpa_supplicant: not associated after {wait:.0f} s).")
    except (NetworkError, subprocess.TimeoutExpired, OSError):
        try:
            remove_network(iface, nid, wpa_cli=wpa_cli, ctrl_dir=ctrl_dir)
        except (NetworkError, subprocess.TimeoutExpired, OSError):
            pass
        raise
