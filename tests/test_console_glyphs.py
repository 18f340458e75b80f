"""Every character the wizard draws must exist in the Linux console font:
ASCII, Latin-1, box drawing (U+2500-257F) and block elements (U+2580-259F).

Scans the text of every snapshot SVG (tests/__snapshots__), and also renders
each widget class whose glyphs Textual hard-codes, so a new snapshot is not
needed to catch a regression.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__"
TEXT = re.compile(r"<text\b[^>]*>(.*?)</text>", re.S)
TAG = re.compile(r"<[^>]+>")


def console_safe(char: str) -> bool:
    code = ord(char)
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF or 0x2500 <= code <= 0x259F


def svg_text(svg: str) -> str:
    # Newlines inside a <text> element are the SVG's own line breaks, not drawn.
    return "".join(html.unescape(TAG.sub("", m.group(1))).replace("\n", "") for m in TEXT.finditer(svg))


def test_the_check_itself_rejects_what_the_console_lacks():
    for bad in ("\u2022", "\u25cf", "\u25bc", "\u23ce", "\u2026", "\u256d"[:0] + "\u2800", "\U0001f600"):
        assert not console_safe(bad), repr(bad)
    for good in ("a", "\u00e9", "\u2501", "\u2578", "\u258c", "\u2590", "\u2503"):
        assert console_safe(good), repr(good)
    sample = '<text class="r1" x="0" y="20" textLength="24" clip-path="url(#c)">&#160;\u2022</text>'
    assert [c for c in svg_text(sample) if not console_safe(c)] == ["\u2022"]


def test_every_snapshot_uses_only_console_glyphs():
    files = sorted(SNAPSHOTS.rglob("*.svg"))
    assert len(files) >= 12, "the snapshot tests make one SVG per screen"
    bad = {}
    for path in files:
        text = svg_text(path.read_text(encoding="utf-8"))
        assert text.strip(), path
        found = sorted({c for c in text if not console_safe(c)})
        if found:
            bad[path.name] = [f"U+{ord(c):04X} {c}" for c in found]
    assert not bad, bad


def test_no_rounded_borders_in_the_stylesheet():
    css = (Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss").read_text()
    assert not re.search(r"border[a-z-]*:\s*round", css)


def test_replaced_widgets_draw_safe_glyphs():
    from screens.widgets import Check, Radio

    assert all(console_safe(c) for c in Radio.BUTTON_LEFT + Radio.MARK + Radio.BUTTON_RIGHT)
    assert all(console_safe(c) for c in Check.BUTTON_LEFT + Check.MARK + Check.BUTTON_RIGHT)
    # SecretInput's '*' mask is checked in a Pilot test (test_screens_steps).


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
