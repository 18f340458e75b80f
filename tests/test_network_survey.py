"""installer.flow.online's survey: how the live system joins Wi-Fi and what it sees, as the
Network step shows it. NetworkManager through the nmcli stand-in; wpa_supplicant (the 25.05
ISO, no NetworkManager) through the calls recorded from a real wpa_supplicant 2.10 in the VM
test, replayed by tests/standins/replay-capture; neither, said in words."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import localnet
import pytest
from test_screens_support import make_session
from test_wifi_captures import SSID, find, recorded

from installer.flow import online
from installer.run.network import NetworkError

REPLAY = Path(__file__).parent / "standins" / "replay-capture"


def wpa_socket(ctrl_dir: Path, name: str = "wlan2") -> socket.socket:
    """A control socket as wpa_supplicant makes one per interface (interfaces() lists sockets only)."""
    ctrl_dir.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(ctrl_dir / name))
    return sock


def test_networkmanager_lists_interfaces_and_networks(tmp_path: Path) -> None:
    session = make_session(nmcli=localnet.nmcli(tmp_path / "nm.json"), wpa_ctrl_dir=str(tmp_path / "none"))
    found = online.survey(session, rescan=True)
    assert found.backend == "networkmanager" and found.device == "wlp2s0" and not found.problem
    assert [(i.name, i.kind, i.state) for i in found.interfaces] == [
        ("enp1s0", "wired", "unavailable"), ("wlp2s0", "wireless", "disconnected")]
    assert [(n.ssid, n.security) for n in found.networks] == [
        ("Home:5G", "WPA2"), ("Cafe", ""), ("Modern", "WPA3"), ("Neighbour", "WPA1 WPA2")]


def test_without_networkmanager_wpa_supplicants_socket_is_used(tmp_path: Path) -> None:
    ctrl = tmp_path / "run" / "wpa_supplicant"
    sock = wpa_socket(ctrl)
    completed = next(p for p, argv, _ in recorded("wpa_cli") if argv[-1] == "status"
                     and "wpa_state=COMPLETED" in Path(p + ".out").read_text())
    state = tmp_path / "replay-state"
    wpa_cli = [sys.executable, str(REPLAY), str(state), completed, find("wpa_cli", "scan_results", last=True), "--"]
    session = make_session(nmcli=localnet.nmcli(tmp_path / "nm.json", running=False), wpa_ctrl_dir=str(ctrl),
                           wpa_cli=" ".join(wpa_cli))
    try:
        assert online.backend(session) == "wpa_supplicant"
        found = online.survey(session)
    finally:
        sock.close()
    assert found.backend == "wpa_supplicant" and found.device == "wlan2" and not found.problem, found
    (iface,) = found.interfaces
    assert (iface.name, iface.kind, iface.state) == ("wlan2", "wireless", "connected")
    assert SSID in [n.ssid for n in found.networks]
    assert state.read_text() == "2"  # both recorded calls made, in order, and no other


def test_neither_says_why_and_that_a_cable_works(tmp_path: Path) -> None:
    session = make_session(nmcli=localnet.nmcli(tmp_path / "nm.json", running=False),
                           wpa_ctrl_dir=str(tmp_path / "none"))
    found = online.survey(session)
    assert found.backend == "" and not found.networks
    assert found.problem.startswith("Neither NetworkManager nor wpa_supplicant runs here")


def test_a_dry_run_join_writes_the_answers_and_touches_nothing(tmp_path: Path) -> None:
    state = tmp_path / "nm.json"
    session = make_session(nmcli=localnet.nmcli(state, record=tmp_path / "calls"), connections_root=str(tmp_path))
    before = state.read_text()
    said = online.join(session, "Home:5G", "correct horse")
    assert said == "[dry-run] would join the Wi-Fi network 'Home:5G'; nothing was joined."
    assert session.model.network.wifi_ssid == "Home:5G" and session.preflight.online is None
    assert state.read_text() == before and not (tmp_path / "calls").exists() and not (tmp_path / "etc").exists()


def test_a_password_the_answers_would_refuse_is_said_before_nmcli_runs(tmp_path: Path) -> None:
    record = tmp_path / "calls"
    session = make_session(recorded=False, dry_run=False, nmcli=localnet.nmcli(tmp_path / "nm.json", record=record),
                           connections_root=str(tmp_path))
    for password, said in (("short", "A Wi-Fi password has 8 to 63 characters."),
                           ("caf\u00e9-caf\u00e9", "A Wi-Fi password has only letters, digits, spaces and ASCII punctuation.")):
        with pytest.raises(NetworkError) as err:
            online.join(session, "Home:5G", password)
        assert str(err.value) == said
    assert not record.exists() and session.model.network.wifi_ssid == ""
