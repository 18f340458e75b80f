"""One install run: options, the model, the probed machine, and every step.

The wizard's screens and the unattended CLI both drive a `Session`; it is
the only place that decides whether something really happens (real mode) or
is only described (dry-run, or a recorded machine). Screens call it from
workers; it never knows a screen exists.

It holds the options, the probed machine, the answers, their validation and
the plan, and hands out the rest, each in its own module: `draft` (the
generated files and the person's edits), `preflight` (what is checked
before the disk is touched, the evaluation with Nix among it), `install`
(the confirmation, the phases, resume, the runner) and `console` (keymap,
partitioner, shell, reboot), and `flake` (the export for nixos-anywhere).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from installer.answers.fields import is_secret, within
from installer.answers.model import Desktop, InstallModel, Software, System
from installer.base.logfile import LogFile, Redactor
from installer.base.problems import Problem, ProblemsError, errors
from installer.flow import DryRun
from installer.flow.console import Console
from installer.flow.draft import Draft
from installer.flow.flake import Flake
from installer.flow.install import Install
from installer.flow.options import Options
from installer.flow.preflight import Preflight
from installer.plan.identity import Identity

# The desktop a laptop is proposed: the one the NixOS graphical ISO installs by default.
LAPTOP_DESKTOP: Desktop = "gnome"

# The answers file, the validator and the planner load on first use, not at
# import: the wizard's first frame needs none of them.
if TYPE_CHECKING:
    from installer.machine.hardware import Machine
    from installer.plan.types import Plan

__all__ = ["DryRun", "Options", "Session"]


@dataclass
class Session:
    options: Options = field(default_factory=Options)
    model: InstallModel = field(default_factory=InstallModel)
    machine: Machine | None = None
    # What the session hands out; made in __post_init__, each holding this session.
    draft: Draft = field(init=False, repr=False, compare=False)
    preflight: Preflight = field(init=False, repr=False, compare=False)
    install: Install = field(init=False, repr=False, compare=False)
    console: Console = field(init=False, repr=False, compare=False)
    flake: Flake = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.identity = Identity.generate(self.options.seed)
        self._plan: Plan | None = None
        self._plan_key: str | None = None
        self._log: LogFile | None = None
        self._followed_timezone = ""  # what follow_country_timezone last set
        self.draft = Draft(self)
        self.preflight = Preflight(self)
        self.install = Install(self)
        self.console = Console(self)
        self.flake = Flake(self)

    # -- probing and defaults ------------------------------------------------
    def probe(self) -> Machine:
        """Probe the machine (or read the recorded one). Blocking: call from a worker."""
        from installer.machine.probe import probe

        self.machine = probe(self.options.machine_file, allow_loop=self.options.allow_loop, target=self.options.target)
        # The plan was made from the machine as it was (before cfdisk, before
        # a mount in a shell): make it again from what is there now.
        self._plan = self._plan_key = None
        self.draft.forget()
        return self.machine

    def apply_machine_defaults(self) -> None:
        """Fill what the machine tells us into answers the person has not given."""
        assert self.machine is not None
        defaults = System()
        if self.model.boot.firmware is None:
            self.model.boot.firmware = self.machine.firmware
        if self.model.system.hostname == defaults.hostname and self.machine.hostname:
            self.model.system.hostname = self.machine.hostname
        if self.model.system.timezone == defaults.timezone and self.machine.timezone:
            self.model.system.timezone = self.machine.timezone
        # A [disk.match] rule stays a rule: the plan and validation resolve it
        # against the machine (installer.answers.resolve), so the answers replay.
        if self.model.system.state_version == defaults.state_version:
            from installer.nixos.facts import state_version

            self.model.system.state_version = state_version()

    def propose_for_newcomer(self) -> None:
        """What the wizard proposes beyond the machine's facts; never applied to an
        answers file, whose omissions mean its defaults. A laptop (a battery) is
        someone's own computer, used at its screen: a desktop is proposed."""
        assert self.machine is not None
        if self.machine.battery and self.model.software.desktop == Software().desktop:
            self.model.software.desktop = LAPTOP_DESKTOP

    def follow_country_timezone(self) -> bool:
        """The timezone follows the country of the chosen locale (or keymap) until
        the person picks one: while it is still the default, the machine's, or
        what it last followed. Returns whether it changed."""
        from installer.answers.catalog import country_timezone

        s, defaults = self.model.system, System()
        suggested = country_timezone(s.locale, s.keymap, (defaults.locale, defaults.keymap))
        machine_zone = self.machine.timezone if self.machine is not None else ""
        if suggested is None or s.timezone not in {defaults.timezone, machine_zone, self._followed_timezone}:
            return False
        changed = s.timezone != suggested
        s.timezone = self._followed_timezone = suggested
        return changed

    # -- checking and planning -------------------------------------------------
    def validate(self, prefix: str | None = None, *, secrets: bool = True) -> list[Problem]:
        """The model's problems, plus the planner's refusals once the machine is
        known (a disk too small, nothing mounted at the target), so each shows
        at its field like any other problem."""
        from installer.answers.validate import validate

        problems = validate(self.model, self.machine)
        if self.machine is not None and not any(within(p.field, "disk") for p in errors(problems)):
            try:
                self.plan()
            except ProblemsError as refused:
                problems += refused.problems
        problems += self.preflight.nix_check_problems()
        if not secrets:
            problems = [p for p in problems if not is_secret(p.field)]
        if prefix is None:
            return problems
        return [p for p in problems if within(p.field, prefix)]

    def plan(self) -> Plan:
        """The plan for the current answers; rebuilt only when they changed."""
        assert self.machine is not None, "probe() first"
        key = repr((self.model, self.options.target))
        if self._plan is None or key != self._plan_key:
            from installer.plan.erase import build_plan

            self._plan = build_plan(self.model, self.machine, self.identity, target=self.options.target)
            self._plan_key = key
        return self._plan

    @property
    def plan_key(self) -> str | None:
        """What the current plan was made from (the draft renders again when it changes)."""
        return self._plan_key

    def review_lines(self) -> list[str]:
        from installer.plan.erase import summary_lines

        return summary_lines(self.plan())

    def check(self, *, secrets: bool) -> None:
        """Raise ProblemsError when the answers have errors (warnings pass)."""
        found = errors(self.validate(secrets=secrets))
        if found:
            raise ProblemsError(found)

    # -- resume, the answers as saved, the log -----------------------------------
    def resume_earlier_run(self) -> str:
        """Go on where an earlier run of this installer stopped after its disk phase
        (a failed or interrupted nixos-install; see installer.run.resume): the disk the
        answers name holds exactly the filesystems that run planned, by their UUIDs,
        mounted at the target. Then this session takes that run's identity and
        starts from the configuration. Returns what it recognised, in words, or ""."""
        if not self.options.real or self.model.disk.layout != "erase" or self.machine is None:
            return ""
        from installer.answers.resolve import install_disk
        from installer.machine.eligibility import with_own_layout
        from installer.run import resume
        from installer.plan.erase import build_plan

        record = resume.load(self.options.state_dir, self.options.target)
        if record is None:
            return ""
        disk = self.machine.disk(record.disk)
        if disk is None or disk.path != record.disk:
            return ""
        # Refused by the probe for its mounts and swap, which are this plan's own
        # when resume.mismatch finds nothing else on it.
        machine = with_own_layout(self.machine, disk)
        free = machine.disk(disk.path)
        # with_own_layout keeps every disk of the machine, `disk` swapped for its offered copy at the same path.
        assert free is not None
        # The answers' device, or a fleet's rule, must pick this very disk again.
        if install_disk(self.model, machine)[0] is not free:
            return ""
        try:
            plan = build_plan(self.model, machine, record.identity, target=self.options.target)
        except ProblemsError:
            return ""
        if resume.layout_digest(plan) != record.layout or resume.mismatch(plan, free, machine):
            return ""
        self.machine, self.identity = machine, record.identity
        self._plan = self._plan_key = None
        self.draft.forget()
        self.install.set_resume_phase("config")  # this very plan's disk is prepared
        root = next((e.device for e in plan.filesystems if e.mountpoint == "/"), "")
        return (f"{disk.path} was prepared by an earlier run of this installer (its / is {root}, mounted at "
                f"{self.options.target}); going on from the configuration")

    def answers_model(self) -> InstallModel:
        """The answers as given: a disk match rule is kept as the rule (the plan
        resolves it), so the file replays on the next machine of a fleet."""
        return self.model

    def save_answers(self, path: str | os.PathLike[str]) -> None:
        from installer.answers import file as answers

        answers.save(self.answers_model(), path)

    def log(self) -> LogFile:
        """The run's 0600 log file; every secret the model holds is redacted from it."""
        if self._log is None:
            self._log = LogFile(self.options.log_path, redactor=Redactor())
        self._log.redactor.add(*self.model.secrets())
        return self._log
