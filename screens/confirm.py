"""Step 8: the only place a Confirmation token is made: type the disk's name."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from installer.problems import ProblemsError
from screens.base import StepScreen
from screens.widgets import FieldMessage


class ConfirmScreen(StepScreen):
    TITLE_TEXT = "Confirm"
    NEXT_LABEL = "Install"
    HELP = (
        "Nothing has been written so far. Typing the disk's short name (as shown) and pressing "
        "Enter starts the install: the disk is erased first. Esc goes back to the review."
    )

    def body(self) -> ComposeResult:
        yield Static("", id="what", markup=False)
        yield Static("", id="prompt", classes="label", markup=False)
        typed = Input("", id="f-confirm", compact=True)
        typed.field = "confirm"
        yield typed
        yield FieldMessage("confirm")

    def on_mount(self) -> None:
        erases = resumes = False
        try:
            self.word = self.session.confirm_word()
            lines = self.session.review_lines()
            disk = self.session.plan().disk
            erases = disk is not None and self.word == disk.name
            resumes = self.session.resume_phase() != "disk"
        except ProblemsError as err:
            self.word = ""
            lines = [p.message for p in err.problems]
        if resumes:
            # A late phase failed: the disk is as the first attempt left it.
            lines = ["Done by the first attempt, and not done again:"] + [f"  {line}" for line in lines]
        self.query_one("#what", Static).update("\n".join(lines))
        if not self.word:
            prompt = "Go back and fix the problems above first."
        elif erases:
            prompt = f"To erase the disk, type its name '{self.word}' and press Enter:"
        elif resumes:
            prompt = (f"The disk is not touched again. Type '{self.word}' and press Enter to write the "
                      "configuration and run nixos-install again:")
        else:
            prompt = f"Type '{self.word}' and press Enter to install into {self.session.options.target}:"
        if not self.session.options.real:
            prompt += "\n(dry run: nothing is written)"
        self.query_one("#prompt", Static).update(prompt)
        self.query_one("#f-confirm").focus()

    def store(self, field: str, value: str) -> None:
        pass  # the typed word is never part of the model

    def input_submitted(self, event: Input.Submitted) -> None:
        self.action_next()

    def action_next(self) -> None:
        typed = self.query_one("#f-confirm", Input).value.strip()
        message = self.query_one(FieldMessage)
        token = None
        if self.word:
            token = self.session.confirm(typed)
        if token is None:
            message.show(f"Type exactly '{self.word}' to go on, or Esc to go back.", "error")
            self.app.bell()
            return
        self.app.confirmation = token
        self.app.next_step()
