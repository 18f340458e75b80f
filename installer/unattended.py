"""The unattended install: the wizard's steps in order, with plain progress lines.

`--yes` is the explicit confirmation here: the person named the disk in the
answers file and asked for it to be written. Every line printed also goes
to the 0600 log file.
"""

from __future__ import annotations

import sys

from installer.session import Session

PHASES = ("partition, format and mount", "write the configuration", "nixos-install", "set passwords", "finish")


def install(session: Session, plan) -> int:
    """Run the whole install; returns the CLI's exit code."""
    from installer.executor import Confirmation, ExecutionError, Refused
    from installer.passwords import PasswordError

    log = session.log()

    def say(text: str) -> None:
        print(text, flush=True)
        log(text)

    def phase(number: int) -> None:
        say(f"== [{number}/{len(PHASES)}] {PHASES[number - 1]}")

    session.hash_passwords()
    phase(1)
    try:
        session.execute(Confirmation.for_plan(plan, read=session.options.real), say)
    except Refused as refused:
        say(f"refused: {refused}")
        return 3
    except ExecutionError as failed:
        say(f"failed: {failed}")
        return 1
    phase(2)
    session.write_config(say)
    phase(3)
    if session.options.real:
        runner = session.runner()
        code = runner.run_sync(sys.stdout)
        if code != 0:
            progress = runner.progress
            say(f"nixos-install failed in phase '{progress.phase_title}' with exit code {code}.")
            for line in list(runner.tail)[-15:]:
                say(f"  | {line}")
            say(f"The whole log is in {log.path}. nixos-install can be re-run safely: run this command again.")
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
    where = session.finish(say)
    if not session.options.real:
        why = "--machine reads a recorded machine" if session.options.machine_file else "this is a dry run"
        say(f"Nothing was written: {why}. Log: {where}.")
        return 0
    say(f"Installation finished. Log: {where}. Remove the installation medium and reboot.")
    return 0
