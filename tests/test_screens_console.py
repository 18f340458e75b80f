"""The wizard as a newcomer meets it on the console (issue 14): Enter in a
search field, Ctrl+N, no usable disk, 80 columns, and the keyboard layout
following the console keymap."""

from __future__ import annotations

from test_screens_support import app_for, open_step, type_text, until

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
