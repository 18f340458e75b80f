"""Each recorded machine's disks and the ways NixOS could go onto them (issue 18, item 6):
the offers in the order the Disk step lists them, the room each gives, and the reason for
every way not offered, on the subiquity recordings of machines with Windows and Linux.

Each partition's smallest size is the recording's own (probert's ESTIMATED_MIN_SIZE, what
installer.machine.shrinkable reads from a record), set here on the partitions directly, with
a refusal for BitLocker volumes as the resize tools give it, so this table is the offers' own
reading of the layouts whatever fills those fields."""

from __future__ import annotations

import json

import pytest

from conftest import MACHINES
from installer.answers.model import InstallModel
from installer.base.units import human_size
from installer.machine.probe import probe
from installer.plan.offers import offers

BITLOCKER = "BitLocker-encrypted: suspend or decrypt it in Windows first"


def machine_with_min_sizes(name: str):  # type: ignore[no-untyped-def]
    path = MACHINES / f"{name}.json"
    recorded = json.loads(path.read_text())["storage"]["filesystem"]
    machine = probe(path)
    for disk in machine.disks:
        for part in disk.partitions:
            estimate = int((recorded.get(part.path) or {}).get("ESTIMATED_MIN_SIZE", -1))
            part.min_size = max(0, estimate)
            part.shrink_refusal = BITLOCKER if part.fstype == "BitLocker" else ""
    return machine


def table(name: str, desktop: str = "none") -> list[str]:
    machine = machine_with_min_sizes(name)
    model = InstallModel()
    model.software.desktop = desktop  # type: ignore[assignment]
    rows = []
    for disk in machine.disks:
        for o in offers(model, machine, disk):
            part = o.part.path if o.part is not None else disk.path
            if o.offered:
                rows.append(f"{o.way} {part}: {human_size(o.room)}")
            else:
                rows.append(f"{o.way} {part}: no, {o.reason}")
    return rows


EXPECTED: dict[str, list[str]] = {
    "win11-along-ubuntu": [
        "erase /dev/sda: 128 GiB",
        "replace /dev/sda5: 65 GiB",
        "replace /dev/sda3: 62 GiB",
        "alongside /dev/sda5: 50 GiB",
        "free-space /dev/sda: no, its largest free space is 1 MiB, and NixOS needs at least 10 GiB",
        "alongside /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "alongside /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "alongside /dev/sda3: no, BitLocker-encrypted: suspend or decrypt it in Windows first",
        "alongside /dev/sda4: no, it would keep at least 2.5 GiB (what it holds plus room to grow), no less than its 650 MiB today",
        "replace /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "replace /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "replace /dev/sda4: no, that leaves 651 MiB for NixOS, which needs at least 10 GiB",
        "erase /dev/sr0: no, optical drive",
        "free-space /dev/sr0: no, optical drive",
        "alongside /dev/sr0: no, optical drive",
        "replace /dev/sr0: no, optical drive",
    ],
    "win10": [
        "erase /dev/sda: 80 GiB",
        "replace /dev/sda3: 79 GiB",
        "free-space /dev/sda: no, its largest free space is 1 MiB, and NixOS needs at least 10 GiB",
        "alongside /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "alongside /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "alongside /dev/sda3: no, BitLocker-encrypted: suspend or decrypt it in Windows first",
        "alongside /dev/sda4: no, its smallest size is not known (no resize tool could read how much it holds)",
        "replace /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "replace /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "replace /dev/sda4: no, that leaves 509 MiB for NixOS, which needs at least 10 GiB",
        "erase /dev/sr0: no, optical drive",
        "free-space /dev/sr0: no, optical drive",
        "alongside /dev/sr0: no, optical drive",
        "replace /dev/sr0: no, optical drive",
    ],
    "ubuntu-and-free-space": [
        "erase /dev/sda: 40 GiB",
        "replace /dev/sda3: 38 GiB",
        "alongside /dev/sda3: 34 GiB",
        "free-space /dev/sda: 29 GiB",
        "alongside /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "alongside /dev/sda2: no, its smallest size is not known (no resize tool could read how much it holds)",
        "replace /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "replace /dev/sda2: no, that leaves 977 MiB for NixOS, which needs at least 10 GiB",
        "erase /dev/sr0: no, optical drive",
        "free-space /dev/sr0: no, optical drive",
        "alongside /dev/sr0: no, optical drive",
        "replace /dev/sr0: no, optical drive",
    ],
    "win11-and-free-space": [
        "erase /dev/sda: 128 GiB",
        "replace /dev/sda3: 127 GiB",
        "replace /dev/sda4: 69 GiB",
        "free-space /dev/sda: 69 GiB",
        "alongside /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "alongside /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "alongside /dev/sda3: no, BitLocker-encrypted: suspend or decrypt it in Windows first",
        "alongside /dev/sda4: no, it would keep at least 2.5 GiB (what it holds plus room to grow), no less than its 650 MiB today",
        "replace /dev/sda1: no, it is the EFI system partition the systems on this machine boot from",
        "replace /dev/sda2: no, it is the Microsoft reserved partition Windows needs",
        "erase /dev/sdb: no, too small: 1 GiB, needs at least 10 GiB",
        "free-space /dev/sdb: no, too small: 1 GiB, needs at least 10 GiB",
        "alongside /dev/sdb: no, too small: 1 GiB, needs at least 10 GiB",
        "replace /dev/sdb: no, too small: 1 GiB, needs at least 10 GiB",
        "erase /dev/sr0: no, optical drive",
        "free-space /dev/sr0: no, optical drive",
        "alongside /dev/sr0: no, optical drive",
        "replace /dev/sr0: no, optical drive",
    ],
    "threebuntu-on-msdos": [
        "erase /dev/sda: 150 GiB",
        "replace /dev/sda6: 56 GiB",
        "replace /dev/sda1: 47 GiB",
        "alongside /dev/sda6: 44 GiB",
        "alongside /dev/sda1: 34 GiB",
        "free-space /dev/sda: no, its largest free space is 1 MiB, and NixOS needs at least 10 GiB",
        "alongside /dev/sda2: no, it is the extended partition that holds the logical ones",
        "alongside /dev/sda3: no, it is the EFI system partition the systems on this machine boot from",
        "alongside /dev/sda5: no, a new logical partition there would renumber /dev/sda6 (the kernel numbers logical partitions in the order of their chain)",
        "replace /dev/sda2: no, it is the extended partition that holds the logical ones",
        "replace /dev/sda3: no, it is the EFI system partition the systems on this machine boot from",
        "replace /dev/sda5: no, a new logical partition there would renumber /dev/sda6 (the kernel numbers logical partitions in the order of their chain)",
        "erase /dev/sr0: no, optical drive",
        "free-space /dev/sr0: no, optical drive",
        "alongside /dev/sr0: no, optical drive",
        "replace /dev/sr0: no, optical drive",
    ],
}


@pytest.mark.parametrize("name", ["win11-along-ubuntu", "win10", "ubuntu-and-free-space", "win11-and-free-space",
                                  "threebuntu-on-msdos"])
def test_each_recorded_disk_shows_its_offers_and_reasons(name: str) -> None:
    assert table(name) == EXPECTED[name]


def test_a_desktop_asks_for_25_gib_on_the_recorded_disks() -> None:
    rows = table("win11-along-ubuntu", desktop="gnome")
    assert "replace /dev/sda4: no, that leaves 651 MiB for NixOS, which needs at least 25 GiB" in rows
    assert "alongside /dev/sda5: 50 GiB" in rows  # Ubuntu's 11.5 GiB + 25 % kept, 50 GiB still free for NixOS
