"""Step 7: every destructive step in plain words, the generated files (editable),
the pre-flight check of those files with Nix, and saving the answers file."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Button, Input, Static, TabbedContent, Tabs, TabPane, TextArea
from textual.worker import Worker, WorkerState

from installer.base.problems import ProblemsError
from screens import nixsyntax
from screens.base import StepScreen
from screens.widgets import FieldMessage, destructive

if TYPE_CHECKING:
    from installer.base.problems import Problem
    from installer.nixos.edits import StaleEdit
    from installer.nixos.evalcheck import Outcome

FILES = ("configuration.nix", "hardware-configuration.nix")
DEFAULT_ANSWERS = "/tmp/nixos-answers.toml"
ANSWERS_NAME = "nixos-answers.toml"
TMP_IS_LOST = "/tmp is lost at reboot: to keep the answers, give a path on a USB stick."


def answers_default(session) -> tuple[str, str]:
    """Where the answers are saved unless the person says otherwise, and what to
    say about it: a writable mounted USB stick (or card) keeps them past the
    reboot; else /tmp, which does not, and the person is told so."""
    machine = session.machine
    for mountpoint, disk in machine.media_mounts() if machine is not None else []:
        # The installer's own ISO is mounted read-only: access() says no to it.
        if not disk.read_only and os.path.isdir(mountpoint) and os.access(mountpoint, os.W_OK):
            return os.path.join(mountpoint, ANSWERS_NAME), ""
    return DEFAULT_ANSWERS, TMP_IS_LOST


def tab_id(name: str) -> str:
    return "tab-" + name.replace(".", "-")


class NixArea(TextArea):
    """One generated file; what is here when you go on is what gets installed.
    Long lines wrap (a third of configuration.nix is wider than the editor).
    Esc leaves the editor, not the step: a second Esc goes back."""

    BINDINGS = [Binding("escape", "leave", "Leave editor")]

    def __init__(self, name: str) -> None:
        super().__init__("", id="edit-" + name.replace(".", "-"), soft_wrap=True, show_line_numbers=True,
                         compact=True, tab_behavior="focus")
        self.file_name = name
        self.field = f"files.{name}"

    def on_mount(self) -> None:
        nixsyntax.highlight(self)

    def action_leave(self) -> None:
        """To the tab row above the editor: from there Esc goes back, F10 goes on."""
        self.screen.query_one(TabbedContent).query_one(Tabs).focus()

    def jump(self, line: int, column: int) -> None:
        """The cursor to a line and column (1-based) that Nix or a conflict marker named."""
        row = min(max(line, 1), self.document.line_count) - 1
        col = min(max(column, 1) - 1, len(self.document.get_line(row)))
        self.move_cursor((row, col))
        self.scroll_cursor_visible(center=True)


class ReviewScreen(StepScreen):
    TITLE_TEXT = "Review"
    PREFIXES = ("files",)
    HELP = (
        "Read what will be done to the disk. The two files are the NixOS configuration that will be "
        "installed; you may edit them (Esc or Tab leaves the editor). An edit must parse: an error "
        "names its line and column. Then Nix evaluates the files with this machine's nixpkgs (Ctrl+C "
        "stops it, F5 checks again); an error stops the install until you fix it or choose to install "
        "anyway. If you change an answer after editing a file, you may keep your edit (the new lines "
        "you did not touch are taken in) or use the new file; a line naming a disk this install does "
        "not set up stops it at Confirm. Save the answers to repeat this install unattended later "
        "(passwords are never saved). Where nixos-facter is installed, F7 switches the hardware "
        "description between hardware-configuration.nix and nixos-facter's report."
    )
    CHECK_DELAY = 0.4  # seconds of no typing before the background parse check
    BINDINGS = [
        Binding("f5", "recheck", "Check"),
        Binding("f6", "to_software", "Fix package"),
        Binding("f7", "hardware_report", "Hardware file"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.edit_problems: dict[str, str] = {}
        self.edit_at: dict[str, tuple[int, int]] = {}  # field -> (line, column) of its parse error
        self.nix_problems: dict[str, str] = {}  # field -> what Nix said about it (does not hold Next back)
        self._debounce: dict[str, Timer] = {}
        self.loaded = False
        self.asking = False
        self.checking = False  # the pre-flight evaluation is running
        self.outcome: Outcome | None = None  # what the latest pre-flight evaluation found
        self._cancel: threading.Event | None = None
        self._stopped_key: str | None = None  # the files whose check the person stopped
        self._checking_key: str | None = None  # the files being checked
        self._next_pending = False  # Next was pressed while checking: go on when done

    def body(self) -> ComposeResult:
        yield Static("", id="nixcheck", markup=False)
        yield Static("Preparing the plan...", id="steps", markup=False)
        with TabbedContent(id="files"):
            for name in FILES:
                with TabPane(name, id=tab_id(name)):
                    yield NixArea(name)
                    yield FieldMessage(f"files.{name}")
        yield Static("", id="nixcheck-detail", markup=False)
        with Horizontal(id="save"):
            yield Input(answers_default(self.session)[0], id="answers-path", compact=True)
            yield Button("Save answers", id="save-answers", compact=True)
            yield Button("Export flake", id="export-flake", compact=True)
        yield Static(answers_default(self.session)[1], id="saved", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#nixcheck-detail").display = False
        self.load()
        self.query_one("#next").focus()

    def on_unmount(self) -> None:
        if self._cancel is not None:
            self._cancel.set()  # no evaluation goes on behind a step that is gone

    def problems(self) -> list[Problem]:
        from installer.base.problems import Problem

        found = [Problem(field, message) for field, message in self.edit_problems.items()]
        return found + [Problem(field, message) for field, message in self.nix_problems.items()]

    def area(self, name: str) -> NixArea:
        return next(a for a in self.query(NixArea) if a.file_name == name)

    @work(thread=True, exclusive=True, group="review")
    def load(self) -> None:
        """Plan and render off the event loop: the renderer reads templates."""
        try:
            lines = self.session.review_lines()
            files = self.session.draft.shown_files()  # a stale edit shows as the person left it until they choose
            stale = self.session.draft.stale_edits()
        except ProblemsError as err:
            text = "The answers have problems; go back (Esc) and fix them:\n" + "\n".join(
                f"  {p.field}: {p.message}" for p in err.problems)
            self.app.call_from_thread(self.show, text, {})
            return
        except Exception as err:
            self.app.call_from_thread(self.show, f"Could not prepare the plan: {err}", {})
            return
        text = self.choices() + "\nWhat will happen:\n" + "\n".join(f"  {line}" for line in lines)
        self.app.call_from_thread(self.show, text, files, stale)

    def choices(self) -> str:
        """The answers that are not visible in the disk steps, in one glance."""
        m = self.model
        users = ", ".join(f"{u.name}{' (admin)' if u.admin else ''}" for u in m.users) or "none"
        return (f"Hostname: {m.system.hostname}   Users: {users}   Root login: "
                f"{'disabled' if m.root.disabled else 'password'}\n"
                f"Keymap: {m.system.keymap}   Locale: {m.system.locale}   Timezone: {m.system.timezone}\n"
                f"Desktop: {m.software.desktop}   Encryption: {'LUKS' if m.encryption.enabled else 'none'}"
                + self.hardware_choice())

    def hardware_choice(self) -> str:
        """Where nixos-facter is installed: which hardware description the install writes (F7 switches)."""
        from installer.run.facter import available

        if not available():
            return ""
        return "   Hardware: " + ("nixos-facter report" if self.model.hardware.report == "facter" else "generated file")

    def action_hardware_report(self) -> None:
        """hardware-configuration.nix as generated, or nixos-facter's report (run after the confirmation)."""
        if not self.check_action("hardware_report", ()):
            return
        hardware = self.model.hardware
        hardware.report = "generated" if hardware.report == "facter" else "facter"
        self.load()

    def show(self, text: str, files: dict[str, str], stale: Sequence[StaleEdit] = ()) -> None:
        self.query_one("#steps", Static).update(destructive(text))
        for area in self.query(NixArea):
            self._set_text(area, files.get(area.file_name, ""))
        self.loaded = bool(files)
        if stale:
            self.ask_stale(list(stale))
        elif self.loaded:
            self.start_check()

    def _set_text(self, area: NixArea, text: str) -> None:
        with area.prevent(TextArea.Changed):
            area.text = text

    # -- an edit the answers changed under -----------------------------------------
    def ask_stale(self, stale: list[StaleEdit]) -> None:
        """Ask, file by file, whether to keep each edit made before the answers changed."""
        from screens.modals import StaleEditScreen

        if self.asking or not stale:
            return
        first, rest = stale[0], stale[1:]
        self.asking = True

        def answered(choice: str | None) -> None:
            self.asking = False
            saved = self.query_one("#saved", Static)
            if choice == "keep":
                merged = self.session.draft.keep_edit(first.name)
                area = self.area(first.name)
                self._set_text(area, merged.text)
                if merged.conflicts:
                    saved.update(f"Kept your edit of {first.name} with the new file's other changes; where "
                                 "both changed the same lines, both versions are marked: choose one.")
                    self.flush_edits()  # the markers do not parse: shown, and the cursor on the first
                    self.query_one(TabbedContent).active = tab_id(first.name)
                    area.focus()
                    area.jump(merged.conflicts[0], 1)
                else:
                    saved.update(f"Kept your edit of {first.name}, with the new file's changes to the "
                                 "lines you did not touch.")
            elif choice == "new":
                self.session.draft.drop_edit(first.name)
                self._set_text(self.area(first.name), first.now)
                saved.update(f"{first.name} is the newly generated file; your edit was dropped.")
            else:
                saved.update(f"Your edit of {first.name} predates your last answers: Next asks again.")
                return
            if rest:
                self.ask_stale(rest)
            else:
                self.start_check()

        self.app.push_screen(StaleEditScreen(first.name, first.changes()), answered)

    # -- editing: checked as the person types, and for certain on Next -------------
    @on(TextArea.Changed)
    def _edited(self, event: TextArea.Changed) -> None:
        area = event.text_area
        if not isinstance(area, NixArea):
            return
        old = self._debounce.pop(area.file_name, None)
        if old is not None:
            old.stop()
        # The Nix parser is a process: check when typing pauses, in a worker.
        name = area.file_name
        self._debounce[name] = self.set_timer(self.CHECK_DELAY, lambda: self.check(name, area.text))

    def check(self, name: str, text: str) -> None:
        # exclusive: a newer check of the same file supersedes the older one.
        self.run_worker(lambda: self._parse(name, text), group=f"check-{name}", exclusive=True, thread=True)

    def _parse(self, name: str, text: str) -> None:
        found = self.session.draft.parse_problems(name, text)
        self.app.call_from_thread(self._checked, name, text, found)

    def _checked(self, name: str, text: str, found: list[Problem]) -> None:
        # Checks can finish out of order, and the text may have changed since:
        # only the text still in the editor is ever stored.
        if not self.is_attached or self.area(name).text != text:
            return
        if not found:
            found = self.session.draft.set_edited(name, text)  # parsed just now: no second nix-instantiate
        self._show_check(name, found)
        if not found:
            self.start_check()  # the files changed: what Nix said about the old ones no longer holds

    def _show_check(self, name: str, found: list[Problem]) -> None:
        field = f"files.{name}"
        self.edit_at.pop(field, None)
        if found:
            self.edit_problems[field] = found[0].message
            error = self.session.draft.parse_error(name, self.area(name).text)  # cached: no second parse
            if error is not None and error.line:
                self.edit_at[field] = (error.line, error.column)
                if self.focused is not self.area(name):
                    self.area(name).jump(error.line, error.column)  # never under the typing cursor
        else:
            self.edit_problems.pop(field, None)
        self.show_all = True
        self.refresh_problems()
        self._notice()

    def _notice(self) -> None:
        """"Not checked" says nothing useful over a syntax error: it is hidden while one shows."""
        unchecked = self.outcome is not None and self.outcome.status in ("no-nix", "no-nixpkgs")
        self.query_one("#nixcheck").display = not (unchecked and self.edit_problems)

    def flush_edits(self) -> None:
        """Store (or refuse) what each editor holds now, not when typing paused.
        On the event loop, on purpose: Next must not move on before the edit is
        stored, and keys typed after Next must not land in the editor. Only a
        text typed in the last CHECK_DELAY is not parsed yet (one short
        nix-instantiate); the rest comes from nixcheck's cache."""
        for timer in self._debounce.values():
            timer.stop()
        self._debounce.clear()
        for area in self.query(NixArea):
            self._show_check(area.file_name, self.session.draft.set_edited(area.file_name, area.text))

    def action_next(self) -> None:
        """On once every edit parses and Nix has had its say about these very
        files (or the person stopped it). A failed evaluation does not hold
        Next back: Confirm refuses until it is fixed or overridden."""
        if not self.loaded:
            self.app.bell()
            return
        self.flush_edits()
        stale = self.session.draft.stale_edits()
        if stale:
            self.app.bell()
            self.ask_stale(stale)
            return
        self.show_all = True
        self.refresh_problems()
        if self.edit_problems:
            self.app.bell()
            field = next(iter(self.edit_problems))
            self.focus_field(field)
            if field in self.edit_at:
                area = next(a for a in self.query(NixArea) if a.field == field)
                self.call_after_refresh(area.jump, *self.edit_at[field])
            return
        if self.start_check():
            # On by itself once Nix is done, unless it finds an error (shown here first).
            self._next_pending = True
            self._status("Still checking the configuration with Nix... Next goes on once it is done "
                         "(Ctrl+C stops the check).", "running")
            return
        self.app.next_step()

    # -- the pre-flight evaluation with Nix ------------------------------------------
    def start_check(self, force: bool = False) -> bool:
        """Evaluate the files as they are now, in a worker, unless Nix already
        judged exactly these files (F5 forces it). True when a check started."""
        outcome = self.session.preflight.nix_check_outcome()
        if outcome is not None and not force:
            self.show_outcome(outcome)
            return False
        key = self.session.preflight.files_key()
        if key is None:
            return False  # an edit the answers changed under: checked once the person chose
        if key == self._stopped_key and not force:
            return False
        if self.checking and key == self._checking_key and not force:
            return True  # these very files are being checked
        if self._cancel is not None:
            self._cancel.set()  # a check of older files: superseded
        cancel = self._cancel = threading.Event()
        self._checking_key = key
        self.checking = True
        self._status("Checking the configuration with Nix... (Ctrl+C stops the check)", "running")
        self.run_worker(lambda: self._evaluate(cancel), group="nixcheck", thread=True)
        return True

    def _evaluate(self, cancel: threading.Event) -> tuple[threading.Event, Outcome]:
        """The worker's result reaches the screen as a Worker.StateChanged
        message, which is dropped once the screen is gone: a check that ends
        after Next or Quit finds nothing to update and raises nothing."""
        try:
            outcome = self.session.preflight.nix_check(cancel=cancel)
        except Exception as err:  # a stale edit or an unreadable plan: said, never a traceback
            from installer.nixos.evalcheck import Outcome

            outcome = Outcome("cancelled", f"The configuration could not be checked: {err}")
        return cancel, outcome

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        result = event.worker.result  # _evaluate's (cancel, outcome)
        if event.worker.group == "nixcheck" and event.state is WorkerState.SUCCESS and isinstance(result, tuple):
            self._evaluated(*result)

    def _evaluated(self, cancel: threading.Event, outcome: Outcome) -> None:
        if cancel is not self._cancel or not self.is_attached:
            return  # superseded by a check of newer files
        self._cancel = None
        self.checking = False
        if outcome.status == "cancelled":
            self._stopped_key = self.session.preflight.files_key()
        self.show_outcome(outcome)
        pending, self._next_pending = self._next_pending, False
        if pending and not outcome.failed and outcome.status != "cancelled" and self.app.screen is self:
            self.action_next()

    def request_stop(self) -> None:
        """Ctrl+C: stop the check (Review stays as it is); with none running, the Quit question."""
        if not self.checking or self._cancel is None:
            self.app.action_request_quit()
            return
        self._cancel.set()
        self._status("Stopping the check with Nix...", "running")

    def action_recheck(self) -> None:
        if self.loaded and not self.checking:
            self._stopped_key = None
            self.start_check(force=True)

    def show_outcome(self, outcome: Outcome) -> None:
        """What Nix said, at the place to fix it: the package field (F6 goes
        there), the line in the file (selected in its editor), or verbatim."""
        self.outcome = outcome
        self.nix_problems = {}
        detail = self.query_one("#nixcheck-detail", Static)
        detail.display = False
        if outcome.status == "passed":
            # No time on screen (the log has it): the same files always show the same line.
            downloads = self.session.preflight.downloads_line()
            self._status("Checked with Nix: the configuration evaluates."
                         + (f"\n{downloads}" if downloads else ""), "passed")
        elif outcome.status == "failed":
            if outcome.field == "software.packages":
                text = f"Nix: {outcome.message} F6 goes to the Software step to fix it."
            elif outcome.field.startswith("files."):
                text = (f"Nix found an error in {outcome.field.removeprefix('files.')}"
                        f"{f' line {outcome.line}' if outcome.line else ''} (shown below the file).")
                self.nix_problems[outcome.field] = outcome.message
                self._select_line(outcome.field.removeprefix("files."), outcome.line)
            else:
                text = "Nix could not evaluate the configuration; its error is shown below the files."
            self._status(text + " Install refuses until it is fixed (or you choose to install anyway).", "failed")
            detail.update("Nix said:\n" + outcome.detail)
            detail.display = True
        else:
            self._status(outcome.message + (" F5 checks again." if outcome.status != "no-nix" else ""), "unchecked")
        self.show_all = self.show_all or bool(self.nix_problems)
        self.refresh_problems()
        self.refresh_bindings()
        self._notice()

    def _select_line(self, name: str, line: int) -> None:
        from textual.widgets.text_area import Selection

        if not line:
            return
        area = self.area(name)
        if self.focused is area:
            return  # the person is typing there: the cursor stays theirs (the message names the line)
        self.query_one(TabbedContent).active = tab_id(name)
        row = line - 1
        if row >= area.document.line_count:
            return
        area.selection = Selection((row, 0), (row, len(area.document.get_line(row))))
        area.scroll_cursor_visible(center=True)

    def _status(self, text: str, state: str) -> None:
        status = self.query_one("#nixcheck", Static)
        status.update(text)
        for name in ("running", "passed", "failed", "unchecked"):
            status.set_class(name == state, f"-{name}")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "hardware_report":
            from installer.run.facter import available

            return available()
        if action == "to_software":
            return self.outcome is not None and self.outcome.failed and self.outcome.field == "software.packages"
        return True

    def action_to_software(self) -> None:
        """To the Software step, with the package field focused and Nix's message under it."""
        from screens.software import SoftwareScreen

        if not self.check_action("to_software", ()):
            return
        if any(isinstance(s, SoftwareScreen) for s in self.app.screen_stack):
            self.app.back_to(SoftwareScreen)
        else:
            self.app.push_screen(SoftwareScreen())
        self.app.call_after_refresh(self._show_package_field)

    def _show_package_field(self) -> None:
        screen = self.app.screen
        if not isinstance(screen, StepScreen):
            return  # the Software step is on top: action_to_software put it there
        screen.show_all = True
        screen.refresh_problems()
        screen.focus_field("software.packages")

    def focus_field(self, field: str) -> None:
        """A file's editor sits in a tab: show that tab, then focus the editor."""
        for area in self.query(NixArea):
            if area.field == field:
                self.query_one(TabbedContent).active = tab_id(area.file_name)
                self.call_after_refresh(super().focus_field, field)
                return
        super().focus_field(field)

    @on(Button.Pressed, "#save-answers")
    @on(Input.Submitted, "#answers-path")
    def _save(self, event) -> None:
        event.stop()
        path = self.query_one("#answers-path", Input).value.strip()
        saved = self.query_one("#saved", Static)
        try:
            self.session.save_answers(path)
        except Exception as err:
            saved.update(f"Could not save to {path}: {err}")
            return
        saved.update(f"Saved the answers (without passwords) to {path}.")

    # -- the flake export (nixos-anywhere + disko) --------------------------------
    def export_default(self) -> str:
        """/root in a real run (it survives on the ISO's tmpfs until reboot); /tmp in a dry run."""
        if self.session.options.real:
            return "/root/nixos-flake"
        import tempfile

        return os.path.join(tempfile.gettempdir(), "nixos-flake")

    @on(Button.Pressed, "#export-flake")
    def _export_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        from screens.modals import PathScreen

        def chosen(path: str | None) -> None:
            if path:
                self.ask_replace(path)

        self.app.push_screen(
            PathScreen("Write a flake (with a disko disk layout) for nixos-anywhere into:",
                       self.export_default(), action="Export"),
            chosen,
        )

    def ask_replace(self, path: str) -> None:
        """Files already in the directory are replaced only when the person says so."""
        from screens.modals import AskScreen

        existing = self.session.flake.conflicts(path)
        if not existing:
            self.ask_hashes(path, overwrite=False)
            return

        def answered(replace: bool | None) -> None:
            if replace:
                self.ask_hashes(path, overwrite=True)
            else:
                self.query_one("#saved", Static).update(f"Nothing was exported: {path} already holds files.")

        self.app.push_screen(
            AskScreen(f"{path} already holds {', '.join(existing)}.\nReplace them with the new flake?",
                      yes="Replace", no="Keep them"),
            answered,
        )

    def ask_hashes(self, path: str, *, overwrite: bool) -> None:
        """Without an SSH key nobody could log in to a machine installed from
        the flake: then, and only then, offer the password hashes, saying
        where they would end up."""
        from screens.modals import AskScreen

        accounts = self.session.flake.exportable_hashes()
        if not accounts or not self.session.flake.problems():
            self.export(path, include_password_hashes=False, overwrite=overwrite)
            return

        def answered(include: bool | None) -> None:
            self.export(path, include_password_hashes=bool(include), overwrite=overwrite)

        self.app.push_screen(
            AskScreen(
                "Nobody has an SSH key, so the flake needs the password hashes of "
                f"{', '.join(accounts)} to log in.\nThey end up in the Nix store, which every user "
                "of the machine can read. Put them in the flake?",
                yes="Put hashes in", no="No",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="export")
    def export(self, path: str, *, include_password_hashes: bool = False, overwrite: bool = False) -> None:
        self.app.call_from_thread(self.query_one("#saved", Static).update, f"Exporting the flake to {path}...")
        try:
            done = self.session.flake.export(path, include_password_hashes=include_password_hashes,
                                             overwrite=overwrite)
        except ProblemsError as err:
            text = "The flake was not written:\n" + "\n".join(f"  {p.message}" for p in err.problems)
        except Exception as err:
            text = f"Could not export the flake to {path}: {err}"
        else:
            text = f"Wrote the flake to {done.out_dir}: " + ", ".join(done.files)
        self.app.call_from_thread(self.query_one("#saved", Static).update, text)

    def ready(self) -> bool:
        if not self.loaded:
            self.app.bell()
            return False
        return True

