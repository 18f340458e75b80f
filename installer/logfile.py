"""The install log: one private file that keeps every line, secrets redacted.

The file lives in /tmp, which anyone can write to, so it is opened with
O_NOFOLLOW (a planted symlink cannot redirect it) and mode 0600 (other users
on the live ISO cannot read it). Every line passes through a `Redactor`
first: a password echoed by some tool never reaches the disk.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

DEFAULT_LOG = "/tmp/nixos-tui-installer.log"
TARGET_LOG = "var/log/nixos-tui-installer.log"  # relative to the target root
REDACTED = "<redacted>"

# O_NONBLOCK: opening a FIFO planted where the file should go fails (ENXIO)
# instead of waiting for a reader; on a regular file it changes nothing.
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class Redactor:
    """Replaces every known secret in a text with <redacted>."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        known = set(self._secrets)
        known.update(s for s in secrets if s)
        # Longest first: a secret that contains another must go whole.
        self._secrets = sorted(known, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        # Called on whole chunks of output, not per line: a few `in` scans of
        # a 64 KiB string cost far less than a loop over its lines.
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def open_private(path: str | os.PathLike, *, append: bool = True, new: bool = False) -> int:
    """Open (or create) a regular file only its owner can read; returns the fd.

    append=False empties the file, but only once it is known to be ours: an
    O_TRUNC in the open itself would empty another user's file (root may
    open anything) before the refusal below. new=True creates the file or
    raises FileExistsError, whatever is in its place (a link included).
    Other refusals are OSErrors whose strerror says why.
    """
    flags = _FLAGS | (os.O_EXCL if new else os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(err.errno, f"{path} is a symbolic link; not following it") from None
        if err.errno == errno.ENXIO:
            raise OSError(err.errno, f"{path} is not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"{path} belongs to another user")
        # An older file may have been created with a looser mode.
        os.fchmod(fd, 0o600)
        if not append:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LogFile:
    """The 0600 log file; `write_lines` redacts, then appends."""

    def __init__(
        self,
        path: str | os.PathLike = DEFAULT_LOG,
        *,
        redactor: Redactor | None = None,
        append: bool = True,
    ) -> None:
        self.path = Path(path)
        self.redactor = redactor if redactor is not None else Redactor()
        self._fd: int | None = open_private(self.path, append=append)

    def write_text(self, text: str, *, redacted: bool = False) -> None:
        """Append text made of whole lines; redacted here unless the caller did it."""
        if self._fd is None or not text:
            return
        if not redacted:
            text = self.redactor(text)
        _write_all(self._fd, text.encode("utf-8", "replace"))

    def write_lines(self, lines: Iterable[str]) -> None:
        text = "\n".join(lines)
        if text:
            self.write_text(text + "\n")

    def line(self, text: str) -> None:
        """One line; usable as the `log` callback other engine steps take."""
        self.write_text(text.rstrip("\n") + "\n")

    __call__ = line

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def copy_to(self, target: str | os.PathLike) -> Path:
        """Copy the whole log to TARGET/var/log/, mode 0600, replacing an older copy."""
        destination = Path(target) / TARGET_LOG
        destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if destination.is_symlink():
            destination.unlink()
        self._copy_into(destination)
        return destination

    def save_copy(self, destination: str | os.PathLike) -> Path:
        """Copy the whole log to a place the person chose (a directory: the log's
        own name in it), as a private file: created 0600, never through a
        symlink, never over another user's file. Raises OSError saying why."""
        where = Path(os.path.expanduser(os.fspath(destination)))
        if where.is_dir():
            where = where / self.path.name
        self._copy_into(where)
        return where

    def _copy_into(self, destination: Path) -> None:
        out = open_private(destination, append=False)
        try:
            with open(self.path, "rb") as source:
                while chunk := source.read(1 << 20):
                    _write_all(out, chunk)
        finally:
            os.close(out)
