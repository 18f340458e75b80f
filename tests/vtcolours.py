"""What the Linux console shows for an ANSI stream: a model of the kernel's
SGR handling (drivers/tty/vt/vt.c, `csi_m`, `vc_t416_color`, `rgb_from_256`,
`rgb_foreground`, `rgb_background`, `build_attr`; read at torvalds/linux
be3bb0daac7a0a8518ecb7ae13877527e0201b2d, the 4.19-5.8 era: the same rules
as today's, before `vc->state` was split out in 5.9).

The console keeps one attribute byte per cell, in VGA order: the low
nibble the foreground (bit 3: bold, the only way to a bright foreground),
bits 4-6 the background (8 colours), bit 7 blink. So:
  - 90-97 set bold and the colour 30-37; 100-107 become 40-47 (no bright
    background: ESC[100m is black);
  - 38;5;n and 38;2;r;g;b reduce to a hue of 8 plus bold when bright;
  - 48;5;n and 48;2;r;g;b keep only each channel's top bit ("err on the
    dark side");
  - reverse video swaps the 3-bit colours, the bold bit stays foreground.

`screen_of(app)` renders the app's current screen the way Textual writes it
to a TERM=linux terminal (Rich's "standard" colour system, which is what
TERM=linux is detected as) and replays it through this model.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

# vt.c's color_table: ANSI colour n (30+n) to the VGA index the attribute holds.
COLOR_TABLE = [0, 4, 2, 6, 1, 5, 3, 7]
VGA_NAMES = ["black", "blue", "green", "cyan", "red", "magenta", "brown", "white",
             "dark grey", "bright blue", "bright green", "bright cyan", "bright red", "bright magenta", "yellow",
             "bright white"]

DEF_COLOR = 0x07        # vc_def_color: white on black
ULCOLOR = 0x0f & 3      # default_underline_color (VGA cyan)
ITCOLOR = 0x0f & 2      # default_italic_color (VGA green)
HALFCOLOR = 0x08        # vc_halfcolor: dark grey


@dataclass
class Cell:
    char: str
    attr: int

    @property
    def fg(self) -> int:
        return self.attr & 0x0f

    @property
    def bg(self) -> int:
        # VGA text mode and fbcon with 8 backgrounds: bit 7 is blink, not a colour.
        return (self.attr >> 4) & 0x07

    @property
    def visible_text(self) -> bool:
        return not self.char.isspace() and self.char != "\u00a0"


def rgb_from_256(i: int) -> tuple[int, int, int]:
    if i < 8:
        return tuple(0xaa if i & bit else 0 for bit in (1, 2, 4))  # type: ignore[return-value]
    if i < 16:
        return tuple(0xff if i & bit else 0x55 for bit in (1, 2, 4))  # type: ignore[return-value]
    if i < 232:
        return ((i - 16) // 36 * 85 // 2, (i - 16) // 6 % 6 * 85 // 2, (i - 16) % 6 * 85 // 2)
    grey = (i * 10 - 2312) & 0xff
    return (grey, grey, grey)


class VT:
    """The per-console SGR state: vc_color, vc_intensity and the flags."""

    def __init__(self) -> None:
        self.default_attr()

    def default_attr(self) -> None:
        self.color = DEF_COLOR
        self.intensity = 1
        self.italic = self.underline = self.reverse = self.blink = False

    def rgb_foreground(self, r: int, g: int, b: int) -> None:
        top = max(r, g, b)
        # The hue's bits are VGA's: red 4, green 2, blue 1.
        hue = (4 if r > top // 2 else 0) | (2 if g > top // 2 else 0) | (1 if b > top // 2 else 0)
        if hue == 7 and top <= 0x55:
            hue, self.intensity = 0, 2
        elif top > 0xaa:
            self.intensity = 2
        else:
            self.intensity = 1
        self.color = (self.color & 0xf0) | hue

    def rgb_background(self, r: int, g: int, b: int) -> None:
        self.color = (self.color & 0x0f) | (r & 0x80) >> 1 | (g & 0x80) >> 2 | (b & 0x80) >> 3

    def t416(self, params: list[int], i: int, background: bool) -> int:
        i += 1
        if i >= len(params):
            return i
        if params[i] == 5 and i + 1 < len(params):
            i += 1
            rgb = rgb_from_256(params[i])
        elif params[i] == 2 and i + 3 < len(params):
            rgb = (params[i + 1], params[i + 2], params[i + 3])
            i += 3
        else:
            return i
        (self.rgb_background if background else self.rgb_foreground)(*rgb)
        return i

    def csi_m(self, params: list[int]) -> None:
        i = 0
        while i < len(params):
            p = params[i]
            if p == 0:
                self.default_attr()
            elif p == 1:
                self.intensity = 2
            elif p == 2:
                self.intensity = 0
            elif p == 3:
                self.italic = True
            elif p in (4, 21):
                self.underline = True
            elif p == 5:
                self.blink = True
            elif p == 7:
                self.reverse = True
            elif p == 22:
                self.intensity = 1
            elif p == 23:
                self.italic = False
            elif p == 24:
                self.underline = False
            elif p == 25:
                self.blink = False
            elif p == 27:
                self.reverse = False
            elif p == 38:
                i = self.t416(params, i, background=False)
            elif p == 48:
                i = self.t416(params, i, background=True)
            elif p == 39:
                self.color = (DEF_COLOR & 0x0f) | (self.color & 0xf0)
            elif p == 49:
                self.color = (DEF_COLOR & 0xf0) | (self.color & 0x0f)
            else:
                if 90 <= p <= 107:
                    if p < 100:
                        self.intensity = 2
                    p -= 60
                if 30 <= p <= 37:
                    self.color = COLOR_TABLE[p - 30] | (self.color & 0xf0)
                elif 40 <= p <= 47:
                    self.color = (COLOR_TABLE[p - 40] << 4) | (self.color & 0x0f)
            i += 1

    def attr(self) -> int:
        """build_attr for a colour console."""
        a = self.color
        if self.italic:
            a = (a & 0xf0) | ITCOLOR
        elif self.underline:
            a = (a & 0xf0) | ULCOLOR
        elif self.intensity == 0:
            a = (a & 0xf0) | HALFCOLOR
        if self.reverse:
            a = (a & 0x88) | (((a >> 4) | (a << 4)) & 0x77)
        if self.blink:
            a ^= 0x80
        if self.intensity == 2:
            a ^= 0x08
        return a


CSI = re.compile(r"\x1b\[([0-9;:?]*)([A-Za-z])")


def replay(stream: str, width: int, height: int) -> list[list[Cell]]:
    """The screen after `stream`: SGR, cursor moves (H), newlines and text."""
    vt = VT()
    grid = [[Cell(" ", DEF_COLOR) for _ in range(width)] for _ in range(height)]
    x = y = 0
    pos = 0
    while pos < len(stream):
        match = CSI.match(stream, pos)
        if match:
            args, final = match.groups()
            params = [int(p) if p.isdigit() else 0 for p in args.split(";")] if args else [0]
            if final == "m":
                vt.csi_m(params)
            elif final == "H":
                y = max(params[0], 1) - 1
                x = max(params[1], 1) - 1 if len(params) > 1 else 0
            pos = match.end()
            continue
        char = stream[pos]
        pos += 1
        if char == "\n":
            y, x = y + 1, 0
        elif char == "\r":
            x = 0
        elif char == "\x1b":
            continue
        elif 0 <= y < height and 0 <= x < width:
            grid[y][x] = Cell(char, vt.attr())
            x += 1
        else:
            x += 1
    return grid


def ansi_of(app) -> str:
    """The app's current screen as Textual writes it to a TERM=linux terminal."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="standard", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.file.getvalue()


def screen_of(app) -> list[list[Cell]]:
    width, height = app.size
    return replay(ansi_of(app), width, height)


def unreadable_text(grid: list[list[Cell]]) -> list[str]:
    """Every run of text drawn in its own background's colour."""
    found = []
    for y, row in enumerate(grid):
        x = 0
        while x < len(row):
            cell = row[x]
            if cell.visible_text and cell.fg == cell.bg:
                end = x
                while end < len(row) and row[end].attr == cell.attr and (row[end].fg == row[end].bg):
                    end += 1
                text = "".join(c.char for c in row[x:end]).strip()
                found.append(f"row {y} col {x}: {text!r} is {VGA_NAMES[cell.fg]} on {VGA_NAMES[cell.bg]}")
                x = end
            else:
                x += 1
    return found
