"""Defaults a newcomer expects (issue 22 item 6): the timezone follows the chosen
locale's (or keymap's) country until picked, a laptop is proposed a desktop,
the Welcome step lists every step that follows, and a firmware chosen against
how the ISO was started is warned about."""

from __future__ import annotations

import pytest
from test_screens_support import app_for, make_session, message_of, open_step, type_text, until, wait_ready

from installer.answers.catalog import country_timezone
from installer.answers.resolve import BIOS_ON_UEFI, UEFI_ON_BIOS
from installer.answers.validate import validate
from installer.machine.udevdata import has_battery
from screens.keyboard import KeyboardScreen
from screens.users import UsersScreen

DEFAULTS = ("en_US.UTF-8", "us")
SIZE = (80, 25)


@pytest.mark.parametrize("locale, keymap, zone", [
    ("de_DE.UTF-8", "us", "Europe/Berlin"),
    ("fr_CA.UTF-8", "us", "America/Toronto"),
    ("pt_BR.UTF-8", "br-abnt2", "America/Sao_Paulo"),  # not zone.tab's first for BR (Noronha)
    ("ru_RU.UTF-8", "ru", "Europe/Moscow"),
    ("en_US.UTF-8", "de-latin1", "Europe/Berlin"),  # the locale left alone: the keymap's country
    ("en_US.UTF-8", "uk", "Europe/London"),
    ("en_US.UTF-8", "us", None),  # nothing chosen: nothing to follow
    ("C.UTF-8", "us", None),  # a locale of no country
    ("de_D", "us", None),  # half typed
])
def test_the_country_of_the_locale_or_keymap_gives_the_timezone(locale, keymap, zone):
    assert country_timezone(locale, keymap, DEFAULTS) == zone


def test_the_timezone_follows_until_the_person_picks_one():
    session = make_session()
    session.probe()
    session.apply_machine_defaults()
    s = session.model.system
    s.locale = "de_DE.UTF-8"
    assert session.follow_country_timezone() and s.timezone == "Europe/Berlin"
    s.locale = "fr_FR.UTF-8"  # still following: changed again
    assert session.follow_country_timezone() and s.timezone == "Europe/Paris"
    s.timezone = "Asia/Tokyo"  # picked by the person: never overwritten again
    s.locale = "it_IT.UTF-8"
    assert not session.follow_country_timezone() and s.timezone == "Asia/Tokyo"


async def test_the_keyboard_step_sets_the_timezone_the_users_step_shows():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_step(pilot, KeyboardScreen)
        assert app.session.model.system.timezone == "UTC"
        app.screen.query_one("#f-system-locale").focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "de_DE.UTF-8")
        await pilot.press("enter")
        await until(pilot, lambda: app.session.model.system.timezone == "Europe/Berlin", 10)
        users = await open_step(pilot, UsersScreen)
        assert users.query_one("#f-system-timezone").value == "Europe/Berlin"


def test_a_battery_is_a_laptop_a_devices_battery_is_not(tmp_path):
    top = tmp_path / "class/power_supply"

    def supply(name, kind, scope=None):
        (top / name).mkdir(parents=True)
        (top / name / "type").write_text(kind + "\n")
        if scope:
            (top / name / "scope").write_text(scope + "\n")

    assert not has_battery(str(tmp_path))  # no power_supply class at all: a VM
    supply("AC", "Mains")
    supply("hidpp_battery_0", "Battery", "Device")  # a wireless mouse
    assert not has_battery(str(tmp_path))
    supply("BAT0", "Battery")
    assert has_battery(str(tmp_path))


def test_a_laptop_is_proposed_a_desktop_an_answers_file_is_not():
    session = make_session()
    session.probe()
    session.machine.battery = True
    session.apply_machine_defaults()  # what the unattended run does: the file's default stays
    assert session.model.software.desktop == "none"
    session.propose_for_newcomer()  # what the wizard adds
    assert session.model.software.desktop == "gnome"
    desk = make_session()
    desk.probe()
    desk.apply_machine_defaults()
    desk.propose_for_newcomer()
    assert not desk.machine.battery and desk.model.software.desktop == "none"


def test_the_recorded_machines_load_without_a_battery_fact():
    session = make_session()
    assert session.probe().battery is False


async def test_welcome_lists_every_step_that_follows_as_the_header_counts_them():
    from screens.app import STEPS, step_class

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        steps = str(app.screen.query_one("#steps").content)
        total = len(STEPS)
        assert f"1/{total} Welcome" in str(app.screen.query_one("#header").content)
        for number in range(2, total + 1):
            assert f"{number}. {step_class(number - 1).TITLE_TEXT}" in steps
        assert f"{total + 1}." not in steps


async def test_bios_chosen_on_a_uefi_started_machine_is_warned_not_refused():
    from screens.welcome import WelcomeScreen

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = app.screen
        assert app.session.machine.firmware == "uefi" and message_of(screen, "boot.firmware") == ""
        await pilot.press("down", "space")  # BIOS
        await until(pilot, lambda: message_of(screen, "boot.firmware") == BIOS_ON_UEFI, 10)
        await pilot.press("f10")  # a warning: Next goes on
        await until(pilot, lambda: not isinstance(app.screen, WelcomeScreen), 10)


def test_uefi_chosen_on_a_bios_started_machine_is_warned():
    session = make_session()
    machine = session.probe()
    machine.firmware = "bios"
    session.model.boot.firmware = "uefi"
    found = [(p.message, p.severity) for p in validate(session.model, machine) if p.field == "boot.firmware"]
    assert found == [(UEFI_ON_BIOS, "warning")]
    session.model.boot.firmware = "bios"
    assert not [p for p in validate(session.model, machine) if p.field == "boot.firmware"]
