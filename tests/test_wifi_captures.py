"""The engine's nmcli and wpa_cli parsers against the real programs' output.

tests/data/nmcli and tests/data/wpa_cli hold every call the engine made in the
Wi-Fi VM run (tests/vm/guest-wifi.sh: a real NetworkManager 1.42 and
wpa_supplicant 2.10 on mac80211_hwsim radios, hostapd serving a WPA2-PSK
network), as recorded there: argv, stdout, stderr, exit code, in call order
(`python tests/vm/vmrun.py wifi` records them again). Each test here replays
some of them through tests/standins/replay-capture, which also refuses a call
whose argv is not the recorded one, so the engine's calls and the parsing of
their answers are both checked against what the real tools did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from installer.run import network, wpacli

DATA = Path(__file__).parent / "data"
REPLAY = Path(__file__).parent / "standins" / "replay-capture"
SSID = "vmtest wifi:net"  # tests/vm/vmrun.py WIFI_SSID: a colon nmcli escapes in its terse output


def recorded(tool: str) -> list[tuple[str, list[str], int]]:
    """(prefix, argv, rc) of every recorded call, in order."""
    calls = []
    for argv in sorted((DATA / tool).glob("*.argv")):
        prefix = str(argv.with_suffix(""))
        calls.append((prefix, argv.read_text().splitlines(), int(Path(prefix + ".rc").read_text())))
    return calls


def find(tool: str, *words: str, rc: int | None = None, last: bool = False) -> str:
    """The first (or last) recorded call whose argv holds all `words` in order (and exits `rc`)."""
    hits = [p for p, argv, code in recorded(tool)
            if " ".join(words) in " ".join(argv) and (rc is None or code == rc)]
    assert hits, f"no recorded {tool} call with {words} (rc {rc})"
    return hits[-1] if last else hits[0]


def replay(tmp_path: Path, *prefixes: str) -> tuple[str, ...]:
    state = tmp_path / f"state-{len(list(tmp_path.glob('state-*')))}"
    return (sys.executable, str(REPLAY), str(state), *prefixes, "--")


def test_the_captures_are_there_and_hold_no_password():
    for tool in ("nmcli", "wpa_cli"):
        calls = recorded(tool)
        assert len(calls) >= 10, tool
        for f in (DATA / tool).iterdir():
            assert "vm-psk-" not in f.read_text() and "vm-wrong-" not in f.read_text(), f


def test_nm_running_and_not(tmp_path):
    assert network.nm_running(replay(tmp_path, find("nmcli", "RUNNING", rc=0))) is True
    stopped = find("nmcli", "RUNNING", last=True)
    assert Path(stopped + ".rc").read_text().strip() != "0"  # recorded after NetworkManager was stopped
    assert network.nm_running(replay(tmp_path, stopped)) is False


def test_interfaces_before_and_after_connecting(tmp_path):
    before = network.interfaces(replay(tmp_path, find("nmcli", "device", "show")))
    by_name = {i.name: i for i in before}
    assert "lo" not in by_name
    assert by_name["wlan1"] == network.Interface("wlan1", "wireless", "disconnected", "")
    assert by_name["wlan2"].state == "unmanaged"  # the wpa_supplicant radio, left alone
    after = network.interfaces(replay(tmp_path, find("nmcli", "device", "show", rc=0, last=True)))
    wlan1 = {i.name: i for i in after}["wlan1"]
    # The last one was recorded after NetworkManager stopped: the connected one is before it.
    connected = [p for p, argv, rc in recorded("nmcli") if "show" in argv and rc == 0]
    states = [{i.name: i for i in network.interfaces(replay(tmp_path, p))}["wlan1"] for p in connected]
    assert any(s.connected and s.address.startswith("192.168.77.") and s.address.endswith("/24") for s in states), \
        states
    assert wlan1.kind == "wireless"
    with pytest.raises(network.NetworkError, match="did not list the interfaces"):
        network.interfaces(replay(tmp_path, find("nmcli", "device", "show", rc=8)))


def test_wifi_list_with_an_escaped_colon_and_the_network_in_use(tmp_path):
    scan = network.wifi_networks(replay(tmp_path, find("nmcli", "wifi", "list", "--rescan", "yes")), rescan=True)
    assert [(n.ssid, n.security, n.in_use) for n in scan] == [(SSID, "WPA2", False)]
    assert 0 < scan[0].signal <= 100 and scan[0].key_mgmt == "wpa-psk"
    in_use = network.wifi_networks(replay(tmp_path, find("nmcli", "wifi", "list", "--rescan", "auto")))
    assert [(n.ssid, n.in_use) for n in in_use] == [(SSID, True)]


def test_a_wrong_password_is_refused_with_networkmanagers_reason(tmp_path):
    # The engine's own sequence after the profile is loaded: up (refused), then the profile deleted.
    nmcli = replay(tmp_path, find("nmcli", "connection", "up", rc=4), find("nmcli", "connection", "delete", rc=0))
    with pytest.raises(network.NetworkError) as err:
        network.connection_up("wifi-vmtest-wifi-net", nmcli=nmcli)
    assert str(err.value) == "The password is wrong (NetworkManager: Secrets were required, but not provided)."


def test_connect_makes_the_recorded_calls_and_leaves_a_0600_profile(tmp_path):
    calls = recorded("nmcli")
    up = next(i for i, (_p, argv, rc) in enumerate(calls) if "up" in argv and rc == 0)
    # device show (the Wi-Fi card), delete (an earlier profile), load, up: as recorded for the right password.
    prefixes = [calls[i][0] for i in range(up - 3, up + 1)]
    assert [calls[i][1][:2] for i in range(up - 3, up + 1)][1:] == [
        ["connection", "delete"], ["connection", "load"], ["--wait", "45"]], prefixes
    root = tmp_path / "root"
    root.mkdir()
    name = network.connect(SSID, "right password", security="WPA2", nmcli=replay(tmp_path, *prefixes),
                           root=str(root))
    profile = root / "etc/NetworkManager/system-connections" / f"{name}.nmconnection"
    assert profile.stat().st_mode & 0o777 == 0o600
    assert "psk=right password\n" in profile.read_text() and "ssid=vmtest wifi:net\n" in profile.read_text()


def test_the_replay_refuses_a_call_that_was_not_recorded(tmp_path):
    with pytest.raises(network.NetworkError, match="replay-capture: call 1 is"):
        network.wifi_networks(replay(tmp_path, find("nmcli", "device", "show")))


def wpa(tmp_path: Path, *prefixes: str) -> tuple[str, ...]:
    return replay(tmp_path, *prefixes)


def test_wpa_cli_scan_results_status_and_flags(tmp_path):
    nets = wpacli.scan_results("wlan2", wpa_cli=wpa(tmp_path, find("wpa_cli", "scan_results", last=True)))
    assert [(n.ssid, n.security) for n in nets] == [(SSID, "WPA2")] and nets[0].signal == 100  # -30 dBm
    assert wpacli.add_network("wlan2", wpa_cli=wpa(tmp_path, find("wpa_cli", "add_network"))) == 0
    done = [p for p, argv, _rc in recorded("wpa_cli") if argv[-1] == "status"
            and "wpa_state=COMPLETED" in Path(p + ".out").read_text()]
    assert done, "no recorded status reached COMPLETED"
    st = wpacli.status("wlan2", wpa_cli=wpa(tmp_path, done[0]))
    assert st["wpa_state"] == "COMPLETED" and st["ssid"] == SSID and st["key_mgmt"] == "WPA2-PSK"
    disabled = [p for p, argv, _rc in recorded("wpa_cli") if argv[-1] == "list_networks"
                and "TEMP-DISABLED" in Path(p + ".out").read_text()]
    assert disabled, "the wrong password never showed as TEMP-DISABLED"
    assert "TEMP-DISABLED" in wpacli.network_flags("wlan2", 0, wpa_cli=wpa(tmp_path, disabled[0]))


@pytest.mark.parametrize(("flags", "words"), [
    ("[WPA2-PSK-CCMP][ESS]", "WPA2"),
    ("[WPA-PSK-TKIP][WPA2-PSK-CCMP][ESS]", "WPA1 WPA2"),
    ("[WPA2-PSK+SAE-CCMP][ESS]", "WPA2 WPA3"),
    ("[WPA2-SAE-CCMP][ESS]", "WPA3"),
    ("[WEP][ESS]", "WEP"),
    ("[ESS]", ""),
])
def test_wpa_flags_in_networkmanagers_words(flags, words):
    assert wpacli.security(flags) == words


def test_wpa_ssid_decoding_and_signal_quality():
    assert wpacli.decode_ssid(r"caf\xc3\xa9 \"x\" \\ y") == 'café "x" \\ y'
    assert [wpacli.quality(d) for d in (-30, -40, -70, -100, -110, 55)] == [100, 100, 50, 0, 0, 55]


def test_wpa_password_rules_before_anything_runs(tmp_path):
    with pytest.raises(network.NetworkError, match="8 to 63 characters"):
        wpacli.set_secret("wlan2", 0, "psk", "short", wpa_cli=wpa(tmp_path))
