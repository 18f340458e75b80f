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
from screens.base import StepScreen
from screens.widgets import FieldMessage

FILES = ("configuration.nix", "hardware-configuration.nix")
DEFAULT_ANSWERS = "/tmp/nixos-answers.toml"


class NixArea(TextArea):
    """One generated file; what is here when you go on is what gets installed."""

    def __init__(self, name: str) -> None:
        super().__init__("", id="edit-" + name.replace(".", "-"), soft_wrap=False, show_line_numbers=True,
                         compact=True, tab_behavior="focus")
        self.file_name = name
        self.field = f"files.{name}"


class ReviewScreen(StepScreen):
    TITLE_TEXT = "Review"
    PREFIXES = ("files",)
    HELP = (
        "Read what will be done to the disk. The two files are the NixOS configuration that will be "
        "installed; you may edit them here (Tab leaves the editor). An edit is checked with the Nix "
        "parser and must parse before you can go on. Save the answers to repeat this install "
        "unattended later (passwords are never saved)."
    )

    def __init__(self) -> None:
        super().__init__()
        self.edit_problems: dict[str, str] = {}
        self._debounce: dict[str, Timer] = {}
        self.loaded = False

    def body(self) -> ComposeResult:
        yield Static("Preparing the plan...", id="steps", markup=False)
        with TabbedContent(id="files"):
            for name in FILES:
                with TabPane(name, id="tab-" + name.replace(".", "-")):
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

    @work(thread=True, exclusive=True, group="review")
    def load(self) -> None:
        """Plan and render off the event loop: the renderer reads templates."""
        try:
            lines = self.session.review_lines()
            files = self.session.render()
        except ProblemsError as err:
            text = "The answers have problems; go back (Esc) and fix them:\n" + "\n".join(
                f"  {p.field}: {p.message}" for p in err.problems)
            self.app.call_from_thread(self.show, text, {})
            return
        except Exception as err:
            self.app.call_from_thread(self.show, f"Could not prepare the plan: {err}", {})
            return
        text = self.choices() + "\nWhat will happen:\n" + "\n".join(f"  {line}" for line in lines)
        self.app.call_from_thread(self.show, text, files)

    def choices(self) -> str:
        """The answers that are not visible in the disk steps, in one glance."""
        m = self.model
        users = ", ".join(f"{u.name}{' (admin)' if u.admin else ''}" for u in m.users) or "none"
        return (f"Hostname: {m.system.hostname}   Users: {users}   Root login: "
                f"{'disabled' if m.root.disabled else 'password'}\n"
                f"Keymap: {m.system.keymap}   Locale: {m.system.locale}   Timezone: {m.system.timezone}\n"
                f"Desktop: {m.software.desktop}   Encryption: {'LUKS' if m.encryption.enabled else 'none'}")

    def show(self, text: str, files: dict[str, str]) -> None:
        self.query_one("#steps", Static).update(text)
        for area in self.query(NixArea):
            with area.prevent(TextArea.Changed):
                area.text = files.get(area.file_name, "")
        self.loaded = bool(files)

    @on(TextArea.Changed)
    def _edited(self, event: TextArea.Changed) -> None:
        area = event.text_area
        if not isinstance(area, NixArea):
            return
        old = self._debounce.pop(area.file_name, None)
        if old is not None:
            old.stop()
        # The Nix parser is a process: check when typing pauses, in a worker.
        self._debounce[area.file_name] = self.set_timer(0.4, lambda: self.check(area.file_name, area.text))

    @work(thread=True, group="check")
    def check(self, name: str, text: str) -> None:
        found = self.session.set_edited(name, text)
        self.app.call_from_thread(self._checked, name, found)

    def _checked(self, name: str, found: list) -> None:
        if found:
            self.edit_problems[f"files.{name}"] = found[0].message
        else:
            self.edit_problems.pop(f"files.{name}", None)
        self.show_all = True
        self.refresh_problems()

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
                self.query_one("#saved", Static).update(f"Exporting the flake to {path}...")
                self.export(path)

        self.app.push_screen(
            PathScreen("Write a flake (with a disko disk layout) for nixos-anywhere into:",
                       self.export_default(), action="Export"),
            chosen,
        )

    @work(thread=True, exclusive=True, group="export")
    def export(self, path: str) -> None:
        try:
            done = self.session.export_flake(path)
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
