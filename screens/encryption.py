"""Step 4: LUKS on or off, the passphrase twice, a strength hint."""

from __future__ import annotations

import math
import string

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, RadioSet, Static

from installer.answers.model import Unlock
from screens.base import StepScreen
from screens.widgets import Check, Choices, FieldMessage, Radio, SecretInput, picked

# The ways to unlock, as the step offers them; the passphrase stays a key with each.
UNLOCKS: dict[Unlock, str] = {
    "passphrase": "the passphrase only",
    "fido2": "also a FIDO2 security key (touched during the install)",
    "tpm2": "also the TPM2 chip (enrolled at the first boot)",
}


def strength(passphrase: str) -> str:
    """A rough hint from length and character classes; never a verdict."""
    if not passphrase:
        return ""
    pool = sum(size for chars, size in ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26),
                                        (string.digits, 10), (string.punctuation + " ", 33))
               if any(c in chars for c in passphrase))
    pool += 100 if any(ord(c) > 127 for c in passphrase) else 0
    bits = len(passphrase) * math.log2(max(pool, 2))
    if bits < 40:
        word = "weak: easy to guess with a fast computer"
    elif bits < 64:
        word = "fair: longer is better (several words work well)"
    elif bits < 90:
        word = "good"
    else:
        word = "strong"
    return f"Strength: {word} (about {int(bits)} bits)"


class EncryptionScreen(StepScreen):
    TITLE_TEXT = "Encryption"
    PREFIXES = ("encryption",)
    HELP = (
        "Encryption (LUKS) protects your files if the computer or disk is stolen. You type the "
        "passphrase at every boot, before the system starts, with the console keymap you chose. "
        "If you forget it, your data cannot be recovered by anyone. A FIDO2 security key or the "
        "TPM2 chip can unlock it too (the passphrase always stays a key): the security key is "
        "enrolled during the install (touch it when the install asks), the TPM2 at the first boot "
        "of the new system."
    )

    def body(self) -> ComposeResult:
        e = self.model.encryption
        yield Check("Encrypt the disk (LUKS)", e.enabled, id="f-encryption-enabled", compact=True)
        yield Static("", id="premounted-note", classes="hint", markup=False)
        yield Static("Passphrase", classes="label")
        yield SecretInput("encryption.passphrase", e.passphrase or "")
        yield FieldMessage("encryption.passphrase")
        yield Static("", id="strength", classes="hint", markup=False)
        yield Static("Passphrase again", classes="label")
        yield SecretInput("encryption.passphrase_confirm", e.passphrase_confirm or "")
        yield FieldMessage("encryption.passphrase_confirm")
        yield Static("", id="keymap-note", classes="hint", markup=False)
        yield Static("Unlock at boot with", classes="label")
        with Choices(id="f-encryption-unlock", field="encryption.unlock"):
            for way, text in UNLOCKS.items():
                yield Radio(text, e.unlock == way, id=f"unlock-{way}")
        yield FieldMessage("encryption.unlock")

    def on_mount(self) -> None:
        self.query_one("#keymap-note", Static).update(
            f"You will type this passphrase at every boot, with the '{self.model.system.keymap}' keymap."
        )
        if self.model.disk.layout == "premounted":
            self.query_one("#premounted-note", Static).update(
                "You set up the disks yourself: encryption you made there is kept as it is."
            )
        self.sync()
        self.query_one(Checkbox).focus()

    def sync(self) -> None:
        on_ = self.model.encryption.enabled
        for widget in self.query(SecretInput):
            widget.disabled = not on_
        self.query_one("#f-encryption-unlock", Choices).disabled = not on_
        self.query_one("#strength", Static).update(strength(self.model.encryption.passphrase or "") if on_ else "")

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        self.model.encryption.enabled = event.value
        if not event.value:  # nothing to unlock: a key or TPM chosen before means nothing now
            self.model.encryption.unlock = "passphrase"
            self.query_one("#unlock-passphrase", Radio).value = True
        self.sync()
        self.refresh_problems()

    @on(RadioSet.Changed, "#f-encryption-unlock")
    def _unlock(self, event: RadioSet.Changed) -> None:
        self.model.encryption.unlock = picked(UNLOCKS, (event.pressed.id or "").split("-", 1)[1])
        self.touched.add("encryption.unlock")
        self.sync()
        self.refresh_problems()

    def after_change(self, field: str) -> None:
        self.sync()
