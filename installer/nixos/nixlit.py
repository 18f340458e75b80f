"""Python values as Nix literals: the one door user text goes through into a .nix file.

`nix(value)` is the templates' `nix` filter. Whatever a person typed (a full
name with `"` or `${`, an SSH key comment, a package name) comes out as a
literal that Nix reads back as exactly that value and never as code: no
interpolation, no string ending early, no attribute path injected.
"""

from __future__ import annotations

import re

# Nix identifiers (the lexer's ID rule); anything else is written quoted.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")

# Words the Nix lexer reserves. `or` is accepted as an attribute name in some
# positions only, so it is always quoted too.
_KEYWORDS = frozenset("if then else assert with let in rec inherit or".split())

# Inside "...", these are the only sequences Nix treats specially. CR must be
# escaped too: the lexer turns a raw CR (and CR LF) into LF.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def nix_string(text: str) -> str:
    """`text` as a double-quoted Nix string that evaluates to exactly `text`."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    if "\0" in text:
        raise ValueError("a NUL character cannot be written into a Nix file")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # lone surrogates: no file can hold them
        raise ValueError(f"not valid Unicode text: {err.reason}") from None
    out = ['"']
    for i, char in enumerate(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == "$" and text[i + 1 : i + 2] == "{":
            # `\$` reads back as `$`, so `${` can never open an interpolation.
            out.append("\\$")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def is_identifier(name: str) -> bool:
    """Whether `name` can stand unquoted as a Nix attribute name."""
    return bool(_IDENTIFIER.fullmatch(name)) and name not in _KEYWORDS


def nix_attr_name(name: str) -> str:
    """An attribute name: bare when it is a plain identifier, quoted otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"attribute names are strings, got {type(name).__name__}")
    return name if is_identifier(name) else nix_string(name)


def nix_attr_path(path: str, base: str = "") -> str:
    """A dotted attribute path with every component quoted as needed.

    `nix_attr_path("python3Packages.requests", "pkgs")` gives
    `pkgs.python3Packages.requests`; a component such as `if` or `1x` is
    quoted, so no path can smuggle in anything but a selection.
    """
    if not isinstance(path, str):
        raise TypeError(f"attribute paths are strings, got {type(path).__name__}")
    parts = [nix_attr_name(part) for part in path.split(".")]
    return ".".join([base, *parts] if base else parts)


def nix(value: object) -> str:
    """Any plain Python value as a Nix literal (the templates' `nix` filter)."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        # A negative number is parenthesised so it stays one list element.
        return str(value) if value >= 0 else f"({value})"
    if isinstance(value, str):
        return nix_string(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[ ]"
        return "[ " + " ".join(nix(item) for item in value) + " ]"
    if isinstance(value, dict):
        if not value:
            return "{ }"
        return "{ " + " ".join(f"{nix_attr_name(k)} = {nix(v)};" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write a {type(value).__name__} as a Nix literal")
