"""Start a program on a new pty, without forking the interpreter: the runner's child.

Its own module beside the runner (which reads the pty on the event loop):
the start is the one part that must be safe while other threads run, and
it needs neither pexpect nor parted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import termios
from collections.abc import Mapping, Sequence


class PtyChild:
    """A child started on a pty: its pid, the pty's master fd and its exit."""

    def __init__(self, proc: subprocess.Popen[bytes], fd: int) -> None:
        self.proc, self.pid, self.child_fd = proc, proc.pid, fd

    def isalive(self) -> bool:
        return self.proc.poll() is None  # reaps it once it has exited

    @property
    def exitstatus(self) -> int | None:
        code = self.proc.returncode
        return code if code is not None and code >= 0 else None

    @property
    def signalstatus(self) -> int | None:
        code = self.proc.returncode
        return -code if code is not None and code < 0 else None

    def close(self, force: bool = False) -> None:
        """Close the pty's master (the child is not signalled: `force` is pexpect's, unused)."""
        if self.child_fd >= 0:
            os.close(self.child_fd)
            self.child_fd = -1


def spawn_on_pty(argv: Sequence[str], env: Mapping[str, str], rows: int = 50, cols: int = 200) -> PtyChild:
    """Start argv on a new pty (rows x cols, no echo), in a session of its own with
    the pty as its controlling terminal. OSError when it cannot be started.

    Not pexpect's pty.fork(): forking a process whose other threads run
    (Textual's workers) can deadlock the child, and Python 3.12+ warns of it.
    subprocess starts the child in C, running nothing but async-signal-safe
    calls before exec, and restores SIGPIPE and SIGXFSZ (Python ignores them,
    and ignored signals survive exec: `yes | head` in a build would print
    "Broken pipe"). The terminal is set up from here on the pty itself, and
    util-linux's `setsid --ctty` makes it the controlling terminal: started
    in our process group, setsid needs no fork, so the pid is the child's.
    """
    if shutil.which(argv[0], path=env.get("PATH")) is None:
        raise FileNotFoundError(f"{argv[0]}: command not found")
    setsid = shutil.which("setsid", path=env.get("PATH")) or shutil.which("setsid")
    if setsid is None:
        raise FileNotFoundError("setsid (util-linux) is not installed")
    master, slave = os.openpty()
    try:
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # no \n -> \r\n: the kernel copies output in bulk, measured 2x faster
        attrs[3] &= ~(termios.ECHO | termios.ECHONL)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        termios.tcsetwinsize(slave, (rows, cols))
        proc = subprocess.Popen([setsid, "--ctty", *argv], stdin=slave, stdout=slave, stderr=slave,
                                env=dict(env), close_fds=True, restore_signals=True)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_inheritable(master, False)
    return PtyChild(proc, master)
