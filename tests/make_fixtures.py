"""Derive the trimmed fixture machines from the recorded ones.

    python tests/make_fixtures.py [SOURCE_DIR]   (default: ../shared/machines)

Keeps only what installer.probe reads (installer.udevdata.trim): the udev
properties and sysfs attributes of each block device, the filesystem, mount,
dmcrypt, raid, lvm and os-prober sections; drops network data, I/O counters
and the rest. The output is committed so a plain clone needs no ../shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installer.udevdata import trim  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "machines"


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "machines"
    files = sorted(source.glob("*.json"))
    if not files:
        print(f"no recorded machines in {source}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for path in files:
        data = trim(json.loads(path.read_text()))
        (OUT / path.name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"{path.name}: {path.stat().st_size} -> {(OUT / path.name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
