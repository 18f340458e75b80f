"""Step 9: the install pane: phases, a live log, real progress, and what to do
when something fails. The Session does the work; this only shows it."""

from __future__ import annotations

import collections
import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Button, Log, ProgressBar, Static

from screens import engine
from screens.base import StepScreen

PHASES = (
    ("disk", "Partition, format and mount"),
    ("config", "Write the configuration"),
    ("nixos-install", "Install NixOS (nixos-install)"),
    ("passwords", "Set the passwords"),
    ("finish", "Finish (copy the log)"),
)
MAX_LOG_LINES = 2000  # the file keeps everything; the widget keeps a screenful of history
FLUSH_SECONDS = 1 / 30
clock = time.monotonic  # tests freeze it, so a snapshot's elapsed time is stable


class InstallScreen(StepScreen):
    TITLE_TEXT = "Install"
    HELP = (
        "The log shows everything the installer runs; the full log is in the file named below. "
        "nixos-install may take a long time while it downloads. If it fails (e.g. the network "
        "dropped), Retry runs it again: it continues where it stopped. Ctrl+C asks, then stops it."
    )
    BINDINGS = [Binding("escape", "noop", show=False), Binding("f10", "noop", show=False)]

    phase = reactive("")
    failed = reactive("")

    def __init__(self) -> None:
        super().__init__()
        self.pending: collections.deque[str] = collections.deque()
        self.started = clock()
        self.runner = None
        self.last_runner = None
        self.file = None
        self.status_text = ""

    @property
    def progress(self):
        """The runner's own count (it starts a new one when it spawns), or None."""
        return self.last_runner.progress if self.last_runner is not None else None

    def body(self) -> ComposeResult:
        yield Static("", id="phases", markup=False)
        yield ProgressBar(id="bar", show_eta=False)
        yield Static("", id="status", markup=False)
        yield Log(max_lines=MAX_LOG_LINES, id="log", auto_scroll=True)
        yield Static("", id="failure", classes="message -error", markup=False)
        with Horizontal(id="actions"):
            yield Button("Retry", id="retry", compact=True, variant="primary")
            yield Button("Back to review", id="to-review", compact=True)
            yield Button("Shell", id="shell", compact=True)
            yield Button("Save log", id="save-log", compact=True)

    def on_mount(self) -> None:
        self.query_one("#nav").display = False
        self.query_one("#actions").display = False
        self.query_one("#failure").display = False
        self.file = self.session.log()
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.show_phases()
        start = self.app.install_resume
        if start != "disk":
            self.log_line(f"The disk is already prepared; continuing with: {dict(PHASES)[start]}")
        self.run_install(start)

    # -- the log: lines from any thread, written in batches -----------------------
    def log_line(self, text: str) -> None:
        """The engine steps' log callback (from a worker): to the file and the pane."""
        if self.file is not None:
            self.file.line(text)
        self.pending.append(text)

    def show_lines(self, lines: list[str]) -> None:
        """A batch from the runner, which has written it to the file already."""
        self.pending.extend(lines)

    def flush(self) -> None:
        if self.pending:
            # The file has every line already; the pane keeps only the last
            # MAX_LOG_LINES, so lines it would drop at once are never drawn.
            # popleft, not clear(): worker threads append while this runs.
            pending = self.pending
            batch = [pending.popleft() for _ in range(len(pending))]
            self.query_one("#log", Log).write_lines(batch[-MAX_LOG_LINES:])
        self.show_progress()

    def show_progress(self) -> None:
        p = self.progress
        elapsed = engine.elapsed(clock() - self.started)
        status = self.query_one("#status", Static)
        bar = self.query_one("#bar", ProgressBar)
        if p is None or not p.total:
            # No count announced by Nix yet: no bar rather than a made-up one.
            self._status(status, f"{dict(PHASES).get(self.phase, '')}   elapsed {elapsed}")
            bar.display = False
            return
        bar.display = True
        # Repainting only on change keeps keys responsive while lines stream.
        if (bar.total, bar.progress) != (p.total, p.done):
            bar.update(total=p.total, progress=p.done)
        current = p.current[:40]
        self._status(status, f"{p.done}/{p.total} items, {p.download_mib:.0f} MiB to fetch   {current}   "
                             f"elapsed {elapsed}")

    def _status(self, status: Static, text: str) -> None:
        """#status is one line high (wizard.tcss): new text never changes its size."""
        if text != self.status_text:
            self.status_text = text
            status.update(text, layout=False)

    def show_phases(self) -> None:
        names = [key for key, _ in PHASES]
        at = names.index(self.phase) if self.phase in names else -1
        parts = []
        for i, (key, title) in enumerate(PHASES):
            mark = "x" if i < at else (">" if i == at else " ")
            if key == self.failed:
                mark = "!"
            parts.append(f"[{mark}] {title}")
        self.query_one("#phases", Static).update("\n".join(parts))

    def watch_phase(self) -> None:
        if self.is_mounted:
            self.show_phases()

    # -- the work ---------------------------------------------------------------
    @work(thread=True, exclusive=True, group="install")
    def run_install(self, start: str = "disk") -> None:
        app = self.app
        order = [key for key, _ in PHASES]
        for key in order[order.index(start):]:
            app.call_from_thread(setattr, self, "phase", key)
            try:
                ok = self.run_phase(key)
            except Exception as err:  # shown in the pane, never a traceback
                self.log_line(f"error: {err}")
                ok = False
            if not ok:
                app.call_from_thread(self.show_failure, key)
                return
        app.call_from_thread(self.finished)

    def run_phase(self, key: str) -> bool:
        session = self.session
        if key == "disk":
            self.app.call_from_thread(setattr, self.app, "writing", True)
            try:
                session.execute(self.app.confirmation, self.log_line)
            finally:
                self.app.call_from_thread(setattr, self.app, "writing", False)
        elif key == "config":
            session.write_config(self.log_line)
        elif key == "nixos-install":
            return engine.run_nixos_install(self, session, self.log_line) == 0
        elif key == "passwords":
            session.set_passwords(self.log_line)
        elif key == "finish":
            session.finish(self.log_line)
        return True

    def show_failure(self, key: str) -> None:
        self.failed = key
        self.show_phases()
        title = dict(PHASES)[key]
        log_path = self.session.options.log_path
        failure = self.query_one("#failure", Static)
        failure.update(f"Failed while: {title}. The whole log is in {log_path}.")
        failure.display = True
        self.query_one("#actions").display = True
        self.query_one("#retry").focus()
        self.app.exit_code = 1
        if key != "disk":
            # Back to review and on again re-writes the (maybe edited) config, never the disk.
            self.app.install_resume = "config"

    def finished(self) -> None:
        from screens.done import DoneScreen

        self.app.exit_code = 0
        self.app.push_screen(DoneScreen(self.last_runner.runs if self.last_runner is not None else [], clock() - self.started))

    # -- actions -------------------------------------------------------------------
    @on(Button.Pressed, "#retry")
    def _retry(self) -> None:
        self.query_one("#actions").display = False
        self.query_one("#failure").display = False
        start = self.failed or "disk"
        self.failed = ""
        self.run_install(start if start != "disk" else "disk")

    @on(Button.Pressed, "#to-review")
    def _to_review(self) -> None:
        from screens.review import ReviewScreen

        self.app.back_to(ReviewScreen)

    @on(Button.Pressed, "#shell")
    def _shell(self) -> None:
        engine.shell(self.app, self.session)

    @on(Button.Pressed, "#save-log")
    def _save_log(self) -> None:
        path = engine.save_log(self.session)
        self.notify(f"Log saved to {path}." if path else "Could not save the log.")

    def action_noop(self) -> None:
        """Esc and Next mean nothing while installing."""

    def request_stop(self) -> None:
        """Ctrl+C: ask, then stop nixos-install's whole process group."""
        from screens.modals import AskScreen

        if self.app.writing:
            self.notify("The disk is being written; it cannot be stopped safely now.", severity="error")
            return
        if self.runner is None:
            self.app.action_request_quit()
            return

        def answered(yes: bool | None) -> None:
            if yes and self.runner is not None:
                self.runner.stop()

        self.app.push_screen(AskScreen("Stop nixos-install? You can run it again (Retry) later.", yes="Stop"),
                             answered)
