"""Step 7: every destructive step in plain words, the generated files (editable),
and saving the answers file."""

from __future__ import annotations

import os

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Button, Input, Static, TabbedContent, TabPane, TextArea

from installer.problems import ProblemsError
from screens import nixsyntax
from screens.base import StepScreen
from screens.widgets import FieldMessage

FILES = ("configuration.nix", "hardware-configuration.nix")
DEFAULT_ANSWERS = "/tmp/nixos-answers.toml"


def tab_id(name: str) -> str:
    return "tab-" + name.replace(".", "-")


class NixArea(TextArea):
    """One generated file; what is here when you go on is what gets installed."""

    def __init__(self, name: str) -> None:
        super().__init__("", id="edit-" + name.replace(".", "-"), soft_wrap=False, show_line_numbers=True,
                         compact=True, tab_behavior="focus")
        self.file_name = name
        self.field = f"files.{name}"

    def on_mount(self) -> None:
        nixsyntax.highlight(self)


class ReviewScreen(StepScreen):
    TITLE_TEXT = "Review"
    PREFIXES = ("files",)
    HELP = (
        "Read what will be done to the disk. The two files are the NixOS configuration that will be "
        "installed; you may edit them here (Tab leaves the editor). An edit is checked with the Nix "
        "parser and must parse before you can go on. If you change an answer after editing a file, "
        "you are asked whether to keep your edit or use the newly generated file. Save the answers "
        "to repeat this install unattended later (passwords are never saved)."
    )
    CHECK_DELAY = 0.4  # seconds of no typing before the background parse check

    def __init__(self) -> None:
        super().__init__()
        self.edit_problems: dict[str, str] = {}
        self._debounce: dict[str, Timer] = {}
        self.loaded = False
        self.asking = False

    def body(self) -> ComposeResult:
        yield Static("Preparing the plan...", id="steps", markup=False)
        with TabbedContent(id="files"):
            for name in FILES:
                with TabPane(name, id=tab_id(name)):
                    yield NixArea(name)
                    yield FieldMessage(f"files.{name}")
        with Horizontal(id="save"):
            yield Input(DEFAULT_ANSWERS, id="answers-path", compact=True)
            yield Button("Save answers", id="save-answers", compact=True)
            yield Button("Export flake", id="export-flake", compact=True)
        yield Static("", id="saved", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.load()
        self.query_one("#next").focus()

    def problems(self):
        from installer.problems import Problem

        return [Problem(field, message) for field, message in self.edit_problems.items()]

    def area(self, name: str) -> NixArea:
        return next(a for a in self.query(NixArea) if a.file_name == name)

    @work(thread=True, exclusive=True, group="review")
    def load(self) -> None:
        """Plan and render off the event loop: the renderer reads templates."""
        try:
            lines = self.session.review_lines()
            files = self.session.shown_files()  # a stale edit shows as the person left it until they choose
            stale = self.session.stale_edits()
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
                f"Desktop: {m.software.desktop}   Encryption: {'LUKS' if m.encryption.enabled else 'none'}")

    def show(self, text: str, files: dict[str, str], stale=()) -> None:
        self.query_one("#steps", Static).update(text)
        for area in self.query(NixArea):
            self._set_text(area, files.get(area.file_name, ""))
        self.loaded = bool(files)
        if stale:
            self.ask_stale(list(stale))

    def _set_text(self, area: NixArea, text: str) -> None:
        with area.prevent(TextArea.Changed):
            area.text = text

    # -- an edit the answers changed under -----------------------------------------
    def ask_stale(self, stale: list) -> None:
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
                self.session.keep_edit(first.name)
                saved.update(f"Kept your edit of {first.name}; the changed answers are not in it.")
            elif choice == "new":
                self.session.drop_edit(first.name)
                self._set_text(self.area(first.name), first.now)
                saved.update(f"{first.name} is the newly generated file; your edit was dropped.")
            else:
                saved.update(f"Your edit of {first.name} predates your last answers: Next asks again.")
                return
            self.ask_stale(rest)

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
        found = self.session.parse_problems(name, text)
        self.app.call_from_thread(self._checked, name, text, found)

    def _checked(self, name: str, text: str, found: list) -> None:
        # Checks can finish out of order, and the text may have changed since:
        # only the text still in the editor is ever stored.
        if not self.is_attached or self.area(name).text != text:
            return
        if not found:
            found = self.session.set_edited(name, text)  # parsed just now: no second nix-instantiate
        self._show_check(name, found)

    def _show_check(self, name: str, found: list) -> None:
        if found:
            self.edit_problems[f"files.{name}"] = found[0].message
        else:
            self.edit_problems.pop(f"files.{name}", None)
        self.show_all = True
        self.refresh_problems()

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
            self._show_check(area.file_name, self.session.set_edited(area.file_name, area.text))

    def action_next(self) -> None:
        if not self.loaded:
            self.app.bell()
            return
        self.flush_edits()
        stale = self.session.stale_edits()
        if stale:
            self.app.bell()
            self.ask_stale(stale)
            return
        super().action_next()

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

        existing = self.session.export_conflicts(path)
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

        accounts = self.session.exportable_hashes()
        if not accounts or not self.session.export_problems():
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
            done = self.session.export_flake(path, include_password_hashes=include_password_hashes,
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
