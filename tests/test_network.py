"""installer.run.network against tests/standins/nmcli, which answers as
`nmcli -t --escape yes` does, from a JSON state file (the VM test runs the
same functions against the real nmcli and NetworkManager)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from installer.run import network
from installer.run.network import NetworkError

ROOT = Path(__file__).resolve().parents[1]
STANDIN = str(ROOT / "tests" / "standins" / "nmcli")
PSK = " correct horse:battery\\staple\\012 "  # spaces at both ends, a backslash, a colon


@pytest.fixture
def nm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write the stand-in's machine; returns (nmcli argv, state path, record path, run dir)."""
    state = tmp_path / "nm.json"
    rec = tmp_path / "record.jsonl"
    monkeypatch.setenv("NMCLI_STATE", str(state))
    monkeypatch.setenv("STANDIN_RECORD", str(rec))

    def make(**machine: Any) -> tuple[list[str], Path, Path, str]:
        base: dict[str, Any] = {
            "running": True, "connectivity": "none",
            "devices": [{"name": "lo", "type": "loopback", "state": "unmanaged", "ip4": "127.0.0.1/8"},
                        {"name": "enp1s0", "type": "ethernet", "state": "unavailable"},
                        {"name": "wlan0", "type": "wifi", "state": "disconnected"}],
            "networks": [{"ssid": "Home:5G", "signal": 70, "security": "WPA2", "password": PSK},
                         {"ssid": "Home:5G", "signal": 40, "security": "WPA2", "password": PSK},
                         {"ssid": "Cafe", "signal": 55, "security": ""},
                         {"ssid": "Modern", "signal": 30, "security": "WPA3", "password": "saepass1"},
                         {"ssid": "Attic", "signal": 80, "security": "WPA2", "password": "atticpass", "hidden": True}],
            "connections": {}}
        base.update(machine)
        state.write_text(json.dumps(base))
        return [STANDIN], state, rec, str(tmp_path / "run")
    return make


def records(rec: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in rec.read_text().splitlines()] if rec.exists() else []


def test_split_terse_undoes_nmcli_escapes() -> None:
    assert network.split_terse(r"*:Home\:5G:70:WPA2") == ["*", "Home:5G", "70", "WPA2"]
    assert network.split_terse(r" :a\\b\:c::") == [" ", "a\\b:c", "", ""]


def test_interfaces_lists_all_but_loopback(nm: Any) -> None:
    nmcli, *_ = nm()
    found = network.interfaces(nmcli)
    assert [(i.name, i.kind, i.state) for i in found] == [("enp1s0", "wired", "unavailable"),
                                                          ("wlan0", "wireless", "disconnected")]
    assert not any(i.connected for i in found)


def test_wifi_list_strongest_first_each_ssid_once_hidden_left_out(nm: Any) -> None:
    nmcli, _, rec, _ = nm()
    nets = network.wifi_networks(nmcli, rescan=True)
    assert [(n.ssid, n.signal, n.security) for n in nets] == [("Home:5G", 70, "WPA2"), ("Cafe", 55, ""),
                                                               ("Modern", 30, "WPA3")]
    assert nets[1].open and nets[1].key_mgmt is None
    assert nets[0].key_mgmt == "wpa-psk" and nets[2].key_mgmt == "sae"
    assert records(rec)[-1]["argv"][-2:] == ["--rescan", "yes"]


def test_mixed_wpa2_wpa3_joins_with_psk() -> None:
    assert network.WifiNetwork("x", 1, "WPA2 WPA3").key_mgmt == "wpa-psk"
    assert network.WifiNetwork("x", 1, "WPA1 WPA2").key_mgmt == "wpa-psk"


def test_connect_password_only_in_the_0600_keyfile(nm: Any) -> None:
    nmcli, state, rec, run_dir = nm()
    name = network.connect("Home:5G", PSK, security="WPA2", nmcli=nmcli, root=str(Path(run_dir).parent))
    assert name == "wifi-Home-5G"
    machine = json.loads(state.read_text())
    assert machine["devices"][2]["state"] == "connected"
    assert machine["connections"][name]["wifi-sec.key-mgmt"] == "wpa-psk"
    assert PSK not in state.read_text()  # the saved profile holds no secret
    entries = records(rec)
    # The key is in the profile's keyfile alone: 0600 in NetworkManager's 0700 directory (the ISO's tmpfs root).
    keyfile = Path(run_dir).parent / "etc/NetworkManager/system-connections" / f"{name}.nmconnection"
    assert machine["connections"][name]["keyfile_mode"] == "0o600" and stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyfile.parent.stat().st_mode) == 0o700
    for entry in entries:
        assert not any(PSK in a or "battery" in a for a in entry["argv"])
        assert not any("battery" in v for v in entry["env"].values())
    assert [i.connected for i in network.interfaces(nmcli)] == [False, True]


def test_wrong_password_is_said_plainly_and_the_profile_removed(nm: Any) -> None:
    nmcli, state, _, run_dir = nm()
    with pytest.raises(NetworkError) as err:
        network.connect("Home:5G", "not it", security="WPA2", nmcli=nmcli, root=str(Path(run_dir).parent))
    assert str(err.value) == ("The password is wrong (NetworkManager: Secrets were required, but not provided).")
    assert json.loads(state.read_text())["connections"] == {}
    assert list((Path(run_dir).parent / "etc/NetworkManager/system-connections").iterdir()) == []  # keyfile gone too


def test_hidden_network_needs_the_hidden_flag(nm: Any) -> None:
    nmcli, state, rec, run_dir = nm()
    with pytest.raises(NetworkError, match="not in range"):
        network.connect("Attic", "atticpass", nmcli=nmcli, root=str(Path(run_dir).parent))
    network.connect("Attic", "atticpass", hidden=True, nmcli=nmcli, root=str(Path(run_dir).parent))
    assert json.loads(state.read_text())["connections"]["wifi-Attic"]["802-11-wireless.hidden"] == "yes"
    assert json.loads(state.read_text())["devices"][2]["state"] == "connected"


def test_open_network_no_password_no_file(nm: Any) -> None:
    nmcli, state, rec, run_dir = nm()
    network.connect("Cafe", None, security="", nmcli=nmcli, root=str(Path(run_dir).parent))
    argvs = [e["argv"] for e in records(rec)]
    assert not any("passwd-file" in a or "wifi-sec.key-mgmt" in a for a in argvs)
    assert network.online(nmcli)


def test_wpa3_only_network_asks_for_sae(nm: Any) -> None:
    nmcli, state, _, run_dir = nm()
    name = network.connect("Modern", "saepass1", security="WPA3", nmcli=nmcli, root=str(Path(run_dir).parent))
    assert json.loads(state.read_text())["connections"][name]["wifi-sec.key-mgmt"] == "sae"


def test_bad_input_refused_before_nmcli_runs(nm: Any) -> None:
    nmcli, _, rec, run_dir = nm()
    with pytest.raises(NetworkError, match="SSID"):
        network.connect("", "x", nmcli=nmcli, root=str(Path(run_dir).parent))
    with pytest.raises(NetworkError, match="needs a password"):
        network.connect("Home:5G", "", security="WPA2", nmcli=nmcli, root=str(Path(run_dir).parent))
    with pytest.raises(NetworkError, match="one line"):
        network.connect("Home:5G", "a\nb", security="WPA2", nmcli=nmcli, root=str(Path(run_dir).parent))
    assert records(rec) == []


def test_no_address_from_the_network(nm: Any) -> None:
    nmcli, *_, run_dir = nm(networks=[{"ssid": "Cafe", "signal": 50, "security": "", "dhcp": False}])
    with pytest.raises(NetworkError, match="gave no address"):
        network.connect("Cafe", None, security="", nmcli=nmcli, root=str(Path(run_dir).parent))


def test_no_wifi_card(nm: Any) -> None:
    nmcli, *_, run_dir = nm(devices=[{"name": "enp1s0", "type": "ethernet", "state": "connected",
                                      "ip4": "10.0.2.15/24"}], connectivity="full")
    assert network.wifi_networks(nmcli) == []
    with pytest.raises(NetworkError, match="no Wi-Fi card"):
        network.connect("Cafe", None, security="", nmcli=nmcli, root=str(Path(run_dir).parent))
    (wired,) = network.interfaces(nmcli)
    assert wired.connected and wired.address == "10.0.2.15/24"
    assert network.online(nmcli)  # already online: nothing to join


def test_networkmanager_not_running(nm: Any) -> None:
    nmcli, *_ = nm(running=False)
    assert not network.nm_running(nmcli)
    assert network.connectivity(nmcli) == "none"
    with pytest.raises(NetworkError, match="NetworkManager is not running"):
        network.interfaces(nmcli)
    with pytest.raises(NetworkError, match="NetworkManager is not running"):
        network.wifi_networks(nmcli)


def test_running_and_nmcli_missing(nm: Any, tmp_path: Path) -> None:
    nmcli, *_ = nm()
    assert network.nm_running(nmcli)
    assert not network.nm_running([str(tmp_path / "no-nmcli")])
    with pytest.raises(NetworkError, match="not installed"):
        network.interfaces([str(tmp_path / "no-nmcli")])


def test_plain_reason_keeps_unknown_words() -> None:
    assert network.plain_reason("(53) The Wi-Fi network could not be found.") == (
        "The network is not in range (NetworkManager: The Wi-Fi network could not be found).")
    assert network.plain_reason("Something new") == "NetworkManager could not connect: Something new."


