"""Step 2: console keymap (applied live), xkb layout/variant, locale."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from screens import engine
from screens.base import StepScreen
from screens.widgets import FieldMessage, FilterSelect


class KeyboardScreen(StepScreen):
    TITLE_TEXT = "Keyboard & language"
    PREFIXES = ("system.keymap", "system.xkb_layout", "system.xkb_variant", "system.locale")
    HELP = (
        "Type to filter a list, Up/Down to move, Enter to pick, Enter again to go on.\n"
        "The console keymap is loaded at once, so the passwords and the disk passphrase you type "
        "later use it; it is also the keymap at every boot (where the passphrase is typed). "
        "The desktop layout (xkb) is used by graphical sessions. The locale sets language and formats."
    )

    def body(self) -> ComposeResult:
        s = self.model.system
        with Horizontal(classes="columns"):
            with Vertical():
                yield Static("Console keymap", classes="label")
                yield FilterSelect("system.keymap", engine.catalog.keymaps(), s.keymap)
                yield FieldMessage("system.keymap")
                yield Static("", id="keymap-status", classes="hint", markup=False)
            with Vertical():
                yield Static("Language (locale)", classes="label")
                yield FilterSelect("system.locale", engine.catalog.locales(), s.locale)
                yield FieldMessage("system.locale")
        with Horizontal(classes="columns"):
            with Vertical():
                yield Static("Desktop keyboard layout (xkb)", classes="label")
                yield FilterSelect("system.xkb_layout", engine.catalog.xkb_layouts(), s.xkb_layout)
                yield FieldMessage("system.xkb_layout")
            with Vertical():
                yield Static("Layout variant (empty: default)", classes="label")
                yield FilterSelect("system.xkb_variant", self.variants(s.xkb_layout), s.xkb_variant)
                yield FieldMessage("system.xkb_variant")

    def on_mount(self) -> None:
        s = self.model.system
        # The desktop layout follows the console keymap until the person
        # picks one of their own: while it is the default or what the
        # keymap gives. `followed` is what it was last set to by following.
        self.followed = engine.catalog.xkb_for_keymap(s.keymap) or ("us", "")
        self.following = (s.xkb_layout, s.xkb_variant) in {("us", ""), self.followed}
        self.query_one("#f-system-keymap").focus()

    def variants(self, layout: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in (part.strip() for part in layout.split(",")):
            found.update(engine.catalog.xkb_variants().get(name, {}))
        return found

    def select(self, field: str) -> FilterSelect:
        return next(f for f in self.query(FilterSelect) if f.field == field)

    def after_change(self, field: str) -> None:
        s = self.model.system
        if field in ("system.locale", "system.keymap"):
            self.session.follow_country_timezone()
        if field == "system.xkb_layout":
            self.select("system.xkb_variant").set_items(self.variants(s.xkb_layout))
        if field == "system.keymap" and self.following:
            follow = engine.catalog.xkb_for_keymap(s.keymap)
            if follow is not None and follow != (s.xkb_layout, s.xkb_variant):
                self.followed = follow
                self.select("system.xkb_layout").set_value(follow[0])
                self.select("system.xkb_variant").set_value(follow[1])
        elif field == "system.xkb_layout" and s.xkb_layout != self.followed[0]:
            self.following = False
        elif field == "system.xkb_variant" and s.xkb_variant != self.followed[1]:
            self.following = False

    @on(FilterSelect.Picked)
    def _picked(self, event: FilterSelect.Picked) -> None:
        self.touched.add(event.field)
        if event.field == "system.keymap":
            self.apply_keymap(event.value)  # the Input's Changed may not have reached the model yet

    # Typing "de-latin1" passes through "de", a keymap too: loadkeys runs only
    # when a keymap is picked or the step is left, never per keystroke.
    def action_next(self) -> None:
        super().action_next()
        if self.app.screen is not self:
            self.apply_keymap()

    def action_back(self) -> None:
        self.apply_keymap()
        super().action_back()

    def apply_keymap(self, name: str | None = None) -> None:
        name = name or self.model.system.keymap
        if name not in engine.catalog.keymaps() or name == self.session.console.loaded_keymap:
            return
        # On the app, not this screen: going back removes the screen, and the
        # keymap must still load. loadkeys is a process: never on the event loop.
        self.app.run_worker(lambda: self._load(name), group="keymap", exclusive=True, thread=True)

    def _load(self, name: str) -> None:
        said = self.session.console.apply_keymap(name)  # "" when loaded
        self.app.call_from_thread(self._loaded, name, said)

    def _loaded(self, name: str, said: str) -> None:
        if self.is_attached:
            self.query_one("#keymap-status", Static).update(said or f"Keymap {name} is active.")
        if said and self.app.screen is not self:
            # Left the step: a failure (or the dry run's note) shows where the
            # person is; "[dry-run]" is words, not markup.
            self.app.notify(said, markup=False)
