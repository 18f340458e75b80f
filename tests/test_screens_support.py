"""Helpers for the wizard's tests: a Session on a machine, and Pilot shortcuts.

The Session is the real one. Until the live probe lands, a Machine built
here stands in for a recorded machine file (switch: MACHINE_FILE below).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from installer.machine.hardware import Disk, Machine, Partition
from installer.flow.session import Options, Session

ROOT = Path(__file__).resolve().parent.parent
MACHINE_FILE = ROOT / "tests/fixtures/machines/win11-along-ubuntu.json"
HAVE_PROBE = importlib.util.find_spec("installer.machine.probe") is not None

GB = 10**9


def built_machine() -> Machine:
    """A UEFI laptop with Windows on an NVMe disk, an empty SATA disk and the ISO stick."""
    return Machine(
        firmware="uefi",
        cpu_vendor="intel",
        disks=[
            Disk(path="/dev/nvme0n1", name="nvme0n1", size=500_107_862_016, model="Samsung SSD 970 EVO 500GB",
                 bus="nvme", table="gpt", holds="Windows 11 (NTFS)", by_id="/dev/disk/by-id/nvme-Samsung_1",
                 partitions=[Partition(path="/dev/nvme0n1p1", number=1, size=100 * 2**20, fstype="vfat"),
                             Partition(path="/dev/nvme0n1p3", number=3, size=400 * GB, fstype="ntfs")],
                 drivers=["nvme"]),
            Disk(path="/dev/sda", name="sda", size=256 * GB, model="WDC WDS250G2B0A", bus="sata", holds="empty",
                 by_id="/dev/disk/by-id/ata-WDC_1", drivers=["ahci"]),
            Disk(path="/dev/sdb", name="sdb", size=16 * GB, model="SanDisk Ultra", bus="usb", removable=True,
                 holds="NixOS installer (ISO 9660)", refused="it holds the running installer"),
        ],
        hostname="nixos",
        timezone="UTC",
        source="tests",
    )


class BuiltSession(Session):
    """The real Session with probe() answering from `built_machine()`."""

    def probe(self) -> Machine:
        self.machine = built_machine()
        return self.machine


def make_session(**options) -> Session:
    options.setdefault("dry_run", True)
    options.setdefault("seed", 7)
    options.setdefault("log_path", "/tmp/nixos-tui-installer-test.log")
    if HAVE_PROBE and MACHINE_FILE.exists() and options.pop("recorded", True):
        return Session(Options(machine_file=str(MACHINE_FILE), **options))
    options.pop("recorded", None)
    return BuiltSession(Options(**options))


async def wait_ready(pilot) -> None:
    """Until the probe worker is done and the screen settled."""
    app = pilot.app
    await until(pilot, lambda: app.probe_state == "ready" or app.probe_state.startswith("failed"))
    await pilot.pause()
    assert app.probe_state == "ready", app.probe_state


async def until(pilot, condition, seconds: float = 120.0) -> None:
    """Pause until `condition()` holds. Never falls through: a condition that
    does not hold within `seconds` fails the test, naming where it was written."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    if condition():
        return
    code = condition.__code__
    raise AssertionError(f"timed out after {seconds:g} s waiting for the condition at "
                         f"{Path(code.co_filename).name}:{code.co_firstlineno}")


def showing(app, screen_type) -> bool:
    """A `screen_type` is on top and mounted: composed, its on_mount run, so
    its widgets can be queried (it is on top a moment before that)."""
    return isinstance(app.screen, screen_type) and app.screen.is_mounted


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space", "\n": "enter"}.get(c, c) for c in text])


def message_of(screen, field: str) -> str:
    """The text shown under `field` ("" when none is shown)."""
    from screens.widgets import FieldMessage, field_id

    widget = screen.query_one("#m" + field_id(field)[1:], FieldMessage)
    return str(widget.content) if widget.display else ""


def engine_messages(session, field: str) -> list[str]:
    return [p.message for p in session.validate() if p.field == field]


async def open_step(pilot, step):
    """Put `step` on top (after the probe), as if the person had walked there."""
    await wait_ready(pilot)
    pilot.app.push_screen(step())
    await pilot.pause()
    assert isinstance(pilot.app.screen, step)
    return pilot.app.screen


def pane_settled(pane) -> bool:
    """The install pane's state is final on screen: every line handed to it is
    in the log widget, what is shown is laid out, and the log's end is in view."""
    log = pane.query_one("#log")
    shown = [w for w in pane.query("#log, #failure, #actions") if w.display]
    return not pane.pending and all(w.region.height for w in shown) and log.scroll_offset.y == log.max_scroll_y


def app_for(session=None, **options):
    from screens.app import InstallerApp

    return InstallerApp(session or make_session(**options))
