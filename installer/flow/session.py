"""One install run: options, the model, the probed machine, and every step.

The wizard's screens and the unattended CLI both drive a `Session`; it is
the only place that decides whether something really happens (real mode) or
is only described (dry-run, or a recorded machine). Screens call it from
workers; it never knows a screen exists.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from installer.nixos.edits import Edit, StaleEdit
from installer.plan.identity import Identity
from installer.base.logfile import DEFAULT_LOG, LogFile, Redactor
from installer.answers.fields import is_secret, within
from installer.answers.model import InstallModel, System
from installer.base.problems import Problem, ProblemsError, errors

# The answers file, the validator and the planner load on first use, not at
# import: the wizard's first frame needs none of them.
if TYPE_CHECKING:
    from installer.machine.hardware import Machine
    from installer.plan.erase import Plan

Log = Callable[[str], None]
# Hands the terminal to a child program and takes it back (the wizard's
# App.suspend); the unattended CLI owns the terminal already.
Handover = Callable[[], AbstractContextManager]
PARTITIONERS = ("cfdisk", "gdisk", "fdisk", "parted")


@dataclass
class Options:
    dry_run: bool = False
    machine_file: str | None = None
    target: str = "/mnt"
    allow_loop: bool = False
    nixos_install: str = "nixos-install"
    nixos_enter: str = "nixos-enter"
    log_path: str = DEFAULT_LOG
    seed: int | None = None  # reproducible UUIDs, for tests and comparisons
    max_jobs: int | str | None = None  # nixos-install --max-jobs (a number or "auto")
    cores: int | None = None  # nixos-install --cores
    keep_going: bool = False
    show_trace: bool = False
    offline: bool = False  # no substituters: build or copy from the ISO's store only
    install_timeout: float | None = None  # seconds nixos-install may run before it is stopped
    state_dir: str = "/run/nixos-tui-installer"  # installer.run.resume's records (until reboot)
    eval_timeout: float = 300.0  # seconds the pre-flight evaluation may take (installer.nixos.evalcheck)

    @property
    def real(self) -> bool:
        """Whether this run may touch the machine: never on a recorded machine."""
        return not self.dry_run and self.machine_file is None


@dataclass
class Session:
    options: Options = field(default_factory=Options)
    model: InstallModel = field(default_factory=InstallModel)
    machine: Machine | None = None
    edits: dict[str, Edit] = field(default_factory=dict)  # file name -> the person's edit

    def __post_init__(self) -> None:
        self.identity = Identity.generate(self.options.seed)
        self._plan: Plan | None = None
        self._plan_key: str | None = None
        self._files: dict[str, str] = {}
        self._files_key: str | None = None
        self._log: LogFile | None = None
        self.loaded_keymap = ""  # what loadkeys last loaded on this console
        self._last_run = None  # the latest nixos-install runner: the next one continues its record
        # What the disk phase made (installer.run.resume.layout_digest) when a later
        # phase failed: installing again the same plan goes on from the configuration.
        self._prepared: str | None = None
        # The latest pre-flight evaluation, with the files it evaluated, and
        # the files the person chose to install although it failed.
        self._nix_check: tuple[str, object] | None = None
        self._nix_check_override: str | None = None

    # -- probing and defaults ------------------------------------------------
    def probe(self) -> Machine:
        """Probe the machine (or read the recorded one). Blocking: call from a worker."""
        from installer.machine.probe import probe

        self.machine = probe(self.options.machine_file, allow_loop=self.options.allow_loop, target=self.options.target)
        # The plan was made from the machine as it was (before cfdisk, before
        # a mount in a shell): make it again from what is there now.
        self._plan = self._plan_key = None
        self._files_key = None
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

    # -- checking, planning, rendering ---------------------------------------
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
        problems += self._nix_check_problems()
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

    def review_lines(self) -> list[str]:
        from installer.plan.erase import summary_lines

        return summary_lines(self.plan())

    def generated(self) -> dict[str, str]:
        """The files as generated from the answers, without the person's edits."""
        from installer.nixos.render import render

        assert self.machine is not None
        plan = self.plan()
        if self._files_key != self._plan_key:
            self._files = render(self.model, self.machine, plan)
            self._files_key = self._plan_key
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

    def keep_edit(self, name: str) -> None:
        """Install the person's edit as it is, though its file was generated anew."""
        self.edits[name].base = self.generated()[name]

    def drop_edit(self, name: str) -> None:
        """Install the generated file instead of the person's edit."""
        self.edits.pop(name, None)

    def parse_problems(self, name: str, text: str) -> list[Problem]:
        """Nix's parse error for an edit of file `name`, if any; stores nothing.
        The wizard checks as the person types, then again on Next: the same
        text does not start nix-instantiate twice (nixcheck caches)."""
        from installer.nixos.nixcheck import parse_problem

        message = parse_problem(text)
        return [Problem(f"files.{name}", message)] if message else []

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

    # -- the pre-flight evaluation ---------------------------------------------
    def nix_check(self, cancel=None, timeout: float | None = None):
        """Evaluate the files that would be installed with this machine's
        nixpkgs (installer.nixos.evalcheck.evaluate); blocking: call from a worker.
        The outcome holds for these very files: see nix_check_outcome."""
        from installer.nixos.evalcheck import evaluate, files_key

        files = self.render()
        outcome = evaluate(files, list(self.model.software.packages),
                           timeout=self.options.eval_timeout if timeout is None else timeout, cancel=cancel)
        self._nix_check = (files_key(files), outcome)
        self.log().line(f"evaluation with Nix: {outcome.status} in {outcome.seconds:.1f} s"
                        + (f": {outcome.message}" if outcome.status != "passed" else ""))
        return outcome

    def nix_check_outcome(self):
        """The latest pre-flight outcome if it was made for the files as they
        are now (edits included), else None."""
        if self._nix_check is None or self.machine is None:
            return None
        key, outcome = self._nix_check
        return outcome if key == self._shown_key() else None

    def _shown_key(self) -> str | None:
        from installer.nixos.evalcheck import files_key

        try:
            return files_key(self.shown_files())
        except ProblemsError:
            return None

    def override_nix_check(self) -> None:
        """The person chose to install these files although Nix refused them."""
        outcome = self.nix_check_outcome()
        if outcome is None or not outcome.failed:
            return
        self._nix_check_override = self._shown_key()
        self.log().line(f"evaluation with Nix failed and the person chose to install anyway: {outcome.message}")

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

    def _nix_check_problems(self) -> list[Problem]:
        """A package nixpkgs lacks, at the Software step's package field (a
        warning: Review and Confirm are where it holds the install back)."""
        if self._nix_check is None:
            return []
        outcome = self.nix_check_outcome()
        if outcome is None or not outcome.failed or outcome.field != "software.packages":
            return []
        return [Problem("software.packages", outcome.message, "warning")]

    # -- the explicit confirmation and the writes ----------------------------
    def confirm_word(self) -> str:
        """What the person types to confirm: the disk's short name, or "install"
        when nothing will be erased (the premounted layout, or a disk an
        earlier attempt prepared for this very plan). Raises ProblemsError with
        what stands in the way (a bad plan, preflight()'s findings)."""
        plan = self.plan()
        # The wizard's Confirm step shows these instead of a word to type: what
        # would stop a real install must stop it before the disk is touched.
        missing = self.preflight()
        if missing:
            raise ProblemsError(missing)
        erases = plan.disk is not None and plan.steps and self.resume_phase() == "disk"
        return plan.disk.name if erases else "install"

    def resume_phase(self) -> str:
        """Where installing starts: "disk", or "config" after a failure past the
        disk phase, as long as the plan is still the one carried out then
        (other disk choices since mean partitioning again)."""
        if self._prepared is None:
            return "disk"
        from installer.run.resume import layout_digest

        try:
            plan = self.plan()
        except ProblemsError:
            return "disk"
        return "config" if layout_digest(plan) == self._prepared else "disk"

    def set_resume_phase(self, phase: str) -> None:
        """"config": the disk phase of the current plan is done; "disk": start over."""
        from installer.run.resume import layout_digest

        if phase == "disk":
            self._prepared = None
        else:
            self._prepared = layout_digest(self.plan())

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
        disk = self.machine.disk(record.disk) if record is not None else None
        if disk is None or disk.path != record.disk:
            return ""
        # Refused by the probe for its mounts and swap, which are this plan's own
        # when resume.mismatch finds nothing else on it.
        machine = with_own_layout(self.machine, disk)
        free = machine.disk(disk.path)
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
        self._plan = self._plan_key = self._files_key = None
        self._prepared = resume.layout_digest(self.plan())
        root = next((e.device for e in plan.filesystems if e.mountpoint == "/"), "")
        return (f"{disk.path} was prepared by an earlier run of this installer (its / is {root}, mounted at "
                f"{self.options.target}); going on from the configuration")

    def preflight(self) -> list[Problem]:
        """What a real install needs besides valid answers, all checked before the
        disk is touched: the target is a directory, and every program the plan and
        the later phases run is installed. Empty on a dry run or a recorded machine."""
        if not self.options.real:
            return []
        from installer.run.executor import missing_tools, target_problem

        problems = []
        problem = target_problem(self.options.target)
        if problem:
            problems.append(Problem("--target", problem))
        if self.resume_phase() == "disk":
            problems += [Problem("tools", str(missing)) for missing in missing_tools(self.plan())]
        for option, command, needed in (
            ("--nixos-install", self.options.nixos_install, "install the system"),
            ("--nixos-enter", self.options.nixos_enter, "set the passwords in the new system"),
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
        target = self.options.target
        if not self.options.real or self.plan().layout != "premounted" or not os.path.isdir(target):
            return
        from installer.base import safefs
        from installer.base.logfile import TARGET_LOG

        for name in [*self.render(), "answers.toml"]:
            safefs.check(f"etc/nixos/{name}", base=target)
        safefs.check(TARGET_LOG, base=target)

    def confirm(self, typed: str):
        """The token that allows writing to the disk, only for the exact confirm word."""
        from installer.run.executor import Confirmation

        if typed.strip() != self.confirm_word() or self.nix_check_refusal():
            return None
        # The files that will be installed must be final before the disk is
        # touched: a stale edit raises here, not after partitioning.
        self.render()
        # A real run records the medium now: the executor re-reads it before the first write.
        return Confirmation.for_plan(self.plan(), read=self.options.real)

    def execute(self, confirmation, log: Log) -> None:
        plan = self.plan()
        if not self.options.real:
            for number, step in enumerate(plan.steps, 1):
                log(f"[dry-run] {number}. {step.describe}: {step.shown()}")
            return
        from installer.run.executor import execute

        execute(
            plan,
            target=self.options.target,
            secrets=self._secrets(),
            confirmation=confirmation,
            log=log,
        )
        if plan.steps:
            from installer.run import resume

            try:
                resume.save(self.options.state_dir, plan)
            except OSError as error:  # only a rerun in another process needs it
                log(f"could not note the prepared disk for a rerun: {error}")

    def _secrets(self) -> dict[str, str]:
        passphrase = self.model.encryption.passphrase
        return {"luks_passphrase": passphrase} if passphrase else {}

    def write_config(self, log: Log) -> list[str]:
        """Write the rendered files and the answers (no secrets) to TARGET/etc/nixos."""
        etc = Path(self.options.target) / "etc/nixos"
        files = self.render()
        written = [str(etc / name) for name in files] + [str(etc / "answers.toml")]
        if not self.options.real:
            for path in written:
                log(f"[dry-run] would write {path}")
            return written
        from installer.answers import file as answers
        from installer.base import safefs

        # The target may be a filesystem the person mounted as it came: a link
        # at etc, etc/nixos or a file there would send these writes out of it.
        contents = {name: (text, 0o644) for name, text in files.items()}
        contents["answers.toml"] = (answers.dump(self.answers_model()), 0o600)  # names users and disks
        for name in contents:
            safefs.check(f"etc/nixos/{name}", base=self.options.target)
        where = safefs.open_dir("etc/nixos", base=self.options.target, create=True, mode=0o755)
        try:
            for name, (text, mode) in contents.items():
                safefs.write_at(where, name, text, mode=mode, shown=str(etc / name))
                log(f"wrote {etc / name}")
        finally:
            os.close(where)
        return written

    def answers_model(self) -> InstallModel:
        """The answers as given: a disk match rule is kept as the rule (the plan
        resolves it), so the file replays on the next machine of a fleet."""
        return self.model

    def save_answers(self, path: str | os.PathLike) -> None:
        from installer.answers import file as answers

        answers.save(self.answers_model(), path)

    def export_flake(self, out_dir: str | os.PathLike, *, include_password_hashes: bool = False,
                     overwrite: bool = False):
        """A flake with a disko layout for nixos-anywhere; see installer.nixos.export.

        Raises ProblemsError when refused (export_problems);
        installer.nixos.export.ExistingFiles when out_dir holds files an export
        writes (export_conflicts; nothing written), unless overwrite, or when
        one appears while writing (its .written says what was); and
        installer.nixos.export.ExportStopped when a file cannot be written.
        """
        from installer.nixos.export import export_flake

        assert self.machine is not None
        return export_flake(
            self.answers_model(), self.machine, self.plan(), out_dir, include_password_hashes=include_password_hashes,
            overwrite=overwrite,
        )

    def export_problems(self, *, include_password_hashes: bool = False) -> list:
        """Why export_flake would refuse (e.g. no SSH key without password hashes); empty when it would not."""
        from installer.nixos.export import export_problems

        return export_problems(self.answers_model(), self.plan(), include_password_hashes=include_password_hashes)

    def export_conflicts(self, out_dir: str | os.PathLike) -> list[str]:
        """The files in out_dir that export_flake would only replace with overwrite=True."""
        from installer.nixos.export import existing_files

        return existing_files(self.answers_model(), out_dir)

    def exportable_hashes(self) -> list[str]:
        """The accounts whose password hash include_password_hashes=True would put in the flake."""
        from installer.nixos.export import exportable_hashes

        return exportable_hashes(self.model)

    # -- small real-machine actions the wizard offers ------------------------
    def apply_keymap(self, name: str) -> str:
        """Load the console keymap now, so passwords typed later use it; "" when
        it is loaded. The one loaded last is not loaded again; a failed one is
        tried again next time."""
        if name == self.loaded_keymap:
            return ""
        if not self.options.real:
            self.loaded_keymap = name
            return f"[dry-run] would run: loadkeys {name}"
        if shutil.which("loadkeys") is None:
            return "loadkeys is not available; the keymap applies after install"
        done = subprocess.run(["loadkeys", name], capture_output=True, text=True)
        if done.returncode:
            return done.stderr.strip() or f"loadkeys {name} failed"
        self.loaded_keymap = name
        return ""

    def run_partitioner(self, tool: str, disk_path: str, handover: Handover = nullcontext) -> int:
        """Hand the terminal to cfdisk/gdisk on the disk; the caller re-probes after.
        A dry run opens nothing: it raises DryRun before taking the terminal."""
        if tool not in PARTITIONERS:
            raise ValueError(f"unknown partitioner {tool}")
        argv = [tool, disk_path]
        if not self.options.real:
            raise DryRun(f"[dry-run] would run: {shlex.join(argv)} (nothing was opened)")
        return _handed_over(handover, argv)

    def disk_shell(self, handover: Handover = nullcontext) -> int:
        """A shell to partition, format and mount by hand at the target (the
        "use what is mounted" layout); the caller re-probes after. A dry run
        opens nothing: it raises DryRun before taking the terminal."""
        target = self.options.target
        argv = [os.environ.get("SHELL") or "/bin/sh"]
        if not self.options.real:
            raise DryRun(f"[dry-run] would open a shell ({argv[0]}) to prepare {target} (nothing was opened)")
        banner = (f"Partition, format and mount the new system at {target} (e.g. cfdisk, mkfs.ext4, "
                  f"mount /dev/sdX2 {target}); type 'exit' to go back to the installer.")
        return _handed_over(handover, argv, cwd=target if os.path.isdir(target) else None, banner=banner)

    def reboot(self) -> str:
        """Restart into the new system (real mode); call after the wizard has exited."""
        if not self.options.real:
            return "[dry-run] would reboot"
        done = subprocess.run(["systemctl", "reboot"], capture_output=True, text=True)
        return done.stderr.strip() if done.returncode else ""

    def shell(self) -> int:
        """An interactive shell: inside the target once it is installed."""
        installed = (Path(self.options.target) / "etc/NIXOS").exists()
        if installed and self.options.real:
            argv = [self.options.nixos_enter, "--root", self.options.target]
        else:
            argv = [os.environ.get("SHELL", "/bin/sh")]
        return subprocess.call(argv, cwd=self.options.target if os.path.isdir(self.options.target) else None)

    # -- the log, nixos-install and passwords ---------------------------------
    def log(self) -> LogFile:
        """The run's 0600 log file; every secret the model holds is redacted from it."""
        if self._log is None:
            self._log = LogFile(self.options.log_path, redactor=Redactor())
        self._log.redactor.add(*self.model.secrets())
        return self._log

    def hash_passwords(self) -> None:
        """Replace typed passwords by their hashes once, so every later step
        (and the log's redactor) knows the exact hash that will be set."""
        from installer.base.hashing import hash_password

        for account in [*self.model.users, self.model.root]:
            if account.password and not account.password_hash:
                account.password_hash = hash_password(account.password)
        self.log()

    def install_argv(self) -> list[str]:
        from installer.run.runner import RunOptions, build_argv

        o = self.options
        run = RunOptions(
            max_jobs=o.max_jobs, cores=o.cores, keep_going=o.keep_going, show_trace=o.show_trace, offline=o.offline
        )
        return build_argv(o.target, run, o.nixos_install)

    def runner(self):
        """The next nixos-install run (not started). Real mode only.

        Each run continues the record of the runs before it in this session
        (a Retry, or Back to review and on): a summary counts every run."""
        from installer.run.runner import InstallRunner

        if not self.options.real:
            raise DryRun(f"[dry-run] would run: {shlex.join(self.install_argv())}")
        self.hash_passwords()
        last = self._last_run
        if last is not None and last.running:
            raise RuntimeError("nixos-install is still running")
        # A run that never started (nixos-install missing) has nothing to count.
        earlier = [] if last is None else (last.runs if last.pid is not None else last.earlier)
        self._last_run = InstallRunner(
            self.install_argv(), target=self.options.target, log=self.log(), secrets=self.model.secrets(),
            run_number=len(earlier) + 1, earlier=earlier,
        )
        return self._last_run

    def set_passwords(self, log: Log) -> list[str]:
        """Set the accounts' passwords on the installed system (hashes on stdin)."""
        accounts = [u.name for u in self.model.users] + ([] if self.model.root.disabled else ["root"])
        if not self.options.real:
            log(f"[dry-run] would set the passwords of {', '.join(accounts) or 'nobody'} with chpasswd -e")
            if self.model.root.disabled:
                log("[dry-run] would lock root's password")
            return accounts
        from installer.run.passwords import set_passwords

        self.hash_passwords()
        return set_passwords(self.model, self.options.target, self.options.nixos_enter, log)

    def finish(self, log: Log) -> str:
        """Copy the log into the installed system; returns where it went."""
        if not self.options.real:
            return self.options.log_path
        from installer.run import resume

        resume.forget(self.options.state_dir, self.options.target)
        copy = self.log().copy_to(self.options.target)
        log(f"log copied to {copy}")
        return str(copy)

    def check(self, *, secrets: bool) -> None:
        """Raise ProblemsError when the answers have errors (warnings pass)."""
        found = errors(self.validate(secrets=secrets))
        if found:
            raise ProblemsError(found)


def _handed_over(handover: Handover, argv: list[str], cwd: str | None = None, banner: str = "") -> int:
    """Run `argv` on the terminal `handover` lends. A failure to start is raised
    only after the terminal is given back (a raise inside the wizard's
    suspend would leave the app's screen switched off)."""
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(f"{argv[0]} is not installed")
    failed: OSError | None = None
    with handover():
        if banner:
            print(banner, flush=True)
        try:
            code = subprocess.call(argv, cwd=cwd)
        except OSError as err:
            failed = err
    if failed is not None:
        raise failed
    return code


class DryRun(RuntimeError):
    """Raised where only a real run could go on (nixos-install in dry-run)."""
