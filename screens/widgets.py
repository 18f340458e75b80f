"""Small widgets the steps share, each safe for the Linux console font.

The ISO's console uses the kernel's built-in font, whose map is IBM code
page 437 (drivers/tty/vt/cp437.uni): single and double box lines, full and
half blocks and shades, but no heavy lines and no eighth blocks. Textual
draws its RadioButton with U+25CF, its scrollbar thumbs with eighth blocks
and its ProgressBar with heavy lines, so those are drawn here instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.content import Content
from textual.renderables.bar import Bar
from textual.scrollbar import ScrollBarRender
from textual.widgets import Checkbox, Input, OptionList, ProgressBar, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from installer.answers.catalog import matching
from installer.answers.fields import within

if TYPE_CHECKING:
    from textual.widgets._toggle_button import ToggleButton

_FIELD_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def destructive(text: str) -> Text:
    """The plan's words with its line that erases a disk ("Erase ...") in bold
    red: Review and Confirm say it as the Disk step's preview does."""
    out = Text()
    for number, line in enumerate(text.split("\n")):
        out.append("\n" if number else "")
        out.append(line, style="bold red" if line.lstrip().startswith("Erase ") else "")
    return out


def field_id(field: str) -> str:
    """A widget id for a model field: "users[0].name" -> "f-users-0-name"."""
    return "f-" + _FIELD_CHARS.sub("-", field).strip("-")


def field_matches(field: str, problem_field: str) -> bool:
    """Whether a problem about `problem_field` belongs under the widget for `field`."""
    return within(problem_field, field)


class FieldInput(Input):
    """An Input bound to one dotted model field.

    Textual runs key bindings (the Input's Enter, the screen's Tab) only when
    the key has bubbled up to the App, after this field has already taken the
    keys typed right behind it. So Tab, Shift+Tab and Enter move the focus
    here, as this field handles the key, and each key queued behind them goes
    on to the widget that has the focus by then: a fast typist on a slow
    machine (or tmux send-keys) types into the right field.
    """

    def __init__(self, field: str, value: str = "", **kw) -> None:
        kw.setdefault("compact", True)
        super().__init__(value, id=field_id(field), **kw)
        self.field = field

    def enter(self) -> None:
        """Enter: on to the next field, as the step decides."""
        entered = getattr(self.screen, "field_entered", None)
        if entered is not None:
            entered(self)
        else:  # not on a wizard step: a plain Input's Enter
            self.post_message(self.Submitted(self, self.value))

    async def _on_key(self, event: events.Key) -> None:
        moves: dict[str, Callable[[], object]] = {
            "tab": self.screen.focus_next, "shift+tab": self.screen.focus_previous, "enter": self.enter}
        # The screen's focus, not has_focus: that follows a Blur message later.
        focused = self.screen.focused
        if focused is self and event.key in moves:
            event.stop()
            event.prevent_default()
            moves[event.key]()
        elif focused is not None and focused is not self:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
        else:
            await super()._on_key(event)


class SecretInput(FieldInput):
    """A password field masked with '*', a glyph every console font has."""

    def __init__(self, field: str, value: str = "", **kw) -> None:
        super().__init__(field, value, password=True, **kw)

    @property
    def _value(self) -> Text:
        if self.password:
            return Text("*" * len(self.value), no_wrap=True, overflow="ignore", end="")
        return super()._value


# What _Marked is mixed into (RadioButton, Checkbox), as type checkers see it;
# at run time a plain mixin, so the buttons' classes and CSS stay Textual's.
if TYPE_CHECKING:
    _ToggleBase = ToggleButton
else:
    _ToggleBase = object


class _Marked(_ToggleBase):
    """Draw the state as a mark, not only a colour: "(*)" and "[X]" read in any
    of the console's 16 colours (Textual draws the mark always and colours it)."""

    MARK = "X"

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(self.BUTTON_LEFT, (self.MARK if self.value else " ", style), self.BUTTON_RIGHT)


Choice = TypeVar("Choice", bound=str)


def picked(choices: Iterable[Choice], key: str) -> Choice:
    """The one of `choices` a Choices button's id names (the ids are made from
    them): as the model's field is typed (a Literal), where an id is any str."""
    for choice in choices:
        if choice == key:
            return choice
    raise ValueError(f"{key!r} is none of the choices")


class Advance(Message):
    """Enter in a field: the step moves on to its next field (or to the next
    step from its last one). Posted after the field's own change, so the step
    has stored the value before it moves."""


class Radio(_Marked, RadioButton):
    """A radio button drawn "(*)" instead of with U+25CF."""

    BUTTON_LEFT, BUTTON_RIGHT, MARK = "(", ")", "*"


class Choices(RadioSet):
    """A RadioSet where Space picks the highlighted option and Enter picks it
    and moves on, like Enter in every other field (Textual's Enter only picks)."""

    BINDINGS = [
        Binding("space", "toggle_button", "Pick", show=False),
        Binding("enter", "pick_and_advance", "Pick and go on", show=False),
    ]

    _advance_on_change = False

    def __init__(self, *buttons: str | RadioButton, field: str = "", **kw) -> None:
        super().__init__(*buttons, **kw)
        self.field = field  # the model field the choice edits ("": the step handles it by id)

    def action_pick_and_advance(self) -> None:
        highlighted = self._nodes[self._selected] if self._selected is not None else None
        if isinstance(highlighted, RadioButton) and not highlighted.value:
            # Move on once our Changed has gone up to the step, not before.
            self._advance_on_change = True
            highlighted.toggle()
        else:
            self.post_message(Advance())

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if self._advance_on_change:
            self._advance_on_change = False
            self.post_message(Advance())


class Check(_Marked, Checkbox):
    """A checkbox drawn "[X]": Space toggles it, Enter moves on (Textual's Enter toggles)."""

    BUTTON_LEFT, BUTTON_RIGHT, MARK = "[", "]", "X"
    BINDINGS = [
        Binding("space", "toggle_button", "Toggle", show=False),
        Binding("enter", "advance", "Next field", show=False),
    ]

    def __init__(self, label: str = "", value: bool = False, *, field: str = "", **kw) -> None:
        super().__init__(label, value, **kw)
        self.field = field  # the model field the box edits ("": the step handles it by id)

    def action_advance(self) -> None:
        self.post_message(Advance())


class FieldMessage(Static):
    """The engine's message for one field, shown right under it."""

    def __init__(self, field: str) -> None:
        super().__init__("", id="m" + field_id(field)[1:], classes="message", markup=False)
        self.field = field

    def show(self, message: str, severity: str = "") -> None:
        # Every keystroke re-shows all messages: touch the layout only on change.
        if (message, severity) == getattr(self, "_shown", ("", "")):
            return
        self._shown = (message, severity)
        self.update(message)
        self.set_class(severity == "error", "-error")
        self.set_class(severity == "warning", "-warning")
        self.display = bool(message)


# The smallest terminal every step is laid out for (the Linux console is 80x25).
MIN_WIDTH, MIN_HEIGHT = 80, 24


def too_small(width: int, height: int) -> str:
    """What the banner says about a terminal of this size ("" when it is big enough)."""
    if width >= MIN_WIDTH and height >= MIN_HEIGHT:
        return ""
    return (f"The terminal is {width}x{height}, smaller than the {MIN_WIDTH}x{MIN_HEIGHT} the installer needs: "
            "parts of this step may be hidden or cut.")


class SizeBanner(Static):
    """A banner at the top of a step while the terminal is too small; the
    screen calls show() when mounted and on every resize."""

    def __init__(self) -> None:
        super().__init__("", id="too-small", markup=False)

    def show(self, width: int, height: int) -> None:
        said = too_small(width, height)
        self.update(said)
        self.display = bool(said)


class FilterInput(FieldInput):
    """The typing half of a FilterSelect: arrows move through the list below."""

    BINDINGS = [
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "move(5)", show=False),
        Binding("pageup", "move(-5)", show=False),
    ]

    # False while the person types into it; True once an entry is picked or the
    # field is left (the step then shows its message: see StepScreen.still_typing).
    settled = True

    def action_move(self, delta: int) -> None:
        parent = self.parent
        if isinstance(parent, FilterSelect):
            parent.move(delta)

    # Textual calls these as well as Input's own (it dispatches along the MRO).
    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable or event.key in ("backspace", "delete", "ctrl+u", "ctrl+w"):
            self.settled = False

    def _on_blur(self, event: events.Blur) -> None:
        if not self.settled:
            self.settled = True
            refresh = getattr(self.screen, "refresh_problems", None)
            if refresh is not None:
                refresh()

    def enter(self) -> None:
        # The first Enter completes the typed text to the highlighted entry;
        # Enter on an entry moves on.
        parent = self.parent
        if not isinstance(parent, FilterSelect) or parent.enter():
            super().enter()


class FilterSelect(Vertical):
    """Type to filter a long list (keymaps, locales, timezones); Enter picks.

    The Input's text is the value (so the engine validates exactly what was
    typed, and an empty field stays empty); the list shows the entries that
    match it, the best one highlighted. Enter completes the text to the
    highlighted entry, a second Enter moves on. An empty field highlights
    nothing until Up/Down is pressed, so Enter there keeps it empty (the
    first entry of a list is no one's choice). `Picked` says the person
    settled on an entry (completed, or Enter on an exact one), as opposed to
    a prefix on the way to one.
    """

    class Picked(Message):
        def __init__(self, field: str, value: str) -> None:
            super().__init__()
            self.field = field
            self.value = value

    def __init__(self, field: str, items: Sequence[str] | dict[str, str], value: str, *, shown: int = 300,
                 **kw) -> None:
        super().__init__(**kw)
        self.field = field
        self.items: dict[str, str] = dict(items) if isinstance(items, dict) else {i: "" for i in items}
        self.value = value
        self.shown = shown

    def compose(self):
        yield FilterInput(self.field, self.value)
        options = OptionList(compact=True, markup=False)
        options.can_focus = False
        yield options

    def on_mount(self) -> None:
        self.refilter(self.value)

    def set_items(self, items: Sequence[str] | dict[str, str]) -> None:
        self.items = dict(items) if isinstance(items, dict) else {i: "" for i in items}
        self.refilter(self.query_one(FilterInput).value)

    def set_value(self, value: str) -> None:
        """Put `value` in the field (as typed, so the step stores it), the cursor at its end."""
        typed = self.query_one(FilterInput)
        typed.value = value
        typed.cursor_position = len(value)

    def matches(self, text: str) -> list[str]:
        return matching(self.items, text)

    def refilter(self, text: str) -> None:
        options = self.query_one(OptionList)
        found = self.matches(text)[: self.shown]
        options.clear_options()
        options.add_options(
            Option(f"{key}  {self.items[key]}" if self.items[key] else key, id=key) for key in found
        )
        if found and text.strip():
            options.highlighted = 0

    def move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else (-1 if delta > 0 else 0)
            options.highlighted = max(0, min(options.option_count - 1, current + delta))

    def highlighted_value(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.value = event.value
        self.refilter(event.value)

    def enter(self) -> bool:
        """Enter in the filter: complete the text to the highlighted entry and
        stay (False), or move on (True), picking the entry typed exactly."""
        typed = self.query_one(FilterInput)
        choice = self.highlighted_value()
        if choice is not None and choice != typed.value:
            self.set_value(choice)
            self.post_message(self.Picked(self.field, choice))
            return False
        if typed.value in self.items:
            self.post_message(self.Picked(self.field, typed.value))
        return True

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.set_value(event.option.id)
            self.post_message(self.Picked(self.field, event.option.id))


class HalfBlockScrollBarRender(ScrollBarRender):
    """Scrollbar thumbs whose ends move by half a cell (U+2584, U+258C) rather
    than by an eighth (U+2581-2587, U+2589-258F, none of them in CP437).

    ScrollBarRender draws the first and last cell of the thumb with
    bars[len - 1 - k] for the k-th of len steps into the cell; with two steps,
    a thumb starting or ending halfway through a cell draws the half block."""

    VERTICAL_BARS = ["\u2584", " "]
    HORIZONTAL_BARS = ["\u258c", " "]


class BlockBar(Bar):
    """A progress bar of full blocks on shade (U+2588, U+2591, half cells
    U+258C/U+2590): Textual's Bar draws heavy lines, which CP437 lacks, and a
    filled block reads as done even where two colours look alike."""

    FULL, LEFT_HALF, RIGHT_HALF, EMPTY = "\u2588", "\u258c", "\u2590", "\u2591"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        highlight = console.get_style(self.highlight_style)
        background = console.get_style(self.background_style)
        width = self.width or options.max_width
        start, end = self.highlight_range
        # Half a cell is the finest step these glyphs draw.
        start, end = round(max(start, 0) * 2) / 2, round(min(end, width) * 2) / 2
        bar = Text(end="")
        for cell in range(width):
            covered = min(end, cell + 1) - max(start, cell)
            if covered >= 1:
                bar.append(self.FULL, highlight)
            elif covered <= 0:
                bar.append(self.EMPTY, background)
            else:
                bar.append(self.RIGHT_HALF if start > cell else self.LEFT_HALF, highlight)
        yield bar


class BlockProgressBar(ProgressBar):
    """A ProgressBar drawn with BlockBar."""

    BAR_RENDERABLE = BlockBar
