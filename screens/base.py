"""What every wizard step shares: the header with the step indicator, field
messages from the engine's validation, and Next/Back/Help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Static

from screens import engine
from screens.widgets import Advance, FieldMessage, SizeBanner, field_id, field_matches

if TYPE_CHECKING:
    from textual import getters

    from installer.answers.model import InstallModel
    from installer.base.problems import Problem
    from installer.flow.session import Session
    from screens.app import InstallerApp


class StepBody(VerticalScroll):
    """The step's fields. A Tab stop (arrows and PgUp/PgDn scroll it) only
    while it holds more than fits, and then its scrollbar shows the focus: a
    container that is always a stop is one Tab press that seems to do nothing.

    While nothing has the focus (Textual's first focus, before the layout),
    it takes it, as it always did: the step then focuses its first field.
    Were that first focus a field, Textual would scroll the body to centre
    it before knowing where it lies (the words above the Disk list went out
    of view)."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0 or self.screen.focused is None

    # A class, not :focus in the CSS: a blur right after that first focus left
    # the :focus colours on the scrollbar.
    def on_focus(self) -> None:
        self.add_class("-focused")

    def on_blur(self) -> None:
        self.remove_class("-focused")


class StepHeader(Static):
    """One line: product, "3/9 Disk", and a DRY RUN badge."""


class StepScreen(Screen[None]):
    TITLE_TEXT: ClassVar[str] = ""
    HELP: ClassVar[str] = "Enter or Tab moves forward, Space toggles, Esc goes back, Ctrl+Q quits."
    # The model fields this step validates, as prefixes of Problem.field.
    PREFIXES: ClassVar[tuple[str, ...]] = ()
    NEXT_LABEL: ClassVar[str] = "Next"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f1", "help", "Help"),
        # priority: run as the app reads the key, so keys typed right after F10
        # go to the step it opens, not to this step's focused widget.
        Binding("f10", "next", "Next", priority=True),
    ]

    if TYPE_CHECKING:
        # The app as the InstallerApp every step runs in (its session, steps and
        # flags), the way Textual itself types `app`; for type checkers only:
        # screens.app imports the steps, so this module cannot import it at run
        # time, and the inherited property returns that same InstallerApp.
        app = getters.app(InstallerApp)

    def __init__(self) -> None:
        super().__init__()
        self.touched: set[str] = set()
        self.show_all = False

    @property
    def session(self) -> Session:
        """The engine: every step reads and writes through it and what it hands
        out (draft, preflight, install, console, flake)."""
        return self.app.session

    @property
    def model(self) -> InstallModel:
        return self.session.model

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StepHeader(self.header_text(), id="header", markup=False)
        yield SizeBanner()
        with StepBody(id="body"):
            yield from self.body()
            yield Static("", id="general", classes="message -error")
        with Horizontal(id="nav"):
            yield Button("Back", id="back", compact=True)
            yield Button(self.NEXT_LABEL, id="next", compact=True, variant="primary")
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def header_text(self) -> str:
        number, total = self.app.step_number(type(self))
        badge = "  [DRY RUN]" if not self.session.options.real else ""
        return f" NixOS installer  {number}/{total} {self.TITLE_TEXT}{badge}"

    def on_mount(self) -> None:
        self.query_one("#general", Static).display = False
        self.show_size()
        if self.PREFIXES:
            # After the first paint: a new step shows no message until a field
            # is touched, and validating (zoneinfo, locales) costs start-up time.
            self.call_after_refresh(self.refresh_problems)

    def on_resize(self, event: events.Resize) -> None:
        self.show_size()

    def show_size(self) -> None:
        self.query_one(SizeBanner).show(*self.app.size)

    def on_key(self, event: events.Key) -> None:
        """A key typed while the step was opening (a fast typist, tmux send-keys)
        reaches the screen itself, since nothing had focus yet: hand it to the
        field that has focus now. An Input stops every printable key it sees, so
        a printable key here with an Input focused never went through it."""
        target = self.focused
        if isinstance(target, Input) and event.is_printable and not getattr(event, "rerouted", False):
            event.stop()
            event.prevent_default()
            again = events.Key(event.key, event.character)
            # A mark on this one event, read by getattr above when it comes back:
            # Textual's Key declares no such field, and a Key subclass would have
            # another handler name (Textual routes messages by class name).
            again.rerouted = True  # type: ignore[attr-defined]
            target.post_message(again)

    # -- the engine's messages -------------------------------------------------
    def problems(self) -> list[Problem]:
        return engine.problems(self.session, self.PREFIXES)

    def refresh_problems(self) -> list[Problem]:
        """Show each problem under its field; returns the errors."""
        found = self.problems()
        messages = list(self.query(FieldMessage))
        unplaced: list[Problem] = []
        filled: set[str] = set()
        wanted: dict[str, tuple[str, str]] = {}
        for problem in found:
            home = next((m for m in messages if field_matches(m.field, problem.field)), None)
            if home is None:
                unplaced.append(problem)
                continue
            visible = (self.show_all or any(field_matches(t, problem.field) or t == home.field
                                            for t in self.touched)) and not self.still_typing(home.field)
            if visible and home.field not in filled:
                filled.add(home.field)
                wanted[home.field] = (problem.message, problem.severity)
        for message in messages:
            message.show(*wanted.get(message.field, ("", "")))
        general = self.query_one("#general", Static)
        shown = [p for p in unplaced if self.show_all]
        general.update("\n".join(p.message for p in shown))
        general.display = bool(shown)
        return [p for p in found if p.severity == "error"]

    def still_typing(self, field: str) -> bool:
        """A search field (timezone, locale, keymap) being typed into: "not known"
        would only mean "not finished yet". Its message waits until the person
        leaves it, picks an entry, or presses Next (which shows every message)."""
        from screens.widgets import FilterInput

        focused = self.focused
        return (not self.show_all and isinstance(focused, FilterInput) and field_matches(focused.field, field)
                and not focused.settled)

    def focus_field(self, field: str) -> None:
        """Focus the widget that edits `field` (or the closest one above it), and
        scroll so that both it and its message are in view: at 80x25 the message
        under a field near the bottom would otherwise sit below the buttons."""
        candidates = [w for w in self.query("*")
                      if (edits := getattr(w, "field", None)) and field_matches(edits, field) and w.focusable]
        if not candidates:
            candidates = [w for w in self.query("*") if w.id == field_id(field) and w.focusable]
        if not candidates:
            return
        target = candidates[0]
        target.focus()  # scrolls it into view (centred when it was far)
        message = next((m for m in self.query(FieldMessage) if field_matches(m.field, field)), None)
        if message is not None:
            # After the layout (the message just filled in has no height before
            # it): only if it is cut, so the field right above it stays in view.
            self.call_after_refresh(message.scroll_visible, animate=False, immediate=True)

    # -- editing ---------------------------------------------------------------
    def store(self, field: str, value: str) -> None:
        """Write an edited value into the model; steps override for non-strings."""
        set_path(self.model, field, value)

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        field = getattr(event.input, "field", None)
        if field is None:
            return
        self.store(field, event.value)
        self.touched.add(field)
        self.after_change(field)
        self.refresh_problems()

    def after_change(self, field: str) -> None:
        """A hook for steps whose other widgets follow an edit."""

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        self.input_submitted(event)

    def input_submitted(self, event: Input.Submitted) -> None:
        """Enter in an Input that edits no field (Confirm overrides: Enter confirms)."""
        self.advance()

    def field_entered(self, field: Widget) -> None:
        """Enter in a field (FieldInput calls this as it handles the key): on to the next one."""
        self.advance()

    @on(Advance)
    def _advance(self, event: Advance) -> None:
        event.stop()
        self.advance()

    def advance(self) -> None:
        """Enter: focus the step's next field; from its last field, go to the
        next step (never onto Back, where a second Enter would go back)."""
        chain = self.focus_chain
        body = self.query_one("#body")
        current = self.focused
        following = chain[chain.index(current) + 1:] if current in chain else []
        after = next((w for w in following if body in w.ancestors), None)
        if after is None:
            self.action_next()
        else:
            self.set_focus(after)  # now, not after a message (Widget.focus): see FieldInput

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    # -- navigation ------------------------------------------------------------
    def action_next(self) -> None:
        self.show_all = True
        errors = self.refresh_problems() if self.PREFIXES else []
        if errors:
            self.app.bell()
            self.focus_field(errors[0].field)
            return
        if self.ready():
            self.app.next_step()

    def ready(self) -> bool:
        """A step's own reason to hold Next back (the probe still running)."""
        return True

    def action_back(self) -> None:
        self.app.previous_step()

    def action_help(self) -> None:
        from screens.modals import HelpScreen

        self.app.push_screen(HelpScreen(self.TITLE_TEXT, self.HELP))


def set_path(obj: Any, field: str, value: Any) -> None:
    """Set "users[0].name"-style paths on the model's dataclasses."""
    parts = field.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    last = parts[-1]
    if last.isdigit():
        obj[int(last)] = value
    else:
        setattr(obj, last, value)


def focusables(widget: Widget) -> list[Widget]:
    return [w for w in widget.query("*") if w.focusable]
