"""Derive the trimmed fixture machines.

    python tests/make_fixtures.py [SOURCE_DIR]
        every recorded machine in SOURCE_DIR (default ../shared/machines, subiquity/probert
        recordings), trimmed to what installer.probe reads (installer.udevdata.trim): the udev
        properties and sysfs attributes of each block device, the filesystem, mount, dmcrypt,
        raid, lvm and os-prober sections; network data, I/O counters and the rest dropped.

    python tests/make_fixtures.py --live NAME DEVICE...
        this machine as `nixos-tui-installer --record-machine` writes it, kept to the named
        disks (and their partitions and mounts), as tests/fixtures/machines/NAME.json.
        recorded-loop-host.json was made so on the build host, as root, with a 16 GiB sparse
        file on a loop device (GPT: ESP vfat 'BOOT', active swap, ext4 'nixos' mounted at
        /var/tmp/probe-fixture-target): `--live recorded-loop-host /dev/vda /dev/loopN`.

The output is committed so a plain clone needs no ../shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from installer.udevdata import flatten_mounts, live_data, trim  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "machines"


def write(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def keep_only(data: dict[str, Any], disks: list[str]) -> dict[str, Any]:
    """The recorded machine reduced to `disks`: their records, partitions, filesystems, mounts, swaps."""
    storage = data["storage"]
    blockdev = {dev: rec for dev, rec in storage["blockdev"].items()
                if dev in disks or any(rec.get("DEVPATH", "").startswith(storage["blockdev"][d]["DEVPATH"] + "/")
                                       for d in disks)}
    mounts = [m for m in flatten_mounts(storage.get("mount")) if m["source"] in blockdev]
    machine = dict(data.get("machine") or {})
    machine["swaps"] = [s for s in machine.get("swaps", []) if s in blockdev]
    return {"storage": {"blockdev": blockdev, "mount": mounts,
                        "filesystem": {d: fs for d, fs in (storage.get("filesystem") or {}).items() if d in blockdev}},
            "machine": machine}


def main(argv: list[str]) -> int:
    if len(argv) > 2 and argv[1] == "--live":
        name, disks = argv[2], argv[3:]
        data = live_data()
        missing = [d for d in disks if d not in data["storage"]["blockdev"]]
        if not disks or missing:
            print(f"name the disks to keep; not found: {missing}", file=sys.stderr)
            return 1
        print(write(name, trim(keep_only(data, disks))))
        return 0
    source = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "machines"
    files = sorted(source.glob("*.json"))
    if not files:
        print(f"no recorded machines in {source}", file=sys.stderr)
        return 1
    for path in files:
        out = write(path.stem, trim(json.loads(path.read_text())))
        print(f"{path.name}: {path.stat().st_size} -> {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
