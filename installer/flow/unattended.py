"""The unattended install: the wizard's steps in order, with plain progress lines.

`--yes` is the explicit confirmation here: the person named the disk in the
answers file and asked for it to be written. Every line printed also goes
to the 0600 log file.
"""

from __future__ import annotations

import signal
import sys

from installer.flow.session import Session

PHASES = ("partition, format and mount", "write the configuration", "nixos-install", "set passwords", "finish")


def install(session: Session, plan, *, evaluate: bool = True) -> int:
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
            return _install(session, plan, say, log.path, evaluate)
        except KeyboardInterrupt:
            how = signal.Signals(received[-1]).name if received else "Ctrl+C"
            if session.resume_phase() != "disk":
                again = "the disk is prepared: run this command again to go on from the configuration"
            else:
                again = "what the disk phase had mounted was undone (the undo: lines above); run this command again to start over"
            say(f"interrupted by {how}: everything the installer started was stopped; {again}. Log: {log.path}")
            raise


def _install(session: Session, plan, say, log_path, evaluate: bool = True) -> int:
    from installer.run.executor import Confirmation, ExecutionError, Refused
    from installer.run.passwords import PasswordError
    from installer.base.safefs import LinkRefused

    def phase(number: int) -> None:
        say(f"== [{number}/{len(PHASES)}] {PHASES[number - 1]}")

    if evaluate:
        code = nix_check(session, say)
        if code:
            return code
    else:
        say("Not checking the configuration with Nix (--skip-eval).")
    session.hash_passwords()
    phase(1)
    if session.resume_phase() != "disk":
        say(f"the disk is already prepared for this plan; nothing is written to {plan.disk.path}")
    else:
        try:
            session.execute(Confirmation.for_plan(plan, read=session.options.real), say)
        except Refused as refused:
            say(f"refused: {refused}")
            return 3
        except ExecutionError as failed:
            say(f"failed: {failed}")
            return 1
        if plan.steps and session.options.real:
            session.set_resume_phase("config")
    phase(2)
    try:
        session.write_config(say)
    except LinkRefused as refused:  # a premounted target with etc or etc/nixos linked elsewhere
        say(f"refused: {refused}; nothing was written under {session.options.target}/etc")
        return 3
    phase(3)
    if session.options.real:
        runner = session.runner()
        timeout = session.options.install_timeout
        code = runner.run_sync(sys.stdout, timeout=timeout)
        if runner.timed_out:
            say(f"nixos-install was still running after --timeout {timeout:g} s (in phase "
                f"'{runner.progress.phase_title}'): it and everything it started were stopped.")
            say(f"The whole log is in {log_path}. The disk is prepared: run this command again to go on "
                "(with a longer --timeout).")
            return 1
        if code != 0:
            progress = runner.progress
            say(f"nixos-install failed in phase '{progress.phase_title}' with exit code {code}.")
            for line in list(runner.tail)[-15:]:
                say(f"  | {line}")
            say(f"The whole log is in {log_path}. The disk is prepared: run this command again to go on "
                "from the configuration.")
            return 1
    else:
        say(f"[dry-run] would run: {' '.join(session.install_argv())}")
    phase(4)
    try:
        session.set_passwords(say)
    except PasswordError as failed:
        say(f"failed: {failed}")
        return 1
    phase(5)
    try:
        where = session.finish(say)
    except LinkRefused as refused:
        say(f"refused to copy the log into the new system: {refused}; the log stays in {log_path}")
        return 3
    if not session.options.real:
        why = "--machine reads a recorded machine" if session.options.machine_file else "this is a dry run"
        say(f"Nothing was written: {why}. Log: {where}.")
        return 0
    say(f"Installation finished. Log: {where}. Remove the installation medium and reboot.")
    return 0


def nix_check(session: Session, say) -> int:
    """The pre-flight evaluation, said in plain lines; 0 to go on, else the exit code.

    A dry run evaluates too: the check writes nothing (a private temporary
    copy of the files, Nix in read-only mode), and a dry run that passes
    should mean the real run passes this step.
    """
    say("== checking the configuration with Nix (before anything is written)")
    outcome = session.nix_check()
    if outcome.status == "passed":
        say(f"Nix evaluated the configuration in {outcome.seconds:.1f} s ({outcome.nixpkgs}).")
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
