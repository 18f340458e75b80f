"""Import SSH public keys where a bare console cannot paste them: from a GitHub
or GitLab account, an https:// URL, or a file on a mounted USB stick.

A modal that returns the new key lines (or None); the Users step appends them.
The fetch runs in a worker: a slow network never freezes the keyboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, OptionList, Static
from textual.widgets.option_list import Option

from screens import engine

if TYPE_CHECKING:
    from textual import getters

    from screens.app import InstallerApp

NO_STICK = ("No USB stick is mounted. Plug it in and mount it from another console "
            "(Alt+F2): mount -o ro /dev/sdX1 /mnt2 (lsblk names it), then press F5 again.")


class ImportKeysScreen(ModalScreen["tuple[str, ...] | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("f5", "stick", "From a USB stick")]

    if TYPE_CHECKING:
        app = getters.app(InstallerApp)  # as StepScreen types it: the session's app

    def __init__(self, have: list[str]) -> None:
        super().__init__()
        self.have = have
        self.ssl_context = None  # tests trust their own local HTTPS server through this

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Static("Import SSH public keys", classes="dialog-title")
            yield Static("A GitHub user name (alice), gitlab:alice, or an https:// address, then Enter.\n"
                         "F5: a .pub or authorized_keys file on a USB stick.", classes="hint", markup=False)
            yield Input(id="key-source", compact=True, placeholder="alice, gitlab:alice or https://...")
            yield OptionList(id="media")
            yield Static("", id="import-status", classes="message", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel (Esc)", id="cancel", compact=True)
                yield Button("USB stick (F5)", id="stick", compact=True)
                yield Button("Fetch (Enter)", id="fetch", compact=True, variant="primary")

    def on_mount(self) -> None:
        self.query_one("#media").display = False
        self.query_one("#key-source").focus()

    def status(self, text: str, error: bool = False) -> None:
        line = self.query_one("#import-status", Static)
        line.update(text)
        line.set_class(error, "-error")

    # -- from an account or a URL ----------------------------------------------
    @on(Input.Submitted, "#key-source")
    @on(Button.Pressed, "#fetch")
    def _fetch(self) -> None:
        source = self.query_one("#key-source", Input).value
        self.status("Fetching...")
        self.fetch(source)

    @work(thread=True, exclusive=True, group="fetch")
    def fetch(self, source: str) -> None:
        found, said = engine.import_keys(source, self.have, self.ssl_context)
        self.app.call_from_thread(self.fetched, found, said)

    def fetched(self, found, said: str) -> None:
        if found is not None and found.keys:
            self.dismiss(found.keys)
            self.app.notify(said)
        else:
            self.status(said, error=True)
            self.query_one("#key-source").focus()

    # -- from a file on a USB stick ----------------------------------------------
    @on(Button.Pressed, "#stick")
    def action_stick(self) -> None:
        mounts = engine.media_mounts(self.app.session)
        if not mounts:
            self.status(NO_STICK, error=True)
            return
        media = self.query_one("#media", OptionList)
        media.clear_options()
        media.add_options([Option(f"{point}  {what}", id=point) for point, what in mounts])
        media.display = True
        media.highlighted = 0
        media.focus()
        self.status("Choose the stick, then the file (Enter).")

    @on(OptionList.OptionSelected, "#media")
    async def _medium(self, event: OptionList.OptionSelected) -> None:
        # Made only now: a tree reads its directory as soon as it is mounted.
        await self.query("#files").remove()
        tree = DirectoryTree(event.option.id or "/nonexistent", id="files")
        await self.query_one("#dialog").mount(tree, after=event.option_list)
        event.option_list.display = False
        tree.focus()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        found, said = engine.keys_from_file(str(event.path), self.have)
        if found is not None and found.keys:
            self.dismiss(found.keys)
            self.app.notify(said)
        else:
            self.status(said, error=True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
