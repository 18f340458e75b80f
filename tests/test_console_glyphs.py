"""Every character the wizard draws must exist in the Linux console font:
exactly the characters the kernel's cp437.uni maps
(tests/fixtures/console-font/cp437.uni, read by tests/consolefont.py).

Scans the text of every snapshot SVG (tests/__snapshots__), renders each
renderable whose glyphs Textual hard-codes and the wizard replaces, and
checks the border kind of every widget on every step, focused or not, so a
new snapshot is not needed to catch a regression.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import pytest
from consolefont import CONSOLE_CHARS, console_safe, read_table, unsafe
from rich.console import Console

SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__"
TEXT = re.compile(r"<text\b[^>]*>(.*?)</text>", re.S)
TAG = re.compile(r"<[^>]+>")


def svg_text(svg: str) -> str:
    # Newlines inside a <text> element are the SVG's own line breaks, not drawn.
    return "".join(html.unescape(TAG.sub("", m.group(1))).replace("\n", "") for m in TEXT.finditer(svg))


def test_the_table_is_code_page_437():
    table = read_table()
    assert sorted(table) == list(range(0x01, 0x100))
    for byte in [*range(0x20, 0x7F), *range(0x80, 0x100)]:
        assert bytes([byte]).decode("cp437") in table[byte], hex(byte)
    # The kernel's glyphs for the control positions, which the codec leaves as controls.
    assert "".join(table[b][0] for b in [*range(0x01, 0x20), 0x7F]) == \
        "\u263a\u263b\u2665\u2666\u2663\u2660\u2022\u25d8\u25cb\u25d9\u2642\u2640\u266a\u266b\u263c\u25b6\u25c0" \
        "\u2195\u203c\u00b6\u00a7\u25ac\u21a8\u2191\u2193\u2192\u2190\u221f\u2194\u25b2\u25bc\u2302"
    assert len(CONSOLE_CHARS) == 302  # 255 glyphs, 47 more code points the kernel maps onto them


# sha256 of the kernel's drivers/tty/vt/cp437.uni at torvalds/linux commit
# 20b4755e4fbb226eb42951bd40b53fcbce9ef944 (the fixture's stated source), normalised by
# normalised_table(): one line per byte 0x01-0xff, "0xNN<tab>U+xxxx ..." with that byte's code
# points in ascending order (the kernel's own order of aliases does not change what is drawn),
# byte 0x00 left out as the fixture leaves it out. Pins every entry, not only the first of each byte.
KERNEL_CP437_SHA256 = "84a1969bd05a8b8b81097e06b76c41b0bf0ec09d070fd0987bcd1fb3c1365116"


def normalised_table(table: dict[int, list[str]]) -> str:
    return "".join(f"0x{byte:02x}\t{' '.join(f'U+{ord(c):04x}' for c in sorted(chars, key=ord))}\n"
                   for byte, chars in sorted(table.items()))


def test_every_entry_of_the_table_is_the_kernels():
    table = read_table()
    assert all(len(chars) == len(set(chars)) for chars in table.values())
    assert hashlib.sha256(normalised_table(table).encode("ascii")).hexdigest() == KERNEL_CP437_SHA256


def test_the_table_pin_notices_one_alias_swapped():
    """The pin is not vacuous: the smallest change the issue names (one alias for another) moves it."""
    table = read_table()
    swapped = {**table, 0x41: [*table[0x41][:-1], "\u00c4"]}  # A's last alias, U+00C3, as U+00C4
    assert hashlib.sha256(normalised_table(swapped).encode("ascii")).hexdigest() != KERNEL_CP437_SHA256


def test_the_check_itself_rejects_what_the_console_lacks():
    lacking = ("\u25cf", "\u23ce", "\u2026", "\u2800", "\U0001f600", "\u256d", "\u2501", "\u2503", "\u250f",
               "\u2578", "\u257a", "\u2581", "\u2586", "\u258e", "\u258f", "\u258a", "\u2594", "\u00b9", "\u00be")
    for bad in lacking:
        assert not console_safe(bad), repr(bad)
    for good in ("a", "\u00e9", "\u2500", "\u2502", "\u2550", "\u2551", "\u2554", "\u2588", "\u2584", "\u2580",
                 "\u258c", "\u2590", "\u2591", "\u2592", "\u2593", "\u2022", "\u25bc", "\u00c0"):
        assert console_safe(good), repr(good)
    sample = '<text class="r1" x="0" y="20" textLength="24" clip-path="url(#c)">&#160;\u2501</text>'
    assert unsafe(svg_text(sample)) == ["U+2501 \u2501"]


def test_every_snapshot_uses_only_console_glyphs():
    files = sorted(SNAPSHOTS.rglob("*.svg"))
    assert len(files) >= 12, "the snapshot tests make one SVG per screen"
    bad = {}
    for path in files:
        text = svg_text(path.read_text(encoding="utf-8"))
        assert text.strip(), path
        found = unsafe(text)
        if found:
            bad[path.name] = found
    assert not bad, bad


def test_no_rounded_borders_in_the_stylesheet():
    css = (Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss").read_text()
    assert not re.search(r"border[a-z-]*:\s*round", css)


def test_replaced_widgets_draw_safe_glyphs():
    from screens.widgets import Check, Radio

    assert all(console_safe(c) for c in Radio.BUTTON_LEFT + Radio.MARK + Radio.BUTTON_RIGHT)
    assert all(console_safe(c) for c in Check.BUTTON_LEFT + Check.MARK + Check.BUTTON_RIGHT)
    # SecretInput's '*' mask is checked in a Pilot test (test_screens_steps).


def drawn(renderable, width: int = 20) -> str:
    console = Console(width=width, color_system=None, legacy_windows=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_the_progress_bar_draws_blocks_and_shade():
    from textual.renderables.bar import Bar
    from textual.widgets import ProgressBar

    from screens.widgets import BlockBar, BlockProgressBar

    assert unsafe(drawn(Bar(highlight_range=(0, 7.5), width=10)))  # Textual's own: heavy lines
    assert issubclass(BlockProgressBar, ProgressBar) and BlockProgressBar.BAR_RENDERABLE is BlockBar
    assert drawn(BlockBar(highlight_range=(0, 0), width=10)).strip() == "\u2591" * 10
    assert drawn(BlockBar(highlight_range=(0, 7.5), width=10)).strip() == "\u2588" * 7 + "\u258c" + "\u2591" * 2
    assert drawn(BlockBar(highlight_range=(2.5, 5), width=10)).strip() == "\u2591" * 2 + "\u2590\u2588\u2588" + "\u2591" * 5
    assert drawn(BlockBar(highlight_range=(0, 10), width=10)).strip() == "\u2588" * 10


@pytest.mark.parametrize("vertical", [True, False])
def test_scrollbar_thumbs_draw_half_blocks(vertical):
    from textual.scrollbar import ScrollBar, ScrollBarRender

    import screens.app  # noqa: F401  (sets the renderer every scrollbar uses)
    from screens.widgets import HalfBlockScrollBarRender

    assert ScrollBar.renderer is HalfBlockScrollBarRender

    def glyphs(render) -> str:
        seen = set()
        for position in [x / 8 for x in range(0, 8 * 30)]:
            bar = render.render_bar(size=10, virtual_size=40, window_size=10, position=position, vertical=vertical)
            seen.update("".join(segment.text for segment in bar.segments if not segment.control).replace("\n", ""))
        return "".join(sorted(seen))

    assert unsafe(glyphs(ScrollBarRender))  # Textual's own: eighth blocks
    assert glyphs(HalfBlockScrollBarRender) == (" \u2584" if vertical else " \u258c")


def safe_border_kinds() -> set[str]:
    """The border kinds (wizard.tcss `border: <kind>`) whose glyphs are all in the font."""
    from textual._border import BORDER_CHARS

    return {kind for kind, rows in BORDER_CHARS.items() if all(console_safe(c) for row in rows for c in row)}


def test_the_safe_border_kinds():
    assert {"solid", "double", "ascii", "thick", "block", "none", ""} <= safe_border_kinds()
    assert not {"heavy", "dashed", "round", "tall", "wide", "panel", "hkey", "vkey", "tab"} & safe_border_kinds()


def test_the_stylesheet_names_only_safe_border_kinds():
    css = (Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss").read_text()
    kinds = re.findall(r"\bborder(?:-top|-right|-bottom|-left)?:\s*([a-z]+)", css)
    assert kinds, "the dialogs have a border"
    assert set(kinds) <= safe_border_kinds(), set(kinds) - safe_border_kinds()


def widget_borders(screen) -> dict[str, set[str]]:
    """Each widget's border kinds, as computed now (focus changes them)."""
    found = {}
    for widget in screen.query("*"):
        if not widget.display:
            continue
        kinds = {edge[0] for edge in widget.styles.border if edge[0] not in ("", "none", "hidden")}
        kinds |= {edge[0] for edge in widget.styles.outline if edge[0] not in ("", "none", "hidden")}
        if kinds:
            found[f"{type(widget).__name__}#{widget.id}"] = kinds
    return found


STEPS_AND_DIALOGS = ["KeyboardScreen", "DiskScreen", "EncryptionScreen", "UsersScreen", "SoftwareScreen",
                     "ReviewScreen", "ConfirmScreen", "HelpScreen", "AskScreen", "PathScreen"]


@pytest.mark.parametrize("name", STEPS_AND_DIALOGS)
async def test_every_widget_draws_a_safe_border_focused_or_not(name):
    """Textual's default CSS gives many widgets a `tall` border (U+258A,
    U+258E) when focused; every widget of every step, with each in turn
    focused, draws only safe border kinds."""
    from test_screens_support import app_for, open_step, until, wait_ready

    import screens.confirm
    import screens.disk
    import screens.encryption
    import screens.keyboard
    import screens.modals
    import screens.review
    import screens.software
    import screens.users

    modules = [screens.keyboard, screens.disk, screens.encryption, screens.users, screens.software,
               screens.review, screens.confirm, screens.modals]
    screen_class = next(getattr(m, name) for m in modules if hasattr(m, name))
    app = app_for()
    async with app.run_test(size=(80, 25)) as pilot:
        if screen_class.__module__ == "screens.modals":
            await wait_ready(pilot)
            args = {"HelpScreen": ("Help", "Keys."), "AskScreen": ("Quit?",), "PathScreen": ("Where?", "/tmp/x")}[name]
            app.push_screen(screen_class(*args))
            await pilot.pause()
        else:
            await open_step(pilot, screen_class)
        screen = app.screen
        await until(pilot, lambda: screen.is_mounted)
        await pilot.pause()
        safe = safe_border_kinds()
        bad = {}
        focusable = [w for w in screen.query("*") if w.focusable]
        assert focusable or name == "HelpScreen"
        for widget in [None, *focusable]:
            if widget is not None:
                widget.focus()
                await pilot.pause()
            for where, kinds in widget_borders(screen).items():
                if kinds - safe:
                    bad[(getattr(widget, "id", None), where)] = kinds - safe
        assert not bad, bad


STYLE = re.compile(r"\.(terminal-r\d+) \{ fill: (#[0-9a-f]{6})")
USED_CLASS = re.compile(r'class="(terminal-r\d+)"')
RECT_FILL = re.compile(r'<rect fill="(#[0-9a-f]{6})"')


def drawn_colours(svg: str) -> set[str]:
    """The colours a snapshot draws: its text's classes and its cells' backgrounds
    (not the style entries no text uses, nor the window frame's circles)."""
    fills = dict(STYLE.findall(svg))
    return {fills[name] for name in USED_CLASS.findall(svg)} | set(RECT_FILL.findall(svg))


def test_every_snapshot_draws_only_the_16_console_colours():
    """The theme gives only ANSI colours, so each cell is one of the 16 the
    Linux console has (as the SVG export paints them), never a blend; or one
    of them dimmed (SGR 2, which the console has: the export paints it as the
    colour 40% of the way to the cell's background)."""
    from rich.color import blend_rgb
    from rich.terminal_theme import SVG_EXPORT_THEME as theme

    colours = [theme.background_color, theme.foreground_color] + [theme.ansi_colors[i] for i in range(16)]
    palette = {c.hex for c in colours}
    palette |= {blend_rgb(c, background, 0.4).hex for c in colours for background in colours}
    sample = ('.terminal-r1 { fill: #1984e9 }\n.terminal-r2 { fill: #123456 }\n'
              '<rect fill="#654321" x="0"/><text class="terminal-r1">x</text>')
    assert drawn_colours(sample) == {"#1984e9", "#654321"}  # r2 is declared, not drawn
    files = sorted(SNAPSHOTS.rglob("*.svg"))
    bad = {p.name: sorted(drawn_colours(p.read_text(encoding="utf-8")) - palette) for p in files}
    assert not {name: extra for name, extra in bad.items() if extra}, bad
