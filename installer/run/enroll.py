"""Enrolling a FIDO2 security key in a LUKS container the executor just made.

One narrow function, `enroll`, runs the plan's ENROLL_FIDO2 step
(installer.plan.unlock says why and how); tests point KEY_ROOT and the
command at a stand-in.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable

from installer.plan.types import Step
from installer.run.diskhold import tool_kwargs

Log = Callable[[str], None]

# Where a key file for systemd-cryptenroll is written (a tmpfs: never on a disk).
KEY_ROOT = "/run"
FIDO2_HINT = ("No security key found, or it was not touched in time? Plug it in and try again, or go back to "
              "Encryption and unlock with the passphrase alone. A key that asks for its PIN cannot be enrolled "
              "here: enrol it after the first boot with: systemd-cryptenroll --fido2-device=auto DEVICE")


class EnrollError(Exception):
    """systemd-cryptenroll failed; `output` is what it printed (secrets blanked), with the hint."""

    def __init__(self, output: str):
        self.output = output
        super().__init__(output)


def redact(text: str, hidden: list[str]) -> str:
    for secret in hidden:
        text = text.replace(secret, "<redacted>")
    return text


def enroll(step: Step, secrets: dict[str, str], log: Log, hidden: list[str]) -> str:
    """systemd-cryptenroll with the passphrase in a key file that lives only as long as
    the command: 0600 in a 0700 directory under KEY_ROOT, removed after, whatever
    happens. Its lines are logged as they come (the touch prompt must show while it
    waits); returns "" since they are logged already."""
    from installer.plan.unlock import KEY_FILE

    where = tempfile.mkdtemp(prefix="nixos-tui-installer-key-", dir=KEY_ROOT)  # 0700
    key = os.path.join(where, "unlock.key")
    lines: list[str] = []
    try:
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secrets[step.stdin])  # no newline: the whole file is the key
        argv = [arg.replace(KEY_FILE, key) for arg in step.argv]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, **tool_kwargs())
        except OSError as error:
            raise EnrollError(f"cannot run {argv[0]}: {error}") from None
        assert proc.stdout is not None
        with proc:
            for raw in proc.stdout:
                line = redact(raw.rstrip("\n"), hidden)
                lines.append(line)
                log(f"  {line}")
        code = proc.returncode
    finally:
        for path, remove in ((key, os.unlink), (where, os.rmdir)):
            try:
                remove(path)
            except FileNotFoundError:
                pass
    if code != 0:
        raise EnrollError("\n".join(lines + [f"exit status {code}", FIDO2_HINT]))
    return ""
