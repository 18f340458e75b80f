"""A problem found in the answers or the machine, tied to the field it is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path into the model, e.g. "users[0].name", "system.hostname"
    message: str  # a sentence for a person, saying what is wrong and what to do
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


class ProblemsError(Exception):
    """Raised with every problem at once, so a person can fix them all in one go."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProbeError(ValueError):
    """A machine that cannot be read (a bad recorded file, or the live probe failing); the message says why."""
