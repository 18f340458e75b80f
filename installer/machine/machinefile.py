"""Reading a recorded machine file (--machine-file, a test fixture, a user's bug report).

The format is subiquity/probert's with our additions (see `installer.machine.udevdata`);
`installer.machine.probe.record_machine` writes it and `installer.machine.probe.probe`
turns what this returns into a Machine. Kept apart from the probe because a file is
untrusted input: this is the one place that checks its shape before the probe reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from installer.base.problems import ProbeError


def load_machine_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recorded machine in `path`, checked just enough to give a clear message instead of a traceback."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise ProbeError(f"cannot read the machine file {path}: {err.strerror or err}") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProbeError(f"{path} is not a recorded machine (not JSON: {err})") from err
    except RecursionError:
        raise ProbeError(f"{path} is not a recorded machine (it nests arrays or objects too deeply)") from None
    if not isinstance(data, dict):
        raise ProbeError(f"{path} is not a recorded machine (no storage.blockdev section of device records)")
    storage = data.get("storage")
    blockdev = storage.get("blockdev") if isinstance(storage, dict) else None
    if not isinstance(blockdev, dict) or not all(isinstance(rec, dict) for rec in blockdev.values()):
        raise ProbeError(f"{path} is not a recorded machine (no storage.blockdev section of device records)")
    # Older recordings have no "pci" list: they load with no devices (installer.machine.pci).
    devices = data.get("pci", [])
    if not isinstance(devices, list) or not all(isinstance(rec, dict) for rec in devices):
        raise ProbeError(f"{path} is not a recorded machine (its \"pci\" entry is not a list of device records)")
    return data
