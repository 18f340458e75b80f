"""After the install: a summary, where the log is, and Reboot / Shell / Quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from screens import engine
from screens.base import StepHeader
from screens.widgets import SizeBanner

if TYPE_CHECKING:
    from textual import getters

    from installer.run.progress import Progress
    from screens.app import InstallerApp

MAX_RUN_LINES = 6


def run_lines(runs: list[Progress]) -> list[str]:
    """What nixos-install fetched and built, counted from Nix's per-item lines.

    Download sizes are only ever Nix's announcement for one run ("these N
    paths will be fetched (X MiB download ...)"); a Retry announces again
    what is still missing, so announcements are shown per run, never added.
    """
    if not runs:
        return []
    fetched = sum(p.fetch_done for p in runs)
    built = sum(p.build_done for p in runs)
    if len(runs) == 1:
        p = runs[0]
        return [f"Paths fetched: {fetched} ({p.download_mib:.0f} MiB download), built: {built}"]
    lines = [f"Paths fetched: {fetched}, built: {built}, in {len(runs)} runs of nixos-install:"]
    shown = runs[-MAX_RUN_LINES:]
    if len(runs) > len(shown):
        lines.append(f"  ({len(runs) - len(shown)} earlier runs are in the log)")
    for p in shown:
        code = p.returncode
        end = "finished" if code == 0 else (f"stopped by signal {-code}" if code is not None and code < 0
                                            else f"exited {code}")
        lines.append(f"  run {p.run_number}: {p.fetch_done}/{p.fetch_total} paths fetched "
                     f"({p.download_mib:.0f} MiB announced), {p.build_done}/{p.build_total} built, {end}")
    return lines


class DoneScreen(Screen[None]):
    BINDINGS = [Binding("escape", "noop", show=False)]

    if TYPE_CHECKING:
        # The InstallerApp (its session), typed as on StepScreen: for type
        # checkers only, since screens.app imports the steps.
        app = getters.app(InstallerApp)

    def __init__(self, runs: list[Progress], seconds: float) -> None:
        super().__init__()
        self.runs = runs  # each nixos-install run's Progress (more than one after Retry)
        self.seconds = seconds

    def compose(self) -> ComposeResult:
        session = self.app.session
        badge = "  [DRY RUN]" if not session.options.real else ""
        yield StepHeader(f" NixOS installer  Done{badge}", id="header", markup=False)
        yield SizeBanner()
        with Vertical(id="body"):
            yield Static(self.summary(), id="summary", markup=False)
        with Horizontal(id="nav"):
            if session.options.real:  # a dry run installed nothing: nothing to reboot into
                yield Button("Reboot", id="reboot", compact=True, variant="primary")
            yield Button("View log", id="view-log", compact=True)
            yield Button("Shell", id="shell", compact=True)
            yield Button("Quit", id="quit", compact=True)
        yield Footer()

    def summary(self) -> str:
        session = self.app.session
        lines = ["NixOS is installed." if session.options.real
                 else "Dry run finished (dry run: nothing was installed, no disk was written)."]
        if not session.options.real:
            # What was simulated, in plain words: the pane went by in a moment.
            lines.append("Simulated: every step of the plan was written to the log as a '[dry-run]' line "
                         "instead of being run (View log shows them).")
        lines.append(f"Time taken: {engine.elapsed(self.seconds)}")
        lines += run_lines(self.runs)
        lines.append(f"The log: {session.options.log_path}")
        if session.options.real:
            lines.append(f"A copy: {session.options.target}/var/log/nixos-tui-installer.log")
            lines.append(f"The configuration and the answers: {session.options.target}/etc/nixos/")
        if session.options.real:
            lines.append("")
            lines.append("Remove the installation medium, then reboot.")
        return "\n".join(lines)

    def on_mount(self) -> None:
        self.query_one(SizeBanner).show(*self.app.size)
        self.query_one("#reboot" if self.app.session.options.real else "#quit").focus()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(SizeBanner).show(*self.app.size)

    @on(Button.Pressed, "#reboot")
    def _reboot(self) -> None:
        if not self.app.session.options.real:
            self.notify("Dry run: not rebooting.")
            return
        self.app.reboot_requested = True
        self.app.exit(0)

    @on(Button.Pressed, "#view-log")
    def _view_log(self) -> None:
        from screens.modals import LogScreen

        self.app.push_screen(LogScreen(self.app.session.options.log_path))

    @on(Button.Pressed, "#shell")
    def _shell(self) -> None:
        engine.shell(self.app, self.app.session)

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.app.exit(0)

    def action_noop(self) -> None:
        pass
