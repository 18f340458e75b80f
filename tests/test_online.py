"""The pipeline's network parts (installer.flow.online): the Wi-Fi kept in the
installed system (written into a real target directory, modes and owners read
back), the proxy reaching the nixos-install stand-in (which asks the cache
through it as Nix's curl does), the unattended run joining Wi-Fi through the
nmcli stand-in, and what being offline means, worded once.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import valid_model
from test_connectivity import Cache, closed_port, proxied, serve

from installer.answers.model import InstallModel
from installer.base.safefs import WriteError
from installer.flow import online
from installer.flow.options import Options
from installer.flow.session import Session
from installer.machine.hardware import Disk, Machine
from installer.nixos.dryrun import Summary
from installer.plan.wifi import WPA_SECRET_NAME

ROOT = Path(__file__).resolve().parent.parent
STANDINS = ROOT / "tests" / "standins"
PSK = " horse:battery\\staple "  # edge spaces, a colon and a backslash: GKeyFile must escape them
SSID = 'Café "5G"'
PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def target() -> Any:
    """An installed system's root: 0755, root-owned (nixos-install's demand), etc/NIXOS in it."""
    path = Path(tempfile.mkdtemp(prefix="online-target-", dir="/var/tmp"))
    path.chmod(0o755)
    (path / "etc" / "nixos").mkdir(parents=True)
    (path / "etc" / "NIXOS").touch()
    (path / "etc" / "nixos" / "configuration.nix").write_text("{ ... }: { }\n")
    yield path
    shutil.rmtree(path)


def session(tmp_path: Path, target: Path, model: InstallModel | None = None, **options: Any) -> Session:
    (tmp_path / "live").mkdir(exist_ok=True)
    opts = Options(target=str(target), log_path=str(tmp_path / "install.log"), state_dir=str(tmp_path / "run"),
                   connections_root=str(tmp_path / "live"), **options)
    return Session(opts, model or valid_model())


def wifi(model: InstallModel, backend: str = "networkmanager", password: str | None = PSK) -> InstallModel:
    model.network.wifi_ssid, model.network.wifi_password, model.network.wifi_backend = SSID, password, backend
    model.software.networkmanager = backend == "networkmanager"
    return model


def everything_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


# -- the carry-over ------------------------------------------------------------------
def test_networkmanager_keyfile_written_root_only_with_the_psk_nowhere_else(tmp_path: Path, target: Path) -> None:
    s = session(tmp_path, target, wifi(valid_model()))
    said: list[str] = []
    (written,) = online.carry_over(s, said.append)
    keyfile = target / "etc/NetworkManager/system-connections/wifi-Caf-5G.nmconnection"
    assert written == str(keyfile)
    info = keyfile.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and (info.st_uid, info.st_gid) == (0, 0)
    assert stat.S_IMODE(keyfile.parent.stat().st_mode) == 0o700
    text = keyfile.read_text()
    # As GKeyFile (NetworkManager's reader) wants it: the leading space kept by \s, the backslash doubled.
    assert "psk=\\s" + PSK[1:].replace("\\", "\\\\") + "\n" in text
    assert 'ssid=Café "5G"\n' in text and "key-mgmt=wpa-psk\n" in text
    holding = [p for p in everything_under(target) if b"horse:battery" in p.read_bytes()]
    assert holding == [keyfile]
    assert said == [f"wrote {keyfile} (0600, root only: NetworkManager joins {SSID!r} at boot)"]


def test_the_security_the_iso_joined_with_is_kept(tmp_path: Path, target: Path) -> None:
    """A WPA3-only network was joined with SAE on the ISO (installer.run.network wrote that
    profile): the new system's keyfile says SAE too; a profile of another network is not read."""
    from installer.run import carryover

    s = session(tmp_path, target, wifi(valid_model()))
    live = tmp_path / "live"
    carryover.write_keyfile(str(live), "wifi-Caf-5G", carryover.keyfile_text("wifi-Caf-5G", SSID, PSK, key_mgmt="sae"))
    online.carry_over(s, lambda line: None)
    kept = target / "etc/NetworkManager/system-connections/wifi-Caf-5G.nmconnection"
    assert "key-mgmt=sae\n" in kept.read_text()
    carryover.write_keyfile(str(live), "wifi-Caf-5G", carryover.keyfile_text("wifi-Caf-5G", "Caf 5G", PSK, key_mgmt="sae"))
    online.carry_over(s, lambda line: None)
    assert "key-mgmt=wpa-psk\n" in kept.read_text()


def test_open_network_keyfile_has_no_security_and_hidden_is_kept(tmp_path: Path, target: Path) -> None:
    m = wifi(valid_model(), password=None)
    m.network.wifi_hidden = True
    online.carry_over(session(tmp_path, target, m), lambda line: None)
    text = (target / "etc/NetworkManager/system-connections/wifi-Caf-5G.nmconnection").read_text()
    assert "hidden=true\n" in text and "[wifi-security]" not in text and "psk=" not in text


def test_wpa_supplicant_secrets_file_0600_owned_by_its_service_account(tmp_path: Path, target: Path) -> None:
    """The service nixpkgs 25.11 runs wpa_supplicant as (User = wpa_supplicant) must read the
    file: its owner is that account, as the new system's activation made it in etc/passwd."""
    (target / "etc/passwd").write_text("root:x:0:0:System administrator:/root:/bin/sh\n"
                                       "wpa_supplicant:x:993:991:WPA Supplicant user:/var/empty:/bin/nologin\n")
    said: list[str] = []
    (written,) = online.carry_over(session(tmp_path, target, wifi(valid_model(), "wpa_supplicant")), said.append)
    secrets = target / "etc/wpa_supplicant-secrets.conf"
    assert written == str(secrets)
    info = secrets.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and (info.st_uid, info.st_gid) == (993, 991)
    assert secrets.read_text() == f"{WPA_SECRET_NAME}={PSK}\n"  # wpa_supplicant takes the value as it is
    assert not (target / "etc/NetworkManager").exists()
    assert [p for p in everything_under(target) if PSK.encode() in p.read_bytes()] == [secrets]
    assert "0600, wpa_supplicant only" in said[0]


def test_wpa_supplicant_without_its_account_stays_root_only_and_says_so(tmp_path: Path, target: Path) -> None:
    said: list[str] = []
    online.carry_over(session(tmp_path, target, wifi(valid_model(), "wpa_supplicant")), said.append)
    info = (target / "etc/wpa_supplicant-secrets.conf").stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert "no wpa_supplicant account" in said[-1]


def test_open_network_through_wpa_supplicant_writes_nothing(tmp_path: Path, target: Path) -> None:
    assert online.carry_over(session(tmp_path, target, wifi(valid_model(), "wpa_supplicant", None)), print) == []
    assert not (target / "etc/wpa_supplicant-secrets.conf").exists()


def test_a_link_planted_in_the_target_is_refused_and_nothing_written_through_it(tmp_path: Path, target: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (target / "etc/NetworkManager").symlink_to(outside)
    with pytest.raises(WriteError):
        online.carry_over(session(tmp_path, target, wifi(valid_model())), lambda line: None)
    assert list(outside.iterdir()) == []


def test_dry_run_lists_what_it_would_write_and_writes_nothing(tmp_path: Path, target: Path) -> None:
    said: list[str] = []
    s = session(tmp_path, target, wifi(valid_model()), dry_run=True)
    assert online.kept_files(s) == [str(target / "etc/NetworkManager/system-connections/wifi-Caf-5G.nmconnection")]
    online.carry_over(s, said.append)
    assert said == [f"[dry-run] would write {online.kept_files(s)[0]} (0600: the Wi-Fi network and its password)"]
    assert not (target / "etc/NetworkManager").exists()


def test_the_passwords_phase_carries_the_network_over(tmp_path: Path, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one pipeline (installer.flow.install) writes it, after nixos-install, with the accounts' passwords."""
    monkeypatch.setenv("STANDIN_RECORD", str(tmp_path / "record.jsonl"))
    s = session(tmp_path, target, wifi(valid_model()), nixos_enter=str(STANDINS / "nixos-enter"))
    said: list[str] = []
    assert s.install.run("passwords", None, said.append, lambda runner: 1)
    assert (target / "etc/NetworkManager/system-connections/wifi-Caf-5G.nmconnection").exists()
    assert (target / "etc/shadow").exists()
    records = (tmp_path / "record.jsonl").read_text()
    assert PSK.strip() not in records and PSK.strip() not in "\n".join(said)


# -- the proxy, through the nixos-install stand-in ----------------------------------------
def test_nixos_install_asks_the_cache_through_the_answers_proxy(tmp_path: Path, target: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    monkeypatch.setenv("STANDIN_FETCH", "1")
    command = f"{STANDINS / 'nixos-install'} --option substituters http://cache.invalid"
    for cache in serve(Cache):
        for proxy, address in proxied(cache):
            m = valid_model()
            m.network.proxy = address
            s = session(tmp_path, target, m, nixos_install=command)
            assert s.install.install_command().startswith(f"http_proxy={address} https_proxy={address} ")
            runner = s.install.runner()
            assert runner.run_sync(io.StringIO()) == 0
            # "cache.invalid" resolves nowhere: only the proxy could have carried the request.
            assert proxy.seen == ["GET http://cache.invalid/nix-cache-info"]
            entries = [json.loads(line) for line in record.read_text().splitlines()]
            assert {e["env"]["http_proxy"] for e in entries} == {address}
            assert [e["proxy"] for e in entries if "fetched" in e] == [address]


def test_without_the_proxy_the_stand_in_fails_as_nix_does(tmp_path: Path, target: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_FETCH", "1")
    command = f"{STANDINS / 'nixos-install'} --option substituters http://127.0.0.1:{closed_port()}"
    runner = session(tmp_path, target, nixos_install=command).install.runner()
    out = io.StringIO()
    assert runner.run_sync(out) == 1
    assert "/nix-cache-info': Couldn't connect to server (7)" in "\n".join(runner.tail)
    assert online.install_env(session(tmp_path, target)) is None  # no proxy: our environment as it is


# -- getting online, unattended ----------------------------------------------------
@pytest.fixture
def nm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "nm.json"
    monkeypatch.setenv("NMCLI_STATE", str(state))
    monkeypatch.setenv("STANDIN_RECORD", str(tmp_path / "nm-record.jsonl"))
    state.write_text(json.dumps({
        "running": True, "connectivity": "none",
        "devices": [{"name": "wlan0", "type": "wifi", "state": "disconnected"}],
        "networks": [{"ssid": SSID, "signal": 70, "security": "WPA2", "password": PSK}], "connections": {}}))
    return state


def nix_conf(tmp_path: Path, url: str) -> str:
    path = tmp_path / "nix.conf"
    path.write_text(f"substituters = {url}\n")
    return str(path)


def test_unattended_joins_the_answers_wifi_then_asks_the_cache(tmp_path: Path, target: Path, nm: Path) -> None:
    said: list[str] = []
    for cache in serve(Cache):
        s = session(tmp_path, target, wifi(valid_model()), nmcli=str(STANDINS / "nmcli"),
                    nix_conf=nix_conf(tmp_path, cache))
        assert online.connect(s, said.append)
        assert said == ["== getting online", f"Joining the Wi-Fi network {SSID!r}", f"Joined {SSID!r}.",
                        f"Online: the binary cache {cache} answers."]
        assert s.preflight.online is True and s.preflight.network_lines() == [said[-1]]
    assert json.loads(nm.read_text())["devices"][0]["state"] == "connected"
    nm_records = (tmp_path / "nm-record.jsonl").read_text()
    assert PSK.strip() not in nm_records  # never in nmcli's argv or environment
    assert PSK.strip() not in (tmp_path / "install.log").read_text(errors="replace")


def test_unattended_wrong_password_stops_before_anything_is_written(tmp_path: Path, target: Path, nm: Path) -> None:
    m = wifi(valid_model(), password="not the password")
    said: list[str] = []
    s = session(tmp_path, target, m, nmcli=str(STANDINS / "nmcli"), nix_conf=nix_conf(tmp_path, "http://x.invalid"))
    assert not online.connect(s, said.append)
    assert said[-1].startswith(f"Could not join {SSID!r}: ") and said[-1].endswith(
        "Nothing was written; fix [network] in the answers.")
    assert s.preflight.reachability is None


def test_already_online_keeps_the_network_for_later_without_joining(tmp_path: Path, target: Path, nm: Path) -> None:
    state = json.loads(nm.read_text())
    state["connectivity"] = "full"
    state["devices"].append({"name": "enp1s0", "type": "ethernet", "state": "connected", "ip4": "10.0.2.15/24"})
    nm.write_text(json.dumps(state))
    said: list[str] = []
    for cache in serve(Cache):
        s = session(tmp_path, target, wifi(valid_model()), nmcli=str(STANDINS / "nmcli"),
                    nix_conf=nix_conf(tmp_path, cache))
        assert online.connect(s, said.append)
    assert said[1].startswith("Already online; the Wi-Fi network")
    assert json.loads(nm.read_text())["connections"] == {}


# -- what offline means -----------------------------------------------------------
def offline_session(tmp_path: Path, target: Path, summary: Summary | None) -> Session:
    s = session(tmp_path, target, nix_conf=nix_conf(tmp_path, f"http://127.0.0.1:{closed_port()}"))
    s.preflight.downloads = lambda: summary  # type: ignore[method-assign]
    online.check(s)
    return s


def test_offline_with_everything_in_the_iso_store_installs_offline(tmp_path: Path, target: Path) -> None:
    s = offline_session(tmp_path, target, Summary(True, 0, 0.0, 0.0, 3))
    assert s.preflight.online is False
    assert s.preflight.network_lines()[1] == ("Without the binary cache only what is already in this ISO's Nix store "
                                              "can be installed, and that is everything this system needs: it "
                                              "installs offline.")
    assert s.preflight.offline_install() and online.offline_problem(s) == []
    assert s.install.install_argv()[-3:] == ["--option", "substituters", ""]


def test_offline_with_downloads_to_make_is_refused_before_the_disk(tmp_path: Path, target: Path) -> None:
    s = offline_session(tmp_path, target, Summary(True, 12, 80.5, 300.0, 1))
    s.machine = Machine(firmware="bios", disks=[Disk(path="/dev/sda", name="sda", size=120 * 1024**3)])
    (problem,) = online.offline_problem(s)
    assert problem.field == "network" and problem.message == s.preflight.network_lines()[1]
    assert "this system needs 12 paths to download (80.5 MiB), 1 to build: get online" in problem.message
    assert problem in s.preflight.problems()  # what the Confirm step and --yes stop at


def test_offline_when_nix_could_not_say_installs_without_the_cache(tmp_path: Path, target: Path) -> None:
    s = offline_session(tmp_path, target, None)
    assert "Nix has not said whether that is enough" in s.preflight.network_lines()[1]
    assert online.offline_problem(s) == [] and s.preflight.offline_install()


def test_online_says_nothing_more(tmp_path: Path, target: Path) -> None:
    for cache in serve(Cache):
        s = session(tmp_path, target, nix_conf=nix_conf(tmp_path, cache))
        online.check(s)
        assert s.preflight.network_lines() == [f"Online: the binary cache {cache} answers."]
        assert not s.preflight.offline_install()
    assert os.environ.get("http_proxy") is None


def test_the_network_step_setting_offline_alone_still_gets_the_meaning(tmp_path: Path, target: Path) -> None:
    s = session(tmp_path, target)
    assert s.preflight.network_lines() == []
    s.preflight.online = False  # what the Network step sets from its own check
    (line,) = s.preflight.network_lines()
    assert line.startswith("Without the binary cache only what is already in this ISO's Nix store")
