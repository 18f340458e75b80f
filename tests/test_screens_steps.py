"""Pilot tests of each wizard step at 80x25: the engine's messages appear
under the field as the person types, Next is refused with the offending
field focused, and values survive going back and forth."""

from __future__ import annotations

from test_screens_support import (
    app_for,
    engine_messages,
    make_session,
    message_of,
    open_step,
    type_text,
    wait_ready,
)

from screens.disk import DiskScreen
from screens.encryption import EncryptionScreen
from screens.keyboard import KeyboardScreen
from screens.software import SoftwareScreen
from screens.users import UsersScreen
from screens.welcome import WelcomeScreen

SIZE = (80, 25)


async def test_welcome_shows_dry_run_firmware_and_step_indicator():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        screen = app.screen
        assert isinstance(screen, WelcomeScreen)
        header = str(screen.query_one("#header").content)
        assert "1/9 Welcome" in header and "DRY RUN" in header
        assert "UEFI" in str(screen.query_one("#firmware-label").content)
        assert not screen.query_one("#warnings").display
        # Override the firmware: BIOS is two keys away.
        await pilot.press("down", "enter")
        assert app.session.model.boot.firmware == "bios"
        await pilot.press("f10")
        assert isinstance(app.screen, KeyboardScreen)
        assert "2/9 Keyboard" in str(app.screen.query_one("#header").content)


async def test_welcome_warns_when_the_terminal_is_too_small():
    app = app_for()
    async with app.run_test(size=(70, 20)) as pilot:
        await wait_ready(pilot)
        warnings = app.screen.query_one("#warnings")
        assert warnings.display and "70x20" in str(warnings.content)


async def test_keyboard_invalid_keymap_shows_engine_message_and_refuses_next():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        assert app.focused.id == "f-system-keymap"
        await pilot.press("ctrl+u")
        await type_text(pilot, "zzq")
        expected = engine_messages(app.session, "system.keymap")
        assert expected and message_of(screen, "system.keymap") == expected[0]
        await pilot.press("tab", "f10")  # leave the field, then try to go on
        assert app.screen is screen
        assert app.focused.id == "f-system-keymap"
        # Filter and pick: "de-lat" then Enter completes to the highlighted keymap.
        await pilot.press("ctrl+u")
        await type_text(pilot, "de-lat")
        await pilot.press("enter")
        assert app.session.model.system.keymap == "de-latin1"
        assert message_of(screen, "system.keymap") == ""
        assert "loadkeys de-latin1" in str(screen.query_one("#keymap-status").content) or \
            "de-latin1" in str(screen.query_one("#keymap-status").content)


async def test_keyboard_values_survive_back_and_forth():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_step(pilot, KeyboardScreen)
        await pilot.press("ctrl+u")
        await type_text(pilot, "fr")
        await pilot.press("enter")  # "fr" is exact: Enter moves on to the locale
        assert app.focused.id == "f-system-locale"
        await pilot.press("ctrl+u")
        await type_text(pilot, "fr_FR.UTF-8")
        await pilot.press("f10")
        assert isinstance(app.screen, DiskScreen)
        await pilot.press("escape")
        screen = app.screen
        assert isinstance(screen, KeyboardScreen)
        assert screen.query_one("#f-system-keymap").value == "fr"
        assert screen.query_one("#f-system-locale").value == "fr_FR.UTF-8"


async def test_disk_refused_disk_is_not_selectable_and_preview_follows():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        machine = app.session.machine
        refused = [d for d in machine.disks if d.refused]
        assert refused, "the recorded machine should have a refused disk"
        for _ in range(len(machine.disks) + 2):
            await pilot.press("down")
            assert app.session.model.disk.device not in {d.path for d in refused}
        preview = str(screen.query_one("#preview").content)
        plan = app.session.plan()
        assert plan.disk.path in preview
        for part in plan.partitions:
            assert part.name in preview
        # The refusal reason is shown in the list.
        options = screen.query_one("#f-disk-device")
        shown = "\n".join(str(options.get_option_at_index(i).prompt) for i in range(options.option_count))
        assert refused[0].refused in shown


async def test_disk_swap_size_message_and_next_refused():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        screen.query_one("#swap-partition").value = True
        await pilot.pause()
        assert app.session.model.disk.swap == "partition"
        screen.query_one("#f-disk-swap_size_mib").focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "10")
        expected = engine_messages(app.session, "disk.swap_size_mib")
        assert expected and message_of(screen, "disk.swap_size_mib") == expected[0]
        await pilot.press("f10")
        assert app.screen is screen and app.focused.id == "f-disk-swap_size_mib"
        await pilot.press("ctrl+u")
        await type_text(pilot, "2048")
        assert message_of(screen, "disk.swap_size_mib") == ""
        assert "swap" in str(screen.query_one("#preview").content)


async def test_encryption_mismatch_refused_then_accepted_and_kept():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, EncryptionScreen)
        await pilot.press("enter")  # the checkbox has focus: turn encryption on
        assert app.session.model.encryption.enabled
        await pilot.press("tab")
        await type_text(pilot, "correct horse battery")
        assert "Strength" in str(screen.query_one("#strength").content)
        await pilot.press("tab")
        await type_text(pilot, "correct horse batterx")
        expected = engine_messages(app.session, "encryption.passphrase_confirm")
        assert expected and message_of(screen, "encryption.passphrase_confirm") == expected[0]
        await pilot.press("f10")
        assert app.screen is screen and app.focused.id == "f-encryption-passphrase_confirm"
        await pilot.press("backspace")
        await type_text(pilot, "y")
        assert message_of(screen, "encryption.passphrase_confirm") == ""
        await pilot.press("f10")
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("escape")
        back = app.screen
        assert back.query_one("#f-encryption-passphrase").value == "correct horse battery"
        assert back.query_one("#f-encryption-enabled").value is True
        # The passphrase is masked with '*', never with a glyph the console lacks.
        assert str(back.query_one("#f-encryption-passphrase")._value) == "*" * len("correct horse battery")


async def test_users_hostname_username_suggestion_and_ssh_keys():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        assert app.focused.id == "f-system-hostname"
        await pilot.press("ctrl+u")
        await type_text(pilot, "Bad_Host")
        expected = engine_messages(app.session, "system.hostname")
        assert expected and message_of(screen, "system.hostname") == expected[0]
        await pilot.press("ctrl+u")
        await type_text(pilot, "laptop")
        assert message_of(screen, "system.hostname") == ""
        screen.query_one("#f-users-0-description").focus()
        await type_text(pilot, "Zoe Smith")
        assert screen.query_one("#f-users-0-name").value == "zoe"
        assert app.session.model.users[0].name == "zoe"
        screen.query_one("#f-users-0-ssh_keys").focus()
        await type_text(pilot, "ssh-ed25519 notbase64!! me@host")
        expected = engine_messages(app.session, "users[0].ssh_keys[0]")
        assert expected and message_of(screen, "users[0].ssh_keys") == expected[0]
        await pilot.press("f10")
        # Refused: the first offending field (the password, which is empty) gets focus.
        assert app.screen is screen
        first = next(p for p in app.session.validate() if p.severity == "error" and
                     p.field.startswith(("users", "root", "system.hostname")))
        assert app.focused.id.startswith("f-" + first.field.replace("[", "-").replace("].", "-"))


async def test_users_values_survive_and_add_user():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        screen.query_one("#f-users-0-description").focus()
        await type_text(pilot, "Alice Liddell")
        await pilot.press("tab")
        await pilot.press("ctrl+u")
        await type_text(pilot, "ali")  # typed by hand: no longer suggested
        await pilot.press("tab")
        await type_text(pilot, "wonderland")
        await pilot.press("tab")
        await type_text(pilot, "wonderland")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert len(app.session.model.users) == 2
        assert app.focused.id == "f-users-1-description"
        await type_text(pilot, "Bob")
        assert app.session.model.users[1].name == "bob"
        await pilot.press("escape")
        await pilot.pause()
        app.push_screen(UsersScreen())
        await pilot.pause()
        again = app.screen
        assert again.query_one("#f-users-0-name").value == "ali"
        assert again.query_one("#f-users-0-description").value == "Alice Liddell"
        assert again.query_one("#f-users-1-name").value == "bob"
        assert again.query_one("#f-users-0-password").value == "wonderland"
        # F8 removes the user whose field has the focus.
        again.query_one("#f-users-0-name").focus()
        await pilot.press("f8")
        await pilot.pause()
        assert [u.name for u in app.session.model.users] == ["bob"]
        assert again.query_one("#f-users-0-name").value == "bob"
        assert not again.query("#f-users-1-name")


async def test_software_packages_validated():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, SoftwareScreen)
        screen.query_one("#f-software-packages").focus()
        await type_text(pilot, "git fire$fox")
        expected = engine_messages(app.session, "software.packages[1]")
        assert expected and message_of(screen, "software.packages") == expected[0]
        await pilot.press("f10")
        assert app.screen is screen and app.focused.id == "f-software-packages"
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await type_text(pilot, "efox")
        assert app.session.model.software.packages == ["git", "firefox"]
        screen.query_one("#desktop-plasma").value = True
        await pilot.pause()
        assert app.session.model.software.desktop == "plasma"


async def test_help_modal_and_quit_confirmation():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_step(pilot, SoftwareScreen)
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert isinstance(app.screen, SoftwareScreen)
        await pilot.press("ctrl+q")
        assert type(app.screen).__name__ == "AskScreen"
        await pilot.press("n")
        assert isinstance(app.screen, SoftwareScreen)
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_refused_during_a_disk_write():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        app.writing = True
        await pilot.press("ctrl+q")
        assert type(app.screen).__name__ != "AskScreen"
        app.writing = False
        await pilot.press("ctrl+q")
        assert type(app.screen).__name__ == "AskScreen"


async def test_welcome_warns_when_not_root_in_real_mode(monkeypatch):
    from test_screens_support import BuiltSession

    from installer.session import Options
    from screens import engine

    monkeypatch.setattr(engine, "is_root", lambda: False)
    app = app_for(BuiltSession(Options(dry_run=False, log_path="/tmp/nixos-tui-installer-test.log")))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        warnings = app.screen.query_one("#warnings")
        assert warnings.display and "not root" in str(warnings.content)
        assert "DRY RUN" not in str(app.screen.query_one("#header").content)
        assert "REAL INSTALL" in str(app.screen.query_one("#mode").content)


async def test_keymap_is_applied_through_the_session():
    app = app_for()
    applied = []
    app.session.apply_keymap = lambda name: applied.append(name) or f"loaded {name}"
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        await pilot.press("ctrl+u")
        await type_text(pilot, "fr")
        for _ in range(40):
            if "loaded fr" in str(screen.query_one("#keymap-status").content):
                break
            await pilot.pause(0.05)
        assert "loaded fr" in str(screen.query_one("#keymap-status").content)
        assert applied[-1] == "fr" and "f" not in applied  # only known keymaps are loaded


async def test_disk_premounted_with_nothing_mounted_is_refused_with_the_planner_message():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        await pilot.press("tab", "down", "enter")  # layout: use what is mounted
        assert app.session.model.disk.layout == "premounted"
        await pilot.press("f10")
        assert app.screen is screen and app.focused.id == "f-disk-layout"
        from installer.problems import ProblemsError

        try:
            app.session.plan()
        except ProblemsError as err:
            refusal = err.problems[0].message
        else:
            raise AssertionError("the recorded machine has nothing mounted at the target")
        # The refusal is one of validate()'s problems: shown at its field, or in
        # the step's general message when no field of this step holds it.
        shown = [str(w.content) for w in screen.query(".message") if w.display]
        assert any(refusal in text for text in shown), shown
