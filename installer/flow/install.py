"""The one install pipeline: the phases, in order, for the wizard and the
unattended CLI alike.

Both get the explicit confirmation the same way (`confirm`, with the word
`confirm_word` names: the wizard's Confirm step has it typed, `--yes` is the
unattended run's), then run the same phase code (`run_phases`). The pipeline
says what happens as events (a phase started, finished or failed; a log
line): the CLI prints them, the Install screen draws them. It also keeps
where a next attempt starts (resume) and the nixos-install runner, so the
wizard asks it what is running instead of searching its screens.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

from installer.base.problems import ProblemsError
from installer.flow import DryRun

if TYPE_CHECKING:
    from installer.answers.model import Root, User
    from installer.flow.session import Session
    from installer.run.executor import Confirmation
    from installer.run.runner import InstallRunner

Log = Callable[[str], None]


@dataclass(frozen=True)
class Phase:
    key: str
    title: str  # as the wizard's list of phases shows it
    line: str  # as the unattended run's "== [n/5] ..." line says it


PHASES = (
    Phase("disk", "Partition, format and mount", "partition, format and mount"),
    Phase("config", "Write the configuration", "write the configuration"),
    Phase("nixos-install", "Install NixOS (nixos-install)", "nixos-install"),
    Phase("passwords", "Set the passwords", "set passwords"),
    Phase("finish", "Finish (copy the log)", "finish"),
)
TITLES = {phase.key: phase.title for phase in PHASES}
KEYS = [phase.key for phase in PHASES]


@dataclass(frozen=True)
class PhaseStarted:
    phase: Phase
    number: int  # 1-based, of len(PHASES)


@dataclass(frozen=True)
class PhaseFinished:
    phase: Phase


@dataclass(frozen=True)
class PhaseFailed:
    phase: Phase
    # What was raised; None when nixos-install exited non-zero (last_run says how).
    error: Exception | None


@dataclass(frozen=True)
class LogLine:
    text: str


Event = Union[PhaseStarted, PhaseFinished, PhaseFailed, LogLine]
# Runs a started nixos-install runner to its end and returns its exit code:
# the CLI on its own terminal, the wizard streaming into its pane.
Drive = Callable[["InstallRunner"], int]


class Install:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._last_run: InstallRunner | None = None  # the next nixos-install run continues its record
        # What the disk phase made (installer.run.resume.layout_digest) when a later
        # phase failed: installing again the same plan goes on from the configuration.
        self._prepared: str | None = None
        self.log_copy = ""  # where the finish phase copied the log

    # -- the explicit confirmation ---------------------------------------------------------
    def confirm_word(self) -> str:
        """What the person types to confirm: the disk's short name, or "install"
        when nothing will be erased (the premounted layout, or a disk an
        earlier attempt prepared for this very plan). Raises ProblemsError with
        what stands in the way (a bad plan, the pre-flight's findings)."""
        plan = self.session.plan()
        # The wizard's Confirm step shows these instead of a word to type: what
        # would stop a real install must stop it before the disk is touched.
        missing = self.session.preflight.problems()
        # An edit naming a disk the plan does not set up (kept from before another
        # disk was chosen), or a conflict left in one: refused here, not after erasing.
        missing += self.session.draft.problems()
        if missing:
            raise ProblemsError(missing)
        if plan.disk is not None and plan.steps and self.resume_phase() == "disk":  # this plan writes its disk
            # Keeping what is on the disk: the name of the partition shrunk or deleted, the
            # one thing that changes for good (a free-space install changes no partition:
            # the disk's name, as for erase).
            changed = next((c for c in plan.changes if c.change in ("shrunk", "deleted")), None)
            return changed.path.removeprefix("/dev/") if changed is not None else plan.disk.name
        return "install"

    def confirm(self, typed: str) -> Confirmation | None:
        """The token that allows writing to the disk, only for the exact confirm word."""
        from installer.run.executor import Confirmation

        session = self.session
        word, given = self.confirm_word(), typed.strip()
        disk = session.plan().disk
        # The disk's path names the same disk as its short name: "/dev/sda" is what
        # a person who read lsblk or the Disk step's rows may well type.
        if disk is not None and word == disk.name and given == disk.path:
            given = word
        if given != word or session.preflight.nix_check_refusal():
            return None
        # The files that will be installed must be final before the disk is
        # touched: a stale edit raises here, not after partitioning.
        session.draft.render()
        # A real run records the medium now: the executor re-reads it before the first write.
        return Confirmation.for_plan(session.plan(), read=session.options.real)

    def disk_busy(self) -> list[str]:
        """What claims the disk about to be erased anywhere on this machine (a mount in
        another namespace, a lazy unmount with an open file, a tool still running),
        each naming the node: the wizard's Confirm refuses on these before the disk
        phase starts; the executor checks again just before its first write."""
        plan = self.session.plan()
        if not self.session.options.real or plan.disk is None or not plan.steps or self.resume_phase() != "disk":
            return []
        from installer.run.diskhold import busy_exclusive

        return busy_exclusive(plan.disk.path)

    # -- where installing starts ------------------------------------------------------------
    def resume_phase(self) -> str:
        """Where installing starts: "disk", or "config" after a failure past the
        disk phase, as long as the plan is still the one carried out then
        (other disk choices since mean partitioning again)."""
        if self._prepared is None:
            return "disk"
        from installer.run.resume import layout_digest

        try:
            plan = self.session.plan()
        except ProblemsError:
            return "disk"
        return "config" if layout_digest(plan) == self._prepared else "disk"

    def set_resume_phase(self, phase: str) -> None:
        """"config": the disk phase of the current plan is done; "disk": start over."""
        from installer.run.resume import layout_digest

        if phase == "disk":
            self._prepared = None
        else:
            self._prepared = layout_digest(self.session.plan())

    # -- the phases -------------------------------------------------------------------------
    def run_phases(self, start: str, confirmation: Confirmation | None, emit: Callable[[Event], None],
                   drive: Drive) -> PhaseFailed | None:
        """Run the phases from `start` on, saying each as events; the failure
        that stopped them, or None when all ran. A phase past the disk's that
        fails leaves the disk prepared: the next attempt starts at the
        configuration (which may have been edited since), never the disk."""
        def log(text: str) -> None:
            emit(LogLine(text))

        first = KEYS.index(start)
        for number, phase in enumerate(PHASES[first:], first + 1):
            emit(PhaseStarted(phase, number))
            error: Exception | None = None
            try:
                ok = self.run(phase.key, confirmation, log, drive)
            except Exception as err:  # the caller says it: a line, or the pane's failure
                ok, error = False, err
            if not ok:
                if phase.key != "disk":
                    self.set_resume_phase("config")
                failed = PhaseFailed(phase, error)
                emit(failed)
                return failed
            emit(PhaseFinished(phase))
        return None

    def run(self, key: str, confirmation: Confirmation | None, log: Log, drive: Drive) -> bool:
        """One phase; False when nixos-install exited non-zero, a raise for any other failure."""
        session = self.session
        if key == "disk":
            if self.resume_phase() != "disk":
                # A premounted plan has no disk of its own: nothing is written under its target then.
                disk = session.plan().disk
                log("the disk is already prepared for this plan; nothing is written to "
                    f"{disk.path if disk is not None else session.options.target}")
                return True
            self.execute(confirmation, log)
        elif key == "config":
            self.write_config(log)
        elif key == "nixos-install":
            if not session.options.real:
                log(f"[dry-run] would run: {self.install_command()}")
                return True
            return drive(self.runner()) == 0
        elif key == "passwords":
            self.set_passwords(log)
            from installer.flow.online import carry_over

            carry_over(session, log)  # the Wi-Fi password, as root-only as the accounts'
        elif key == "finish":
            self.log_copy = self.finish(log)
        else:
            raise ValueError(f"no install phase {key}")
        return True

    def execute(self, confirmation: Confirmation | None, log: Log) -> None:
        session = self.session
        plan = session.plan()
        if not session.options.real:
            for number, step in enumerate(plan.steps, 1):
                log(f"[dry-run] {number}. {step.describe}: {step.shown()}")
            return
        from installer.run.executor import execute

        execute(
            plan,
            target=session.options.target,
            secrets=self._secrets(),
            confirmation=confirmation,
            log=log,
        )
        if plan.steps:
            from installer.run import resume

            try:
                resume.save(session.options.state_dir, plan)
            except OSError as error:  # only a rerun in another process needs it
                log(f"could not note the prepared disk for a rerun: {error}")
            # Whatever fails from here on, installing again goes on from the configuration.
            self.set_resume_phase("config")

    def _secrets(self) -> dict[str, str]:
        passphrase = self.session.model.encryption.passphrase
        return {"luks_passphrase": passphrase} if passphrase else {}

    def write_config(self, log: Log) -> list[str]:
        """Write the rendered files and the answers (no secrets) to TARGET/etc/nixos."""
        session = self.session
        etc = Path(session.options.target) / "etc/nixos"
        files = session.draft.render()
        written = [str(etc / name) for name in files] + [str(etc / "answers.toml")]
        tpm2_key = self._tpm2_key()
        if tpm2_key:
            written.append(session.options.target.rstrip("/") + tpm2_key)
        facter = session.model.hardware.report == "facter"  # hardware-configuration.nix reads ./facter.json
        if facter:
            written.append(str(etc / "facter.json"))
        if not session.options.real:
            if facter:
                log("[dry-run] would run nixos-facter for the hardware report")
            for path in written:
                log(f"[dry-run] would write {path}")
            return written
        from installer.answers import file as answers
        from installer.base import safefs

        # The target may be a filesystem the person mounted as it came: a link
        # at etc, etc/nixos or a file there would send these writes out of it.
        contents = {name: (text, 0o644) for name, text in files.items()}
        contents["answers.toml"] = (answers.dump(session.answers_model()), 0o600)  # names users and disks
        if facter:
            from installer.run.facter import hardware_report

            log("running nixos-facter for the hardware report")
            contents["facter.json"] = (hardware_report(), 0o600)  # serial numbers and MAC addresses
        for name in contents:
            safefs.check(f"etc/nixos/{name}", base=session.options.target)
        where = safefs.open_dir("etc/nixos", base=session.options.target, create=True, mode=0o755)
        try:
            for name, (text, mode) in contents.items():
                safefs.write_at(where, name, text, mode=mode, shown=str(etc / name))
                log(f"wrote {etc / name}")
        finally:
            os.close(where)
        if tpm2_key:
            self._write_tpm2_key(tpm2_key, log)
        return written

    def _tpm2_key(self) -> str:
        """Where the first-boot TPM2 enrolment finds the passphrase ("" when it does not run)."""
        from installer.plan.unlock import TPM2_KEY_FILE

        model = self.session.model
        wanted = model.encryption.enabled and model.encryption.unlock == "tpm2" and model.disk.layout != "premounted"
        return TPM2_KEY_FILE if wanted and model.encryption.passphrase else ""

    def _write_tpm2_key(self, key_file: str, log: Log) -> None:
        """The passphrase for the first boot's TPM2 enrolment (installer.plan.unlock): 0600 in a 0700
        directory on the new, encrypted root; its service shreds it once used."""
        from installer.base import safefs

        target = self.session.options.target
        passphrase = self.session.model.encryption.passphrase or ""
        parent, name = os.path.split(key_file.lstrip("/"))
        head, own = os.path.split(parent)
        outer = safefs.open_dir(head, base=target, create=True, mode=0o755)
        try:
            inner = safefs.open_dir(own, base=outer, create=True, mode=0o700, shown=f"{target}/{head}")
        finally:
            os.close(outer)
        try:
            os.fchmod(inner, 0o700)  # an earlier attempt's directory, whatever its mode was
            safefs.write_at(inner, name, passphrase, mode=0o600, shown=f"{target}{key_file}")
        finally:
            os.close(inner)
        log(f"wrote {target.rstrip('/')}{key_file} (root only; the first boot enrols the TPM2 with it, then shreds it)")

    # -- nixos-install and the passwords -------------------------------------------------------
    def hash_passwords(self) -> None:
        """Replace typed passwords by their hashes once, so every later step
        (and the log's redactor) knows the exact hash that will be set."""
        from installer.base.hashing import hash_password

        model = self.session.model
        accounts: list[User | Root] = [*model.users, model.root]
        for account in accounts:
            if account.password and not account.password_hash:
                account.password_hash = hash_password(account.password)
        self.session.log()

    def install_argv(self) -> list[str]:
        from installer.run.command import RunOptions, build_argv

        o = self.session.options
        run = RunOptions(
            max_jobs=o.max_jobs, cores=o.cores, keep_going=o.keep_going, show_trace=o.show_trace,
            offline=self.session.preflight.offline_install(),
        )
        return build_argv(o.target, run, o.nixos_install)

    def install_command(self) -> str:
        """nixos-install's command line as a shell would take it, with the proxy it gets."""
        from installer.flow.online import PROXY_VARIABLES

        proxy = self.session.model.network.proxy
        prefix = "".join(f"{name}={shlex.quote(proxy)} " for name in PROXY_VARIABLES[:2]) if proxy else ""
        return prefix + shlex.join(self.install_argv())

    def runner(self) -> InstallRunner:
        """The next nixos-install run (not started). Real mode only.

        Each run continues the record of the runs before it in this session
        (a Retry, or Back to review and on): a summary counts every run."""
        from installer.run.runner import InstallRunner

        session = self.session
        if not session.options.real:
            raise DryRun(f"[dry-run] would run: {self.install_command()}")
        self.hash_passwords()
        last = self._last_run
        if last is not None and last.running:
            raise RuntimeError("nixos-install is still running")
        # A run that never started (nixos-install missing) has nothing to count.
        earlier = [] if last is None else (last.runs if last.pid is not None else last.earlier)
        from installer.flow.online import install_env

        self._last_run = InstallRunner(
            self.install_argv(), target=session.options.target, log=session.log(), secrets=session.model.secrets(),
            env=install_env(session),
            run_number=len(earlier) + 1, earlier=earlier, expected=self.expected_counts(),
        )
        return self._last_run

    def expected_counts(self) -> tuple[int, int, float, float] | None:
        """What the pre-flight's dry run found the install downloads and builds, for
        the pane's progress until Nix announces its own counts (None: not known)."""
        found = self.session.preflight.downloads()
        if found is None or not found.known:
            return None
        return found.to_fetch, found.to_build, found.download_mib, found.unpacked_mib

    @property
    def last_run(self) -> InstallRunner | None:
        """The latest nixos-install runner, running or ended."""
        return self._last_run

    def running(self) -> list[InstallRunner]:
        """What runs now and must be stopped before the installer exits."""
        run = self._last_run
        return [run] if run is not None and run.running else []

    def set_passwords(self, log: Log) -> list[str]:
        """Set the accounts' passwords on the installed system (hashes on stdin)."""
        session = self.session
        model = session.model
        accounts = [u.name for u in model.users] + ([] if model.root.disabled else ["root"])
        if not session.options.real:
            log(f"[dry-run] would set the passwords of {', '.join(accounts) or 'nobody'} with chpasswd -e")
            if model.root.disabled:
                log("[dry-run] would lock root's password")
            return accounts
        from installer.run.passwords import set_passwords

        self.hash_passwords()
        return set_passwords(model, session.options.target, session.options.nixos_enter, log)

    def finish(self, log: Log) -> str:
        """Copy the log into the installed system; returns where it went."""
        options = self.session.options
        if not options.real:
            return options.log_path
        from installer.run import resume

        resume.forget(options.state_dir, options.target)
        copy = self.session.log().copy_to(options.target)
        log(f"log copied to {copy}")
        return str(copy)
