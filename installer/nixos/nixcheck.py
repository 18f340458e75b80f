"""Ask the real Nix whether a text parses, before it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

# Nix's position line under its message: "at «stdin»:2:7:" (2.26), "at (string):2:7:" (older).
_AT = re.compile(r"^\s*at (.+?):(\d+):(\d+):?\s*$")
_FRAME = re.compile(r"^\s*(\d+)?\|")


@dataclass(frozen=True)
class ParseError:
    message: str  # Nix's sentence, without "error: "
    line: int = 0  # 1-based; 0 when Nix named no position
    column: int = 0  # 1-based
    frame: str = ""  # Nix's code frame (the numbered lines and the caret under the column)

    def shown(self, name: str) -> str:
        """What a person reads: where, what, and Nix's code frame, in the file's name."""
        where = f"{name} line {self.line}, column {self.column}: " if self.line else f"{name}: "
        return where + self.message + (f"\n{self.frame}" if self.frame else "")


@lru_cache(maxsize=16)
def parse_error(text: str) -> ParseError | None:
    """Nix's own parse error for `text` (with its position), or None when it parses."""
    nix = shutil.which("nix-instantiate")
    if nix is None:
        return None  # no Nix to ask (not on the ISO): nixos-install will report it
    done = subprocess.run([nix, "--parse", "-"], input=text, capture_output=True, text=True)
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if not lines:
        return ParseError("does not parse as Nix")
    message = lines[0].removeprefix("error: ").strip()
    for i, line in enumerate(lines[1:], 1):
        at = _AT.match(line)
        if at:
            frame = []
            for shown in lines[i + 1:]:
                if not _FRAME.match(shown):
                    break
                frame.append(shown)
            cut = min((len(f) - len(f.lstrip()) for f in frame), default=0)
            return ParseError(message, int(at.group(2)), int(at.group(3)), "\n".join(f[cut:] for f in frame))
    return ParseError(message)


def parse_problem(text: str) -> str:
    """Nix's own parse error for `text` in one sentence, or "" when it parses."""
    found = parse_error(text)
    return found.message if found else ""
