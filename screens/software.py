"""Step 6: desktop, services, Nix settings and extra packages."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, RadioSet, Static

from installer.answers.model import Desktop
from screens.base import StepScreen
from screens.widgets import Check, Choices, FieldInput, FieldMessage, Radio, picked

DESKTOPS: dict[Desktop, str] = {"none": "None (console only)", "gnome": "GNOME", "plasma": "KDE Plasma", "xfce": "Xfce"}
# Each fits its column at 80 columns: "[X] " and at most 33 characters.
TOGGLES = {
    "ssh_server": "SSH server (remote login)",
    "networkmanager": "NetworkManager (Wi-Fi, networks)",
    "flakes": "Nix flakes and the nix command",
    "allow_unfree": "Allow unfree software (drivers)",
}


class SoftwareScreen(StepScreen):
    TITLE_TEXT = "Software"
    PREFIXES = ("software",)
    HELP = (
        "A desktop can be added or changed later by editing configuration.nix. Extra packages are "
        "nixpkgs attribute names separated by spaces, e.g. 'git firefox python3Packages.requests'; "
        "search them at search.nixos.org."
    )

    def body(self) -> ComposeResult:
        s = self.model.software
        with Horizontal(classes="columns"):
            with Vertical():
                yield Static("Desktop", classes="label")
                with Choices(id="f-software-desktop", field="software.desktop"):
                    for key, text in DESKTOPS.items():
                        yield Radio(text, s.desktop == key, id=f"desktop-{key}")
                yield FieldMessage("software.desktop")
            with Vertical():
                yield Static("Services and settings", classes="label")
                for name, text in TOGGLES.items():
                    yield Check(text, getattr(s, name), id=f"f-software-{name}", compact=True,
                                field=f"software.{name}")
        yield Static("Extra packages (space separated)", classes="label")
        yield FieldInput("software.packages", " ".join(s.packages), placeholder="e.g. git firefox htop")
        yield FieldMessage("software.packages")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def store(self, field: str, value: str) -> None:
        if field == "software.packages":
            self.model.software.packages = value.split()
        else:
            super().store(field, value)

    @on(RadioSet.Changed)
    def _desktop(self, event: RadioSet.Changed) -> None:
        self.model.software.desktop = picked(DESKTOPS, (event.pressed.id or "desktop-none").split("-", 1)[1])
        self.refresh_problems()

    @on(Checkbox.Changed)
    def _toggle(self, event: Checkbox.Changed) -> None:
        box = event.checkbox
        if not isinstance(box, Check):
            return  # every box here is a Check, which names its field
        setattr(self.model.software, box.field.split(".", 1)[1], event.value)
        self.refresh_problems()
