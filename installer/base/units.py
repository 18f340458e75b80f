"""Byte units, and the one way sizes are written for a person.

Every size the installer shows goes through `human_size`: the Disk step's
table, what a disk holds, the plan, the refusals, the exported flake's
comments. Two formats side by side ("238.5 GiB" next to "238 GiB") would
read as two different sizes.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

_UNITS = (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB))


def human_size(size: int, unit: str = "") -> str:
    """Binary units, short: 512 MiB, 1 GiB, 1.5 GiB, 238 GiB, 1.8 TiB.

    One decimal below 10, none from 10 up, a ".0" left out: short enough for
    the Disk step's 80 columns, where a disk's size and what it holds stand
    side by side. `unit` ("GiB") writes every size in that unit, as beside a
    rule that counts in GiB ("7452 GiB" next to size_min_gib = 5000).
    """
    if unit:
        return f"{_digits(size / dict(_UNITS)[unit])} {unit}"
    for index, (name, scale) in enumerate(_UNITS):
        if size >= scale:
            text = _digits(size / scale)
            if text == "1024" and index > 0:  # 1023.9 GiB is 1 TiB, not "1024 GiB"
                return f"1 {_UNITS[index - 1][0]}"
            return f"{text} {name}"
    return f"{size} B"


def _digits(value: float) -> str:
    return f"{value:.0f}" if value >= 9.95 else f"{value:.1f}".removesuffix(".0")
