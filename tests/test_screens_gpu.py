"""The Software step's Graphics section (issue 20) on the GPU fixtures, at 80x25.

It shows what the probe found and the driver installer.answers.gpu proposes;
ticking "Allow unfree software" is the consent NVIDIA's driver needs, and the
proposal and the generated configuration follow it.
"""

from __future__ import annotations

import pytest
from conftest import MACHINES
from test_screens_support import app_for, open_step

from installer.flow.session import Options, Session
from screens.software import SoftwareScreen
from screens.widgets import FieldMessage

SIZE = (80, 25)


def session_on(name: str, tmp_path) -> Session:
    return Session(Options(machine_file=str(MACHINES / f"{name}.json"), dry_run=True,
                           log_path=str(tmp_path / "gpu.log")))


def section(screen) -> str:
    return str(screen.query_one("#gpu").render())


async def fits(pilot) -> None:
    gpu = pilot.app.screen.query_one("#gpu")
    assert gpu.region.height >= 1 and gpu.region.bottom <= SIZE[1] - 2, gpu.region  # above the buttons and keys


async def test_the_laptop_gets_nouveau_until_unfree_is_allowed(tmp_path):
    s = session_on("laptop-intel-nvidia-pascal", tmp_path)
    async with app_for(s).run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, SoftwareScreen)
        text = section(screen)
        assert "Intel 8086:3e9b at 00:02.0, driver i915" in text
        assert "NVIDIA 10de:1c8d (Pascal) at 01:00.0, driver nouveau" in text
        assert "Driver: nouveau (NVIDIA's driver is unfree; unfree is not allowed)." in text
        assert "Tick 'Allow unfree software' above" in text
        await fits(pilot)
        await pilot.click("#f-software-allow_unfree")
        await pilot.pause()
        assert s.model.software.allow_unfree is True
        text = section(screen)
        assert "Driver: NVIDIA proprietary driver, 580 branch with PRIME offload" in text
        assert "Tick" not in text
        await fits(pilot)
    s.model.disk.device = s.machine.offered_disks[0].path
    config = s.draft.render()["configuration.nix"]
    assert "hardware.nvidia.open = false;" in config
    assert 'hardware.nvidia.prime.nvidiaBusId = "PCI:1:0:0";' in config


@pytest.mark.parametrize("name, driver", [("desktop-nvidia-rtx3060", "nouveau (NVIDIA's driver is unfree"),
                                          ("desktop-amd-gpu", "nothing to set: the kernel's drivers"),
                                          ("vm-virtio-gpu", "nothing to set: the kernel's drivers"),
                                          ("simple", "nothing to set: no PCI devices recorded")])
async def test_each_fixture_shows_its_proposal(name, driver, tmp_path):
    async with app_for(session_on(name, tmp_path)).run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, SoftwareScreen)
        assert f"Driver: {driver}" in section(screen)
        await fits(pilot)


async def test_a_forced_driver_that_cannot_work_is_shown_at_the_section(tmp_path):
    s = session_on("laptop-intel-nvidia-pascal", tmp_path)
    s.model.software.allow_unfree = True
    s.model.hardware.gpu = "nvidia-open"  # from an answers file: Pascal cannot run the open modules
    async with app_for(s).run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, SoftwareScreen)
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(pilot.app.screen, SoftwareScreen)  # Next refused
        message = next(m for m in screen.query(FieldMessage) if m.field == "hardware.gpu")
        assert message.display and "need Turing or newer" in str(message.render())
