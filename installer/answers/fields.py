"""Dotted field paths ("users[0].password", "disk.match.ssd") and the model's
field metadata read by them.

Problems, widgets and the answers file all name a model field by such a
path. This is the one place that parses and writes them and tests whether
one lies inside another, and the one reader of the metadata each field
carries (installer.answers.model's `answer()` and `secret()`): which fields
are secrets, which sections and tables the model has.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from typing import Any, get_args

from installer.answers.model import InstallModel

# One part of a path: a parsed name or list index; None is the "[]" of a
# generic path ("users[].name": any user's name), as descriptions are filed.
Part = str | int | None

# One step of a path: ".name" (or the first name), or "[index]" ("[]": any).
_TOKEN = r"(\.?)([A-Za-z_][A-Za-z0-9_]*)|\[(\d*)\]"


def parse(path: str) -> tuple[Part, ...]:
    """The parts of a path: "users[0].password" -> ("users", 0, "password"), "users[].name" -> ("users", None, "name").

    Raises ValueError for anything else (an empty path, "a..b", "x[y]")."""
    parts: list[Part] = []
    pos = 0
    while pos < len(path):
        m = re.compile(_TOKEN).match(path, pos)  # re caches it; not compiled at start-up
        # A name is first or follows a dot; an index never comes first.
        name = m is not None and m.group(2) is not None
        if m is None or (name and bool(m.group(1)) != bool(parts)) or (not name and not parts):
            raise ValueError(f"not a field path: {path!r}")
        if name:
            parts.append(m.group(2))
        else:
            parts.append(int(m.group(3)) if m.group(3) else None)
        pos = m.end()
    if not parts:
        raise ValueError("not a field path: ''")
    return tuple(parts)


def format(parts: typing.Iterable[Part]) -> str:  # noqa: A001  (the counterpart of parse; called as fields.format)
    """The path of parts: ("users", 0, "password") -> "users[0].password"; the inverse of parse."""
    out = ""
    for part in parts:
        if part is None:
            out += "[]"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def within(field: str, prefix: str) -> bool:
    """Whether `field` is `prefix` or lies inside it: "users[1].name" is within
    "users" and "users[1]", "disk.match.ssd" within "disk.match"; "users_x" is
    within nothing but itself."""
    return field == prefix or field.startswith((prefix + ".", prefix + "["))


def generic(path: str) -> str:
    """The path with its list indexes left out, as descriptions are filed: "users[0].name" -> "users[].name"."""
    return re.sub(r"\[\d+\]", "[]", path)


# -- the metadata, by path ---------------------------------------------------------


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """A dataclass's field types, resolved (the model's annotations are strings), once per class."""
    return typing.get_type_hints(cls)


def held(hint: Any) -> type | None:
    """The dataclass a field of this type holds, itself or in a list or an Optional (disk.match, users)."""
    for candidate in (hint, *get_args(hint)):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def field_of(path: str, root: type = InstallModel) -> dataclasses.Field[Any] | None:
    """The model field a path names ("users[0].ssh_keys[1]": User.ssh_keys), or None
    for a path that names no field (a problem about the whole file, an unknown key)."""
    try:
        parts = parse(path)
    except ValueError:
        return None
    cls: type | None = root
    found = None
    for part in parts:
        if not isinstance(part, str):
            continue  # an index stays within the list field already found
        if cls is None:
            return None
        found = next((f for f in dataclasses.fields(cls) if f.name == part), None)
        if found is None:
            return None
        cls = held(hints(cls)[part])
    return found


def is_secret(path: str) -> bool:
    """Whether a path names a secret field (users[0].password, encryption.passphrase_confirm, ...)."""
    found = field_of(path)
    return found is not None and bool(found.metadata.get("secret"))


def sections(root: type = InstallModel) -> dict[str, type]:
    """Each section of the answers and the dataclass of its table(s), in model order:
    "system" -> System, ..., "users" -> User (a list of tables), ..."""
    types = hints(root)
    out = {}
    for f in dataclasses.fields(root):
        cls = held(types[f.name])
        if cls is not None:
            out[f.name] = cls
    return out


def tables(root: type = InstallModel) -> dict[str, tuple[type, dataclasses.Field[Any]]]:
    """The tables nested inside a section, by path, with the field that holds each:
    "disk.match" -> (DiskMatch, DiskChoice.match)."""
    out = {}
    for name, cls in sections(root).items():
        types = hints(cls)
        for f in dataclasses.fields(cls):
            inner = held(types[f.name])
            if inner is not None:
                out[f"{name}.{f.name}"] = (inner, f)
    return out


def secret_names(root: type = InstallModel) -> frozenset[str]:
    """The names of every secret field anywhere in the model (password, passphrase, ...)."""
    names: set[str] = set()
    for cls in [*sections(root).values(), *(inner for inner, _f in tables(root).values())]:
        names.update(f.name for f in dataclasses.fields(cls) if f.metadata.get("secret"))
    return frozenset(names)
