"""The install log: one private file that keeps every line, secrets redacted.

The file lives in /tmp, which anyone can write to, so its path is walked
without following any link (installer.base.safefs: a planted symlink cannot
redirect it, in the last component or any other) and it is mode 0600 (other
users on the live ISO cannot read it). Every line passes through a `Redactor`
first: a password echoed by some tool never reaches the disk.

A file opened in place (the log itself, which is appended to) is refused
when it has another hard link: root may write any file, and a name linked
to one outside (/etc/shadow, or a file beyond a reused target) would send
the writes there. The copy into the target is written under a temporary
name and renamed into place instead (safefs.write_at), which replaces the
name and never touches the inode behind it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from installer.base import safefs

DEFAULT_LOG = "/tmp/nixos-tui-installer.log"
TARGET_LOG = "var/log/nixos-tui-installer.log"  # relative to the target root
REDACTED = "<redacted>"

# O_NONBLOCK: opening a FIFO planted where the file should go fails (ENXIO)
# instead of waiting for a reader; on a regular file it changes nothing.
# O_RDWR: the log is copied from the fd it was opened with, never by name again.
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


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


def open_private(
    path: str | os.PathLike[str], *, append: bool = True, new: bool = False, dir_fd: int | None = None
) -> int:
    """Open (or create) a regular file only its owner can read; returns the fd.

    append=False empties the file, but only once it is known to be ours: an
    O_TRUNC in the open itself would empty another user's file (root may
    open anything) before the refusal below. new=True creates the file or
    raises FileExistsError, whatever is in its place (a link included).
    With dir_fd, the last component of `path` is opened in that directory
    (`path` names it in messages); without, every directory on the way is
    walked without following links. A link is refused with
    safefs.LinkRefused; other refusals are OSErrors whose strerror says why.
    """
    if dir_fd is None:
        with safefs.parent_dir(path) as (parent, _name):
            return open_private(path, append=append, new=new, dir_fd=parent)
    name = os.path.basename(os.fspath(path).rstrip("/"))
    flags = _FLAGS | (os.O_EXCL if new else os.O_APPEND if append else 0)
    try:
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EEXIST):
            safefs.refuse_link(dir_fd, name, os.fspath(path))  # a link: refused as one, not as "exists"
        if err.errno == errno.ELOOP:
            raise safefs.LinkRefused(os.fspath(path)) from None
        if err.errno == errno.ENXIO:
            raise OSError(err.errno, f"{path} is not a regular file") from None
        if err.errno == errno.EISDIR:
            raise IsADirectoryError(err.errno, f"{path} is a directory, not a file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"{path} belongs to another user")
        if info.st_nlink > 1:  # before anything is done to it: it is someone else's file too
            raise safefs.WriteError(errno.EMLINK, f"{path} has {info.st_nlink - 1} other hard link(s); refusing "
                                    "to write through it", refused=True)
        # An older file may have been created with a looser mode.
        os.fchmod(fd, 0o600)
        if not append:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


_write_all = safefs.write_all


class LogFile:
    """The 0600 log file; `write_lines` redacts, then appends."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_LOG,
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

    def copy_to(self, target: str | os.PathLike[str]) -> Path:
        """Copy the whole log to TARGET/var/log/, mode 0600, replacing an older copy.

        Nothing under the target is followed: a link at var, var/log or the
        file itself is refused (safefs.LinkRefused), never written through;
        the copy is renamed into place, so a hard link there is replaced, not
        written through. Any failure is a safefs.WriteError naming the file."""
        destination = Path(target) / TARGET_LOG
        try:
            where = safefs.open_dir(os.path.dirname(TARGET_LOG), base=target, create=True, mode=0o755)
        except OSError as err:
            raise safefs.failed(err, str(destination.parent)) from None
        try:
            safefs.write_at(where, destination.name, self._chunks(), mode=0o600, shown=str(destination))
        finally:
            os.close(where)
        return destination

    def save_copy(self, destination: str | os.PathLike[str]) -> Path:
        """Copy the whole log to a place the person chose (a directory: the log's
        own name in it), as a private file: created 0600, never through a
        symlink, never over another user's file. Raises OSError saying why."""
        where = Path(os.path.expanduser(os.fspath(destination)))
        try:
            directory = safefs.open_dir(where)
        except (FileNotFoundError, NotADirectoryError):
            self._copy_into(open_private(where, append=False))
            return where
        try:
            where = where / self.path.name
            self._copy_into(open_private(where, append=False, dir_fd=directory))
        finally:
            os.close(directory)
        return where

    def _copy_into(self, out: int) -> None:
        """Copy into the fd `out` (closed here)."""
        try:
            for chunk in self._chunks():
                _write_all(out, chunk)
        finally:
            os.close(out)

    def _chunks(self) -> Iterator[bytes]:
        """The whole log, from its own fd, or, once closed, from the log reopened
        without following links."""
        source = self._fd if self._fd is not None else open_private(self.path)
        try:
            offset = 0
            while chunk := os.pread(source, 1 << 20, offset):
                yield chunk
                offset += len(chunk)
        finally:
            if source != self._fd:
                os.close(source)
