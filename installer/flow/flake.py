"""The export of the answers as a flake with a disko layout, for nixos-anywhere
(installer.nixos.export): what the session's answers and plan would give
on another machine, instead of installing here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from installer.base.problems import Problem
    from installer.flow.session import Session
    from installer.nixos.export import Exported


class Flake:
    def __init__(self, session: Session) -> None:
        self.session = session

    def export(self, out_dir: str | os.PathLike[str], *, include_password_hashes: bool = False,
               overwrite: bool = False) -> Exported:
        """A flake with a disko layout for nixos-anywhere; see installer.nixos.export.

        Raises ProblemsError when refused (problems());
        installer.nixos.export.ExistingFiles when out_dir holds files an export
        writes (conflicts(); nothing written), unless overwrite, or when
        one appears while writing (its .written says what was); and
        installer.nixos.export.ExportStopped when a file cannot be written.
        """
        from installer.nixos.export import export_flake

        session = self.session
        assert session.machine is not None
        return export_flake(
            session.answers_model(), session.machine, session.plan(), out_dir,
            include_password_hashes=include_password_hashes, overwrite=overwrite, facter_report=self.facter_report(),
        )

    def facter_report(self) -> str | None:
        """nixos-facter's report of this machine for the flake, when the answers ask for one and it can be
        made here: on the machine itself (not a recorded one) with nixos-facter installed. It only reads the
        hardware; the export writes nothing but its directory."""
        session = self.session
        if session.model.hardware.report != "facter" or not session.options.real:
            return None
        from installer.run.facter import FacterError, available, hardware_report

        if not available():
            return None
        try:
            return hardware_report()
        except FacterError as err:
            session.log().line(f"the flake goes without a hardware report: {err}")
            return None

    def problems(self, *, include_password_hashes: bool = False) -> list[Problem]:
        """Why export() would refuse (e.g. no SSH key without password hashes); empty when it would not."""
        from installer.nixos.export import export_problems

        session = self.session
        return export_problems(session.answers_model(), session.plan(), include_password_hashes=include_password_hashes)

    def conflicts(self, out_dir: str | os.PathLike[str]) -> list[str]:
        """The files in out_dir that export() would only replace with overwrite=True."""
        from installer.nixos.export import existing_files

        return existing_files(self.session.answers_model(), out_dir)

    def exportable_hashes(self) -> list[str]:
        """The accounts whose password hash include_password_hashes=True would put in the flake."""
        from installer.nixos.export import exportable_hashes

        return exportable_hashes(self.session.model)
