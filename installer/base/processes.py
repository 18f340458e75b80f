"""The install's processes: a clean environment, and an end that leaves no orphan.

nixos-install runs as the leader of its own session and process group (the
pty makes it so). Signalling the group reaches everything that stayed in it;
a descendant that moved to a session of its own is found through /proc
(parent links, recorded before each signal) and signalled by pid, checked
against its start time so a recycled pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from types import FrameType

_SECRET_NAMES = ("PASSW", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL")


def child_env(
    secrets: Iterable[str | None] = (),
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a child: ours, minus anything that holds or names a secret."""
    env = dict(os.environ if base is None else base)
    values = [s for s in secrets if s]
    for name in list(env):
        value = env[name]
        if any(word in name.upper() for word in _SECRET_NAMES) or any(s in value for s in values):
            del env[name]
    env.update(extra or {})
    return env


def child_setup() -> None:
    # Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec:
    # without this, `yes | head` in a build would print "Broken pipe".
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    # No output post-processing (\n -> \r\n) on the pty: the kernel then
    # copies output in bulk instead of char by char, measured 2x faster.
    try:
        attrs = termios.tcgetattr(0)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(0, termios.TCSANOW, attrs)
    except termios.error:
        pass


def _stat(pid: str) -> tuple[int, int, int, int] | None:
    """(ppid, pgrp, session, starttime) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None


def family(leader: int) -> dict[int, int]:
    """pid -> start time of the leader's descendants and its session/group members."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    members: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        info = _stat(name)
        if info is None:
            continue
        pid = int(name)
        ppid, pgrp, session, start = info
        starts[pid] = start
        children.setdefault(ppid, []).append(pid)
        if pgrp == leader or session == leader:
            members.add(pid)
    found, todo = set(members), [leader]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.add(leader)
    found.discard(os.getpid())
    return {pid: starts[pid] for pid in found if pid in starts}


async def exited(pid: int, isalive: Callable[[], bool], loop: asyncio.AbstractEventLoop) -> None:
    """Until the child `pid` has exited; `isalive()` (the runner's PtyChild's) reaps it. A
    pidfd wakes the loop the moment it exits (a poll every 50 ms added ~25 ms to every run)."""
    import asyncio  # loaded already (this runs on its loop); not at import: evalcheck and passwords need none

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or already reaped
        pidfd = -1
    if pidfd >= 0:
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(pidfd, wake)
        try:
            if isalive():
                await ready
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
    delay = 0.002
    while isalive():
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def alive(pid: int, start: int) -> bool:
    info = _stat(str(pid))
    # A zombie still has a stat; a recycled pid has another start time.
    if info is None or info[3] != start:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def signal_all(leader: int, victims: Mapping[int, int], sig: int) -> None:
    try:
        os.killpg(leader, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid, start in victims.items():
        if alive(pid, start):
            try:
                # Group members already got it: a second SIGINT reads as
                # "really, now" to many programs (Python's handler, Nix).
                if os.getpgid(pid) != leader:
                    os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


TERMINATIONS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def like_ctrl_c(signals: Iterable[int] = TERMINATIONS) -> Iterator[list[int]]:
    """Inside: SIGTERM and SIGHUP do exactly what Ctrl+C does at that moment.

    Their default is to end the process on the spot: no undo of the disk
    phase's mounts, no stop of nixos-install's process group (a `setsid`
    grandchild would live on), no last lines in the log. So each runs
    SIGINT's handler as it is then: Python's KeyboardInterrupt, or, inside
    asyncio.run, its cancelling of the main task (the runner then stops the
    whole family). Yields the list of signals received, for the message."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        current = signal.getsignal(signal.SIGINT)
        if callable(current):
            current(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    # Started in the background of a script (`installer --yes &` in a shell without job
    # control), the process inherits SIGINT ignored: asyncio.run then sets no handler of its
    # own, KeyboardInterrupt would break out of its loop with nixos-install's stop half done,
    # and a SIGTERM hung the install (seen). Inside, SIGINT is Python's own again: a
    # deliberate `kill -INT` stops the install as cleanly as the others, and nixos-install
    # starts with SIGINT's default, which is how the runner asks it to stop.
    saved_int = signal.getsignal(signal.SIGINT)
    if saved_int == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    saved = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield received
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
        if saved_int == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
