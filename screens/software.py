"""Step 6: desktop, services, Nix settings, extra packages, and the graphics driver proposed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, RadioSet, Static

from installer.answers.gpu import NVIDIA, plan_gpu
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
    # network.wifi_backend: the Wi-Fi network joined earlier is kept through NetworkManager,
    # so turning that off here is refused here (said under the step, on Next).
    PREFIXES = ("software", "hardware", "network.wifi_backend")
    HELP = (
        "A desktop can be added or changed later by editing configuration.nix. Extra packages are "
        "nixpkgs attribute names separated by spaces, e.g. 'git firefox python3Packages.requests'; "
        "search them at search.nixos.org. Graphics: the driver proposed for what the machine has; "
        "NVIDIA's own driver is unfree, so it is used only when unfree software is allowed "
        "(nixpkgs.config.allowUnfree), else nouveau."
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
        yield Static("Graphics", classes="label")
        yield Static(self._gpu_text(), id="gpu")
        yield FieldMessage("hardware.gpu")

    def _gpu_text(self) -> str:
        """What was found and the driver proposed (installer.answers.gpu, the one rule), in words."""
        machine = self.session.machine
        if machine is None:
            return ""
        plan = plan_gpu(self.model, machine)
        lines = [*plan.found, f"Driver: {plan.says}"]
        if any(dev.vendor == NVIDIA for dev in machine.gpus) and not self.model.software.allow_unfree \
                and self.model.hardware.gpu == "auto":
            lines.append("Tick 'Allow unfree software' above for NVIDIA's own driver.")
        return "\n".join(lines)

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
        self.query_one("#gpu", Static).update(self._gpu_text())  # the consent changes the proposal
        self.refresh_problems()
