"""Run a plan on the real disk: the only place (with the runner) that writes.

`execute()` needs a `Confirmation` made by an explicit confirm action for
exactly the plan's disk. Its first step re-reads the medium and refuses
unless it is the one confirmed (installer.machine.medium: table and partition ids,
filesystem UUIDs, serial/WWN, the first and last MiB), then re-checks that
the disk is still the one chosen (same size and by-id link, nothing on it
mounted, no swap or mapping on it) and that the plan's own names are free
(its LUKS mapping not open, nothing mounted at or under the target), that
the target is a directory, that every program a step runs is installed and
that nothing claims the disk or a partition anywhere (an O_EXCL open: other
mount namespaces, lazy unmounts, tools still running), then holds the disk
open and runs the steps in order, checking before each that the device is
still the one confirmed and, after partitioning, carries the table this run
made (installer.run.diskcheck, installer.run.diskhold).
Secrets go to a command's stdin only and are blanked out of anything
logged. When a step fails, or the run is interrupted (Ctrl+C, SIGTERM,
SIGHUP), what was mounted, swapped on or unlocked is undone so the person
can fix the cause and run again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from installer.machine.hardware import MAPPER
from installer.machine.medium import Medium, MediumGone, read_medium
from installer.plan.types import Action, Plan, Step
from installer.run.diskcheck import disk_in_use, mountinfo, plan_mappings, same_medium, target_in_use, target_problem
from installer.run import keep
from installer.run.diskhold import DiskChanged, DiskHold, busy_exclusive, tool_kwargs
from installer.run.enroll import EnrollError, enroll
from installer.run.tables import fresh_device, stderr_to

Log = Callable[[str], None]
PARTITION_WAIT_SECONDS = 20.0
_KEY = object()  # only Confirmation.for_plan holds it


class Refused(Exception):
    """Not safe to write: no confirmation, or the disk changed since it was chosen (CLI exit 3)."""


class ExecutionError(Exception):
    """A step failed; `step` is the Step and `output` what the command printed (secrets blanked)."""

    def __init__(self, step: Step, output: str, message: str = ""):
        self.step = step
        self.output = output
        super().__init__(message or f"{step.describe} failed: {step.shown()}\n{output}".rstrip())


class MissingTool(ExecutionError):
    """A program or Python module a step needs is not installed; found before anything was written."""

    def __init__(self, step: Step, what: str):
        needed = step.describe[:1].lower() + step.describe[1:]
        super().__init__(step, what, f"{what}, needed to {needed}; nothing was written")


# Where the tools come from (the package name is the same in nixpkgs and Debian
# unless noted), so the message says what to install.
PACKAGES = {
    "sgdisk": "gptfdisk (Debian: gdisk)", "mkfs.fat": "dosfstools", "mkfs.ext4": "e2fsprogs",
    "mkfs.btrfs": "btrfs-progs", "btrfs": "btrfs-progs", "mkfs.xfs": "xfsprogs", "cryptsetup": "cryptsetup",
    "wipefs": "util-linux", "partx": "util-linux", "mount": "util-linux", "umount": "util-linux",
    "swapon": "util-linux", "mkswap": "util-linux", "mkdir": "coreutils", "ntfsresize": "ntfs-3g",
    "ntfscat": "ntfs-3g", "resize2fs": "e2fsprogs", "e2fsck": "e2fsprogs", "dumpe2fs": "e2fsprogs",
    "unshare": "util-linux", "blkid": "util-linux", "sfdisk": "util-linux (Debian: fdisk)",
    "systemd-cryptenroll": "systemd (Debian 13: systemd-cryptsetup)",
}


@dataclass(frozen=True)
class Confirmation:
    """The person's "yes, erase this disk", bound to the disk's path, by-id link and
    size, and to the medium in it as read at the moment of confirming (`medium`)."""

    path: str
    by_id: str
    size: int
    _key: object = field(default=None, repr=False, compare=False)
    # What the medium looked like when confirmed; after the executor wrote to it,
    # what it left there (a Retry of a failed disk phase goes on from that).
    medium: Medium | None = field(default=None, compare=False)
    # Each partition a keep plan leaves untouched -> sha256 of its first MiB when confirmed (CHECK_KEPT compares).
    kept: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self._key is not _KEY:
            raise TypeError("a Confirmation is made only by Confirmation.for_plan() on an explicit confirm")

    @classmethod
    def for_plan(cls, plan: Plan, *, read: bool = True, sys_root: str = "/sys") -> Confirmation:
        """The token for the plan's disk. `read`: record the medium now (a dry run or a
        recorded machine has none to read; the executor refuses a token without it)."""
        disk = plan.disk
        if disk is None:
            return cls("", "", 0, _KEY)
        medium = None
        if read and plan.steps:
            try:
                medium = read_medium(disk.path, sys_root=sys_root)
            except MediumGone:
                medium = None  # the executor refuses: nothing to compare with
        return cls(disk.path, disk.by_id, disk.size, _KEY, medium, keep.hash_kept(plan.steps) if medium else {})

    def _rebind(self, medium: Medium | None) -> None:
        object.__setattr__(self, "medium", medium)

    def matches(self, plan: Plan) -> bool:
        disk = plan.disk
        if disk is None:
            return self.path == ""
        return (self.path, self.by_id, self.size) == (disk.path, disk.by_id, disk.size)


def execute(
    plan: Plan,
    *,
    target: str,
    secrets: dict[str, str],
    confirmation: Confirmation | None,
    log: Log,
    sys_root: str = "/sys",
    proc_root: str = "/proc",
    dev_root: str = "/dev",
) -> None:
    """Run every step of the plan, or refuse / stop and undo. See the module docstring."""
    if not isinstance(confirmation, Confirmation):
        raise Refused("nothing is written to a disk without an explicit confirmation")
    if not confirmation.matches(plan):
        chosen = plan.disk.path if plan.disk else "no disk"
        raise Refused(f"the confirmation was given for {confirmation.path or 'no disk'}, not for {chosen}")
    if (target.rstrip("/") or "/") != plan.target:
        raise Refused(f"the plan was made for {plan.target}, not {target}")
    missing = sorted({s.stdin for s in plan.steps if s.stdin and not secrets.get(s.stdin)})
    if missing:
        raise Refused(f"missing secret(s): {', '.join(missing)}")
    if not plan.steps:
        log(f"nothing to partition: using what is mounted at {plan.target}")
        return
    assert plan.disk is not None
    medium_changed = same_medium(plan.disk.path, confirmation.medium, sys_root=sys_root)
    if medium_changed:
        raise Refused(f"refusing to write to {plan.disk.path}: {medium_changed}; nothing was written. "
                      "Check which disk this is and confirm again")
    mounts = mountinfo(proc_root)
    reasons = disk_in_use(plan.disk, mounts, sys_root=sys_root, proc_root=proc_root)
    # what this mount table cannot show: claimed in another namespace, lazily unmounted, a tool still running
    reasons = reasons or busy_exclusive(plan.disk.path, sys_root=sys_root, proc_root=proc_root)
    reasons += target_in_use(plan, mounts, dev_root=dev_root)
    if reasons:
        raise Refused(f"refusing to write to {plan.disk.path}: " + "; ".join(reasons))
    problem = target_problem(plan.target)
    if problem:
        raise Refused(f"refusing to write to {plan.disk.path}: {problem}; nothing was written")
    missing_tool = _missing_tool(plan)
    if missing_tool is not None:
        raise missing_tool
    # kept partitions: a safe order, and every filesystem to shrink asked again, before the first write
    unsafe = keep.problem(plan.steps)
    if unsafe:
        raise Refused(f"refusing to write to {plan.disk.path}: {unsafe}; nothing was written")

    hidden = [s for s in secrets.values() if s]
    done = _Undo()
    step = plan.steps[0]
    assert confirmation.medium is not None  # same_medium refused a confirmation without one
    try:
        hold = DiskHold(plan.disk.path, confirmation.medium, sys_root=sys_root)
    except OSError as error:
        raise Refused(f"refusing to write to {plan.disk.path}: cannot open it ({error.strerror}); "
                      "nothing was written") from None
    try:
        for number, step in enumerate(plan.steps, 1):
            try:
                hold.verify()
            except DiskChanged as changed:
                log(f"stopped before: {step.describe}: {changed}")
                done.run(log)
                raise Refused(f"stopped before step {number} ({step.describe}): {changed}. Nothing more "
                              "was written; check which disk is attached and start again") from None
            log(f"[{number}/{len(plan.steps)}] {step.describe}")
            log(f"$ {step.shown()}")
            try:
                if step.action is Action.ENROLL_FIDO2:
                    try:
                        output = enroll(step, secrets, log, hidden)
                    except EnrollError as error:
                        raise ExecutionError(step, error.output) from None
                else:
                    output = _run(step, secrets, confirmation.kept)
            except ExecutionError as failed:
                output = _redact(failed.output, hidden)
                for line in output.splitlines():
                    log(f"  {line}")
                log(f"failed: {step.describe}; undoing what was mounted so you can try again")
                done.run(log)
                raise ExecutionError(step, output) from None
            for line in _redact(output, hidden).splitlines():
                log(f"  {line}")
            done.record(step)
            if step.action is Action.WAIT:  # the table and partitions this run made are there now
                hold.remember_layout()
    except BaseException as stopped:  # Ctrl+C, SIGTERM, SIGHUP (raised as KeyboardInterrupt)
        if not isinstance(stopped, (ExecutionError, Refused)):
            log(f"interrupted during: {step.describe}; undoing what was mounted")
            _undo_interrupted(plan, done, log, proc_root)
        hold.close()
        if not isinstance(stopped, Refused):
            _remember(confirmation, plan.disk.path, sys_root)
        raise
    hold.close()
    _remember(confirmation, plan.disk.path, sys_root)
    log("partitioning, formatting and mounting done")


def _undo_interrupted(plan: Plan, done: _Undo, log: Log, proc_root: str) -> None:
    """Undo after an interruption, which may have come between a mount and its record:
    what the mount table still shows at the plan's mount points is unmounted too, and
    whatever stays is named with the command that releases it."""
    left = done.run(log)
    planned = [s.argv[-1] for s in plan.steps if s.action is Action.MOUNT]
    for where in reversed(planned):
        if where in {w for _, _, w in mountinfo(proc_root)}:
            status = _quiet(["umount", where])
            log(f"undo: umount {where}: {status}")
            if status != "ok":
                left.append(f"{where} (run: umount {where})")
    if left:
        log("still set up after the interruption: " + "; ".join(left))
    else:
        log("nothing the disk phase set up is left mounted, swapped on or open")


def _quiet(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **tool_kwargs())
    except OSError as error:
        return f"cannot run {argv[0]}: {error}"
    return "ok" if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def _remember(confirmation: Confirmation, path: str, sys_root: str) -> None:
    """After writing: the medium as this run left it is what a Retry continues from."""
    try:
        confirmation._rebind(read_medium(path, sys_root=sys_root))
    except MediumGone:
        confirmation._rebind(None)


def undo(plan: Plan, *, log: Log, proc_root: str = "/proc") -> None:
    """Best effort, for a retry: swap off, unmount and lock what the plan set up."""
    mounted = {where for _, _, where in mountinfo(proc_root)}
    state = _Undo()
    state.opened = [name for name in plan_mappings(plan) if os.path.exists(MAPPER + name)]
    for step in plan.steps:
        if step.action is Action.SWAPON:
            state.swapped.append(step.argv[-1])
        elif step.action is Action.MOUNT and step.argv[-1] in mounted and step.argv[-1] not in state.mounted:
            state.mounted.append(step.argv[-1])
    state.run(log)


def _missing_tool(plan: Plan) -> MissingTool | None:
    """The first step whose program (or pyparted) is not installed, checked before the first write."""
    missing = missing_tools(plan)
    return missing[0] if missing else None


def missing_tools(plan: Plan) -> list[MissingTool]:
    """Every program (or pyparted) the plan's steps need that is not installed, once each, in step order."""
    found: list[MissingTool] = []
    seen: set[str] = set()
    for step in plan.steps:
        if step.action in (Action.PARTITION, *keep.TABLE_ACTIONS) and "parted" not in seen:
            seen.add("parted")
            try:
                import parted  # noqa: F401
            except ImportError as error:
                found.append(MissingTool(step, f"pyparted (the Python module 'parted') cannot be imported: {error}"))
        tools = list(step.argv[:1]) + (["partx"] if step.action is Action.WAIT else []) + keep.tools(step)
        for tool in tools:
            if tool not in seen and shutil.which(tool) is None:
                package = PACKAGES.get(tool)
                found.append(MissingTool(step, f"{tool} is not installed" + (f" (package {package})" if package else "")))
            seen.add(tool)
    return found


# -- running one step ------------------------------------------------------------


def _redact(text: str, hidden: list[str]) -> str:
    for secret in hidden:
        text = text.replace(secret, "<redacted>")
    return text


def _run(step: Step, secrets: dict[str, str], kept: dict[str, str]) -> str:
    if step.action is Action.PARTITION:
        return _partition(step)
    if step.action is Action.WAIT:
        return _wait(step)
    if step.action in keep.KEEP_ACTIONS:
        try:
            return keep.run(step, kept)
        except keep.KeepError as failed:
            raise ExecutionError(step, f"{failed.output}\n{failed}".strip()) from None
    stdin = secrets[step.stdin] if step.stdin else None
    try:
        done: subprocess.CompletedProcess[str] = subprocess.run(
            list(step.argv),
            input=stdin,
            capture_output=True,
            text=True,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            **tool_kwargs(),
        )
    except OSError as error:  # removed or broken since the check before the first write
        raise ExecutionError(step, f"cannot run {step.argv[0]}: {error}") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise ExecutionError(step, output or f"exit status {done.returncode}")
    return output


def _partition(step: Step) -> str:
    """A new GPT with exactly the planned sectors and names, through pyparted."""
    try:
        import parted
    except ImportError as error:  # checked before the first write; kept for a module broken meanwhile
        raise ExecutionError(step, f"pyparted (the Python module 'parted') cannot be imported: {error}") from None

    call = step.call
    # libparted runs `udevadm settle` through the shell; keep its chatter off
    # the person's console and in the log instead.
    with tempfile.TemporaryFile(mode="w+") as err, stderr_to(err):
        try:
            device = fresh_device(parted, call["device"])
            if device.sectorSize != call["sector_size"]:
                raise ExecutionError(
                    step, f"{call['device']} has {device.sectorSize}-byte sectors; the plan assumed {call['sector_size']}"
                )
            disk = parted.freshDisk(device, call["table"])
            for spec in call["partitions"]:
                geometry = parted.Geometry(device=device, start=spec["start"], end=spec["end"])
                part = parted.Partition(disk=disk, type=parted.PARTITION_NORMAL, geometry=geometry)
                disk.addPartition(part, constraint=parted.Constraint(exactGeom=geometry))
                part.set_name(spec["name"])
                if part.number != spec["number"]:
                    raise ExecutionError(step, f"partition {spec['name']} became number {part.number}")
            disk.commit()
        except ExecutionError:
            raise
        except Exception as error:  # pyparted raises its own exception zoo
            raise ExecutionError(step, f"{type(error).__name__}: {error}") from None
        err.seek(0)
        return err.read().strip()


def _wait(step: Step) -> str:
    """Have the kernel re-read the table, then wait for the nodes (no udev needed: devtmpfs makes them)."""
    nodes = step.call["nodes"]
    try:
        subprocess.run(["partx", "-u", step.call["device"]], capture_output=True, stdin=subprocess.DEVNULL,
                       **tool_kwargs())
        if shutil.which("udevadm") and os.path.isdir("/run/udev"):
            # where udev runs (the ISO), let it finish probing the new partitions
            # so it does not hold them open while mkfs starts
            subprocess.run(["udevadm", "settle", "--timeout=10"], capture_output=True, stdin=subprocess.DEVNULL,
                           **tool_kwargs())
    except OSError as error:
        raise ExecutionError(step, f"cannot run partx: {error}") from None
    deadline = time.monotonic() + PARTITION_WAIT_SECONDS
    added = False
    while True:
        missing = [n for n in nodes if not os.path.exists(n)]
        if not missing:
            return ""
        if not added and deadline - time.monotonic() < PARTITION_WAIT_SECONDS - 1:
            # partx -u has been seen to leave a new logical partition out (loop devices, Linux 6.18);
            # -a adds what the kernel lacks (its complaints about the ones it has are harmless)
            added = True
            subprocess.run(["partx", "-a", step.call["device"]], capture_output=True, stdin=subprocess.DEVNULL,
                           **tool_kwargs())
        if time.monotonic() > deadline:
            raise ExecutionError(step, f"{', '.join(missing)} did not appear")
        time.sleep(0.1)


# -- undo --------------------------------------------------------------------------


@dataclass
class _Undo:
    mounted: list[str] = field(default_factory=list)
    swapped: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)

    def record(self, step: Step) -> None:
        where = step.argv[-1] if step.argv else ""
        if step.action is Action.MOUNT:
            self.mounted.append(where)
        elif step.action is Action.UMOUNT and where in self.mounted:
            self.mounted.remove(where)
        elif step.action is Action.SWAPON:
            self.swapped.append(where)
        elif step.action is Action.LUKS_OPEN:
            self.opened.append(where)

    def run(self, log: Log) -> list[str]:
        """Undo; returns what could not be undone, each with the command that would."""
        commands = [["swapoff", s] for s in reversed(self.swapped)]
        commands += [["umount", m] for m in reversed(self.mounted)]
        commands += [["cryptsetup", "close", name] for name in reversed(self.opened)]
        left = []
        for argv in commands:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                      **tool_kwargs())
                status = "ok" if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")
            except OSError as error:
                status = f"cannot run {argv[0]}: {error}"
            log(f"undo: {' '.join(argv)}: {status}")
            if status != "ok":
                left.append(f"{argv[-1]} (run: {' '.join(argv)})")
        self.mounted.clear()
        self.swapped.clear()
        self.opened.clear()
        return left
