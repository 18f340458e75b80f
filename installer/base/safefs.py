"""Writing files without following a symbolic link anywhere on the way.

The installer runs as root and writes into places others may have prepared:
/tmp, a directory the person names, a target filesystem mounted as it came
(a premounted layout). A link in any component of such a path would send
the write elsewhere: the live system's /etc, another user's file. So every
path is walked one component at a time from a directory fd with
O_NOFOLLOW, missing directories are made with mkdir(dir_fd=...), and a link
anywhere on the way is refused with `LinkRefused` (the CLI exits 3), never
followed. Files are written under a temporary O_EXCL name and renamed into
place inside the same directory fd: the rename replaces the name, so a hard
link planted there (to a file outside the target, say) is never written
through either.

Every failure to write one of these files is a `WriteError` whose message
names the file and says why in words (a FIFO in its place, a full
filesystem): the callers catch that one type and show it, never a traceback.
`refused` tells a refusal (something planted in the way: exit 3) from a
failure (exit 1).

Where the walk starts: `/` (or the current directory) for a path as given;
the target's own directory for the files the installer puts under it (the
target is where the person mounted the new system, so it is trusted as
named; nothing beneath it is).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SHOWN_LINK = 200  # characters of a link's destination a message shows


class WriteError(OSError):
    """A file could not be written; str() names it and says why, as shown to a person."""

    refused = False  # something is in the way (a link, a FIFO, a directory), not a failure of the disk

    def __init__(self, code: int, message: str, *, refused: bool = False):
        super().__init__(code, message)
        self.refused = refused

    def __str__(self) -> str:  # without OSError's "[Errno N]": shown as it is
        return self.strerror or ""


class _NotADirectory(WriteError, NotADirectoryError):
    """A component on the way is not a directory (callers may catch either type)."""


class LinkRefused(WriteError):
    """A component of a path to be written is a symbolic link; nothing was written through it."""

    refused = True

    def __init__(self, path: str, destination: str = ""):
        self.path = path
        where = f" (to {_cut(destination)})" if destination else ""
        super().__init__(errno.ELOOP, f"{path} is a symbolic link{where}; refusing to write through it",
                         refused=True)


# Why a write failed, in words; the errno's own text follows in parentheses.
_WHY = {errno.ENOSPC: "the filesystem is full", errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the filesystem is read-only", errno.EACCES: "permission denied",
        errno.EPERM: "permission denied", errno.EIO: "the disk reported an input/output error"}


def failed(err: OSError, shown: str) -> WriteError:
    """`err` (raised while writing `shown`) as a WriteError that names the file."""
    if isinstance(err, WriteError):
        return err
    why = _WHY.get(err.errno or 0)
    detail = err.strerror or str(err)
    text = f"cannot write {shown}: {why} ({detail})" if why else f"cannot write {shown}: {detail}"
    return WriteError(err.errno or errno.EIO, text)


def _cut(text: str) -> str:
    text = text.encode("unicode_escape").decode("ascii")  # a link may name anything, control characters too
    return text if len(text) <= _SHOWN_LINK else text[:_SHOWN_LINK] + f"... ({len(text)} characters)"


def _parts(path: str, *, beneath: bool) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if beneath and ".." in parts:
        raise OSError(errno.EINVAL, f"{path} leaves the directory it must stay in")
    return parts


def _join(shown: str, name: str) -> str:
    return name if not shown else ("/" + name if shown == "/" else f"{shown}/{name}")


def refuse_link(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    """The lstat of `name` in dir_fd (None when missing); LinkRefused when it is a link."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        try:
            destination = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            destination = ""
        raise LinkRefused(shown, destination)
    return info


def _start(path: str, base: int | str | os.PathLike[str] | None) -> tuple[int, str, bool]:
    """(an fd to walk from, how to show it, whether it was opened here)."""
    if isinstance(base, int):
        return base, "", False
    if base is not None:
        shown = os.fspath(base)
        return os.open(shown, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), shown, True
    root = "/" if path.startswith("/") else "."
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), "/" if root == "/" else "", True


def open_dir(
    path: str | os.PathLike[str],
    *,
    base: int | str | os.PathLike[str] | None = None,
    create: bool = False,
    mode: int = 0o755,
    shown: str | None = None,
) -> int:
    """An O_DIRECTORY fd of `path`, walked without following any link.

    `path` is relative to `base` (a directory fd, or a trusted directory
    opened as named) and may not leave it; without `base` it is walked from
    `/` or the current directory. `create` makes missing directories with
    `mode` (exactly: the umask does not narrow it). `shown` names the start
    in messages (for a `base` fd). Raises LinkRefused, or NotADirectoryError /
    FileNotFoundError naming the component.
    """
    text = os.fspath(path)
    fd, where, owned = _start(text, base)
    if shown is not None:
        where = shown
    elif base is not None and not isinstance(base, int):
        where = os.fspath(base).rstrip("/") or "/"
    try:
        for part in _parts(text, beneath=base is not None):
            where = _join(where, part)
            next_fd = _open_component(fd, part, where, create, mode)
            if owned:
                os.close(fd)
            fd, owned = next_fd, True
    except BaseException:
        if owned:
            os.close(fd)
        raise
    return fd if owned else os.dup(fd)


def _open_component(dir_fd: int, name: str, shown: str, create: bool, mode: int) -> int:
    for _attempt in range(3):  # a directory made or removed meanwhile: look again
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(errno.ENOENT, f"{shown} does not exist") from None
            try:
                os.mkdir(name, mode, dir_fd=dir_fd)
            except FileExistsError:
                continue
            except OSError as err:  # a full or read-only filesystem
                raise failed(err, shown) from None
            made = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            os.fchmod(made, mode)
            return made
        except NotADirectoryError:
            refuse_link(dir_fd, name, shown)
            raise _NotADirectory(errno.ENOTDIR, f"{shown} is not a directory", refused=True) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                refuse_link(dir_fd, name, shown)
            raise
    raise OSError(errno.EAGAIN, f"{shown} keeps changing; not writing there")


@contextlib.contextmanager
def parent_dir(path: str | os.PathLike[str], *, create: bool = False, mode: int = 0o755) -> Iterator[tuple[int, str]]:
    """(fd of the directory holding `path`, the last component), walked without links."""
    text = os.fspath(path)
    head, name = os.path.split(text.rstrip("/") or text)
    if name in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, f"{text} is a directory, not a file name")
    fd = open_dir(head or ".", create=create, mode=mode)
    try:
        yield fd, name
    finally:
        os.close(fd)


def check(path: str | os.PathLike[str], *, base: int | str | os.PathLike[str] | None = None) -> None:
    """LinkRefused when any component of `path` that exists is a link; missing ones are fine.

    For checking every file a step will write before it writes the first one."""
    text = os.fspath(path)
    fd, where, _ = _start(text, base)
    if base is not None and not isinstance(base, int):
        where = os.fspath(base).rstrip("/") or "/"
    opened = [fd] if not isinstance(base, int) else []
    try:
        for part in _parts(text, beneath=base is not None):
            where = _join(where, part)
            info = refuse_link(fd, part, where)
            if info is None or not stat.S_ISDIR(info.st_mode):
                return
            fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            opened.append(fd)
    finally:
        for each in opened:
            os.close(each)


def write_at(dir_fd: int, name: str, data: bytes | str | Iterable[bytes], *, mode: int = 0o644,
             shown: str | None = None) -> None:
    """Write `name` in dir_fd atomically with exactly `mode`: a new file under a
    temporary name, then renamed over the old one (`data` may come in chunks).
    A link (or anything but a regular file) in its place is refused, not
    replaced; any failure is a WriteError naming the file, and leaves the old
    file as it was."""
    shown = shown or name
    if "/" in name or name in ("", ".", ".."):
        raise WriteError(errno.EINVAL, f"{shown}: not a plain file name")
    try:
        info = refuse_link(dir_fd, name, shown)
    except WriteError:
        raise
    except OSError as err:
        raise failed(err, shown) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "an unknown kind of file")
        code = errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EEXIST
        raise WriteError(code, f"{shown} is {kind}, not a regular file; refusing to replace it", refused=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    chunks = [data] if isinstance(data, bytes) else data
    temporary = f".{name}.{os.urandom(6).hex()}.tmp"  # what secrets.token_hex does, without its ~6 ms import
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=dir_fd)
    except OSError as err:
        raise failed(err, shown) from None
    try:
        try:
            os.fchmod(fd, mode)
            for chunk in chunks:
                write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename never follows a link at the destination: it replaces the name itself.
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        if isinstance(err, OSError):
            raise failed(err, shown) from None
        raise


def write_file(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644) -> None:
    """`write_at` for a path as given: its directory must exist; no link on the way."""
    with parent_dir(path) as (fd, name):
        write_at(fd, name, data, mode=mode, shown=os.fspath(path))


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFDIR: "a directory", stat.S_IFSOCK: "a socket"}


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The contents of a regular file of at most `limit` bytes, else OSError saying why.

    O_NONBLOCK: a FIFO does not wait for a writer; it is refused, like
    /dev/zero or /dev/urandom (endless), by the check that it is a regular
    file, and a file growing meanwhile is read no further than the limit."""
    text = os.fspath(path)
    if "\0" in text:
        raise OSError(errno.EINVAL, "the file name contains a NUL character")
    fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(errno.EFBIG, f"it is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
