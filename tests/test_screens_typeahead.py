"""Keys typed right after Tab or Enter, in one burst (a fast typist on a slow
machine, a paste, tmux send-keys), land in the field that has focus by then."""

from __future__ import annotations

from textual import events

from screens.users import UsersScreen
from test_screens_support import app_for, open_step, until

SIZE = (80, 25)


async def burst_into(pilot, screen, field: str, keys: list[str]) -> dict[str, str]:
    """Focus `field`, then queue every key at once, as a terminal delivers a
    fast burst (none is handled before the next one is posted). Returns the
    step's Input values once every printable key has landed somewhere."""
    screen.query_one(f"#{field}").focus()
    await pilot.pause()

    def typed() -> int:
        return sum(len(w.value) for w in screen.query("Input"))

    before = typed()
    for key in keys:
        pilot.app.post_message(events.Key(key, key if len(key) == 1 else None))
    await until(pilot, lambda: typed() == before + sum(len(k) == 1 for k in keys))
    await pilot.pause()
    return {w.id: w.value for w in screen.query("Input")}


async def test_keys_after_tab_go_to_the_next_field():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        values = await burst_into(pilot, screen, "f-users-0-name", ["z", "o", "e", "tab", *"pw1", "tab", *"pw1"])
        assert values["f-users-0-name"] == "zoe"
        assert values["f-users-0-password"] == "pw1"
        assert values["f-users-0-password_confirm"] == "pw1"
        assert app.session.model.users[0].password == "pw1"


async def test_keys_after_enter_go_to_the_next_field():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        # "Ann" also suggests the username "ann", which the typed "xy" replaces.
        values = await burst_into(pilot, screen, "f-users-0-description", [*"Ann", "enter", "x", "y"])
        assert values["f-users-0-description"] == "Ann"
        assert app.focused.id == "f-users-0-name" and values["f-users-0-name"] == "xy"


async def test_a_long_entry_in_a_filtered_list_takes_one_row():
    """A variant's long description is cut at the edge, never wrapped into a
    row that reads like another entry."""
    from screens.keyboard import KeyboardScreen
    from screens.widgets import FilterSelect

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, KeyboardScreen)
        variants = next(f for f in screen.query(FilterSelect) if f.field == "system.xkb_variant")
        options = variants.query_one("OptionList")
        long = [o for o in options._options if len(str(o.prompt)) > options.size.width]
        assert long, "the fixture has no entry longer than the list is wide"
        assert options.virtual_size.height == options.option_count
