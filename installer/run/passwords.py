"""Setting the accounts' passwords on the installed system.

Passwords reach the target only as hashes on the stdin of
`nixos-enter --root TARGET -c 'chpasswd -e'`: never in argv (visible in
/proc to every user), never in a child's environment, never in the log.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence

from installer.answers.model import InstallModel
from installer.base.hashing import hash_password

Log = Callable[[str], None]

TIMEOUT = 300  # seconds for one nixos-enter (it runs the activation script first)


class PasswordError(Exception):
    """Setting passwords on the target failed; the message is safe to show."""


def _entries(model: InstallModel) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    for user in model.users:
        hashed = user.password_hash or (hash_password(user.password) if user.password else None)
        if hashed:
            entries.append((user.name, hashed))
    root = model.root
    if not root.disabled:
        hashed = root.password_hash or (hash_password(root.password) if root.password else None)
        if hashed:
            entries.append(("root", hashed))
    for name, hashed in entries:
        # chpasswd reads "name:hash" lines; a ':' or newline would forge another line.
        if not name or any(ch in name for ch in ":\n\r\0"):
            raise PasswordError(f"user name {name!r} cannot be given to chpasswd")
        if any(ch in hashed for ch in ":\n\r\0"):
            raise PasswordError(f"the password hash for {name} is malformed")
    return entries


def _argv(nixos_enter: str | Sequence[str], target: str, command: str) -> list[str]:
    base = shlex.split(nixos_enter) if isinstance(nixos_enter, str) else list(nixos_enter)
    return [*base, "--root", str(target), "-c", command]


def _run(argv: list[str], stdin: str, log: Log | None, env: dict[str, str]) -> None:
    if log:
        log("$ " + shlex.join(argv))
    try:
        done = subprocess.run(
            argv, input=stdin.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, check=False, timeout=TIMEOUT,
        )
    except OSError as exc:
        raise PasswordError(f"could not run {argv[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise PasswordError(f"{shlex.join(argv)} did not finish in {TIMEOUT} s") from None
    output = done.stdout.decode("utf-8", "replace").splitlines()
    if log:
        for line in output:
            log(line)
    if done.returncode != 0:
        last = output[-1] if output else ""
        raise PasswordError(f"{shlex.join(argv)} failed with exit code {done.returncode}: {last}".rstrip(": "))


def set_passwords(
    model: InstallModel,
    target: str,
    nixos_enter: str | Sequence[str] = "nixos-enter",
    log: Log | None = None,
) -> list[str]:
    """Set every user's (and root's) password on the target; lock root if disabled.

    The hashes go on chpasswd's stdin; `log` sees only the commands and
    their output, never the input. Returns the accounts whose password was set.
    Raises PasswordError with a message fit for the screen.
    """
    from installer.base.processes import child_env

    entries = _entries(model)
    env = child_env(secrets=[h for _, h in entries] + model.secrets())
    # One nixos-enter for everything: each one runs the new system's
    # activation script first (seconds on a real install).
    commands = (["chpasswd -e"] if entries else []) + (["passwd -l root"] if model.root.disabled else [])
    if commands:
        stdin = "".join(f"{name}:{hashed}\n" for name, hashed in entries)
        _run(_argv(nixos_enter, target, " && ".join(commands)), stdin, log, env)
    return [name for name, _ in entries]
