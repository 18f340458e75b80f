"""The unattended install: the pipeline's phases (installer.flow.install),
printed as plain progress lines.

`--yes` is the explicit confirmation here: the person named the disk in the
answers file and asked for it to be written, so the confirmation is asked
of the session with the very word the wizard's Confirm step would want
typed. Every line printed also goes to the 0600 log file. This module only
says what happens and turns a failure into the CLI's exit code.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from installer.base.problems import ProblemsError
from installer.flow.install import PHASES, Event, LogLine, PhaseFailed, PhaseStarted
from installer.flow.session import Session

if TYPE_CHECKING:
    from pathlib import Path

# Says one line to the person (stdout) and the log.
Say = Callable[[str], None]


def install(session: Session, *, evaluate: bool = True) -> int:
    """Run the whole install; returns the CLI's exit code. SIGTERM and SIGHUP
    stop it as Ctrl+C does (KeyboardInterrupt, after what was running is
    stopped and undone and the log says so).

    `evaluate`: first evaluate the configuration with this machine's nixpkgs
    (installer.nixos.evalcheck) and stop with exit code 2, before anything is
    written, when Nix refuses it; 1 when the check could not finish."""
    from installer.base.processes import like_ctrl_c

    log = session.log()

    def say(text: str) -> None:
        try:
            print(text, flush=True)
        except OSError:  # the terminal went away (SIGHUP): the log still gets every line
            pass
        log(text)

    with like_ctrl_c() as received:
        try:
            return _install(session, say, log.path, evaluate)
        except KeyboardInterrupt:
            how = signal.Signals(received[-1]).name if received else "Ctrl+C"
            if session.install.resume_phase() != "disk":
                again = "the disk is prepared: run this command again to go on from the configuration"
            else:
                again = "what the disk phase had mounted was undone (the undo: lines above); run this command again to start over"
            say(f"interrupted by {how}: everything the installer started was stopped; {again}. Log: {log.path}")
            raise


def _install(session: Session, say: Say, log_path: Path, evaluate: bool = True) -> int:
    pipeline = session.install
    from installer.flow.online import connect

    if not connect(session, say):  # before the pre-flight: its dry run asks Nix what must be downloaded
        return 1
    if evaluate:
        code = nix_check(session, say)
        if code:
            return code
    else:
        say("Not checking the configuration with Nix (--skip-eval).")
    pipeline.hash_passwords()
    # --yes stands for typing the word the wizard's Confirm step asks for.
    from installer.flow.online import offline_meaning

    meaning = offline_meaning(session)
    if meaning:
        say(meaning)
    try:
        word = pipeline.confirm_word()
    except ProblemsError as err:  # found since the CLI checked: offline with downloads to make
        for problem in err.problems:
            say(f"Cannot install; nothing was written: {problem.message}")
        return 1
    confirmation = pipeline.confirm(word)
    if confirmation is None:  # only a refusal by Nix, which nix_check has stopped at already
        say(f"refused: {session.preflight.nix_check_refusal()}")
        return 3

    def show(event: Event) -> None:
        if isinstance(event, PhaseStarted):
            say(f"== [{event.number}/{len(PHASES)}] {event.phase.line}")
        elif isinstance(event, LogLine):
            say(event.text)

    timeout = session.options.install_timeout
    failed = pipeline.run_phases("disk", confirmation, show,
                                 lambda runner: runner.run_sync(sys.stdout, timeout=timeout))
    if failed is not None:
        return _failed(session, failed, say, log_path)
    where = pipeline.log_copy
    if not session.options.real:
        why = "--machine reads a recorded machine" if session.options.machine_file else "this is a dry run"
        say(f"Nothing was written: {why}. Log: {where}.")
        return 0
    say(f"Installation finished. Log: {where}. Remove the installation medium and reboot.")
    return 0


def _failed(session: Session, failed: PhaseFailed, say: Say, log_path: Path) -> int:
    """Say why a phase failed; the exit code (3 refused as unsafe, 1 failed).
    What no phase expects is raised on, as it would have been from the phase."""
    from installer.base.safefs import WriteError
    from installer.run.executor import ExecutionError, Refused
    from installer.run.passwords import PasswordError

    key, error = failed.phase.key, failed.error
    if key == "nixos-install" and error is None:
        runner = session.install.last_run
        assert runner is not None
        timeout = session.options.install_timeout
        if runner.timed_out:
            say(f"nixos-install was still running after --timeout {timeout:g} s (in phase "
                f"'{runner.progress.phase_title}'): it and everything it started were stopped.")
            say(f"The whole log is in {log_path}. The disk is prepared: run this command again to go on "
                "(with a longer --timeout).")
            return 1
        progress = runner.progress
        say(f"nixos-install failed in phase '{progress.phase_title}' with exit code {runner.returncode}.")
        for line in list(runner.tail)[-15:]:
            say(f"  | {line}")
        say(f"The whole log is in {log_path}. The disk is prepared: run this command again to go on "
            "from the configuration.")
        return 1
    if key == "disk" and isinstance(error, Refused):
        say(f"refused: {error}")
        return 3
    if key == "disk" and isinstance(error, ExecutionError):
        say(f"failed: {error}")
        return 1
    if key == "config" and isinstance(error, WriteError):  # a link or a FIFO planted in a premounted target; a full filesystem
        say(f"{'refused' if error.refused else 'failed'}: {error}")
        return 3 if error.refused else 1
    if key == "passwords" and isinstance(error, PasswordError):
        say(f"failed: {error}")
        return 1
    if key == "finish" and isinstance(error, WriteError):  # the system is installed: only the log's copy is missing
        say(f"The system is installed, but its log was not copied into it: {error}. The log stays in {log_path}.")
        return 3 if error.refused else 1
    assert error is not None
    raise error


def nix_check(session: Session, say: Say) -> int:
    """The pre-flight evaluation, said in plain lines; 0 to go on, else the exit code.

    A dry run evaluates too: the check writes nothing (a private temporary
    copy of the files, Nix in read-only mode), and a dry run that passes
    should mean the real run passes this step.
    """
    say("== checking the configuration with Nix (before anything is written)")
    outcome = session.preflight.nix_check()
    if outcome.status == "passed":
        say(f"Nix evaluated the configuration in {outcome.seconds:.1f} s ({outcome.nixpkgs}).")
        say(f"What the install fetches and builds: {session.preflight.downloads_line()}")
        return 0
    if outcome.status in ("no-nix", "no-nixpkgs"):
        say(outcome.message)
        return 0
    if outcome.status in ("timeout", "cancelled"):
        say(f"{outcome.message} Nothing was written. Run again with a longer --eval-timeout, "
            "or with --skip-eval to install without the check.")
        return 1
    where = {"software.packages": "the answers' [software] packages"}.get(outcome.field, "")
    if not where and outcome.field.startswith("files."):
        where = outcome.field.removeprefix("files.") + (f" line {outcome.line}" if outcome.line else "")
    say(f"The configuration does not evaluate: {outcome.message}" + (f" (fix it in {where})" if where else ""))
    for line in outcome.detail.splitlines():
        say(f"  | {line}")
    say("Nothing was written. Fix the answers, or run again with --skip-eval to install anyway.")
    return 2
