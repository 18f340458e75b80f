"""The one size format every step, message and file uses."""

from __future__ import annotations

import pytest

from installer.base.units import GIB, KIB, MIB, TIB, human_size


@pytest.mark.parametrize(("size", "text"), [
    (1000, "1000 B"),
    (KIB, "1 KiB"),
    (364 * KIB, "364 KiB"),
    (MIB, "1 MiB"),
    (512 * MIB, "512 MiB"),
    (GIB, "1 GiB"),
    (1536 * MIB, "1.5 GiB"),
    (9 * GIB + 300 * MIB, "9.3 GiB"),
    (10 * GIB - MIB, "10 GiB"),  # 9.999 rounds up to a whole number
    (237 * GIB + 300 * MIB, "237 GiB"),
    (500107862016, "466 GiB"),
    (1024 * GIB - MIB, "1 TiB"),  # rounds to 1024 GiB: one unit up
    (1800 * GIB, "1.8 TiB"),
    (2 * TIB, "2 TiB"),
])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(("size", "text"), [
    (14 * GIB + 300 * MIB, "14 GiB"), (7452 * GIB, "7452 GiB"), (1536 * MIB, "1.5 GiB"), (2 * TIB, "2048 GiB"),
])
def test_a_fixed_unit(size: int, text: str) -> None:
    assert human_size(size, "GiB") == text


def test_the_plan_and_the_disk_descriptions_say_the_same_size():
    from installer.machine import describe
    from installer.answers import diskmatch
    from installer.run import diskcheck
    from installer.nixos import disko
    from installer.plan import erase as plan
    from installer.machine import eligibility

    for module in (describe, diskmatch, diskcheck, disko, plan, eligibility):
        assert module.human_size is human_size, module.__name__
