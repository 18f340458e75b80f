"""The wizard as a newcomer meets it on the console (issue 14): Enter in a
search field, Ctrl+N, no usable disk, 80 columns, and the keyboard layout
following the console keymap."""

from __future__ import annotations

from test_screens_support import ROOT, app_for, open_step, type_text, until

from screens.keyboard import KeyboardScreen
from screens.users import UsersScreen
from screens.widgets import FilterSelect

SIZE = (80, 25)


def select(screen, field: str) -> FilterSelect:
    return next(f for f in screen.query(FilterSelect) if f.field == field)


def typed(screen, field: str) -> str:
    return select(screen, field).query_one("Input").value


async def focus(pilot, screen, field: str) -> None:
    select(screen, field).query_one("Input").focus()
    await pilot.pause()


# -- item 2: Enter never picks the first entry for an empty field ---------------------
async def test_enter_on_the_empty_variant_keeps_it_empty():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        model = app.session.model.system
        assert model.xkb_layout == "us" and model.xkb_variant == ""
        await focus(pilot, screen, "system.xkb_variant")
        await pilot.press("enter")
        await pilot.pause()
        assert model.xkb_variant == ""  # not "chr", the first of us's variants
        assert typed(screen, "system.xkb_variant") == ""


async def test_enter_on_the_empty_variant_of_de_keeps_it_empty():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        model = app.session.model.system
        await focus(pilot, screen, "system.xkb_layout")
        await pilot.press("ctrl+u")
        await type_text(pilot, "de")
        await pilot.press("enter")  # "de" is exact: on to the variant
        await pilot.pause()
        assert model.xkb_layout == "de"
        assert app.focused is select(screen, "system.xkb_variant").query_one("Input")
        await pilot.press("enter")
        await pilot.pause()
        assert model.xkb_variant == ""  # not "deadacute"


async def test_enter_on_an_emptied_timezone_and_locale_keeps_them_empty():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        await focus(pilot, screen, "system.locale")
        await pilot.press("ctrl+u", "enter")
        await pilot.pause()
        assert app.session.model.system.locale == "" and typed(screen, "system.locale") == ""
        app.session.model.system.locale = "en_US.UTF-8"
        app.push_screen(UsersScreen())
        await pilot.pause()
        screen = app.screen
        await focus(pilot, screen, "system.timezone")
        await pilot.press("ctrl+u", "enter")
        await pilot.pause()
        assert app.session.model.system.timezone == "" and typed(screen, "system.timezone") == ""


async def test_down_then_enter_on_an_empty_field_picks_the_entry_moved_to():
    """The list still works without typing: Down highlights the first entry, Enter takes it."""
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        await focus(pilot, screen, "system.xkb_variant")
        first = next(iter(select(screen, "system.xkb_variant").items))
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.session.model.system.xkb_variant == first


async def test_enter_on_typed_text_still_completes_to_the_best_match():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        await focus(pilot, screen, "system.keymap")
        await pilot.press("ctrl+u")
        await type_text(pilot, "de-lat")
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.model.system.keymap == "de-latin1"


# -- item 6: the desktop layout follows the keymap; completion; timezone search -------
async def retype(pilot, screen, field: str, text: str) -> None:
    await focus(pilot, screen, field)
    await pilot.press("ctrl+u")
    await type_text(pilot, text)
    await pilot.pause()


async def test_the_desktop_layout_follows_the_console_keymap():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        model = app.session.model.system
        await retype(pilot, screen, "system.keymap", "de-latin1")
        await until(pilot, lambda: model.xkb_layout == "de")
        assert typed(screen, "system.xkb_layout") == "de" and model.xkb_variant == ""
        await retype(pilot, screen, "system.keymap", "de-latin1-nodeadkeys")
        await until(pilot, lambda: model.xkb_variant == "nodeadkeys")
        assert model.xkb_layout == "de" and typed(screen, "system.xkb_variant") == "nodeadkeys"
        await retype(pilot, screen, "system.keymap", "uk")
        await until(pilot, lambda: model.xkb_layout == "gb")
        assert model.xkb_variant == ""


async def test_a_layout_the_person_chose_stays_when_the_keymap_changes():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        model = app.session.model.system
        await retype(pilot, screen, "system.xkb_layout", "fr")
        await retype(pilot, screen, "system.keymap", "de-latin1")
        await pilot.pause()
        assert model.keymap == "de-latin1"
        assert model.xkb_layout == "fr" and typed(screen, "system.xkb_layout") == "fr"


async def test_completion_leaves_the_cursor_at_the_end():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        await retype(pilot, screen, "system.locale", "de_D")
        await pilot.press("enter")
        await pilot.pause()
        field = select(screen, "system.locale").query_one("Input")
        assert field.value.startswith("de_DE") and len(field.value) > 4
        assert field.cursor_position == len(field.value)
        await pilot.press("backspace")  # deletes the last character, not one in the middle
        await pilot.pause()
        assert app.session.model.system.locale == field.value and "de_DE".startswith(field.value[:5])


async def test_the_timezone_search_finds_cities_with_spaces_and_countries():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        model = app.session.model.system
        for text, zone in [("new york", "America/New_York"), ("germany", "Europe/Berlin"),
                           ("los angeles", "America/Los_Angeles"), ("italy", "Europe/Rome")]:
            await retype(pilot, screen, "system.timezone", text)
            await pilot.press("enter")
            await pilot.pause()
            assert model.timezone == zone, text
            assert typed(screen, "system.timezone") == zone


# -- item 3: Ctrl+N focuses the new user's first field, in view -------------------------
async def test_ctrl_n_focuses_the_new_users_first_field_in_view():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        new = screen.query_one("#f-users-1-description")
        await until(pilot, lambda: app.focused is new)
        body = screen.query_one("#body")
        await until(pilot, lambda: body.region.contains_region(new.region))
        await type_text(pilot, "Bob")
        await pilot.pause()
        assert app.session.model.users[1].description == "Bob"
        await pilot.press("ctrl+n")  # from inside a field, again
        await pilot.pause()
        third = screen.query_one("#f-users-2-description")
        await until(pilot, lambda: app.focused is third)
        await until(pilot, lambda: body.region.contains_region(third.region))


# -- item 5: 80 columns, the too-small banner, the disk table on resize -------------------
STEPS = ["WelcomeScreen", "KeyboardScreen", "DiskScreen", "EncryptionScreen", "UsersScreen", "SoftwareScreen",
         "ReviewScreen", "ConfirmScreen"]


def step(name: str):
    from screens.app import STEP_NAMES, step_class

    return step_class(STEP_NAMES.index(name))


async def test_every_toggle_label_fits_at_80_columns():
    from textual.widgets import Checkbox, RadioButton

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        for name in STEPS[1:6]:
            screen = await open_step(pilot, step(name))
            await pilot.pause()
            for box in [*screen.query(Checkbox), *screen.query(RadioButton)]:
                if not box.display:
                    continue
                needed = 4 + len(str(box.label))  # "[X] " / "(*) "
                assert box.region.width >= needed and box.region.right <= SIZE[0], (name, str(box.label))
            app.pop_screen()
            await pilot.pause()


async def test_a_too_small_terminal_is_a_banner_on_every_step():
    from screens.done import DoneScreen

    app = app_for()
    async with app.run_test(size=(72, 22)) as pilot:
        for name in [*STEPS, "DoneScreen"]:  # Install goes on to Done at once in a dry run
            if name == "DoneScreen":
                app.push_screen(DoneScreen([], 0.0))
                await until(pilot, lambda: isinstance(app.screen, DoneScreen) and app.screen.is_mounted)
                screen = app.screen
            else:
                screen = await open_step(pilot, step(name))
            await pilot.pause()
            banner = screen.query_one("#too-small")
            assert banner.display and banner.region.y == 1 and banner.region.height >= 1, name
            assert "72x22" in str(banner.content) and "80x24" in str(banner.content)
            app.pop_screen()
            await pilot.pause()
        screen = await open_step(pilot, step("DiskScreen"))
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not screen.query_one("#too-small").display
        await pilot.resize_terminal(79, 25)
        await pilot.pause()
        assert screen.query_one("#too-small").display and "79x25" in str(screen.query_one("#too-small").content)


async def test_the_disk_table_is_cut_again_on_resize():
    from textual.widgets import OptionList

    from screens.disk import DiskScreen

    app = app_for()
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_step(pilot, DiskScreen)
        await pilot.pause()
        table = screen.query_one("#f-disk-device", OptionList)
        wide = str(table.get_option_at_index(0).prompt)
        assert len(wide) > 80
        await pilot.resize_terminal(80, 25)
        await pilot.pause()
        narrow = str(table.get_option_at_index(0).prompt)
        assert len(narrow) <= 76 and narrow.endswith("...")
        assert wide.startswith(narrow[:-3].rstrip())
        assert table.highlighted == 0


# -- item 4: no usable disk ------------------------------------------------------------------
NO_DISK = ROOT / "tests/fixtures/machines/no-usable-disk.json"


def no_disk_app(probes: list | None = None):
    from installer.flow.session import Options, Session

    class Counting(Session):
        def probe(self):
            if probes is not None:
                probes.append(1)
            return super().probe()

    return app_for(Counting(Options(machine_file=str(NO_DISK), dry_run=True, seed=7,
                                    log_path="/tmp/nixos-tui-installer-test.log")))


async def test_no_usable_disk_says_so_with_every_reason_whole():
    from screens.disk import DiskScreen

    app = no_disk_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        await pilot.pause()
        machine = app.session.machine
        assert machine.disks and not machine.offered_disks
        banner = screen.query_one("#no-disk")
        text = str(banner.content)
        assert banner.display and text.startswith("No disk on this machine can take NixOS")
        for disk in machine.disks:
            assert f"{disk.name} (" in text and disk.refused in text, disk.name
        # The loop device's reason is longer than a row: wrapped, every line of it on screen.
        assert len(next(d for d in machine.disks if d.kind == "loop").refused) + 12 > SIZE[0] - 4
        await until(pilot, lambda: banner.region.height > 0)
        # More rows than lines of text: the long reason wrapped, not cut.
        assert banner.region.height > len(text.splitlines())
        assert screen.query_one("#body").region.contains_region(banner.region)
        for tool in ("shell", "gdisk", "rescan"):
            button = screen.query_one(f"#{tool}")
            assert button.display and button.region.width
        assert app.session.model.disk.device == ""


async def test_with_no_usable_disk_the_highlighted_disks_reason_is_shown_whole_below_the_table():
    from textual.widgets import OptionList

    from screens.disk import DiskScreen, disk_line

    app = no_disk_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        await pilot.pause()
        table = screen.query_one("#f-disk-device", OptionList)
        machine = app.session.machine
        assert table.option_count == len(machine.disks)
        loop = next(i for i, d in enumerate(machine.disks) if d.kind == "loop")
        table.highlighted = loop
        await pilot.pause()
        disk = machine.disks[loop]
        assert disk_line(disk, SIZE[0] - 4).endswith("...")  # the row is cut ...
        why = screen.query_one("#why")
        assert why.display and str(why.content) == f"{disk.name} is not offered: {disk.refused}"  # ... this is not
        assert app.session.model.disk.device == ""  # a refused disk is never the one chosen


async def test_with_no_usable_disk_rescan_probes_again_and_the_tools_say_what_they_would_do():
    from textual.widgets import OptionList

    from screens.disk import DiskScreen

    probes: list = []
    app = no_disk_app(probes)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        await pilot.pause()
        before = len(probes)
        screen.query_one("#rescan").press()
        await until(pilot, lambda: len(probes) == before + 1 and app.probe_state == "ready")
        await pilot.pause()
        status = screen.query_one("#tool-status")
        assert str(status.content) == "Probed the disks again."
        assert screen.query_one("#no-disk").display
        table = screen.query_one("#f-disk-device", OptionList)
        machine = app.session.machine
        table.highlighted = next(i for i, d in enumerate(machine.disks) if d.name == "sda")
        await pilot.pause()
        screen.query_one("#gdisk").press()
        await pilot.pause()
        assert str(status.content) == "[dry-run] would run: gdisk /dev/sda (nothing was opened)"
        table.highlighted = next(i for i, d in enumerate(machine.disks) if d.kind == "cdrom")
        await pilot.pause()
        screen.query_one("#gdisk").press()
        await pilot.pause()
        assert str(status.content) == "gdisk is not opened on sr0: optical drive."
        screen.query_one("#shell").press()
        await pilot.pause()
        assert str(status.content).startswith("[dry-run] would open a shell")
