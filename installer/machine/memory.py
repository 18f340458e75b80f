"""The machine's RAM, which hibernation's swap is sized to (installer.machine.eligibility)."""

from __future__ import annotations

import re
from pathlib import Path


def mem_total(proc_root: str = "/proc") -> int:
    """The RAM the kernel manages (MemTotal of PROC/meminfo), in bytes; 0 when it cannot be read."""
    try:
        text = Path(proc_root, "meminfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.M)
    return int(match.group(1)) * 1024 if match else 0
