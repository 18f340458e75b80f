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
        assert "Simulated: every step of the plan" in summary and "[dry-run]" in summary
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


def stick_at(session, mountpoint: str) -> None:
    """A writable USB stick mounted at `mountpoint`, as the probe would list it."""
    from installer.machine.hardware import Disk, Partition

    session.machine.disks.append(Disk(path="/dev/sdk", name="sdk", size=8 * 10**9, bus="usb", removable=True,
                                      partitions=[Partition(path="/dev/sdk1", number=1, size=8 * 10**9,
                                                            fstype="vfat", mountpoint=mountpoint)]))


async def test_ctrl_q_offers_to_save_the_answers_onto_the_stick(tmp_path):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        stick_at(app.session, str(tmp_path))
        await pilot.press("ctrl+q")
        assert type(app.screen).__name__ == "AskScreen"
        assert app.screen.query("#save")
        await pilot.press("s")
        await pilot.pause()
    assert app.return_code == 0
    saved = (tmp_path / "nixos-answers.toml").read_text()
    assert "alice" in saved and "wonderland" not in saved


async def test_answers_default_to_the_stick_else_tmp_said_to_be_lost():
    from screens.review import ReviewScreen

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.push_screen(ReviewScreen())
        await until(pilot, lambda: app.screen.loaded)
        assert app.screen.query_one("#answers-path").value == "/tmp/nixos-answers.toml"
        assert "/tmp is lost at reboot" in str(app.screen.query_one("#saved").content)
        await pilot.press("ctrl+q")
        assert "/tmp is lost at reboot" in str(app.screen.query_one("#save-note").content)


async def test_review_saves_the_answers_onto_a_writable_stick(tmp_path):
    from screens.review import ReviewScreen

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        stick_at(app.session, str(tmp_path))
        app.push_screen(ReviewScreen())
        await until(pilot, lambda: app.screen.loaded)
        assert app.screen.query_one("#answers-path").value == str(tmp_path / "nixos-answers.toml")
        assert str(app.screen.query_one("#saved").content) == ""
