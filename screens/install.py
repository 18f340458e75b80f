"""Step 9: the install pane: phases, a live log, real progress, and what to do
when something fails. The Session does the work; this only shows it."""

from __future__ import annotations

import collections
import os
import textwrap
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Self

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Button, Input, Log, ProgressBar, Static

from installer.flow.install import PHASES, TITLES, Event, LogLine, PhaseFailed, PhaseStarted
from screens import engine
from screens.base import StepScreen
from screens.widgets import BlockProgressBar

if TYPE_CHECKING:
    from installer.base.logfile import LogFile
    from installer.run.progress import Progress
    from installer.run.runner import InstallRunner

MAX_LOG_LINES = 2000  # the file keeps everything; the widget keeps a screenful of history
FLUSH_SECONDS = 1 / 30
FAILURE_ERROR_CHARS = 300  # Nix's first error line, shown whole up to about four screen lines
clock = time.monotonic  # tests freeze it, so a snapshot's elapsed time is stable

# Words that say a prompt wants a secret: the answer is typed unseen.
_SECRET_PROMPTS = ("password", "passphrase", "pin:", "token")


class PromptBar(Horizontal):
    """A question from nixos-install (or a program it runs) and the answer line."""


class TailLog(Log):
    """The live log. A line longer than the pane is wrapped, the rest of it
    indented two columns (cut, Nix's error or a store path lost its end, and
    the console has no mouse to scroll sideways); a new width wraps again.
    When it loses rows (a failure message or a question shows below it), its
    end, Nix's last words, stays in view."""

    def __init__(self, *, max_lines: int, id: str, auto_scroll: bool = True) -> None:
        super().__init__(max_lines=max_lines, id=id, auto_scroll=auto_scroll)
        self.whole: collections.deque[str] = collections.deque(maxlen=max_lines)  # as written, unwrapped
        self.wrapped_to = 0

    def width_now(self) -> int:
        # The scrollbar's gutter is kept (wizard.tcss): the width does not
        # change when the log first outgrows the pane.
        return self.scrollable_content_region.width

    def wrap(self, lines: Iterable[str]) -> list[str]:
        width = self.wrapped_to
        if width < 8:  # not laid out yet: wrapped on the first resize
            return list(lines)
        wrapper = textwrap.TextWrapper(width, subsequent_indent="  ", break_on_hyphens=False)
        out: list[str] = []
        for line in lines:
            line = line.expandtabs()
            if len(line) <= width:  # nearly every line: no wrapper
                out.append(line)
            else:
                out += wrapper.wrap(line) or [""]  # spaces only
        return out

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        lines = list(lines)
        self.whole.extend(lines)
        return super().write_lines(self.wrap(lines), scroll_end)

    def on_resize(self) -> None:
        if self.width_now() != self.wrapped_to:
            self.wrapped_to = self.width_now()
            super().clear()
            super().write_lines(self.wrap(self.whole), scroll_end=False)
        if self.auto_scroll:
            self.scroll_end(animate=False)


class InstallScreen(StepScreen):
    TITLE_TEXT = "Install"
    HELP = (
        "The log shows everything the installer runs; the full log is in the file named below. "
        "nixos-install may take a long time while it downloads. If it fails (e.g. the network "
        "dropped), Retry runs it again: it continues where it stopped. Ctrl+C asks, then stops it. "
        "If a program asks a question (a password for a private flake input, say), it shows above "
        "the actions: type the answer and press Enter."
    )
    BINDINGS = [
        Binding("escape", "noop", show=False),
        Binding("f10", "noop", show=False),
        # Shown only while nixos-install runs (check_action). The app's own
        # Ctrl+C binding comes first and asks this screen to stop the same way.
        Binding("ctrl+c", "stop", "Stop", priority=True),
    ]

    phase = reactive("")
    failed = reactive("")
    # Whether nixos-install runs, as the footer last showed it (Stop or not).
    # Set on the event loop by flush(); `runner` itself changes in the worker thread.
    stoppable = reactive(False, repaint=False, bindings=True)

    def __init__(self) -> None:
        super().__init__()
        # Bounded: lines the widget would drop at once are never kept (the file has them).
        self.pending: collections.deque[str] = collections.deque(maxlen=MAX_LOG_LINES)
        self.started = clock()
        self.runner: InstallRunner | None = None  # nixos-install while it runs
        self.last_runner: InstallRunner | None = None  # the latest run, kept after it ends
        self.file: LogFile | None = None
        self.status_text = ""
        self.error_text = ""  # why a phase other than nixos-install failed
        self.stop_requested = False
        self.asked = ""  # the question shown in the prompt bar

    @property
    def progress(self) -> Progress | None:
        """The runner's own count (it starts a new one when it spawns), or None."""
        return self.last_runner.progress if self.last_runner is not None else None

    def body(self) -> ComposeResult:
        yield Static("", id="phases", markup=False)
        yield BlockProgressBar(id="bar", show_eta=False)
        yield Static("", id="status", markup=False)
        yield TailLog(max_lines=MAX_LOG_LINES, id="log", auto_scroll=True)
        with PromptBar(id="prompt"):
            yield Static("", id="question", markup=False)
            yield Input(id="answer", compact=True)
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
        # After a failure past the disk phase the Session says to continue
        # with the configuration: installing again never partitions again.
        start = self.session.install.resume_phase()
        if start != "disk":
            self.log_line(f"The disk is already prepared; continuing with: {TITLES[start]}")
        self.run_install(start)

    def on_unmount(self) -> None:
        # However the pane goes away (the app quits, or fails), nixos-install
        # must not run on behind the installer.
        runner = self.runner
        if runner is not None and runner.running:
            runner.kill_now()

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
            # popleft, not clear(): worker threads append while this runs.
            pending = self.pending
            batch = [pending.popleft() for _ in range(len(pending))]
            self.query_one("#log", Log).write_lines(batch)
        self.show_progress()
        self.show_prompt()
        self.stoppable = self.runner is not None

    def show_progress(self) -> None:
        # The runner's count, shown only during its own phase.
        p = self.progress if self.phase == "nixos-install" else None
        elapsed = engine.elapsed(clock() - self.started)
        status = self.query_one("#status", Static)
        bar = self.query_one("#bar", ProgressBar)
        if p is None or not p.total:
            # No count announced by Nix yet: no bar rather than a made-up one.
            title = p.phase_title if p is not None else TITLES.get(self.phase, "")
            self._status(status, f"{title}   elapsed {elapsed}")
            bar.display = False
            return
        bar.display = True
        # Repainting only on change keeps keys responsive while lines stream.
        if (bar.total, bar.progress) != (p.total, p.done):
            bar.update(total=p.total, progress=p.done)
        # Clipped at the screen's edge: the item's name goes last.
        self._status(status, f"{p.phase_title}  {p.done}/{p.total} items  {p.download_mib:.0f} MiB to fetch  "
                             f"{elapsed}  {p.current}")

    def _status(self, status: Static, text: str) -> None:
        """#status is one line high (wizard.tcss): new text never changes its size."""
        if text != self.status_text:
            self.status_text = text
            status.update(text, layout=False)

    def show_phases(self) -> None:
        names = [phase.key for phase in PHASES]
        at = names.index(self.phase) if self.phase in names else -1
        parts = []
        for i, phase in enumerate(PHASES):
            mark = "x" if i < at else (">" if i == at else " ")
            if phase.key == self.failed:
                mark = "!"
            parts.append(f"[{mark}] {phase.title}")
        self.query_one("#phases", Static).update("\n".join(parts))

    def watch_phase(self) -> None:
        if self.is_mounted:
            self.show_phases()

    # -- a question from nixos-install ------------------------------------------------
    # With --no-root-passwd and Nix's plain logger (TERM=dumb: its ask() says
    # "no" without asking, e.g. to a flake's nixConfig settings) nixos-install
    # itself asks nothing. But the pty is the controlling terminal of all it
    # runs: git or ssh fetching a private flake input ask for a password or a
    # host key there. Unanswered, the install would hang without a word.
    def show_prompt(self) -> None:
        runner = self.runner
        question = runner.waiting_prompt() if runner is not None else ""
        if question == self.asked:
            return
        self.asked = question
        bar = self.query_one("#prompt", PromptBar)
        answer = self.query_one("#answer", Input)
        if question:
            self.query_one("#question", Static).update(f"nixos-install asks: {question.strip()}")
            answer.password = any(word in question.lower() for word in _SECRET_PROMPTS)
            answer.value = ""
            bar.display = True
            answer.focus()
        else:
            bar.display = False

    @on(Input.Submitted, "#answer")
    def _answer(self, event: Input.Submitted) -> None:
        event.stop()
        runner = self.runner
        if runner is not None and self.asked:
            # Typed into the pty only: never logged, never shown (a password's
            # echo is off in the asking program).
            runner.send(event.value + "\n")
        event.input.value = ""
        self.asked = ""
        self.query_one("#prompt", PromptBar).display = False

    def input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the answer line is handled above; nothing else here takes input."""

    # -- the work ---------------------------------------------------------------
    @work(thread=True, exclusive=True, group="install")
    def run_install(self, start: str = "disk") -> None:
        """The session's install pipeline, from `start` on; its events drawn here."""
        failed = self.session.install.run_phases(
            start, self.app.confirmation, self.show_event,
            lambda runner: engine.run_nixos_install(self, runner, keep=MAX_LOG_LINES),
        )
        if failed is not None:
            self.app.call_from_thread(self.show_failure, failed.phase.key)
            return
        self.app.call_from_thread(self.finished)

    def show_event(self, event: Event) -> None:
        """One event of the pipeline, from the worker thread."""
        app = self.app
        if isinstance(event, LogLine):
            self.log_line(event.text)
            return
        key = event.phase.key
        if isinstance(event, PhaseStarted):
            app.call_from_thread(setattr, self, "phase", key)
            if key == "disk":  # quitting is refused until the disk phase has ended
                app.call_from_thread(setattr, app, "writing", True)
            return
        if key == "disk":
            app.call_from_thread(setattr, app, "writing", False)
        if isinstance(event, PhaseFailed) and event.error is not None:  # shown in the pane, never a traceback
            self.error_text = str(event.error)
            self.log_line(f"error: {event.error}")

    def failure_text(self, key: str) -> str:
        """What failed and why, in Nix's own words when nixos-install failed."""
        log_path = self.session.options.log_path
        p = self.progress
        if key == "nixos-install" and p is not None and p.returncode is not None:
            code = p.returncode
            doing = p.phase_title[:1].lower() + p.phase_title[1:]
            if self.stop_requested:
                head = f"nixos-install was stopped while {doing}"
            elif code < 0:
                head = f"nixos-install was killed by signal {-code} while {doing}"
            else:
                head = f"nixos-install exited {code} while {doing}"
            error = p.first_error or p.last_error
            if error:
                if len(error) > FAILURE_ERROR_CHARS:
                    error = error[: FAILURE_ERROR_CHARS - 3] + "..."
                head += f": {error}"
            retry = "Retry goes on where it stopped."
        else:
            head = f"Failed while: {TITLES[key]}"
            if self.error_text:
                head += f": {self.error_text}"
            retry = "Retry runs this step again."
        return f"{head}\nThe whole log: {log_path}. {retry}"

    def show_failure(self, key: str) -> None:
        self.failed = key
        self.show_phases()
        self.flush()  # the last lines are in the widget before the focus moves
        self.query_one("#prompt", PromptBar).display = False
        self.asked = ""
        failure = self.query_one("#failure", Static)
        failure.update(self.failure_text(key))
        failure.display = True
        self.query_one("#actions").display = True
        self.query_one("#retry").focus()
        self.app.exit_code = 1

    def finished(self) -> None:
        from screens.done import DoneScreen

        self.app.exit_code = 0
        runs = self.last_runner.runs if self.last_runner is not None else []
        self.app.push_screen(DoneScreen(runs, clock() - self.started))

    # -- actions -------------------------------------------------------------------
    @on(Button.Pressed, "#retry")
    def _retry(self) -> None:
        self.query_one("#actions").display = False
        self.query_one("#failure").display = False
        start = self.failed or "disk"
        self.failed = ""
        self.error_text = ""
        self.stop_requested = False
        self.run_install(start)

    @on(Button.Pressed, "#to-review")
    def _to_review(self) -> None:
        from screens.review import ReviewScreen

        self.app.back_to(ReviewScreen)

    @on(Button.Pressed, "#shell")
    def _shell(self) -> None:
        engine.shell(self.app, self.session)

    @on(Button.Pressed, "#save-log")
    def _save_log(self) -> None:
        from screens.modals import PathScreen

        def chosen(path: str | None) -> None:
            if path:
                self.save_log_to(path)

        self.app.push_screen(PathScreen("Save a copy of the whole log to (a directory or a file name):",
                                        self.save_log_default(), action="Save"), chosen)

    def save_log_default(self) -> str:
        """The installed system's /var/log once it exists (it survives the reboot),
        else the directory the installer was started in. A dry run never
        suggests writing into the target."""
        options = self.session.options
        var_log = os.path.join(options.target, "var/log")
        if options.real and os.path.isdir(var_log):
            return var_log
        return os.getcwd()

    @work(thread=True, group="save-log")
    def save_log_to(self, path: str) -> None:
        try:
            saved = engine.save_log(self.session, path)
        except OSError as err:
            why = err.strerror or str(err)
            self.app.call_from_thread(self.notify, f"The log was not saved to {path}: {why}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Log saved to {saved}.")

    def action_noop(self) -> None:
        """Esc and Next mean nothing while installing."""

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "stop":
            return self.stoppable
        return True

    def action_stop(self) -> None:
        self.request_stop()

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
                self.stop_requested = True
                self.runner.stop()

        self.app.push_screen(AskScreen("Stop nixos-install? You can run it again (Retry) later.", yes="Stop"),
                             answered)
