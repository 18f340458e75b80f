"""Issue 22 items 8 and 9: the install pane and Done in a dry run, Confirm's
accepted spellings, notices that leave the buttons alone."""

from __future__ import annotations

from test_screens_support import app_for, open_step, showing, type_text, until, wait_ready

from installer.answers.model import User
from screens.confirm import ConfirmScreen
from screens.disk import DiskScreen
from screens.done import DoneScreen
from screens.install import InstallScreen

SIZE = (80, 25)


async def valid(pilot):
    await wait_ready(pilot)
    session = pilot.app.session
    session.model.disk.device = session.machine.offered_disks[0].path
    session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]


async def test_confirm_takes_the_disk_path_as_well_as_its_name():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        disk = app.session.plan().disk
        app.push_screen(ConfirmScreen())
        await pilot.pause()
        screen = app.screen
        assert disk.path in str(screen.query_one("#prompt").content)
        await type_text(pilot, "/dev/nosuchdisk")
        await pilot.press("enter")
        assert app.screen is screen and app.confirmation is None
        await pilot.press("ctrl+u")
        await type_text(pilot, disk.path)
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None


async def test_done_after_a_dry_run_says_nothing_was_installed_and_offers_no_reboot():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.confirmation = app.session.install.confirm(app.session.plan().disk.name)
        app.push_screen(InstallScreen())
        await until(pilot, lambda: showing(app, DoneScreen))
        summary = str(app.screen.query_one("#summary").content)
        assert "dry run: nothing was installed" in summary
        assert "reboot" not in summary.lower()
        assert not app.screen.query("#reboot")
        assert app.focused is app.screen.query_one("#quit")


async def test_a_notice_does_not_cover_the_buttons():
    app = app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_step(pilot, DiskScreen)
        app.notify("Dry run: would run: loadkeys de-latin1")
        await pilot.pause(0.3)
        toasts = list(app.screen.query("Toast"))
        assert toasts
        nav = screen.query_one("#nav").region
        for toast in toasts:
            assert not toast.region.overlaps(nav), (toast.region, nav)
