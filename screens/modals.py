"""Small modal dialogs: F1 help, yes/no questions (quit, stop the install), the
log, a directory to export to, and an edit the answers changed under."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,enter,q", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Help: {self.title_text}", classes="dialog-title")
            # Scrolled (Up/Down) when longer than the room an 80x25 console
            # leaves: the keys below it stay in view.
            with VerticalScroll(id="help-scroll"):
                yield Static(self.text, markup=False, id="help-text")
            yield Static(
                "Keys: Enter or Tab next field (Enter on the last one: next step),\n"
                "Space toggles or picks, Shift+Tab previous field, Esc back a step,\n"
                "F10 next step, F1 this help, Ctrl+Q quit.  Press Esc to close.",
                classes="hint",
            )

    def action_close(self) -> None:
        self.dismiss(None)


class AskScreen(ModalScreen[bool]):
    """A yes/no question; Esc means no. With `save_to` (the Quit question before
    the install), a third answer: yes, after saving the answers there (S);
    `saving` tells it apart."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes"),
                Binding("s", "save", "Save answers", show=False)]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No", save_to: str = "",
                 save_note: str = "") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no
        self.save_to = save_to
        self.save_note = save_note  # where the answers go is lost at reboot (/tmp), say so
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, markup=False, id="question")
            if self.save_to:
                note = f" {self.save_note}" if self.save_note else ""
                yield Static(f"Save answers (S) writes them to {self.save_to} first.{note}", markup=False,
                             id="save-note", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button(self.no, id="no", compact=True)
                if self.save_to:
                    yield Button("Save answers and quit", id="save", compact=True)
                yield Button(self.yes, id="yes", compact=True, variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
            return
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_save(self) -> None:
        if self.save_to:
            self.saving = True
            self.dismiss(True)


class LogScreen(ModalScreen[None]):
    """The end of the install log, read from the file (which keeps every line)."""

    BINDINGS = [Binding("escape,q", "close", "Close")]
    TAIL = 2000

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        from textual.widgets import Log

        with Vertical(id="dialog", classes="wide"):
            yield Static(f"Log: {self.path}  (Esc closes)", classes="dialog-title", markup=False)
            yield Log(max_lines=self.TAIL, id="log-view")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True)
    def load(self) -> None:
        from collections import deque

        from textual.widgets import Log

        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = list(deque(f, maxlen=self.TAIL))
        except OSError as err:
            lines = [f"cannot read {self.path}: {err}"]
        self.app.call_from_thread(self.query_one("#log-view", Log).write_lines, [l.rstrip("\n") for l in lines])

    def action_close(self) -> None:
        self.dismiss(None)


class PathScreen(ModalScreen["str | None"]):
    """Ask for a directory (the flake export); Enter takes it, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, default: str, action: str = "OK") -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.action = action

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical(id="dialog"):
            yield Static(self.question, markup=False, id="question")
            yield Input(self.default, id="path", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(self.action, id="ok", compact=True, variant="primary")

    def on_mount(self) -> None:
        self.query_one("#path").focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self._answer() if event.button.id == "ok" else self.dismiss(None)

    def on_input_submitted(self, event) -> None:
        self._answer()

    def _answer(self) -> None:
        from textual.widgets import Input

        path = self.query_one("#path", Input).value.strip()
        self.dismiss(path or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StaleEditScreen(ModalScreen["str | None"]):
    """A file the person edited was generated anew since (the answers changed):
    keep the edit, or use the new file. Answers "keep", "new", or None (Esc:
    decide later; Next asks again, nothing stale is ever installed)."""

    BINDINGS = [Binding("escape", "answer(None)", "Later"), Binding("k", "answer('keep')", "Keep my edit"),
                Binding("u", "answer('new')", "Use the new file")]

    def __init__(self, name: str, changes: list[str]) -> None:
        super().__init__()
        self.file_name = name
        self.changes = changes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"{self.file_name} changed under your edit", classes="dialog-title", markup=False)
            yield Static("Your answers changed after you edited it, so it was generated again.\n"
                         "What changed in the generated file:", markup=False)
            yield Static("\n".join(self.changes) or "(only spacing)", id="changes", markup=False)
            yield Static("Keep my edit: your edit, with these changes where you did not edit\n"
                         "(a line you changed too: both versions, marked, for you to choose).\n"
                         "Use the new file: your edit is dropped.", classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Keep my edit (K)", id="keep", compact=True)
                yield Button("Use the new file (U)", id="new", compact=True, variant="primary")

    def on_mount(self) -> None:
        self.query_one("#new", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_answer(self, choice: str | None) -> None:
        self.dismiss(choice)
