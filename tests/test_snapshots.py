"""Snapshots of every wizard screen at 80x25 in the 16-colour ANSI theme.

The recorded machine, a fixed seed and dry-run make every frame the same on
every run. `tests/test_console_glyphs.py` scans these SVGs for characters
the Linux console font lacks.
"""

from __future__ import annotations

import pytest
from evalcheck_support import use_nix
from test_screens_support import app_for, open_step, pane_settled, showing, type_text, until, wait_ready

from screens.confirm import ConfirmScreen
from screens.disk import DiskScreen
from screens.done import DoneScreen
from screens.encryption import EncryptionScreen
from screens.keyboard import KeyboardScreen
from screens.modals import StaleEditScreen
from screens.review import ReviewScreen
from screens.software import SoftwareScreen
from screens.users import UsersScreen

SIZE = (80, 25)


def snap(snap_compare, app, before):
    """snap_compare with blinking cursors held still, so frames are stable."""

    async def steady(pilot):
        await before(pilot)
        await pilot.pause()
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False
        await pilot.pause()

    return snap_compare(app, terminal_size=SIZE, run_before=steady)


@pytest.fixture(autouse=True)
def sixteen_colours(monkeypatch):
    # Textual reads this once at import, so it only matters for a subprocess;
    # the 16 colours in these snapshots come from the app's own "ansi-dark"
    # theme (ANSI colours only), which is what the Linux console gets too.
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")


def test_welcome(snap_compare):
    async def before(pilot):
        await wait_ready(pilot)

    assert snap(snap_compare, app_for(), before)


@pytest.mark.parametrize("step", [KeyboardScreen, DiskScreen, EncryptionScreen, UsersScreen, SoftwareScreen],
                         ids=lambda s: s.__name__)
def test_step(snap_compare, step):
    async def before(pilot):
        await open_step(pilot, step)

    assert snap(snap_compare, app_for(), before)


def test_software_graphics_on_a_hybrid_laptop(snap_compare):
    """The Graphics section on the Intel + Pascal laptop (issue 20): both GPUs, and nouveau until unfree is allowed."""
    from conftest import MACHINES

    from installer.flow.session import Options, Session

    session = Session(Options(machine_file=str(MACHINES / "laptop-intel-nvidia-pascal.json"), dry_run=True, seed=7,
                              log_path="/tmp/nixos-tui-installer-test.log"))

    async def before(pilot):
        await open_step(pilot, SoftwareScreen)

    assert snap(snap_compare, app_for(session), before)


def test_step_refused_with_messages(snap_compare):
    """The Users step after a refused Next: every message under its field."""

    async def before(pilot):
        await open_step(pilot, UsersScreen)
        await pilot.press("ctrl+u")
        await type_text(pilot, "-bad-")
        await pilot.press("f10")

    assert snap(snap_compare, app_for(), before)


def test_encryption_on(snap_compare):
    async def before(pilot):
        await open_step(pilot, EncryptionScreen)
        await pilot.press("space", "enter")  # Space turns it on, Enter goes on to the passphrase
        await type_text(pilot, "hunter2")

    assert snap(snap_compare, app_for(), before)


async def _valid(pilot):
    from installer.answers.model import User

    await wait_ready(pilot)
    model = pilot.app.session.model
    model.disk.device = pilot.app.session.machine.offered_disks[0].path
    model.users = [User(name="alice", description="Alice", password="wonderland", password_confirm="wonderland")]


def test_review(snap_compare, monkeypatch, tmp_path):
    """Review once Nix (with the stand-in nixpkgs) has checked the files."""
    use_nix(monkeypatch, tmp_path)

    async def before(pilot):
        await _valid(pilot)
        pilot.app.push_screen(ReviewScreen())
        screen = pilot.app.screen
        await until(pilot, lambda: screen.loaded and not screen.checking and screen.outcome is not None)
        assert screen.outcome.status == "passed", screen.outcome

    assert snap(snap_compare, app_for(), before)


def test_review_unknown_option(snap_compare, monkeypatch, tmp_path):
    """Nix refused an option added at Review: its line selected, the message under the file."""
    use_nix(monkeypatch, tmp_path)

    async def before(pilot):
        await _valid(pilot)
        session = pilot.app.session
        text = session.draft.generated()["configuration.nix"].replace(
            "  # ---- Boot loader", "  services.foo.enable = true;\n  # ---- Boot loader")
        session.draft.set_edited("configuration.nix", text)
        pilot.app.push_screen(ReviewScreen())
        screen = pilot.app.screen
        await until(pilot, lambda: screen.loaded and not screen.checking and screen.outcome is not None)
        assert screen.outcome.field == "files.configuration.nix", screen.outcome
        screen.query_one("#body").scroll_to(y=9, animate=False)

    assert snap(snap_compare, app_for(), before)


def test_review_unknown_package(snap_compare, monkeypatch, tmp_path):
    """Nix found no such package: the line says so and F6 leads to the Software step."""
    use_nix(monkeypatch, tmp_path)

    async def before(pilot):
        await _valid(pilot)
        pilot.app.session.model.software.packages = ["git", "nosuchpackage"]
        pilot.app.push_screen(ReviewScreen())
        screen = pilot.app.screen
        await until(pilot, lambda: screen.loaded and not screen.checking and screen.outcome is not None)
        assert screen.outcome.field == "software.packages", screen.outcome

    assert snap(snap_compare, app_for(), before)


def test_confirm_refused_after_nix_failed(snap_compare, monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)

    async def before(pilot):
        await _valid(pilot)
        pilot.app.session.model.software.packages = ["nosuchpackage"]
        assert pilot.app.session.preflight.nix_check().failed
        pilot.app.push_screen(ConfirmScreen())
        await pilot.pause()
        await type_text(pilot, "sda")
        await pilot.press("enter")

    assert snap(snap_compare, app_for(), before)


def test_confirm(snap_compare):
    async def before(pilot):
        await _valid(pilot)
        pilot.app.push_screen(ConfirmScreen())
        await pilot.pause()
        await type_text(pilot, "sdz")
        await pilot.press("enter")

    assert snap(snap_compare, app_for(), before)


def test_help(snap_compare):
    async def before(pilot):
        await open_step(pilot, DiskScreen)
        await pilot.press("f1")

    assert snap(snap_compare, app_for(), before)


def test_quit_question(snap_compare):
    async def before(pilot):
        await wait_ready(pilot)
        await pilot.press("ctrl+q")

    assert snap(snap_compare, app_for(), before)


def test_install_failure(snap_compare, monkeypatch):
    """Install in dry-run with the executor failing: the failure and its actions."""
    from test_screens_support import make_session

    import screens.install

    monkeypatch.setattr(screens.install, "clock", lambda: 1000.0)

    session = make_session()

    class Failing(type(session.install)):
        failures = 1

        def execute(self, confirmation, log):
            if Failing.failures:
                Failing.failures -= 1
                log("[dry-run] 1. Erase the disk")
                raise RuntimeError("wipefs: /dev/sdz: device busy")
            super().execute(confirmation, log)

    session.install.__class__ = Failing

    async def before(pilot):
        from screens.install import InstallScreen

        await _valid(pilot)
        pilot.app.confirmation = pilot.app.session.install.confirm(pilot.app.session.plan().disk.name)
        pane = InstallScreen()
        pilot.app.push_screen(pane)
        await pilot.pause()
        await until(pilot, lambda: pane.query_one("#actions").display and pane_settled(pane))

    assert snap(snap_compare, app_for(session), before)


def test_done(snap_compare, monkeypatch):
    """The Done screen after a dry-run install."""
    import screens.install

    monkeypatch.setattr(screens.install, "clock", lambda: 1000.0)

    async def before(pilot):
        from screens.install import InstallScreen

        await _valid(pilot)
        pilot.app.confirmation = pilot.app.session.install.confirm(pilot.app.session.plan().disk.name)
        pilot.app.push_screen(InstallScreen())
        await until(pilot, lambda: showing(pilot.app, DoneScreen))

    assert snap(snap_compare, app_for(), before)


def test_log_view(snap_compare):
    """The log modal (Done's View log) over the Done screen's log file."""
    from pathlib import Path

    log = Path("/tmp/nixos-tui-installer-snapshot.log")
    log.write_text("".join(f"[dry-run] {n}. step {n} of the plan\n" for n in range(1, 31)), encoding="utf-8")

    async def before(pilot):
        from screens.modals import LogScreen

        await open_step(pilot, SoftwareScreen)
        pilot.app.push_screen(LogScreen(str(log)))
        await until(pilot, lambda: [v.line_count for v in pilot.app.screen.query("#log-view")] == [30])

    assert snap(snap_compare, app_for(), before)


def test_export_path_question(snap_compare, monkeypatch, tmp_path):
    """Review's Export flake: the directory question over the Review step."""
    monkeypatch.setattr(ReviewScreen, "export_default", lambda self: "/tmp/nixos-flake")
    use_nix(monkeypatch, tmp_path)

    async def before(pilot):
        await _valid(pilot)
        pilot.app.push_screen(ReviewScreen())
        screen = pilot.app.screen
        await until(pilot, lambda: screen.loaded and not screen.checking and screen.outcome is not None)
        pilot.app.screen.query_one("#export-flake").focus()
        await pilot.press("enter")
        await pilot.pause()

    assert snap(snap_compare, app_for(), before)


def test_stale_edit_question(snap_compare):
    """Review after the hostname changed under an edit of configuration.nix."""

    async def before(pilot):
        await _valid(pilot)
        session = pilot.app.session
        session.draft.set_edited("configuration.nix", "# mine\n" + session.draft.generated()["configuration.nix"])
        session.model.system.hostname = "otherbox"
        pilot.app.push_screen(ReviewScreen())
        await until(pilot, lambda: showing(pilot.app, StaleEditScreen))

    assert snap(snap_compare, app_for(), before)


def test_disk_step_with_no_usable_disk(snap_compare):
    """A machine where no disk can take NixOS: every disk and why, whole, and the ways out."""
    from test_screens_support import ROOT

    from installer.flow.session import Options, Session

    session = Session(Options(machine_file=str(ROOT / "tests/fixtures/machines/no-usable-disk.json"),
                              dry_run=True, seed=7, log_path="/tmp/nixos-tui-installer-test.log"))

    async def before(pilot):
        await open_step(pilot, DiskScreen)
        pilot.app.screen.query_one("#f-disk-device").highlighted = 0  # loop0: its row is cut
        await pilot.pause()

    assert snap(snap_compare, app_for(session), before)


def test_network_offline_with_wifi_in_range(snap_compare, tmp_path):
    """The Network step on a laptop with no cable, its Wi-Fi card not joined, the cache unreachable."""
    import localnet
    from test_screens_network import to_network_step

    conf = tmp_path / "nix.conf"
    conf.write_text(f"substituters = {localnet.NOWHERE}\n")
    from test_screens_support import make_session

    session = make_session(nmcli=localnet.nmcli(tmp_path / "nm.json"), nix_conf=str(conf))

    async def before(pilot):
        await to_network_step(pilot)

    assert snap(snap_compare, app_for(session), before)


def test_network_wrong_password(snap_compare, tmp_path):
    """A refused password: NetworkManager's reason under the field, the field kept (masked)."""
    from test_screens_network import WRONG, live, to_network_step, type_text as typed

    session, *_ = live(tmp_path)

    async def before(pilot):
        screen = await to_network_step(pilot)
        await pilot.press("enter")
        await typed(pilot, WRONG)
        await pilot.press("enter")
        await until(pilot, lambda: not screen.joining and "wrong" in str(screen.query_one("#joined").render()))

    assert snap(snap_compare, app_for(session), before)


def test_network_no_wifi_card(snap_compare, tmp_path):
    """A machine with a cable socket only: the interfaces, why no Wi-Fi, the Wi-Fi fields disabled."""
    from test_screens_network import live, to_network_step

    session, *_ = live(tmp_path, devices=[{"name": "enp1s0", "type": "ethernet", "state": "unavailable"}])

    async def before(pilot):
        await to_network_step(pilot)

    assert snap(snap_compare, app_for(session), before)
