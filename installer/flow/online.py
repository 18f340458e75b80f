"""Getting online for the install, and keeping the Wi-Fi network in the new system.

The parts of the network the pipeline owns (the Network step's screen has its own):
- the unattended run joins the answers' [network] Wi-Fi before the pre-flight
  (installer.run.network), then asks the binary cache (installer.run.connectivity);
- what being offline means, worded once here (`offline_meaning`) for the
  wizard's Confirm step, the unattended run and --plan; the pre-flight refuses
  an offline install that must download (`offline_problem`), before the disk;
- the proxy reaches nixos-install in its environment (`install_env`);
- after nixos-install, the Wi-Fi network and its password are written into the
  target, root-only (`carry_over`, installer.run.carryover), never into
  /etc/nixos or the Nix store.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from installer.base.problems import Problem
from installer.run.network import Interface, WifiNetwork

if TYPE_CHECKING:
    from installer.flow.session import Session
    from installer.run.connectivity import Reachability

Say = Callable[[str], None]

# The names Nix's downloads (curl in libstore's filetransfer) read, lower case as curl
# wants (it ignores HTTP_PROXY, a CGI hazard), upper case as nixpkgs' fetchers pass on
# (lib.fetchers.proxyImpureEnvVars). nixos-install downloads in its own process: it
# runs nix-build with --store on the target, not through the ISO's nix-daemon.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def check(session: Session) -> Reachability:
    """Ask the binary cache nixos-install will use (blocking: from a worker), keep
    the answer on the pre-flight (Confirm and the offline rules read it) and log it."""
    from installer.run import connectivity

    o = session.options
    found = connectivity.check(proxy=session.model.network.proxy, nix_conf=o.nix_conf or connectivity.NIX_CONF,
                               timeout=o.connect_timeout)
    session.preflight.reachability = found
    session.preflight.online = found.cache
    session.log().line(f"connectivity: {found.words}")
    return found


def status_line(session: Session) -> str:
    """What the binary cache answered, in one line, for the Welcome, Network and Confirm steps;
    after a dry run's described join, that it is not known; "" when it was not asked."""
    found, wifi = session.preflight.reachability, session.model.network.wifi_ssid
    if found is not None:
        return found.words
    if wifi and not session.options.real:
        return f"Dry run: {wifi!r} was not joined, so whether the binary cache would answer is not known."
    return ""


def offline_meaning(session: Session) -> str:
    """What no binary cache means for this install, in one sentence ("" when online or not asked)."""
    if session.preflight.online is not False:
        return ""
    head = "Without the binary cache only what is already in this ISO's Nix store can be installed"
    summary = session.preflight.downloads()
    if summary is None or not summary.known:
        return (f"{head}; Nix has not said whether that is enough, so the install runs without the "
                "cache and stops if something is missing.")
    if summary.nothing_to_download:
        return f"{head}, and that is everything this system needs: it installs offline."
    return (f"{head}, and this system needs {summary.line()}: get online (or choose less software) "
            "before installing.")


def offline_problem(session: Session) -> list[Problem]:
    """An install that must download while nothing answers: refused before the disk is touched
    (nixos-install would fail minutes after partitioning)."""
    summary = session.preflight.downloads()
    if session.preflight.online is False and summary is not None and summary.known and summary.to_fetch:
        return [Problem("network", offline_meaning(session))]
    return []


def install_env(session: Session) -> dict[str, str] | None:
    """nixos-install's environment with the answers' proxy; None (ours as it is) without one."""
    proxy = session.model.network.proxy
    if not proxy:
        return None
    return {**os.environ, **dict.fromkeys(PROXY_VARIABLES, proxy)}


@dataclass(frozen=True)
class Survey:
    """What the Network step shows: how Wi-Fi is joined here, the interfaces, the networks in range."""

    backend: str  # "networkmanager", "wpa_supplicant", or "" (neither runs here)
    interfaces: tuple[Interface, ...] = ()
    networks: tuple[WifiNetwork, ...] = ()
    device: str = ""  # the Wi-Fi interface a network is joined on ("" when there is none)
    problem: str = ""  # why no Wi-Fi network can be joined here, in words ("" when one can)


def _nmcli(session: Session) -> tuple[str, ...]:
    return tuple(shlex.split(session.options.nmcli))


def _wpa_cli(session: Session) -> tuple[str, ...]:
    return tuple(shlex.split(session.options.wpa_cli))


def backend(session: Session) -> str:
    """How this live system joins Wi-Fi: NetworkManager where it runs (the 25.11 ISO), else
    wpa_supplicant where it controls an interface (25.05 and before), else ""."""
    from installer.run import network, wpacli

    if network.nm_running(_nmcli(session)):
        return "networkmanager"
    return "wpa_supplicant" if wpacli.interfaces(session.options.wpa_ctrl_dir) else ""


def survey(session: Session, *, rescan: bool = False) -> Survey:
    """The live system's network, read (blocking: from a worker). Reading changes nothing;
    a rescan asks the card to look again, which is all it does."""
    from installer.run import network, wpacli

    kind = backend(session)
    if not kind:
        return Survey("", problem="Neither NetworkManager nor wpa_supplicant runs here, so no Wi-Fi "
                                  "network can be joined from the installer; a cable works without it.")
    try:
        if kind == "networkmanager":
            found = tuple(network.interfaces(_nmcli(session)))
            device = network.usable_wifi(found)
            if not device:
                return Survey(kind, found, problem=f"{network.NO_WIFI_CARD[:-1]}; a cable works without it.")
            nets = tuple(network.wifi_networks(_nmcli(session), rescan=rescan))
            return Survey(kind, found, nets, device)
        device = wpacli.interfaces(session.options.wpa_ctrl_dir)[0]
        if rescan:
            wpacli.scan(device, wpa_cli=_wpa_cli(session), ctrl_dir=session.options.wpa_ctrl_dir)
        state = wpacli.status(device, wpa_cli=_wpa_cli(session), ctrl_dir=session.options.wpa_ctrl_dir)
        joined = state.get("wpa_state") == "COMPLETED"
        iface = network.Interface(device, "wireless", "connected" if joined else "disconnected",
                                  state.get("ip_address", ""))
        nets = tuple(wpacli.scan_results(device, wpa_cli=_wpa_cli(session), ctrl_dir=session.options.wpa_ctrl_dir))
        return Survey(kind, (iface,), nets, device)
    except network.NetworkError as err:
        return Survey(kind, problem=str(err))


def join(session: Session, ssid: str, password: str | None, *, hidden: bool = False,
         security: str | None = None, device: str = "") -> str:
    """Join a Wi-Fi network on the live system, as `backend` says (blocking: from a worker),
    and keep it in the answers for the new system; what happened, in words. A dry run (or a
    recorded machine) joins nothing and says so. Raises NetworkError with the reason, the
    answers unchanged."""
    from installer.run import network, wpacli

    from installer.answers.validate import wifi_password_problem, wifi_ssid_problem

    n, o = session.model.network, session.options
    if not ssid:
        raise network.NetworkError("Type the network's name (SSID).")
    # The answers' own rules, said before nmcli is asked (it would only say the property is invalid).
    problem = wifi_ssid_problem(ssid) or (wifi_password_problem(password) if password else "")
    if problem:
        raise network.NetworkError(f"{problem[0].upper()}{problem[1:]}.")
    if not o.real:
        n.wifi_ssid, n.wifi_password, n.wifi_hidden = ssid, password or None, hidden
        # Whether the cache would answer then is not known: no offline rule may act on the earlier answer.
        session.preflight.online, session.preflight.reachability = None, None
        return f"[dry-run] would join the Wi-Fi network {ssid!r}; nothing was joined."
    kind = backend(session)
    if kind == "networkmanager":
        network.connect(ssid, password, hidden=hidden, security=security, nmcli=_nmcli(session),
                        root=o.connections_root)
    elif kind == "wpa_supplicant":
        wpacli.connect(ssid, password, device or wpacli.interfaces(o.wpa_ctrl_dir)[0], hidden=hidden,
                       security=security, wpa_cli=_wpa_cli(session), ctrl_dir=o.wpa_ctrl_dir)
    else:
        raise network.NetworkError("Neither NetworkManager nor wpa_supplicant runs here.")
    n.wifi_ssid, n.wifi_password, n.wifi_hidden = ssid, password or None, hidden
    session.log().line(f"joined the Wi-Fi network {ssid!r} ({kind})")
    return f"Joined {ssid!r}."


def connect(session: Session, say: Say) -> bool:
    """The unattended run's network: join the answers' Wi-Fi unless the machine is online
    already, then ask the binary cache and say what it answered and what that means.
    False when joining failed (nothing was written; the caller stops)."""
    from installer.run import network

    n = session.model.network
    say("== getting online")
    if n.wifi_ssid:
        if session.options.real and network.online(_nmcli(session)):
            say(f"Already online; the Wi-Fi network {n.wifi_ssid!r} is kept for the new system without joining it now.")
        else:
            say(f"Joining the Wi-Fi network {n.wifi_ssid!r}")
            try:
                say(join(session, n.wifi_ssid, n.wifi_password, hidden=n.wifi_hidden))
            except network.NetworkError as err:
                say(f"Could not join {n.wifi_ssid!r}: {err} Nothing was written; fix [network] in the answers.")
                return False
    say(check(session).words)
    return True


def kept_files(session: Session) -> list[str]:
    """Where the carry-over writes the Wi-Fi network's secret in the target ([] without one):
    --plan and a dry run list these."""
    from installer.plan.wifi import kept_wifi
    from installer.run import carryover
    from installer.run.network import connection_name

    kept, target = kept_wifi(session.model), session.options.target.rstrip("/")
    if kept is None or (kept.backend == "wpa_supplicant" and not kept.secured):
        return []  # an open network kept by wpa_supplicant: all of it is in configuration.nix
    if kept.backend == "wpa_supplicant":
        return [f"{target}/{carryover.WPA_SECRETS}"]
    return [f"{target}/{carryover.KEYFILE_DIR}/{connection_name(kept.ssid)}.nmconnection"]


def carry_over(session: Session, log: Callable[[str], None]) -> list[str]:
    """Write the answers' Wi-Fi network into the installed system, 0600, no link followed
    (after nixos-install: wpa_supplicant's account exists then); returns what was written."""
    from installer.plan.wifi import WPA_USER, kept_wifi

    paths, kept = kept_files(session), kept_wifi(session.model)
    if not paths or kept is None:
        return []
    if not session.options.real:
        for path in paths:
            log(f"[dry-run] would write {path} (0600: the Wi-Fi network and its password)")
        return paths
    from installer.run import carryover
    from installer.run.network import connection_name

    target, password = session.options.target, session.model.network.wifi_password
    if kept.backend == "wpa_supplicant":
        owner = carryover.account_ids(target, WPA_USER)
        written = carryover.write_wpa_secrets(target, password or "", owner)
        log(f"wrote {written} (0600, {WPA_USER if owner else 'root'} only: the Wi-Fi password)")
        if owner is None:
            log(f"the new system has no {WPA_USER} account yet: its service may not read that file")
        return [written]
    name = connection_name(kept.ssid)
    key_mgmt = _live_key_mgmt(session, name, kept.ssid) if kept.secured else None
    text = carryover.keyfile_text(name, kept.ssid, password, key_mgmt=key_mgmt, hidden=kept.hidden)
    written = carryover.write_keyfile(target, name, text)
    log(f"wrote {written} (0600, root only: NetworkManager joins {kept.ssid!r} at boot)")
    return [written]


def _live_key_mgmt(session: Session, name: str, ssid: str) -> str:
    """The security the ISO joined this network with, from the keyfile installer.run.network.connect
    wrote there (a WPA3-only network needs SAE); WPA-PSK, which every card speaks, when there is none."""
    from installer.base import safefs
    from installer.run.carryover import KEYFILE_DIR, keyfile_text

    path = os.path.join(session.options.connections_root, KEYFILE_DIR, f"{name}.nmconnection")
    try:
        lines = safefs.read_regular(path, 1 << 16).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "wpa-psk"
    ssid_line = next(line for line in keyfile_text(name, ssid, None, key_mgmt=None).splitlines()
                     if line.startswith("ssid="))
    found = [line.removeprefix("key-mgmt=") for line in lines if line.startswith("key-mgmt=")]
    # Only a profile for this very network: two names can make the same profile name.
    return found[0] if ssid_line in lines and found and found[0] in ("sae", "wpa-psk") else "wpa-psk"
