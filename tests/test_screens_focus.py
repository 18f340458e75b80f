"""Keys typed the moment a step opens (a fast typist, tmux send-keys) land in
its first field: none is lost while the step is still mounting."""

from __future__ import annotations

from test_screens_support import app_for, open_step
from textual import events

from screens.encryption import EncryptionScreen
from screens.users import UsersScreen

SIZE = (80, 25)


async def test_keys_right_after_next_reach_the_first_field():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_step(pilot, EncryptionScreen)
        app.session.model.system.hostname = ""
        # All queued at once, with no pause: F10 opens Users, the rest is typed into it.
        for key, char in [("f10", None), ("n", "n"), ("i", "i"), ("x", "x"), ("o", "o"), ("s", "s")]:
            app.post_message(events.Key(key, char))
        for _ in range(100):
            await pilot.pause(0.02)
            field = app.screen.query("#f-system-hostname")
            if isinstance(app.screen, UsersScreen) and field and field.first().value:
                break
        await pilot.pause(0.1)
        assert isinstance(app.screen, UsersScreen)
        assert app.screen.query_one("#f-system-hostname").value == "nixos"
        assert app.focused is app.screen.query_one("#f-system-hostname")
