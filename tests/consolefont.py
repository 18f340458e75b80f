"""The characters the Linux console's built-in font draws (fixtures/console-font/cp437.uni)."""

from __future__ import annotations

from pathlib import Path

TABLE = Path(__file__).resolve().parent / "fixtures" / "console-font" / "cp437.uni"


def read_table(path: Path = TABLE) -> dict[int, list[str]]:
    """byte -> the characters drawn with that byte's glyph."""
    table: dict[int, list[str]] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        byte, points = line.split("\t")
        table[int(byte, 16)] = [chr(int(p[2:], 16)) for p in points.split()]
    return table


CONSOLE_CHARS = frozenset(c for chars in read_table().values() for c in chars)


def console_safe(char: str) -> bool:
    return char in CONSOLE_CHARS


def unsafe(text: str) -> list[str]:
    """The characters of `text` the console cannot draw, as "U+XXXX c" (line breaks are not drawn)."""
    return [f"U+{ord(c):04X} {c}" for c in sorted(set(text) - CONSOLE_CHARS - {"\n"})]
