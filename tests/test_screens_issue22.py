"""Issue 22 items 8 and 9: the install pane and Done in a dry run, Confirm's
accepted spellings, notices that leave the buttons alone."""

from __future__ import annotations

import shutil

from test_screens_install import standin  # noqa: F401 - a fixture, used by name
from test_screens_support import app_for, open_step, showing, type_text, until, wait_ready

from vtcolours import screen_of

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
        # The Done step focuses Quit once mounted: under load that comes a frame after it shows.
        await until(pilot, lambda: app.focused is app.screen.query_one("#quit"), 10)


async def test_a_notice_does_not_cover_the_buttons():
    app = app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_step(pilot, DiskScreen)
        app.notify("[dry-run] would run: loadkeys de-latin1", markup=False)
        await pilot.pause(0.3)
        toasts = list(app.screen.query("Toast"))
        assert toasts
        # Neither the buttons nor the disk table and its reasons (sr0's
        # "not offered: optical drive" at the right end of its row): the
        # header's row, whose right half is free.
        covered = [screen.query_one(q).region for q in ("#nav", "#f-disk-device", "#refused", ".label")]
        header = screen.header_text().rstrip()
        for toast in toasts:
            assert toast.region.y == 0 and toast.region.x > len(header), (toast.region, header)
            assert not any(toast.region.overlaps(r) for r in covered), (toast.region, covered)
        rows = ["".join(c.char for c in row) for row in screen_of(app)[:2]]
        assert rows[0].startswith(header), rows
        notice = " ".join(word for row in rows for word in row[len(header):].split())
        assert notice == "[dry-run] would run: loadkeys de-latin1", rows


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


async def test_a_long_log_line_wraps_in_the_pane_and_a_new_width_wraps_it_again(tmp_path, standin):
    """Item 8: Nix's long lines (an error, a store path) are read whole on the
    console, which cannot scroll sideways: wrapped, not cut at the border."""
    from test_screens_install import make_target, pane_session, start_install

    target = make_target()
    words = " ".join(f"word{n:03}" for n in range(40))  # 319 characters: four rows at 80 columns
    echo = tmp_path / "echo.txt"
    echo.write_text(f"error: {words}\n")
    standin(PATHS=3, DRVS=0, HANG=1, ECHO_FILE=echo)
    app = app_for(pane_session(target, tmp_path / "install.log"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            pane = await start_install(pilot)
            await until(pilot, lambda: any("word039" in line for line in pane.query_one("#log").lines))
            for size in (SIZE, (100, 25)):
                await pilot.resize_terminal(*size)
                await pilot.pause(0.2)
                log = pane.query_one("#log")
                log.auto_scroll = False
                log.scroll_to(y=next(i for i, line in enumerate(log.lines) if "error: word" in line), animate=False)
                await pilot.pause(0.1)
                region = log.content_region
                grid = screen_of(app)
                rows = ["".join(c.char for c in grid[y][region.x:region.right])
                        for y in range(region.y, region.bottom)]
                shown = " ".join(" ".join(rows).split())
                assert f"error: {words}" in shown, rows
                # Every piece within the pane's width, the rest indented under its start.
                pieces = [line for line in log.lines if "word0" in line]
                assert len(pieces) > 1 and all(len(p) <= log.scrollable_content_region.width for p in pieces)
                assert all(p.startswith("  word") for p in pieces[1:])
                assert log.max_scroll_x == 0
    finally:
        shutil.rmtree(target)


def recorded(tmp_path, name: str, change=None):
    """An app on a recorded machine file (tests/fixtures/machines), `change`d first."""
    import json

    from test_screens_support import ROOT

    from installer.flow.session import Options, Session

    data = json.loads((ROOT / "tests/fixtures/machines" / f"{name}.json").read_text())
    if change is not None:
        change(data)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return app_for(Session(Options(machine_file=str(path), dry_run=True, seed=7,
                                   log_path=str(tmp_path / "install.log"))))


async def erase_line(pilot, disk: str) -> tuple[str, str]:
    """The Disk step's erase line for `disk` (highlighted), and Review's."""
    from screens.review import ReviewScreen

    screen = await open_step(pilot, DiskScreen)
    app = pilot.app
    disks = screen.query_one("#f-disk-device")
    disks.highlighted = next(i for i in range(disks.option_count) if disks.get_option_at_index(i).id == f"/dev/{disk}")
    await pilot.pause()
    preview = str(screen.query_one("#preview").content).splitlines()[0]
    app.session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
    summary = app.session.plan().summary_lines()[0]
    return preview, summary


async def test_an_empty_disk_is_said_to_lose_nothing(tmp_path):
    """Item 9: not "all of it erased: empty"."""
    app = recorded(tmp_path, "simple")
    async with app.run_test(size=SIZE) as pilot:
        preview, summary = await erase_line(pilot, "sda")
    assert preview == "Erase sda: it is empty, nothing on it is lost"
    assert summary.endswith(": it is empty, nothing on it is lost") and summary.startswith("Erase ")


async def test_a_disk_in_a_volume_group_names_the_group_and_every_disk_it_spans(tmp_path):
    """Item 9: erasing vdb breaks the group 'data-vg' on vdc too: both are named."""
    def group(data):
        data["storage"]["lvm"] = {"physical_volumes": {"data-vg": ["/dev/vdb1", "/dev/vdc1"]}}

    app = recorded(tmp_path, "many-nics-and-disks", group)
    async with app.run_test(size=SIZE) as pilot:
        preview, summary = await erase_line(pilot, "vdb")
    said = "LVM physical volume of volume group 'data-vg', which spans vdb and vdc (20 GiB) will be lost"
    assert preview == f"Erase vdb: {said}"
    assert summary.endswith(f": {said}")


async def test_a_luks_partition_holding_a_volume_group_is_named_by_the_group(tmp_path):
    app = recorded(tmp_path, "luks-lvm-root")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        nvme = next(d for d in app.session.machine.disks if d.name == "nvme0n1")
    assert "LUKS-encrypted LVM volume group 'ubuntu-vg' (235 GiB)" in nvme.holds


def cells(app, region) -> list[tuple[str, int]]:
    grid = screen_of(app)
    width, height = app.size
    return [(grid[y][x].char, grid[y][x].attr) for y in range(max(region.y, 0), min(region.bottom, height))
            for x in range(max(region.x, 0), min(region.right, width))]


def on_top(app, widget) -> bool:
    """Some cell of the widget is its own (not under a docked line, scrolled out, or covered)."""
    region = widget.region.intersection(app.screen.region)
    for y in range(region.y, region.bottom):
        for x in range(region.x, region.right):
            try:
                found = app.screen.get_widget_at(x, y)[0]
            except Exception:  # no widget there
                continue
            if found is widget or widget in found.ancestors:
                return True
    return False


async def focus_stops(pilot) -> list[str]:
    """Tab through the screen's focus chain once: every stop must be on screen
    and look different with the focus than without it. What is wrong, in words."""
    app = pilot.app
    wrong: list[str] = []
    seen: list[object] = []
    for _ in range(60):
        widget = app.focused
        if widget is None or widget in seen:
            break
        seen.append(widget)
        name = f"{type(app.screen).__name__} #{widget.id or type(widget).__name__}"
        await pilot.pause()
        if not widget.display or not widget.region.area or not on_top(app, widget):
            wrong.append(f"{name}: a Tab stop not in view ({widget.region})")
        else:
            focused = cells(app, widget.region)
            app.screen.set_focus(None)
            await pilot.pause()
            if cells(app, widget.region) == focused:
                wrong.append(f"{name}: looks the same with and without the focus")
            app.screen.set_focus(widget)
            await pilot.pause()
        await pilot.press("tab")
    assert len(seen) > 1 or type(app.screen).__name__ == "WelcomeScreen", seen
    return wrong


async def test_every_focus_stop_of_every_step_is_in_view_and_marked():
    """Item 9: Tab through each step at 80x25; no stop is invisible (scrolled
    away, under the buttons) or drawn the same as without the focus."""
    from screens.app import STEPS, step_class
    from screens.review import ReviewScreen

    wrong: list[str] = []
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        for index in range(len(STEPS) - 1):  # the install pane runs the install
            step = step_class(index)
            app.push_screen(step())
            await until(pilot, lambda: showing(app, step))
            if step is ReviewScreen:
                await until(pilot, lambda: app.screen.loaded and not app.screen.checking)
            await pilot.pause(0.3)
            wrong += await focus_stops(pilot)
    assert not wrong, "\n".join(wrong)
