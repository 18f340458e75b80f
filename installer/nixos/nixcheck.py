"""Ask the real Nix whether a text parses, before it is installed."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache


@lru_cache(maxsize=16)
def parse_problem(text: str) -> str:
    """Nix's own parse error for `text`, or "" when it parses."""
    nix = shutil.which("nix-instantiate")
    if nix is None:
        return ""  # no Nix to ask (not on the ISO): nixos-install will report it
    done = subprocess.run([nix, "--parse", "-"], input=text, capture_output=True, text=True)
    if done.returncode == 0:
        return ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[0].removeprefix("error: ").strip() if lines else "does not parse as Nix"
