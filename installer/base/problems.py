"""A problem found in the answers or the machine, tied to the field it is about."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any, Literal

SHOWN_CHARS = 40  # of a value quoted in a message; a 1 MB hostname is not echoed
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHOWN_CHARS


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path into the model, e.g. "users[0].name", "system.hostname"
    message: str  # a sentence for a person, saying what is wrong and what to do
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut to a readable length with
    the whole length said ('aaaa...' (1000000 characters)), nesting cut too."""
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARS:
            return repr(value)
        return repr(value[:SHOWN_CHARS])[:-1] + f"...{repr(value)[-1]} ({len(value)} characters)"
    return _REPR.repr(value)


def named(text: str) -> str:
    """A name (a file, a device) as a message shows it: as it is, unless long
    or holding unprintable characters (then quoted and cut by `shown`)."""
    return text if len(text) <= 200 and text.isprintable() else shown(text)


def cut(text: str, limit: int = 300) -> str:
    """A line of output no longer than about `limit`: the end replaced by its length."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


class ProblemsError(Exception):
    """Raised with every problem at once, so a person can fix them all in one go."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProbeError(ValueError):
    """A machine that cannot be read (a bad recorded file, or the live probe failing); the message says why."""
