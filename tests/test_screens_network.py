"""The Network step (screens/network.py) driven with Pilot, against the nmcli stand-in
(tests/standins/nmcli: nmcli's terse output and error words as the VM test captured
them from NetworkManager 1.42) and a binary cache on 127.0.0.1 (tests/localnet.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import localnet
from test_screens_support import app_for, make_session, wait_ready
from test_screens_support import until as until_long

from screens.keyboard import KeyboardScreen
from screens.network import NetworkScreen, bars, network_row
from installer.run.network import WifiNetwork

WRONG, RIGHT = "not the password", "correct horse"


async def until(pilot, condition, seconds: float = 30.0) -> None:
    """A step on this screen is quick (the stand-in answers at once): 30 s is ample."""
    await until_long(pilot, condition, seconds)


async def settled(pilot) -> None:
    """After the probe, the connectivity check and the step's first scan."""
    app = pilot.app
    await wait_ready(pilot)
    await until(pilot, lambda: app.network_state not in ("", "checking"))


async def to_network_step(pilot) -> NetworkScreen:
    await settled(pilot)
    await pilot.press("enter")  # Welcome's only field: Enter is Next
    await until(pilot, lambda: isinstance(pilot.app.screen, NetworkScreen))
    screen = pilot.app.screen
    await until(pilot, lambda: screen.survey is not None)
    await pilot.pause()
    return screen


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def live(tmp_path: Path, **machine):
    """A real (not dry) run on a built machine, its network the stand-in's laptop, offline."""
    state, record = tmp_path / "nm.json", tmp_path / "calls.jsonl"
    conf = tmp_path / "nix.conf"
    conf.write_text(f"substituters = {localnet.NOWHERE}\n")
    (tmp_path / "live").mkdir()
    session = make_session(recorded=False, dry_run=False, nmcli=localnet.nmcli(state, record=record, **machine),
                           nix_conf=str(conf), connections_root=str(tmp_path / "live"),
                           wpa_ctrl_dir=str(tmp_path / "no-wpa"), log_path=str(tmp_path / "install.log"))
    return session, state, record, conf


def test_signal_bars_and_rows_fit_the_console() -> None:
    assert [bars(s) for s in (0, 1, 25, 26, 50, 75, 76, 100)] == [
        "\u2591" * 4, "\u2588\u2591\u2591\u2591", "\u2588\u2591\u2591\u2591", "\u2588\u2588\u2591\u2591",
        "\u2588\u2588\u2591\u2591", "\u2588\u2588\u2588\u2591", "\u2588\u2588\u2588\u2588", "\u2588" * 4]
    row = network_row(WifiNetwork("x" * 90, 60, "WPA2 WPA3"))
    assert len(row) == 74 and row.endswith("\u2588\u2588\u2588\u2591  WPA2 WPA3   ") and "..." in row
    assert network_row(WifiNetwork("Cafe", 40, "")).rstrip().endswith("open")


async def test_an_online_machine_skips_the_step_and_welcome_says_so() -> None:
    app = app_for()  # the default nix.conf names the local cache (conftest): online
    async with app.run_test(size=(80, 25)) as pilot:
        await settled(pilot)
        assert "Online: the binary cache http://127.0.0.1" in shown(app.screen, "#network")
        assert "No network set-up is needed" in shown(app.screen, "#network")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, KeyboardScreen))
        assert "3/10 Keyboard" in shown(app.screen, "#header")
        assert not any(isinstance(s, NetworkScreen) for s in app.screen_stack)
        await pilot.press("escape")  # Back goes to Welcome, past the skipped step
        await until(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")


async def test_no_network_at_all_says_so_and_next_still_goes_on(tmp_path: Path) -> None:
    session, *_ = live(tmp_path, running=False)  # no NetworkManager, no wpa_supplicant socket
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        assert "2/10 Network" in shown(screen, "#header")
        assert "Not online: the name cache.invalid does not resolve" in shown(screen, "#reach")
        assert "Neither NetworkManager nor wpa_supplicant runs here" in shown(screen, "#wifi-problem")
        assert not screen.query_one("#networks").display
        assert all(w.disabled for w in screen.wifi_widgets())
        await pilot.press("f10")  # an offline install is the person's call (Confirm says what it means)
        await until(pilot, lambda: isinstance(app.screen, KeyboardScreen))
        assert session.preflight.online is False


async def test_no_wifi_card_lists_the_cable_and_says_why(tmp_path: Path) -> None:
    session, *_ = live(tmp_path, devices=[{"name": "enp1s0", "type": "ethernet", "state": "unavailable"}])
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        assert "enp1s0" in shown(screen, "#interfaces") and "unavailable" in shown(screen, "#interfaces")
        assert "no Wi-Fi card that NetworkManager can use" in shown(screen, "#wifi-problem")
        assert all(w.disabled for w in screen.wifi_widgets())


async def test_wrong_password_is_said_plainly_the_field_kept_then_the_right_one_joins(tmp_path: Path) -> None:
    session, state, record, conf = live(tmp_path)
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        # Strongest first; Attic announces no name, so it is not listed.
        assert [n.ssid for n in screen.survey.networks] == ["Home:5G", "Cafe", "Modern", "Neighbour"]
        await pilot.press("enter")  # the strongest, Home:5G: its password is asked
        await until(pilot, lambda: screen.focused is screen.query_one("#f-network-wifi_password"))
        await type_text(pilot, WRONG)
        await pilot.press("enter")
        await until(pilot, lambda: not screen.joining and "wrong" in shown(screen, "#joined"))
        assert shown(screen, "#joined") == \
            "The password is wrong (NetworkManager: Secrets were required, but not provided)."
        assert screen.query_one("#joined").has_class("-error")
        password = screen.query_one("#f-network-wifi_password")
        assert password.value == WRONG and screen.focused is password  # kept, to be corrected
        assert session.model.network.wifi_ssid == ""  # a refused network is not kept for the new system
        # The network comes up with the right password: the cache answers from then on.
        conf.write_text(f"substituters = {localnet.cache_url()}\n")
        password.value = ""
        await type_text(pilot, RIGHT)
        await pilot.press("enter")
        await until(pilot, lambda: shown(screen, "#joined") == "Joined 'Home:5G'.")
        await until(pilot, lambda: session.preflight.online is True)
        await until(pilot, lambda: "F10 goes on" in shown(screen, "#reach"))
        assert "Online: the binary cache http://127.0.0.1" in shown(screen, "#reach")
        n = session.model.network
        assert (n.wifi_ssid, n.wifi_password, n.wifi_hidden) == ("Home:5G", RIGHT, False)
        machine = json.loads(state.read_text())
        assert machine["devices"][2]["state"] == "connected"
        keyfile = tmp_path / "live/etc/NetworkManager/system-connections/wifi-Home-5G.nmconnection"
        assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600 and f"psk={RIGHT}" in keyfile.read_text()
        await until(pilot, lambda: str(screen.query_one("#networks").get_option_at_index(0).prompt).startswith(
            "*Home:5G"))  # the list marks the network in use
        answers = tmp_path / "answers.toml"
        session.save_answers(answers)
        log = Path(session.options.log_path).read_text()
    assert "Home:5G" in answers.read_text() and RIGHT not in answers.read_text()
    assert "joined the Wi-Fi network 'Home:5G'" in log and RIGHT not in log and WRONG not in log
    for call in map(json.loads, record.read_text().splitlines()):
        assert not any(RIGHT in a or WRONG in a for a in call["argv"])
        assert not any(RIGHT in v or WRONG in v for v in call["env"].values())


async def test_an_open_network_joins_when_picked(tmp_path: Path) -> None:
    session, state, *_ = live(tmp_path)
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        await pilot.press("down", "enter")  # Cafe, open: no password to ask
        await until(pilot, lambda: shown(screen, "#joined") == "Joined 'Cafe'.")
        assert session.model.network.wifi_ssid == "Cafe" and session.model.network.wifi_password is None
        assert json.loads(state.read_text())["connections"]["wifi-Cafe"].get("wifi-sec.key-mgmt") in (None, "")


async def test_a_hidden_network_is_typed_ticked_and_joined(tmp_path: Path) -> None:
    session, *_ = live(tmp_path)
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        assert "Attic" not in [n.ssid for n in screen.survey.networks]  # it announces no name
        ssid = screen.query_one("#f-network-wifi_ssid")
        ssid.focus()
        await type_text(pilot, "Attic")
        screen.query_one("#hidden").focus()
        await pilot.press("space")
        screen.query_one("#f-network-wifi_password").focus()
        await type_text(pilot, "atticpass")
        await pilot.press("enter")
        await until(pilot, lambda: not screen.joining and shown(screen, "#joined") != "Joining 'Attic'...")
        assert shown(screen, "#joined") == "Joined 'Attic'."
        assert session.model.network.wifi_hidden is True


async def test_a_dry_run_describes_the_join_and_joins_nothing(tmp_path: Path) -> None:
    state = tmp_path / "nm.json"
    conf = tmp_path / "nix.conf"
    conf.write_text(f"substituters = {localnet.NOWHERE}\n")
    session = make_session(nmcli=localnet.nmcli(state), nix_conf=str(conf), connections_root=str(tmp_path / "live"))
    before = None
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        before = state.read_text()
        await pilot.press("enter")
        await type_text(pilot, RIGHT)
        await pilot.press("enter")
        await until(pilot, lambda: "[dry-run] would join" in shown(screen, "#joined"))
        assert "whether the binary cache would answer is not known" in shown(screen, "#reach")
        assert session.preflight.online is None  # no offline rule acts on the answer from before
    assert state.read_text() == before and not (tmp_path / "live").exists()


async def test_the_proxy_is_checked_at_its_field_and_used_by_the_check(tmp_path: Path) -> None:
    session, *_ = live(tmp_path, running=False)
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await to_network_step(pilot)
        proxy = screen.query_one("#f-network-proxy")
        proxy.focus()
        await type_text(pilot, "proxy.example")
        await pilot.press("f10")
        await until(pilot, lambda: bool(shown(screen, "#m-network-proxy")))
        assert isinstance(app.screen, NetworkScreen) and "http://" in shown(screen, "#m-network-proxy")


async def test_confirm_says_offline_and_what_that_means(tmp_path: Path) -> None:
    """Offline, Confirm says the cache's answer again beside the Nix check, and what it means."""
    from installer.answers.model import User
    from screens.confirm import ConfirmScreen

    conf = tmp_path / "nix.conf"
    conf.write_text(f"substituters = {localnet.NOWHERE}\n")
    app = app_for(make_session(nix_conf=str(conf)))
    async with app.run_test(size=(80, 25)) as pilot:
        await settled(pilot)
        model = app.session.model
        model.disk.device = app.session.machine.offered_disks[0].path
        model.users = [User(name="alice", description="Alice", password="wonderland", password_confirm="wonderland")]
        app.push_screen(ConfirmScreen())
        await pilot.pause()
        said = " ".join(shown(app.screen, "#nixcheck").split())
    assert "Not online: the name cache.invalid does not resolve" in said
    assert "Without the binary cache only what is already in this ISO's Nix store can be installed" in said


async def test_turning_networkmanager_off_after_joining_is_refused_at_software(tmp_path: Path) -> None:
    """The joined network is kept through NetworkManager: the Software step says so on Next."""
    from screens.software import SoftwareScreen
    from test_screens_support import open_step

    session, *_ = live(tmp_path)
    session.model.network.wifi_ssid = "Home:5G"
    session.model.software.networkmanager = False
    app = app_for(session)
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await open_step(pilot, SoftwareScreen)
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, SoftwareScreen)
        assert "turn on software.networkmanager, or choose wpa_supplicant" in shown(screen, "#general")
