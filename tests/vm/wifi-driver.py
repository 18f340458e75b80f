"""In-VM driver of the Wi-Fi test (guest-wifi.sh runs it): the installer's engine,
from the wheel installed in the guest, against a real NetworkManager and a real
wpa_supplicant on mac80211_hwsim radios, hostapd serving the network.

Then, offline again, the real CLI's unattended install (INPUT/answers.toml,
[network] wifi_ssid and a 0600 wifi_password_file) onto the attached disk at
/mnt with the nixos-install stand-in: the pipeline itself joins through
NetworkManager, asks the stand-in cache and carries the keyfile over.

Usage: wifi-driver.py INPUT RESULTS TARGET. Writes RESULTS/wifi.json (what
each step saw) and never prints the PSK. A poller thread reads every
process's argv and environment all along and records any that hold the PSK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from installer.run import carryover, connectivity, network, wpacli

IN, R, TARGET = (Path(a) for a in sys.argv[1:4])
PSK = (IN / "psk").read_text()
WRONG = (IN / "wrong-psk").read_text()
SSID = (IN / "ssid").read_text()
CACHE_URL = (IN / "cache-url").read_text().strip()
NMCLI = ("/tmp/nmcli-rec",)
WPA_CLI = ("/tmp/wpa_cli-rec",)
LIVE_PROFILES = "/etc/NetworkManager/system-connections"
out: dict[str, object] = {"steps": []}


class Poller(threading.Thread):
    """Every process's cmdline and environ, read again and again until stopped."""

    def __init__(self, needles: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.needles, self.stop, self.polls = needles, threading.Event(), 0
        self.leaks: list[str] = []
        self.seen: set[str] = set()  # the argv[0:7] of the programs seen, to show the poller saw the engine's
        self.seen_cli: set[str] = set()  # the same, while the CLI's install ran
        self.in_cli = False

    def run(self) -> None:
        while not self.stop.is_set():
            self.polls += 1
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                for what in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{what}").read_bytes()
                    except OSError:
                        continue
                    argv = [a.decode(errors="replace") for a in data.split(b"\0")]
                    if what == "cmdline" and data:
                        self.seen.add(" ".join(argv[:7]).strip())
                        if self.in_cli:
                            self.seen_cli.add(" ".join(argv[:7]).strip())
                    for needle in self.needles:
                        if needle in data:
                            self.leaks.append(f"pid {pid} {what}: {argv[0]}")
            time.sleep(0.05)


def step(what: str, **info: object) -> None:
    out["steps"].append({"step": what, "t": round(time.monotonic() - T0, 2), **info})  # type: ignore[union-attr]
    print(f"--- {what}: {info}", flush=True)


def nm_part() -> None:
    step("nm_running", value=network.nm_running(NMCLI))
    step("interfaces", value=[vars(i) for i in network.interfaces(NMCLI)])
    before = connectivity.check([CACHE_URL], timeout=3)
    step("check_before", cache=before.cache, internet=before.internet, words=before.words)
    nets: list[network.WifiNetwork] = []
    for attempt in range(30):  # the first scans of a radio just brought up can come back empty
        nets = network.wifi_networks(NMCLI, rescan=attempt % 5 == 0)
        if any(n.ssid == SSID for n in nets):
            break
        time.sleep(2)
    step("wifi_list", value=[vars(n) for n in nets])
    net = next(n for n in nets if n.ssid == SSID)
    start = time.monotonic()
    try:
        network.connect(SSID, WRONG, security=net.security, nmcli=NMCLI)
        step("wrong_password", refused=False)
    except network.NetworkError as err:
        step("wrong_password", refused=True, message=str(err), seconds=round(time.monotonic() - start, 1))
    # The refused profile is gone with its keyfile: no wrong password left behind.
    step("after_wrong", profiles=sorted(os.listdir(LIVE_PROFILES)))
    start = time.monotonic()
    name = network.connect(SSID, PSK, security=net.security, nmcli=NMCLI)
    step("connected", name=name, seconds=round(time.monotonic() - start, 1),
         profile_mode=oct(os.stat(f"{LIVE_PROFILES}/{name}.nmconnection").st_mode & 0o777), interfaces=[vars(i) for i in network.interfaces(NMCLI)])
    nix_conf = Path("/tmp/nix.conf")
    nix_conf.write_text(f"substituters = {CACHE_URL}\n")
    after = connectivity.check(nix_conf=nix_conf, timeout=5)
    step("check_after", cache=after.cache, internet=after.internet, words=after.words, url=after.url)
    text = carryover.keyfile_text(name, SSID, PSK, key_mgmt=net.key_mgmt)
    path = carryover.write_keyfile(str(TARGET), name, text)
    step("keyfile", path=path)
    # The new system's NetworkManager reads that keyfile: this one, with the live
    # profile deleted, loads it and connects with it and no password given.
    network._run([*NMCLI, "connection", "delete", "id", name])
    live = Path("/etc/NetworkManager/system-connections") / Path(path).name
    live.write_bytes(Path(path).read_bytes())
    os.chmod(live, 0o600)
    load = network._run([*NMCLI, "connection", "load", str(live)])
    up = network._run([*NMCLI, "--wait", "45", "connection", "up", "id", name], timeout=60)
    step("keyfile_connects", load_rc=load.returncode, up_rc=up.returncode, up=(up.stdout + up.stderr).strip(),
         interfaces=[vars(i) for i in network.interfaces(NMCLI)])
    # One more listing while connected (IN-USE marked), for the stand-in's captured set.
    step("wifi_list_connected", value=[vars(n) for n in network.wifi_networks(NMCLI)])


def wpa_part() -> None:
    iface = "wlan2"
    step("wpa_interfaces", value=wpacli.interfaces())
    nets: list[network.WifiNetwork] = []
    for attempt in range(30):
        if attempt % 5 == 0:
            wpacli.scan(iface, wpa_cli=WPA_CLI)
        time.sleep(2)
        nets = wpacli.scan_results(iface, wpa_cli=WPA_CLI)
        if any(n.ssid == SSID for n in nets):
            break
    step("wpa_scan", value=[vars(n) for n in nets])
    net = next(n for n in nets if n.ssid == SSID)
    try:
        wpacli.connect(SSID, WRONG, iface, security=net.security, wpa_cli=WPA_CLI)
        step("wpa_wrong_password", refused=False)
    except network.NetworkError as err:
        step("wpa_wrong_password", refused=True, message=str(err))
    nid = wpacli.connect(SSID, PSK, iface, security=net.security, wpa_cli=WPA_CLI)
    st = wpacli.status(iface, wpa_cli=WPA_CLI)
    step("wpa_connected", nid=nid, wpa_state=st.get("wpa_state"), ssid=st.get("ssid"), key_mgmt=st.get("key_mgmt"))


CLI = "/opt/venv/bin/nixos-tui-installer"
MNT = "/mnt"
SHARE = IN.parent


def cli_part() -> None:
    # Offline again: the profile the engine's steps left connected deleted (its device
    # disconnected), and the third radio's wpa_supplicant let go of the network.
    name = network.connection_name(SSID)
    deleted = network._run(["nmcli", "connection", "delete", "id", name])
    subprocess.run(["wpa_cli", "-i", "wlan2", "disconnect"], capture_output=True, check=False)
    nix_conf = Path("/run/install/nix.conf")
    nix_conf.parent.mkdir(mode=0o700, exist_ok=True)
    nix_conf.write_text(f"substituters = {CACHE_URL}\n")
    fd = os.open("/run/install/wifi-psk", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, PSK.encode())
    os.close(fd)
    # NetworkManager takes the address away after `connection delete` returns: ask until it is gone.
    for tries in range(1, 21):
        before = connectivity.check(nix_conf=nix_conf, timeout=2)
        if not before.cache:
            break
        time.sleep(1)
    step("offline_again", delete_rc=deleted.returncode, online=network.online(), cache=before.cache, tries=tries,
         interfaces=[vars(i) for i in network.interfaces()], profiles=sorted(os.listdir(LIVE_PROFILES)))
    argv = [CLI, "--answers", str(IN / "answers.toml"), "--yes", "--skip-eval", "--target", MNT,
            "--nix-conf", str(nix_conf), "--nixos-install", str(SHARE / "standins" / "nixos-install"),
            "--nixos-enter", str(SHARE / "standins" / "nixos-enter"), "--log", str(R / "install.log")]
    start = time.monotonic()
    poller.in_cli = True
    try:
        with open(R / "cli.out", "wb") as cli_out:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=cli_out, stderr=subprocess.STDOUT,
                                  timeout=1500, check=False)
    finally:
        time.sleep(0.2)  # one more poll of what the CLI left running
        poller.in_cli = False
    step("cli", rc=done.returncode, seconds=round(time.monotonic() - start, 1), name=name,
         interfaces=[vars(i) for i in network.interfaces()])


T0 = time.monotonic()
poller = Poller([PSK.encode(), WRONG.encode()])
poller.start()
rc = 0
for part in (nm_part, wpa_part, cli_part):
    try:
        part()
    except Exception:  # noqa: BLE001 - recorded, and the host's checks say which step is missing
        rc = 1
        out.setdefault("errors", []).append(f"{part.__name__}: {traceback.format_exc()}")  # type: ignore[union-attr]
        traceback.print_exc()
poller.stop.set()
poller.join()
out.update(polls=poller.polls, leaks=poller.leaks, seen=sorted(poller.seen), seen_cli=sorted(poller.seen_cli),
           seconds=round(time.monotonic() - T0, 1))
(R / "wifi.json").write_text(json.dumps(out, indent=1))
sys.exit(rc)
