"""The host's judgement of the Wi-Fi run's unattended install (wifi-driver.py's cli_part,
guest-wifi.sh's collection): every problem found, in words ([] when it all holds).

A function of the results directory alone, so tests/test_vm.py can show it fails on a
copy of a real run's results with one thing spoiled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from vm import vmrun

KEYFILES = Path("installed") / "NetworkManager" / "system-connections"


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def install_problems(results: Path, psk: str) -> list[str]:
    """The CLI ran offline to start with, joined through NetworkManager before the pre-flight,
    found the stand-in cache, installed (exit 0) and wrote the keyfile into the installed
    system: 0600 root, in a 0700 root directory, holding the PSK; the PSK in no argv or
    environment polled during the run, not in the CLI's output, its log, /etc/nixos or
    anywhere else in the installed root."""
    found: list[str] = []
    data = json.loads(_read(results / "wifi.json") or "{}")
    steps = {s["step"]: s for s in data.get("steps", [])}
    off, cli = steps.get("offline_again"), steps.get("cli")
    if off is None or cli is None:
        return [f"the driver's install steps are missing: {sorted(steps)}; errors {data.get('errors')}"]
    if off["online"] or off["cache"] or off["profiles"]:
        found.append(f"the ISO was not offline before the install: {off}")
    if cli["rc"] != 0:
        found.append(f"the CLI exited {cli['rc']}")
    out = _read(results / "cli.out")
    lines = out.splitlines()
    joined = f"Joined {vmrun.WIFI_SSID!r}."
    online = f"Online: the binary cache {vmrun.WIFI_CACHE_URL} answers."
    if joined not in lines or online not in lines:
        found.append(f"the CLI did not say {joined!r} and then {online!r}: {out[-2000:]!r}")
    elif lines.index(joined) > lines.index(online):
        found.append("the CLI asked the cache before it joined the network")
    installs = [i for i, line in enumerate(lines) if line.startswith("== ") and line.endswith(" nixos-install")]
    if not installs or online in lines and installs[0] < lines.index(online):
        found.append("nixos-install did not run after the cache's answer")
    name = cli["name"]
    keyfile = results / KEYFILES / f"{name}.nmconnection"
    text = _read(keyfile)
    if f"psk={psk}\n" not in text or f"id={name}\n" not in text:
        found.append(f"the carried keyfile {keyfile.name} lacks the PSK or its name")
    modes = _read(results / "installed-modes.txt")
    if not re.search(rf"^600 root /mnt/etc/NetworkManager/system-connections/{re.escape(name)}\.nmconnection$",
                     modes, re.M):
        found.append(f"the keyfile is not 0600 root: {modes!r}")
    if not re.search(r"^700 root /mnt/etc/NetworkManager/system-connections$", modes, re.M):
        found.append(f"its directory is not 0700 root: {modes!r}")
    log = _read(results / "install.log")
    if f"wrote /mnt/etc/NetworkManager/system-connections/{name}.nmconnection" not in log:
        found.append("the installer's log does not say it wrote the keyfile")
    if data.get("leaks"):
        found.append(f"the PSK was in a process's argv or environment: {data['leaks']}")
    seen = data.get("seen_cli", [])
    if not any(s.startswith(f"nmcli --wait 45 connection up id {name}") for s in seen):
        found.append(f"the poller did not see the CLI's nmcli connection up go by: {seen}")
    if not any("nixos-tui-installer --answers" in s for s in seen):
        found.append("the poller did not see the CLI run")
    nixos = [p for p in (results / "installed" / "nixos").rglob("*") if p.is_file()]
    if not any(p.name == "configuration.nix" for p in nixos):
        found.append("no /mnt/etc/nixos/configuration.nix was collected")
    for path in [results / "cli.out", results / "install.log", *nixos]:
        if psk in _read(path):
            found.append(f"the PSK is in {path.relative_to(results)}")
    hits = results / "psk-hits-in-root"
    if not hits.is_file() or _read(hits).strip():
        found.append(f"the PSK is elsewhere in the installed root: {_read(hits)!r}")
    return found
