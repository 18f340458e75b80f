"""The generated NixOS files and the person's edits of them.

The files are rendered from the session's answers and plan; an edit keeps
the generated text it was made from, so a later change of the answers shows
as a stale edit instead of being silently overwritten or lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from installer.base.problems import Problem, ProblemsError
from installer.nixos.edits import Edit, Merged, StaleEdit, conflict_line, merge3

if TYPE_CHECKING:
    from installer.flow.session import Session
    from installer.nixos.nixcheck import ParseError

CONFLICT = ("your edit and the newly generated file both changed these lines. Keep the version you "
            "want between the <<<<<<< and >>>>>>> lines, and delete the three marker lines.")


class Draft:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.edits: dict[str, Edit] = {}  # file name -> the person's edit
        self._files: dict[str, str] = {}
        self._files_key: str | None = None

    def forget(self) -> None:
        """Render again on next use: the machine changed (a probe, a resumed run)."""
        self._files_key = None

    def generated(self) -> dict[str, str]:
        """The files as generated from the answers, without the person's edits."""
        from installer.nixos.render import render

        session = self.session
        assert session.machine is not None
        plan = session.plan()
        if self._files_key != session.plan_key:
            self._files = render(session.model, session.machine, plan)
            self._files_key = session.plan_key
        return dict(self._files)

    def render(self) -> dict[str, str]:
        """The files that get installed: the generated ones, or the person's
        edit of one. Refused while an edit was made from an older version of
        its file (see `stale_edits`): neither can be installed without asking."""
        stale = self.stale_edits()
        if stale:
            raise ProblemsError([
                Problem(f"files.{s.name}", f"{s.name} was edited before the answers changed; "
                        "review it again and keep the edit or use the new file")
                for s in stale
            ])
        return self.shown_files()

    def shown_files(self) -> dict[str, str]:
        """The generated files with the person's edits in place, stale or not:
        what Review shows (render() is what may be installed)."""
        return {**self.generated(), **{name: edit.text for name, edit in self.edits.items()}}

    def stale_edits(self) -> list[StaleEdit]:
        """Edits whose generated file has changed since they were made."""
        files = self.generated()
        return [StaleEdit(name, edit.text, edit.base, files[name])
                for name, edit in self.edits.items() if files.get(name) != edit.base]

    def keep_edit(self, name: str) -> Merged:
        """Keep the person's edit, though its file was generated anew: the new
        file's changes to the lines they did not touch are taken in (a new disk's
        name above all), where both changed a line both versions stay between
        conflict markers, which do not parse until the person chose."""
        edit = self.edits[name]
        now = self.generated()[name]
        merged = merge3(edit.base, edit.text, now)
        self.edits[name] = Edit(merged.text, now)
        return merged

    def drop_edit(self, name: str) -> None:
        """Install the generated file instead of the person's edit."""
        self.edits.pop(name, None)

    def parse_error(self, name: str, text: str) -> ParseError | None:
        """Why an edit of file `name` does not parse, with the line and column
        (a conflict marker left from keeping an edit, or Nix's own error and
        code frame); None when it parses. Stores nothing. The wizard checks as
        the person types, then again on Next: the same text does not start
        nix-instantiate twice (nixcheck caches)."""
        from installer.nixos.nixcheck import ParseError, parse_error

        marker = conflict_line(text)
        if marker:
            return ParseError(CONFLICT, marker, 1)
        return parse_error(text)

    def parse_problems(self, name: str, text: str) -> list[Problem]:
        found = self.parse_error(name, text)
        return [Problem(f"files.{name}", found.shown(name))] if found else []

    def problems(self) -> list[Problem]:
        """What in the edits must stop the install before the disk is touched:
        a conflict left from keeping an edit, a line naming a device the plan
        does not set up (an edit made for another disk)."""
        from installer.nixos.devicenames import explain, foreign_devices

        files = self.generated()
        plan = self.session.plan()
        disk = plan.disk.path if plan.disk is not None else self.session.options.target
        found = []
        for name, edit in self.edits.items():
            marker = conflict_line(edit.text)
            if marker:
                found.append(Problem(f"files.{name}", f"{name} line {marker}: {CONFLICT}"))
            found += [Problem(f"files.{name}", explain(name, device, disk))
                      for device in foreign_devices(edit.text, files[name], plan)]
        return found

    def set_edited(self, name: str, text: str) -> list[Problem]:
        """Keep the person's edit of a generated file, if it parses as Nix.
        The generated text itself is no edit; an edit keeps the file it was
        first made from, so typing on never hides that the file changed."""
        files = self.generated()
        if name not in files:
            raise KeyError(f"no generated file {name}")
        if text == files[name]:
            self.edits.pop(name, None)
            return []
        problems = self.parse_problems(name, text)
        if problems:
            return problems
        earlier = self.edits.get(name)
        self.edits[name] = Edit(text, earlier.base if earlier is not None else files[name])
        return []
