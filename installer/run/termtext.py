"""Terminal output made plain: ANSI sequences, control characters and \r rewrites removed.

Works on whole chunks (many lines at once): a few C-level regex and string
passes over 64 KiB cost far less than Python code per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")  # keeps \t \n \r, ESC handled above


def rewrite(line: str) -> str:
    # A terminal shows what follows the last carriage return.
    parts = [p for p in line.split("\r") if p]
    return parts[-1] if parts else ""


def clean_lines(text: str, redact: Callable[[str], str] | None = None) -> list[str]:
    """Complete lines (no final newline) -> plain lines: ANSI and rewrites gone, redacted."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text)
    if redact:
        text = redact(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        if "\r" in text:
            lines = [rewrite(line) if "\r" in line else line for line in lines]
        return lines
    return text.split("\n")
