"""What /proc/<pid>/stat says about a process the tests started: whether it
has ended. Read here, not through installer.base.processes, so the tests check
the engine's process handling with code of their own."""

from __future__ import annotations

import time
from pathlib import Path


def gone(pid: int) -> bool:
    """Dead now: no /proc entry, or a zombie waiting for a parent that is not us to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return True
    return state == b"Z"


def gone_within(pid: int, seconds: float = 5.0) -> bool:
    """Dead within `seconds`: SIGKILL takes effect a moment after it is sent."""
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
