"""Everything checked before the disk is touched: the pre-flight evaluation
of the files with Nix (and its state: the latest outcome, for which files,
and the person's choice to install anyway), the programs a real install
runs, and links in a premounted target.

The outcome is kept here only, with the files it was made for: Review,
Confirm and the unattended CLI all read it from this one place.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from typing import TYPE_CHECKING

from installer.base.problems import Problem, ProblemsError

if TYPE_CHECKING:
    import threading

    from installer.flow.session import Session
    from installer.nixos.dryrun import Summary
    from installer.nixos.evalcheck import Outcome
    from installer.run.connectivity import Reachability


def empty_facter_report(system: str) -> str:
    """What the pre-flight evaluation reads as facter.json: nixos-facter's format, no hardware in it."""
    return json.dumps({"version": 1, "system": system, "virtualisation": "none", "hardware": {}, "smbios": {}}) + "\n"


class Preflight:
    def __init__(self, session: Session) -> None:
        self.session = session
        # The latest pre-flight evaluation, with the files it evaluated, and
        # the files the person chose to install although it failed.
        self._nix_check: tuple[str, Outcome] | None = None
        self._nix_check_override: str | None = None
        # What building these files would download and build (asked after a passed evaluation).
        self._downloads: tuple[str, Summary] | None = None
        # Whether the machine is online: None until the Network step says (it
        # sets this); Confirm reads it beside the download summary.
        self.online: bool | None = None
        # What the binary cache answered (installer.flow.online.check), when it was asked.
        self.reachability: Reachability | None = None

    # -- the evaluation with Nix -----------------------------------------------------
    def nix_check(self, cancel: threading.Event | None = None, timeout: float | None = None) -> Outcome:
        """Evaluate the files that would be installed with this machine's
        nixpkgs (installer.nixos.evalcheck.evaluate); blocking: call from a worker.
        The outcome holds for these very files: see nix_check_outcome."""
        from installer.nixos.evalcheck import evaluate, files_key

        session = self.session
        files = session.draft.render()
        checked = dict(files)
        if session.model.hardware.report == "facter":
            # nixos-facter runs only after the confirmation: the check reads a report of no hardware in its place.
            from installer.nixos.facts import host_platform

            checked["facter.json"] = empty_facter_report(host_platform())
        outcome = evaluate(checked, list(session.model.software.packages),
                           timeout=session.options.eval_timeout if timeout is None else timeout, cancel=cancel)
        self._nix_check = (files_key(files), outcome)
        session.log().line(f"evaluation with Nix: {outcome.status} in {outcome.seconds:.1f} s"
                           + (f": {outcome.message}" if outcome.status != "passed" else ""))
        if outcome.status == "passed":
            from installer.nixos.dryrun import ask

            summary = ask(files, timeout=session.options.eval_timeout if timeout is None else timeout, cancel=cancel)
            self._downloads = (files_key(files), summary)
            session.log().line(f"what the install fetches and builds: {summary.line()}")
        return outcome

    def downloads(self) -> Summary | None:
        """What building the files as they are now would download and build, if Nix was asked."""
        if self._downloads is None or self.nix_check_outcome() is None:
            return None
        key, summary = self._downloads
        return summary if key == self._shown_key() else None

    def offline_install(self) -> bool:
        """Install without substituters: asked for (--offline), or nothing must be
        downloaded (everything is in this live system's store, which nixos-install
        copies from through its own `auto?trusted=1` substituter either way)."""
        summary = self.downloads()
        # Offline, an install Confirm let through has everything here (or Nix could not say):
        # without substituters Nix does not spend its retries on a cache that cannot answer.
        return (self.session.options.offline or (summary is not None and summary.nothing_to_download)
                or self.online is False)

    def network_lines(self) -> list[str]:
        """What the binary cache answered and, offline, what that means (installer.flow.online):
        the Confirm step, the unattended run and --plan say these; [] when not asked (the
        Network step may set `online` alone: then only the meaning)."""
        from installer.flow.online import offline_meaning, status_line

        return [line for line in (status_line(self.session), offline_meaning(self.session)) if line]

    def downloads_line(self) -> str:
        """The download summary for Review, Confirm and the unattended run; "" before Nix was asked."""
        summary = self.downloads()
        if summary is None:
            return ""
        line = summary.line()
        if summary.nothing_to_download and not self.session.options.offline:
            line += ": installs without downloading"  # one console line at Review
        elif summary.known and summary.to_fetch and self.online is False:
            line += "; this machine is offline"
        return line

    def nix_check_outcome(self) -> Outcome | None:
        """The latest pre-flight outcome if it was made for the files as they
        are now (edits included), else None."""
        if self._nix_check is None or self.session.machine is None:
            return None
        key, outcome = self._nix_check
        return outcome if key == self._shown_key() else None

    def files_key(self) -> str | None:
        """What names the files a check would evaluate now; None while an edit
        is stale (the person chooses first, then they are checked)."""
        from installer.nixos.evalcheck import files_key

        draft = self.session.draft
        if draft.stale_edits():
            return None
        return files_key(draft.shown_files())

    def _shown_key(self) -> str | None:
        from installer.nixos.evalcheck import files_key

        try:
            return files_key(self.session.draft.shown_files())
        except ProblemsError:
            return None

    def override_nix_check(self) -> None:
        """The person chose to install these files although Nix refused them."""
        outcome = self.nix_check_outcome()
        if outcome is None or not outcome.failed:
            return
        self._nix_check_override = self._shown_key()
        self.session.log().line(
            f"evaluation with Nix failed and the person chose to install anyway: {outcome.message}")

    def nix_check_overridden(self) -> bool:
        outcome = self.nix_check_outcome()
        return outcome is not None and outcome.failed and self._nix_check_override == self._shown_key()

    def nix_check_refusal(self) -> str:
        """Why the install may not start: Nix refused these files and the
        person has not chosen to install them anyway; "" otherwise (passed,
        not checked, or overridden)."""
        outcome = self.nix_check_outcome()
        if outcome is None or not outcome.failed or self.nix_check_overridden():
            return ""
        return f"Nix could not evaluate the configuration: {outcome.message}"

    def nix_check_problems(self) -> list[Problem]:
        """A package nixpkgs lacks, at the Software step's package field (a
        warning: Review and Confirm are where it holds the install back)."""
        if self._nix_check is None:
            return []
        outcome = self.nix_check_outcome()
        if outcome is None or not outcome.failed or outcome.field != "software.packages":
            return []
        return [Problem("software.packages", outcome.message, "warning")]

    # -- what a real install needs ------------------------------------------------------
    def problems(self) -> list[Problem]:
        """What a real install needs besides valid answers, all checked before the
        disk is touched: the target is a directory, and every program the plan and
        the later phases run is installed. Empty on a dry run or a recorded machine."""
        session = self.session
        if not session.options.real:
            return []
        from installer.run.diskcheck import target_problem
        from installer.run.executor import missing_tools

        from installer.flow.online import offline_problem

        problems = offline_problem(session)
        problem = target_problem(session.options.target)
        if problem:
            problems.append(Problem("--target", problem))
        if session.install.resume_phase() == "disk":
            problems += [Problem("tools", str(missing)) for missing in missing_tools(session.plan())]
        if session.model.hardware.report == "facter":
            from installer.run.facter import PROGRAM, available

            if not available():
                problems.append(Problem("hardware.report", f"{PROGRAM} is not installed here, so no hardware report "
                                        "can be written; use the generated hardware-configuration.nix "
                                        "(hardware.report = \"generated\"); nothing was written"))
        for option, command, needed in (
            ("--nixos-install", session.options.nixos_install, "install the system"),
            ("--nixos-enter", session.options.nixos_enter, "set the passwords in the new system"),
        ):
            program = (shlex.split(command) or [""])[0]
            if shutil.which(program) is None:
                package = " (package nixos-install-tools)" if os.path.basename(program) == option[2:] else ""
                problems.append(Problem(option, f"{program or repr(command)} is not installed{package}, "
                                        f"needed to {needed}; nothing was written"))
        return problems

    def refuse_links_in_target(self) -> None:
        """safefs.LinkRefused when a premounted target has a link on the way to a
        file the install writes there (etc, etc/nixos, its files, var/log), so
        it is refused before anything runs. A layout this installer makes is a
        fresh filesystem mounted over the target: nothing there to check yet."""
        session = self.session
        target = session.options.target
        if not session.options.real or session.plan().layout != "premounted" or not os.path.isdir(target):
            return
        from installer.base import safefs
        from installer.base.logfile import TARGET_LOG

        for name in [*session.draft.render(), "answers.toml", "facter.json"]:
            safefs.check(f"etc/nixos/{name}", base=target)
        safefs.check(TARGET_LOG, base=target)
