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


# -- taking a newly generated file into an edit ------------------------------------

MINE_MARK = "<<<<<<< your edit"
SPLIT_MARK = "======="
NEW_MARK = ">>>>>>> newly generated"


@dataclass(frozen=True)
class Merged:
    text: str
    conflicts: tuple[int, ...] = ()  # the line (1-based) of each conflict's first marker


Hunk = tuple[int, int, list[str]]  # base[start:end] becomes these lines


def _hunks(base: list[str], other: list[str]) -> list[Hunk]:
    matcher = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [(i1, i2, other[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _clash(start: int, end: int, other: Hunk) -> bool:
    """Whether a change of base[start:end] and `other` touch the same lines: two
    ranges that overlap, an insertion inside the other's range, or two
    insertions at one place (which goes first is the person's call)."""
    s, e = other[0], other[1]
    if start == end and s == e:
        return start == s
    if start == end:
        return s < start < e
    if s == e:
        return start < s < end
    return start < e and s < end


def _apply(base: list[str], start: int, end: int, hunks: list[Hunk]) -> list[str]:
    out, at = [], start
    for s, e, lines in hunks:
        out += base[at:s] + lines
        at = e
    return out + base[at:end]


def merge3(base: str, mine: str, new: str) -> Merged:
    """The person's edit of `base` with the changes `new` made to `base`, line
    by line, as `git merge-file` does: a line only one side changed takes
    that side's version; where both changed the same lines differently, both
    versions are kept between conflict markers for the person to choose."""
    b = base.splitlines(keepends=True)
    m = mine.splitlines(keepends=True)
    n = new.splitlines(keepends=True)
    for lines in (b, m, n):  # a last line without its newline still ends a line here
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    tagged = sorted([(h, 0) for h in _hunks(b, m)] + [(h, 1) for h in _hunks(b, n)],
                    key=lambda t: (t[0][0], t[0][1]))
    out: list[str] = []
    conflicts: list[int] = []
    at = 0
    i = 0
    while i < len(tagged):
        start, end = tagged[i][0][0], tagged[i][0][1]
        group = [tagged[i]]
        i += 1
        while i < len(tagged) and _clash(start, end, tagged[i][0]):
            group.append(tagged[i])
            end = max(end, tagged[i][0][1])
            i += 1
        out += b[at:start]
        at = end
        sides = [[h for h, side in group if side == k] for k in (0, 1)]
        ours, theirs = (_apply(b, start, end, hunks) for hunks in sides)
        if not sides[1] or ours == theirs:
            out += ours
        elif not sides[0]:
            out += theirs
        else:
            conflicts.append(len(out) + 1)
            out += [MINE_MARK + "\n", *ours, SPLIT_MARK + "\n", *theirs, NEW_MARK + "\n"]
    out += b[at:]
    text = "".join(out)
    if not mine.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return Merged(text, tuple(conflicts))


def conflict_line(text: str) -> int:
    """The line (1-based) of the first conflict marker left in `text`, or 0."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith((MINE_MARK, NEW_MARK)) or line == SPLIT_MARK:
            return number
    return 0
