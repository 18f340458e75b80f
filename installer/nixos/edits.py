"""The person's edits of the generated files.

Each edit is kept with the generated text it was made from. When the answers
change afterwards (another hostname, disk or filesystem), the file is
generated anew under the edit; installing the edit then would silently undo
the new answers, and installing the new file would silently drop the edit.
So a stale edit is never installed: the person is asked which one to keep.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass
class Edit:
    text: str  # what the person wrote
    base: str  # the generated file they edited


@dataclass(frozen=True)
class StaleEdit:
    """An edit whose generated file has changed since it was made."""

    name: str
    text: str  # the person's edit
    was: str  # the generated file the edit was made from
    now: str  # the file generated from today's answers

    def changes(self, limit: int = 6, width: int = 68) -> list[str]:
        """What changed in the generated file, as "-old" and "+new" lines; at
        most `limit` of them (then a count of the rest), each cut to `width`."""
        lines = [
            line
            for line in difflib.unified_diff(self.was.splitlines(), self.now.splitlines(), n=0, lineterm="")
            if line[:1] in "-+" and not line.startswith(("---", "+++"))
        ]
        shown = [_cut(line, width) for line in lines[:limit]]
        if len(lines) > limit:
            shown.append(f"(and {len(lines) - limit} more changed lines)")
        return shown


def _cut(line: str, width: int) -> str:
    line = line.rstrip().replace("\t", " ")
    return line if len(line) <= width else line[: width - 3] + "..."
