"""Messages in view (issue 22 item 5): Next refused shows the offending field's
message on screen at 80x25, and a search field says "not known" only once the
person has stopped typing into it."""

from __future__ import annotations

from test_screens_support import app_for, engine_messages, message_of, open_step, type_text, until

from installer.answers.model import User
from screens.users import UsersScreen
from screens.widgets import FieldMessage

SIZE = (80, 25)


def in_view(screen, widget) -> bool:
    body = screen.query_one("#body").region
    return widget.region.height > 0 and body.contains_region(widget.region)


async def test_next_refused_scrolls_the_field_and_its_message_into_view():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        model = app.session.model
        # The third user's second password is wrong: its field is below the first
        # screenful, with the root account's fields still below it.
        model.users = [User(name=name, description=name.title(), admin=True, password="correct horse",
                            password_confirm="correct horse") for name in ("alice", "bob", "carol")]
        model.users[2].password_confirm = "correct horsf"
        model.root.disabled = True
        screen = await open_step(pilot, UsersScreen)
        await pilot.press("f10")
        assert app.screen is screen and app.focused.id == "f-users-2-password_confirm"
        message = screen.query_one("#m-users-2-password_confirm", FieldMessage)
        await until(pilot, lambda: message_of(screen, "users[2].password_confirm") != "", 10)
        await pilot.pause(0.2)
        assert in_view(screen, message) and in_view(screen, app.focused)


async def test_a_search_field_says_not_known_only_once_left():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        screen.query_one("#f-system-timezone").focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "Europe/Ber")
        assert engine_messages(app.session, "system.timezone")  # not a timezone (yet)
        await pilot.pause()
        assert message_of(screen, "system.timezone") == ""  # still typing: no verdict
        await pilot.press("tab")  # left with a half-typed name: now it is said
        expected = engine_messages(app.session, "system.timezone")[0]
        await until(pilot, lambda: message_of(screen, "system.timezone") == expected)
        # Back in it and typing again: quiet until picked, and a picked place is fine.
        screen.query_one("#f-system-timezone").focus()
        await pilot.press("end")  # focus selects the whole text: type after it
        await type_text(pilot, "l")
        await pilot.pause()
        assert message_of(screen, "system.timezone") == ""
        await pilot.press("enter")  # completes to Europe/Berlin
        await until(pilot, lambda: app.session.model.system.timezone == "Europe/Berlin", 10)
        assert message_of(screen, "system.timezone") == ""


async def test_next_shows_a_half_typed_search_fields_message_at_once():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, UsersScreen)
        screen.query_one("#f-system-timezone").focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "Nowhere/Atall")
        await pilot.press("f10")
        assert app.screen is screen
        await until(pilot, lambda: message_of(screen, "system.timezone") != "")
