"""`nixos-tui-installer`: the wizard, or an unattended run from an answers file.

Exit codes: 0 done; 1 failed while running; 2 invalid arguments or answers
(every problem listed), or a configuration Nix refuses to evaluate (--yes,
before anything is written); 3 refused as unsafe. Only this module may import the
screens, and only when the wizard starts, so unattended runs never load
Textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from installer.answers.resolve import KEEP_LAYOUTS
from installer.base.problems import ProbeError, ProblemsError, cut
from installer.base.logfile import DEFAULT_LOG
from installer.base.safefs import LinkRefused
from installer.flow.session import Options, Session

if TYPE_CHECKING:
    from installer.machine.hardware import Machine

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_REFUSED = 0, 1, 2, 3


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nixos-tui-installer",
        description="Install NixOS from the console: a keyboard-driven wizard, or unattended from an answers file.",
    )
    p.add_argument("--machine", metavar="FILE", help="use a recorded machine instead of probing (writes nothing)")
    p.add_argument("--dry-run", action="store_true", help="go through everything, execute nothing")
    p.add_argument("--answers", metavar="FILE", help="unattended: take every answer from this TOML file")
    p.add_argument("--plan", action="store_true", help="print the numbered plan and exit")
    p.add_argument("--render", metavar="DIR", help="write configuration.nix and hardware-configuration.nix to DIR")
    p.add_argument("--target", metavar="DIR", default="/mnt", help="where the new system is mounted (/mnt)")
    p.add_argument("--yes", action="store_true", help="allow an unattended run to write to the disk")
    p.add_argument("--nixos-install", metavar="CMD", default="nixos-install",
                   help="the nixos-install command to run (nixos-install; wrappers and tests point elsewhere)")
    p.add_argument("--nixos-enter", metavar="CMD", default="nixos-enter",
                   help="the nixos-enter command that sets passwords in the new system (nixos-enter)")
    p.add_argument("--nmcli", metavar="CMD", default="nmcli",
                   help="the nmcli command that joins the answers' Wi-Fi network (nmcli)")
    p.add_argument("--nix-conf", metavar="FILE", default="",
                   help="the nix.conf whose substituters the connectivity check asks (/etc/nix/nix.conf)")
    p.add_argument("--skip-eval", action="store_true",
                   help="with --yes: install without first evaluating the configuration with Nix")
    p.add_argument("--eval-timeout", metavar="SECONDS", type=_seconds, default=300.0,
                   help="stop that evaluation after SECONDS (300) and write nothing")
    p.add_argument("--allow-loop", action="store_true", help="offer loop devices (install into an image file)")
    p.add_argument("--log", metavar="FILE", default=DEFAULT_LOG, help=f"log file ({DEFAULT_LOG})")
    p.add_argument("--record-machine", metavar="FILE", help="write this machine's probe data to FILE and exit")
    p.add_argument("--answers-schema", action="store_true", help="print the answers file's JSON Schema and exit")
    p.add_argument("--export-flake", metavar="DIR", help="with --answers: write a flake with a disko layout to DIR")
    p.add_argument(
        "--export-password-hashes", action="store_true",
        help="put password hashes in the exported flake (they end up in the world-readable Nix store)",
    )
    p.add_argument("--force", action="store_true", help="with --export-flake: replace the files already in DIR")
    nix = p.add_argument_group("nixos-install options")
    nix.add_argument("--max-jobs", metavar="N", type=_jobs, help="build jobs in parallel (a number or 'auto')")
    nix.add_argument("--cores", metavar="N", type=int, help="cores per build job (0: all)")
    nix.add_argument("--keep-going", action="store_true", help="keep building what does not depend on a failure")
    nix.add_argument("--show-trace", action="store_true", help="show Nix evaluation traces on errors")
    nix.add_argument("--offline", action="store_true", help="use no binary cache: build or copy from the ISO only")
    nix.add_argument("--timeout", metavar="SECONDS", type=_seconds,
                     help="unattended: stop nixos-install (and everything it started) after SECONDS and fail")
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # reproducible UUIDs for tests
    return p


def _jobs(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of jobs or 'auto'") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("a number of seconds greater than 0")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code = run(args)
        sys.stdout.flush()  # here, not at exit: a reader gone away (`--plan | head -1`) is caught below
        return code
    except BrokenPipeError:
        if not _reader_gone():
            raise  # a pipe to some tool, not our output: a real failure
        # What Python's documentation advises: stdout onto /dev/null, so the flush at exit stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except ProbeError as err:
        print(f"cannot read the machine: {err}", file=sys.stderr)
        # A recorded machine file that cannot be read is a bad argument; a
        # live probe that fails is a failure while running.
        return EXIT_INVALID if args.machine else EXIT_FAILED
    except ProblemsError as err:
        print("The answers have problems:", file=sys.stderr)
        for problem in err.problems:
            print(f"  {cut(str(problem))}", file=sys.stderr)
        return EXIT_INVALID
    except LinkRefused as err:
        # A link where the installer writes: refused wherever it was found.
        print(f"refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:  # Ctrl+C; SIGTERM and SIGHUP too, during an install
        try:
            print("interrupted", file=sys.stderr)
        except OSError:  # the terminal is gone (SIGHUP): the log has said it
            pass
        return EXIT_FAILED


def _reader_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more (poll says POLLERR)."""
    import select

    poll = select.poll()
    poll.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & select.POLLERR for _, events in poll.poll(0))


def run(args: argparse.Namespace) -> int:
    if args.answers_schema:
        from installer.answers.schema import schema_text

        print(schema_text(), end="")
        return EXIT_OK
    if args.record_machine:
        from installer.machine.probe import record_machine

        try:
            machine = record_machine(args.record_machine)
        except ProbeError as err:
            print(f"cannot record this machine: {err}", file=sys.stderr)
            return EXIT_FAILED
        except LinkRefused as err:
            print(f"refused: {err}", file=sys.stderr)
            return EXIT_REFUSED
        except OSError as err:
            print(f"cannot write {args.record_machine}: {err.strerror or err}", file=sys.stderr)
            return EXIT_FAILED
        print(f"recorded this machine in {args.record_machine}")
        _print_free_space(machine)
        return EXIT_OK
    options = Options(
        dry_run=args.dry_run,
        machine_file=args.machine,
        target=args.target,
        allow_loop=args.allow_loop,
        nixos_install=args.nixos_install,
        nixos_enter=args.nixos_enter,
        log_path=args.log,
        seed=args.seed,
        max_jobs=args.max_jobs,
        cores=args.cores,
        keep_going=args.keep_going,
        show_trace=args.show_trace,
        offline=args.offline,
        install_timeout=args.timeout,
        eval_timeout=args.eval_timeout,
        nmcli=args.nmcli,
        nix_conf=args.nix_conf,
    )
    if args.timeout is not None and not args.answers:
        print("--timeout goes with --answers (an unattended run)", file=sys.stderr)
        return EXIT_INVALID
    if args.force and not args.export_flake:
        print("--force only goes with --export-flake", file=sys.stderr)
        return EXIT_INVALID
    if args.machine and not Path(args.machine).is_file():
        print(f"--machine: no such file: {args.machine}", file=sys.stderr)
        return EXIT_INVALID
    if not args.answers:
        if args.plan or args.render or args.yes or args.export_flake:
            print("--plan, --render, --export-flake and --yes need --answers FILE", file=sys.stderr)
            return EXIT_INVALID
        log_problem = _log_problem(args.log)  # found now, not after the disk phase
        if log_problem:
            print(log_problem, file=sys.stderr)
            return EXIT_INVALID
        from screens.app import run_wizard  # Textual loads only for the wizard

        return run_wizard(Session(options))

    from installer.answers import file as answers

    session = Session(options, answers.load(args.answers))
    session.probe()
    session.apply_machine_defaults()
    installing = args.yes and not (args.plan or args.render or args.export_flake)
    resumed = session.resume_earlier_run() if installing else ""
    if resumed:
        print(resumed)
    # With --yes and no --plan/--render/--export-flake: install, or, on a dry
    # run or a recorded machine, walk every phase saying what would be done.
    refused = "" if resumed else _refused(session)
    if refused:
        print(refused, file=sys.stderr)
        return EXIT_REFUSED
    session.check(secrets=installing)
    session.plan()  # a plan it refuses: every problem listed, exit 2
    if installing:
        missing = session.preflight.problems()
        if missing:
            print("Cannot install; nothing was written:", file=sys.stderr)
            for problem in missing:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_INVALID
    if args.render:
        return _render(session, Path(args.render))
    if args.export_flake:
        from installer.nixos.export import ExistingFiles, ExportStopped

        try:
            exported = session.flake.export(
                args.export_flake, include_password_hashes=args.export_password_hashes, overwrite=args.force
            )
        except ExistingFiles as err:
            print(f"refusing to replace what {err.out_dir} holds: {', '.join(err.names)}; {err.outcome} "
                  "(--force replaces them)", file=sys.stderr)
            return EXIT_REFUSED
        except ExportStopped as err:
            print(err, file=sys.stderr)
            return EXIT_REFUSED if err.refused else EXIT_FAILED
        for name in exported.files:
            print(Path(args.export_flake) / name)
        return EXIT_OK
    if args.plan or not installing:
        print_plan(session)
        if not args.plan:
            print("\nNothing was written. Run again with --yes to install.")
        return EXIT_OK
    try:
        session.log()  # before the disk is touched: a --log that cannot be written is a bad argument
    except LinkRefused:
        raise
    except OSError as err:
        why = err.strerror or str(err)
        print(f"--log: {why if args.log in why else f'cannot write {args.log}: {why}'}", file=sys.stderr)
        return EXIT_INVALID
    session.preflight.refuse_links_in_target()  # LinkRefused: exit 3, before the first phase
    from installer.flow.unattended import install

    return install(session, evaluate=not args.skip_eval)


def _print_free_space(machine: Machine) -> None:
    """Each partitioned disk's free space, as the file records it: what a report's reader checks first."""
    from installer.base.units import human_size
    from installer.machine.describe import describe_free

    for disk in machine.disks:
        free = describe_free(disk)
        if free:
            print(f"  {disk.name} ({human_size(disk.size)}, {'MBR' if disk.table == 'dos' else 'GPT'}): {free}")


def _log_problem(path: str) -> str:
    """Why --log cannot be the log file, found without creating it ("" when it
    can); LinkRefused for a link on the way."""
    import stat

    from installer.base import safefs

    safefs.check(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            return f"--log: {path}: the directory {parent} does not exist"
        return _unwritable(path, parent)
    except OSError as err:
        return f"--log: cannot use {path}: {err.strerror or err}"
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else \
            "a device or socket"
        return f"--log: {path} is {kind}, not a regular file"
    if info.st_nlink > 1:  # as the log itself refuses it (installer.base.logfile.open_private)
        return f"--log: {path} has {info.st_nlink - 1} other hard link(s); refusing to write through it"
    return _unwritable(path, path)


def _unwritable(path: str, where: str) -> str:
    """Why `path` cannot be written (checked at `where`: the file, or the directory
    it would be made in), or "": the wizard would otherwise find out only at its
    first log line, or inside a signal handler."""
    if os.access(where, os.W_OK):
        return ""
    try:
        read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return f"--log: cannot write {path}: " + ("it is on a read-only filesystem" if read_only else "permission denied")


def _render(session: Session, out: Path) -> int:
    """--render DIR: the two files, written without following a link anywhere on the way."""
    from installer.base import safefs

    files = session.draft.render()
    for name in files:
        safefs.check(out / name)  # LinkRefused before anything is written
    try:
        where = safefs.open_dir(out, create=True, mode=0o755)
    except LinkRefused:
        raise
    except OSError as err:
        print(f"--render: cannot write into {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_INVALID
    try:
        for name, text in files.items():
            safefs.write_at(where, name, text, mode=0o644, shown=str(out / name))
            print(out / name)
    finally:
        os.close(where)
    return EXIT_OK


def _refused(session: Session) -> str:
    assert session.machine is not None
    device = session.model.disk.device
    if session.model.disk.layout not in ("erase", *KEEP_LAYOUTS) or not device:
        return ""
    disk = session.machine.disk(device)
    if disk is None:
        return ""
    from installer.machine.eligibility import disk_verdict

    verdict = disk_verdict(disk, session.machine)
    return "" if verdict.ok else f"refusing to use {disk.path}: {verdict.reason}"


def print_plan(session: Session) -> None:
    plan = session.plan()
    if not plan.steps:
        print(f"Nothing to partition: using what is mounted at {session.options.target}.")
    if plan.changes:  # a layout keeping what is on the disk: what is kept, shrunk and deleted first
        for line in plan.summary_lines():
            print(line)
    for number, step in enumerate(plan.steps, 1):
        print(f"{number:3}. {step.describe}")
        print(f"     {step.shown()}")
    etc = os.path.join(session.options.target, "etc/nixos")
    print(f"  +. write configuration.nix and hardware-configuration.nix to {etc}")
    print(f"  +. {session.install.install_command()}")
    from installer.flow import online

    for path in online.kept_files(session):
        print(f"  +. write {path} (0600: the Wi-Fi network the new system joins)")
    if session.options.real:  # one HTTPS request: what being offline would mean for this plan
        online.check(session)
    for line in session.preflight.network_lines():
        print(f"network: {line}")
    for warning in session.machine.warnings if session.machine is not None else []:
        print(f"warning: {warning}")
