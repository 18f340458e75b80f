"""Every snapshot's screen as the Linux console shows it (tests/vtcolours.py,
a model of vt.c's SGR rules): no text in its own background's colour, the
selected row of every list marked when the list has no focus, every input
with a visible edge.

The states are those of tests/test_snapshots.py and test_snapshots_install.py:
each of their tests runs here with `snap_compare` replaced by a check of
what Textual writes to a TERM=linux terminal, once as the snapshot has it
and once with the focus taken away (a list's selection must survive that).
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
import test_snapshots
import test_snapshots_install
from test_screens_install import standin  # noqa: F401 - a fixture, used by name
from test_snapshots import sixteen_colours  # noqa: F401 - the fixture is used by name
from test_snapshots_install import fixed  # noqa: F401 - a fixture, used by name
from textual.widgets import Input, OptionList, RadioButton, RadioSet
from vtcolours import VGA_NAMES, VT, Cell, replay, screen_of, unreadable_text


def cases():
    for module in (test_snapshots, test_snapshots_install):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("test_") or function.__module__ != module.__name__:
                continue
            marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
            if not marks:
                yield pytest.param(function, {}, id=name)
                continue
            argname, values = marks[0].args[:2]
            for value in values:
                label = getattr(value, "__name__", str(value))
                yield pytest.param(function, {argname: value}, id=f"{name}[{label}]")


def row_look(grid: list[list[Cell]], y: int, x0: int, x1: int, marker: bool = True) -> tuple:
    """What tells a row apart besides its words: its backgrounds, its text's
    colours, and a marker character in its first column."""
    cells = grid[y][x0:x1]
    first = cells[0].char if cells and marker and not cells[0].char.isalnum() else ""
    return (frozenset(c.bg for c in cells), frozenset(c.fg for c in cells if c.visible_text), first)


def hidden_selections(app, grid) -> list[str]:
    found = []
    for widget in app.screen.query(OptionList):
        region = widget.content_region
        if widget.has_focus or not widget.display or not region.area or widget.highlighted is None \
                or not on_top(app, widget):
            continue
        lines = widget._lines
        scroll = int(widget.scroll_offset.y)
        rows: dict[int, list[int]] = {}
        for y in range(region.y, min(region.bottom, len(grid))):
            number = scroll + y - region.y
            if number < len(lines):
                rows.setdefault(lines[number][0], []).append(y)
        if widget.highlighted not in rows or len(rows) < 2:
            continue
        chosen = {row_look(grid, y, region.x, region.right) for y in rows[widget.highlighted]}
        others = {row_look(grid, y, region.x, region.right) for i, ys in rows.items() if i != widget.highlighted
                  for y in ys}
        if chosen & others:
            found.append(f"{widget.id or type(widget).__name__}: the selected row (option {widget.highlighted}) "
                         f"looks like the others without focus")
    for radios in app.screen.query(RadioSet):
        if radios.has_focus or not radios.display:
            continue
        buttons = [b for b in radios.query(RadioButton) if b.region.area]
        pressed = [b for b in buttons if b.value]
        if len(buttons) < 2 or not pressed:
            continue

        def look(button):
            r = button.region
            return tuple((c.char, c.fg, c.bg) for c in grid[r.y][r.x:r.x + 3])

        if any(look(b) == look(pressed[0]) for b in buttons if not b.value):
            found.append(f"{radios.id}: the chosen button looks like the others")
    return found


def on_top(app, widget) -> bool:
    """The widget's first cell is its own (not under a docked line or a dialog)."""
    try:
        return app.screen.get_widget_at(widget.region.x, widget.region.y)[0] is widget
    except Exception:  # off the screen
        return False


def edgeless_inputs(app, grid) -> list[str]:
    found = []
    for widget in app.screen.query(Input):
        region = widget.region
        if not widget.display or not region.area or region.y >= len(grid) or not on_top(app, widget):
            continue
        if widget.styles.border_left[0] not in ("", "none", "hidden"):
            continue
        row = grid[region.y]
        outside = [row[x] for x in (region.x - 1, region.right) if 0 <= x < len(row)]
        inside = {c.bg for c in row[region.x:region.right]}
        if outside and all(inside == {c.bg} for c in outside):
            found.append(f"{widget.id}: no edge, {VGA_NAMES[outside[0].bg]} like around it")
    return found


def problems(app) -> list[str]:
    grid = screen_of(app)
    return unreadable_text(grid) + hidden_selections(app, grid) + edgeless_inputs(app, grid)


@pytest.mark.parametrize(("test", "params"), list(cases()))
def test_every_snapshot_reads_on_the_console(test, params, request):
    found: list[str] = []

    def compare(app, terminal_size=(80, 24), run_before=None, press=()):
        async def run():
            async with app.run_test(size=terminal_size) as pilot:
                if run_before is not None:
                    await run_before(pilot)
                await pilot.pause()
                found.extend(f"focused: {p}" for p in problems(pilot.app))
                pilot.app.screen.set_focus(None)
                await pilot.pause()
                found.extend(f"unfocused: {p}" for p in problems(pilot.app))

        asyncio.run(run())
        return True

    kwargs = dict(params)
    for name in inspect.signature(test).parameters:
        if name == "snap_compare":
            kwargs[name] = compare
        elif name not in kwargs:
            kwargs[name] = request.getfixturevalue(name)
    test(**kwargs)
    assert not found, "\n".join(found)


def test_the_model_folds_what_the_console_folds():
    """vt.c's rules, one by one: the model is not a pass-through."""
    def attr(*sgr):
        vt = VT()
        vt.csi_m(list(sgr))
        return vt.attr()

    assert attr(100) == attr(40) == 0x07            # bright black background: black
    assert attr(37, 100) & 0x0f == 7 and (attr(37, 100) >> 4) & 7 == 0
    assert attr(97) == attr(1, 37) == 0x0f           # bright foreground: bold
    assert attr(90, 40) & 0x0f == 8                  # dark grey on black: bold black, visible
    assert (attr(48, 5, 8) >> 4) & 7 == 0            # 256-colour grey 8 background: black
    assert (attr(48, 2, 0x80, 0x80, 0x80) >> 4) & 7 == 7
    assert (attr(48, 2, 0x7f, 0x7f, 0x7f) >> 4) & 7 == 0  # dark side
    assert attr(38, 2, 0x20, 0x20, 0x20) & 0x0f == 8  # dim grey text: bold black
    assert attr(7) == 0x70                           # reverse: black on white
    assert attr(1, 7) == 0x78                        # bold stays with the foreground
    grid = replay("\x1b[1;1H\x1b[37;100mab\x1b[0m\x1b[30;100mcd", 4, 1)
    assert [c.char for c in grid[0]] == list("abcd")
    assert unreadable_text(grid) == ["row 0 col 2: 'cd' is black on black"]


async def test_the_erase_line_is_bold_red():
    """The preview's one destructive line stands out: bright (bold) red on the console."""
    from test_screens_support import app_for, open_step

    from screens.disk import DiskScreen

    app = app_for()
    async with app.run_test(size=(80, 25)) as pilot:
        screen = await open_step(pilot, DiskScreen)
        screen.query_one("#preview").scroll_visible(animate=False)  # below the layouts' list
        await pilot.pause()
        grid = screen_of(app)
        # The preview's line (the list of layouts above has an "Erase sda: ..." row of its own).
        rows = [row for row in grid if "Erase sda: EFI system partition" in "".join(c.char for c in row)]
        assert rows, "the erase line is on screen"
        text = [c for c in rows[0] if c.visible_text]
        assert {c.fg for c in text} == {0x0c}, {VGA_NAMES[c.fg] for c in text}  # VGA 12: bright red


async def test_review_and_confirm_say_the_erase_line_in_bold_red():
    """The same line, said again before the install: bold red on the console too."""
    from test_screens_support import app_for, until, wait_ready

    from installer.answers.model import User
    from screens.confirm import ConfirmScreen
    from screens.review import ReviewScreen

    app = app_for()
    async with app.run_test(size=(80, 25)) as pilot:
        await wait_ready(pilot)
        session = app.session
        session.model.disk.device = session.machine.offered_disks[0].path
        session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
        for step in (ReviewScreen, ConfirmScreen):
            app.push_screen(step())
            await until(pilot, lambda: isinstance(app.screen, step) and app.screen.is_mounted)
            if step is ReviewScreen:
                await until(pilot, lambda: app.screen.loaded)
            await pilot.pause()
            grid = screen_of(app)
            rows = [row for row in grid if "".join(c.char for c in row).strip().startswith("Erase QEMU HARDDISK")]
            assert rows, (step, ["".join(c.char for c in row) for row in grid])
            text = [c for c in rows[0] if c.visible_text]
            assert {c.fg for c in text} == {0x0c}, (step, {VGA_NAMES[c.fg] for c in text})
            # Only that line: the words around it keep their colours.
            hostname = [row for row in grid if "Hostname:" in "".join(c.char for c in row)]
            assert all(c.fg != 0x0c for row in hostname for c in row if c.visible_text)
