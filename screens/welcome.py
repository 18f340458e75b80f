"""Step 1: what will happen, dry-run or real, firmware, and early warnings."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.widgets import RadioSet, Static

from screens import engine
from screens.base import StepScreen
from installer.answers.model import Firmware
from screens.widgets import Choices, FieldMessage, Radio, picked

FIRMWARES: tuple[Firmware, ...] = ("uefi", "bios")  # the radio buttons' ids

INTRO = "This installs NixOS on this computer, step by step:"
AFTER = ("Nothing is written to any disk until you type the disk's name on the\n"
         "Confirm step. Esc goes back at any time; F1 explains the current step.")


def step_list(titles: list[str], width: int = 76) -> str:
    """The steps after this one, numbered as the header counts them ("2/9"),
    packed into as few lines as fit `width` columns."""
    items = [f"{number}. {title}" for number, title in enumerate(titles, start=2)]
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= width:
            lines[-1] += "   " + item
        else:
            lines.append(" " + item)
    return "\n".join(lines)


class WelcomeScreen(StepScreen):
    TITLE_TEXT = "Welcome"
    PREFIXES = ("boot",)
    HELP = (
        "The installer probes the disks when it starts. The firmware mode decides the boot loader: "
        "UEFI uses systemd-boot with an EFI system partition, BIOS uses GRUB. Change it only if you "
        "will boot the installed system differently from how this ISO was booted."
    )

    def body(self) -> ComposeResult:
        yield Static(INTRO, id="intro", markup=False)
        yield Static("", id="steps", markup=False)
        yield Static(AFTER, id="after", markup=False)
        yield Static("", id="mode", markup=False)
        yield Static("", id="warnings", classes="message -warning", markup=False)
        yield Static("Probing the disks...", id="probe", markup=False)
        yield Static("Checking the network...", id="network", markup=False)
        yield Static("Firmware (detected: probing):", id="firmware-label", markup=False)
        with Choices(id="f-boot-firmware"):
            yield Radio("UEFI", id="uefi")
            yield Radio("BIOS (legacy)", id="bios")
        yield FieldMessage("boot.firmware")

    def on_mount(self) -> None:
        self.query_one("#back").display = False
        self.query_one("#mode", Static).update(
            "DRY RUN: the installer only shows what it would do; it touches nothing."
            if not self.session.options.real
            else "REAL INSTALL: the disk you choose will be changed after you confirm."
        )
        self.watch(self.app, "probe_state", self.show_probe)
        self.watch(self.app, "network_state", self.show_network)
        self.show_warnings()
        self.query_one(RadioSet).focus()
        # Every later step's title, from the step itself; imported after the
        # first paint, as the app would import each step when it is reached.
        self.call_after_refresh(self.show_steps)

    def show_steps(self) -> None:
        from screens.app import STEPS, step_class

        titles = [getattr(step_class(index), "TITLE_TEXT", "") for index in range(1, len(STEPS))]
        self.query_one("#steps", Static).update(step_list(titles))

    def show_probe(self, state: str) -> None:
        probe = self.query_one("#probe", Static)
        if state == "ready":
            machine = self.session.machine
            assert machine is not None  # "ready": the probe has set it
            disks = len(machine.offered_disks)
            source = "this machine" if machine.source == "live" else f"recorded: {Path(machine.source).name}"
            probe.update(f"Found {disks} disk(s) to install on ({source}).")
            self.query_one("#firmware-label", Static).update(f"Firmware (detected: {machine.firmware.upper()}):")
            chosen = engine.firmware(self.session)
            self.query_one(f"#{chosen}", Radio).value = True
        elif state.startswith("failed"):
            probe.update(f"Could not probe the machine: {state[8:]}")
            probe.add_class("-error")
        else:
            probe.update("Probing the disks...")

    def show_network(self, state: str) -> None:
        """What the binary cache answered; online, the Network step is skipped (one line says so)."""
        said = self.app.network_words()
        if not said:
            words = "Checking the network..."
        elif self.session.preflight.online:
            words = f"{said} No network set-up is needed."
        else:
            words = f"{said} The next step gets you online."
        self.query_one("#network", Static).update(words)

    def show_warnings(self) -> None:
        lines = []
        if self.session.options.real and not engine.is_root():
            lines.append("You are not root: run the installer with sudo to change disks.")
        warnings = self.query_one("#warnings", Static)
        warnings.update("\n".join(lines))
        warnings.display = bool(lines)

    @on(RadioSet.Changed)
    def _firmware(self, event: RadioSet.Changed) -> None:
        if self.app.probe_state != "ready":
            return
        self.model.boot.firmware = picked(FIRMWARES, event.pressed.id or "")
        self.touched.add("boot.firmware")  # a choice against how this ISO was started is said at once
        self.refresh_problems()

    def ready(self) -> bool:
        if self.app.probe_state != "ready":
            self.app.bell()
            self.notify("Still probing the disks; a moment please.")
            return False
        return True
