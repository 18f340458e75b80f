"""Step 8: the only place a Confirmation token is made: type the disk's name."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from installer.base.problems import ProblemsError
from screens.base import StepScreen
from screens.widgets import FieldMessage, destructive


class WordInput(Input):
    """Where the word is typed: a plain Input (Enter confirms, it never moves
    on), named after the "confirm" field for its message and the step's hooks."""

    field = "confirm"


class ConfirmScreen(StepScreen):
    TITLE_TEXT = "Confirm"
    NEXT_LABEL = "Install"
    HELP = (
        "Nothing has been written so far. Typing the disk's short name (as shown) and pressing "
        "Enter starts the install: the disk is erased first. When NixOS goes next to what is on "
        "the disk, you type the name of the partition shrunk or deleted instead (or the disk's, "
        "for the free space); the list above says what is kept, shrunk and deleted. Esc goes back "
        "to the review. When Nix could not evaluate the configuration at Review, the install is "
        "refused until you fix it; F8 installs anyway (nixos-install will most likely fail, after the disk was erased)."
    )
    BINDINGS = [Binding("f8", "install_anyway", "Install anyway")]

    def body(self) -> ComposeResult:
        yield Static("", id="what", markup=False)
        yield Static("", id="nixcheck", markup=False)
        yield Static("", id="prompt", classes="label", markup=False)
        yield WordInput("", id="f-confirm", compact=True)
        yield FieldMessage("confirm")

    def on_mount(self) -> None:
        erases = resumes = False
        change = ""
        path = ""
        try:
            self.word = self.session.install.confirm_word()
            lines = self.session.review_lines()
            plan = self.session.plan()
            disk = plan.disk
            erases = disk is not None and self.word == disk.name and plan.layout == "erase"
            path = disk.path if disk is not None else ""
            # Keeping what is on the disk: what the typed word allows, in words.
            change = next((f"{'shrink' if c.change == 'shrunk' else 'delete'} {c.path} ({c.what})"
                           for c in plan.changes if c.change in ("shrunk", "deleted")), "")
            if not change and plan.changes and disk is not None and self.word == disk.name:
                change = f"add NixOS's partitions to {disk.path}, keeping every partition on it"
            resumes = self.session.install.resume_phase() != "disk"
        except ProblemsError as err:
            self.word = ""
            lines = [p.message for p in err.problems]
        if resumes:
            # A late phase failed: the disk is as the first attempt left it.
            lines = ["Done by the first attempt, and not done again:"] + [f"  {line}" for line in lines]
        self.query_one("#what", Static).update(destructive("\n".join(lines)))
        if not self.word:
            prompt = "Go back and fix the problems above first."
        elif erases:
            prompt = f"To erase the disk, type its name '{self.word}' (or {path}) and press Enter:"
        elif change and not resumes:
            prompt = f"To {change}, type '{self.word}' and press Enter:"
        elif resumes:
            prompt = (f"The disk is not touched again. Type '{self.word}' and press Enter to write the "
                      "configuration and run nixos-install again:")
        else:
            prompt = f"Type '{self.word}' and press Enter to install into {self.session.options.target}:"
        if not self.session.options.real:
            prompt += "\n(dry run: nothing is written)"
        self.prompt = prompt
        self.show_prompt()
        self.query_one("#f-confirm").focus()

    def show_prompt(self) -> None:
        """What the pre-flight check with Nix found, then the prompt (none while Nix refuses)."""
        refusal = self.session.preflight.nix_check_refusal() if self.word else ""
        outcome = self.session.preflight.nix_check_outcome() if self.word else None
        check = self.query_one("#nixcheck", Static)
        if refusal:
            said = f"{refusal}\nEsc goes back to fix it; F8 installs anyway."
        elif outcome is not None and outcome.failed:
            said = "Nix could not evaluate the configuration; you chose to install anyway."
        elif outcome is not None and outcome.checked:
            said = "Checked with Nix: the configuration evaluates."
            downloads = self.session.preflight.downloads_line()
            if downloads:
                said += f"\n{downloads}"
        else:
            said = f"Not checked with Nix: {outcome.message if outcome is not None else 'the check did not run.'}"
        # Beside the download summary: whether the cache answers and, offline, what that means.
        network = "\n".join(self.session.preflight.network_lines())
        if network:
            said += f"\n{network}"
        check.update(said if self.word else "")
        check.set_class(bool(refusal), "-failed")
        check.set_class(not refusal and outcome is not None and outcome.checked, "-passed")
        check.set_class(not refusal and (outcome is None or not outcome.checked or outcome.failed), "-unchecked")
        prompt = self.query_one("#prompt", Static)
        prompt.update(self.prompt)
        prompt.display = not refusal
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "install_anyway":
            return bool(self.word) and bool(self.session.preflight.nix_check_refusal())
        return True

    def action_install_anyway(self) -> None:
        """The explicit override of a failed evaluation: asked, then recorded (and logged)."""
        from screens.modals import AskScreen

        if not self.check_action("install_anyway", ()):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.session.preflight.override_nix_check()
            self.show_prompt()

        self.app.push_screen(AskScreen(
            "Install although Nix could not evaluate the configuration? nixos-install will most "
            "likely fail the same way, after the disk has been erased.", yes="Install anyway"), answered)

    def store(self, field: str, value: str) -> None:
        pass  # the typed word is never part of the model

    def input_submitted(self, event: Input.Submitted) -> None:
        self.action_next()

    def action_next(self) -> None:
        typed = self.query_one("#f-confirm", Input).value.strip()
        message = self.query_one(FieldMessage)
        token = None
        refusal = self.session.preflight.nix_check_refusal() if self.word else ""
        if refusal:
            message.show("Not while Nix refuses the configuration: Esc goes back to fix it; F8 installs anyway.",
                         "error")
            self.app.bell()
            return
        if self.word:
            token = self.session.install.confirm(typed)
        if token is None:
            message.show(f"Type exactly '{self.word}' to go on, or Esc to go back.", "error")
            self.app.bell()
            return
        busy = self.session.install.disk_busy()
        if busy:
            message.show("Refused, nothing was written: " + "; ".join(busy)
                         + ". Unmount or stop it (in every mount namespace), then confirm again.", "error")
            self.app.bell()
            return
        self.app.confirmation = token
        self.app.next_step()
