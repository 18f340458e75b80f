"""Every engine call the screens make that is not a plain Session method.

Kept in one place so that when the Session grows a method for one of these,
the change here is one line and no screen changes.
"""

from __future__ import annotations

import os

from installer.answers import catalog
from installer.answers.fields import within
from installer.base.problems import Problem

# The planner and the validator load on first use (after the first frame),
# not when the first step is imported.


def human_size(size: int) -> str:
    """One size format on every step, the planner's (binary units), so the Disk
    step and Review say the same size for the same disk."""
    from installer.base.units import human_size

    return human_size(size)


def suggest_username(full_name: str) -> str:
    from installer.answers.validate import suggest_username

    return suggest_username(full_name)

__all__ = ["catalog", "suggest_username", "human_size", "problems", "is_root", "firmware"]


def problems(session, prefixes: tuple[str, ...]) -> list[Problem]:
    """The engine's problems for the fields a step shows."""
    found = session.validate()
    return [p for p in found if any(within(p.field, prefix) for prefix in prefixes)]


def is_root() -> bool:
    return os.geteuid() == 0


def firmware(session) -> str:
    """The firmware the install targets: the person's override or what was probed."""
    from installer.answers.resolve import boot

    return boot(session.model, session.machine)[0]


def elapsed(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def save_log(session, destination: str) -> str:
    """Copy the whole log where the person asked (a directory, or a file name):
    a private 0600 file, never written through a symlink. Blocking: call from
    a worker. Raises OSError with the reason."""
    return str(session.log().save_copy(destination))


def run_nixos_install(screen, runner, keep: int) -> int:
    """Run nixos-install (the pipeline's runner, not started) in the pane;
    called from the install worker's thread.

    The runner streams on the event loop (its reads are async), so the
    coroutine runs there while this worker thread waits for its exit code.
    The Session's next run continues the earlier runs' record (a Retry, or
    Back to review and on; nixos-install is idempotent). The screen shows
    its last `keep` lines.
    """
    screen.runner = screen.last_runner = runner
    try:
        return screen.app.call_from_thread(_stream, runner, screen.show_lines, keep)
    finally:
        screen.runner = None


async def _stream(runner, show, keep: int) -> int:
    # The pane shows its last `keep` lines: the runner hands it no more than
    # that and never waits for it; the log file and the counts get every line.
    async for batch in runner.lines(keep=keep):
        show(batch)
    return await runner.wait()


def shell(app, session) -> None:
    """A shell (in the target once installed), with the terminal handed over."""
    from textual.app import SuspendNotSupported

    try:
        with app.suspend():
            session.console.shell()
    except SuspendNotSupported:
        app.notify("This terminal cannot hand the screen to a shell.", severity="error")


def reboot(session) -> None:
    """Reboot once the wizard has given the terminal back; say why when it cannot."""
    said = session.console.reboot()
    if said:
        print(said)


def import_keys(source: str, have: list[str], context=None):
    """Fetch the SSH keys `source` names (a GitHub user, gitlab:NAME or an https://
    URL) and keep the new ones: (FoundKeys or None, a line for the person).
    Blocking (the network): call from a worker."""
    from installer.answers.sshkeys import key_source, keys_in
    from installer.run.fetch import FetchError, fetch_text

    where = key_source(source)
    if where.problem:
        return None, where.problem
    try:
        text = fetch_text(where.url, context=context)
    except FetchError as e:
        return None, str(e)
    found = keys_in(text, have)
    return found, found.summary(where.shown)


def keys_from_file(path: str, have: list[str]):
    """The new SSH keys in a file (a .pub or authorized_keys on a USB stick):
    (FoundKeys or None, a line for the person)."""
    from installer.answers.sshkeys import MAX_BYTES, keys_in
    from installer.base.safefs import read_regular

    try:
        text = read_regular(path, MAX_BYTES).decode("utf-8", errors="replace")
    except OSError as e:
        return None, f"{path} cannot be read: {e.strerror or e}"
    found = keys_in(text, have)
    return found, found.summary(os.path.basename(path))


def media_mounts(session) -> list[tuple[str, str]]:
    """Mounted USB sticks and cards: (mount point, what it is, for a person)."""
    machine = session.machine
    if machine is None:
        return []
    return [(mountpoint, f"{disk.model or disk.name} ({human_size(disk.size)})".strip())
            for mountpoint, disk in machine.media_mounts() if os.path.isdir(mountpoint)]
