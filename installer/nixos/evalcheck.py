"""The pre-flight check: evaluate the generated NixOS system before any disk is touched.

The rendered configuration.nix and hardware-configuration.nix are copied into
a private temporary directory (0700, files 0600, removed afterwards) and
evaluated with the running machine's own nixpkgs, exactly as nixos-install
would evaluate them:

    nix-instantiate --eval --readonly-mode NIXPKGS/nixos -A config.system.build.toplevel.drvPath
        -I nixos-config=TMP/configuration.nix -I nixpkgs=NIXPKGS

`--eval` of the drvPath computes every derivation of the system without
building it, and `--readonly-mode` keeps Nix from writing anything to the
store (no .drv file, no copied source), so nothing the files hold reaches the
world-readable store. The files hold no password anyway: passwords are set
with chpasswd after nixos-install (see installer.run.passwords).

Nix's error is mapped back to where the person can fix it: a package nixpkgs
does not have to the Software step's package field, an option error to the
line of the file that defines it; anything else is shown as Nix printed it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from installer.nixos.nixlit import nix_attr_path, nix_string

EVAL_ATTR = "config.system.build.toplevel.drvPath"
# A full NixOS evaluation takes seconds to a minute on a slow machine; more
# than this means something is wrong (or swapping), and the person may go on.
DEFAULT_TIMEOUT = 300.0
# Where the files will be on the installed system: Nix's messages name it
# instead of the temporary copy, which is gone once the check is done.
SHOWN_DIR = "/etc/nixos"
FILE_NAMES = ("configuration.nix", "hardware-configuration.nix")

Status = Literal["passed", "failed", "no-nix", "no-nixpkgs", "timeout", "cancelled"]

NO_NIX = ("Nix is not installed here, so the configuration was not checked before installing; "
          "nixos-install checks it.")
NO_NIXPKGS = ("No nixpkgs was found (no channel, no nixpkgs in NIX_PATH): the configuration could not be "
              "checked. A mistake in it would only show in nixos-install, after the disk is erased.")


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str = ""  # one sentence for a person
    detail: str = ""  # Nix's own error, as it printed it (without the trace)
    field: str = ""  # where to fix it: "software.packages", "files.configuration.nix", or ""
    line: int = 0  # with a files.* field: the line (1-based) that defines the option
    package: str = ""  # with software.packages: the package as the person typed it
    seconds: float = 0.0
    nixpkgs: str = ""
    drv_path: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def checked(self) -> bool:
        """Nix gave a verdict (passed or failed), as opposed to not running or being stopped."""
        return self.status in ("passed", "failed")


def files_key(files: Mapping[str, str]) -> str:
    """Identifies one version of the files: a check holds only for the files it checked."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def nix_instantiate() -> str | None:
    return shutil.which("nix-instantiate")


def find_nixpkgs(nix: str, timeout: float = 60.0) -> str | None:
    """nixpkgs as Nix finds it (NIX_PATH, then the channels), or None."""
    try:
        done = subprocess.run([nix, "--find-file", "nixpkgs"], capture_output=True, text=True,
                              timeout=timeout, env=_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip()
    return found if done.returncode == 0 and found else None


def evaluate(
    files: Mapping[str, str],
    packages: Sequence[str] = (),
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Evaluate the system `files` describe; blocking (call from a worker).

    `packages` are the Software step's extra packages, to recognise one that
    nixpkgs lacks. `cancel` set from another thread stops the evaluation (the
    whole process group is killed), as does `timeout`.
    """
    started = time.monotonic()
    nix = nix_instantiate()
    if nix is None:
        return Outcome("no-nix", NO_NIX)
    nixpkgs = find_nixpkgs(nix, timeout)
    if nixpkgs is None:
        return Outcome("no-nixpkgs", NO_NIXPKGS, seconds=time.monotonic() - started)
    with private_copy(files) as where:
        argv = [nix, "--eval", "--readonly-mode", f"{nixpkgs}/nixos", "-A", EVAL_ATTR,
                "-I", f"nixos-config={where / 'configuration.nix'}", "-I", f"nixpkgs={nixpkgs}"]
        left = timeout - (time.monotonic() - started)
        code, out, err = run_stoppable(argv, max(left, 0.0), cancel)
        seconds = time.monotonic() - started
        if code is None:
            if cancel is not None and cancel.is_set():
                return Outcome("cancelled", "The check with Nix was stopped; the configuration was not checked.",
                               seconds=seconds, nixpkgs=nixpkgs)
            return Outcome("timeout", f"Nix took longer than {timeout:g} s; the configuration was not checked.",
                           seconds=seconds, nixpkgs=nixpkgs)
        if code == 0:
            try:
                drv = json.loads(out)
            except ValueError:
                drv = out.strip()
            return Outcome("passed", "Nix evaluated the configuration: it describes a system NixOS can build.",
                           seconds=seconds, nixpkgs=nixpkgs, drv_path=str(drv))
        found = explain(err, files, where, packages, nix)
        return Outcome("failed", found.message, found.detail, found.field, found.line, found.package,
                       seconds=time.monotonic() - started, nixpkgs=nixpkgs)


@contextmanager
def private_copy(files: Mapping[str, str]) -> Iterator[Path]:
    """The files in a new directory only its owner can read; removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="nixos-evalcheck-"))  # mkdtemp: mode 0700
    try:
        for name, text in files.items():
            if "/" in name or name.startswith("."):
                raise ValueError(f"not a file name: {name!r}")
            fd = os.open(where / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def run_stoppable(argv: list[str], timeout: float, cancel: threading.Event | None) -> tuple[int | None, str, str]:
    """Run argv in a process group of its own; (exit code, stdout, stderr), or
    (None, ...) when it was stopped by `cancel` or `timeout`. Whatever way
    this returns (an exception too, KeyboardInterrupt included), no process
    of the group is left running."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace", env=_env(), start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.05)
                return proc.returncode, out, err
            except subprocess.TimeoutExpired:
                pass
            if (cancel is not None and cancel.is_set()) or time.monotonic() >= deadline:
                _stop_group(proc)
                return None, "", ""
    finally:
        if proc.poll() is None:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen[str]) -> None:
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.communicate(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while others of its group linger: nothing of it stays.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _env() -> dict[str, str]:
    from installer.base.processes import child_env

    # English messages, whatever the console's locale: they are matched below.
    return child_env(extra={"LC_ALL": "C"})


# -- mapping Nix's error to its place ---------------------------------------------

@dataclass(frozen=True)
class Explained:
    message: str
    detail: str
    field: str = ""
    line: int = 0
    package: str = ""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MISSING = re.compile(r"attribute '((?:[^'\\]|\\.)*)' missing")
_AT = re.compile(r"^\s*at (.+?):(\d+):(\d+):\s*$", re.MULTILINE)
_DID_YOU_MEAN = re.compile(r"Did you mean (?:one of )?(.+?)\?")
_OPTION = re.compile(r"[Oo]ption `(.+?)'(?= does not exist| is not of type| has conflicting| is used but not"
                     r"| was accessed| is read-only)")
_DEFINED_IN = re.compile(r"^\s*- In `(.+?)'", re.MULTILINE)


def core_error(stderr: str) -> str:
    """Nix's innermost error, without the trace ("… while evaluating ...") above it.

    Nix 2.8 prints "error: MESSAGE" first; Nix 2.26 prints "error:", the trace,
    then the message as a second "error: ". The last one is the message.
    """
    lines = _ANSI.sub("", stderr).splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*error: \S", line)]
    if not starts:
        return "\n".join(line for line in lines if line.strip()).strip()
    kept = []
    for line in lines[starts[-1]:]:
        if line.startswith(("(use '--show-trace'", "(stack trace truncated")) or "stack trace truncated" in line:
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    first = kept[0].strip().removeprefix("error: ")
    rest = kept[1:]
    indents = [len(line) - len(line.lstrip()) for line in rest if line.strip()]
    cut = min(indents, default=0)
    return "\n".join([first] + [line[cut:] if line.strip() else "" for line in rest])


def explain(stderr: str, files: Mapping[str, str], where: Path, packages: Sequence[str], nix: str) -> Explained:
    detail = core_error(stderr).replace(str(where), SHOWN_DIR)
    raw = core_error(stderr)
    first = detail.splitlines()[0] if detail else "Nix could not evaluate the configuration."
    missing = _MISSING.search(raw)
    if missing:
        at = _AT.search(raw, missing.end())
        if at:
            name = _our_file(at.group(1), where, files)
            line = int(at.group(2))
            if name:
                hint = _DID_YOU_MEAN.search(raw, missing.end())
                also = f" (Did you mean {hint.group(1)}?)" if hint else ""
                package = _package_on_line(files[name], line, packages) if name == "configuration.nix" else ""
                if package:
                    return Explained(f"nixpkgs has no package '{package}'{also}.", detail, "software.packages",
                                     package=package)
                return Explained(f"line {line}: {first}{also}", detail, f"files.{name}", line)
    option = _OPTION.search(raw)
    if option:
        defined = _DEFINED_IN.search(raw, option.end())
        name = _our_file(defined.group(1), where, files) if defined else ""
        if name:
            loc = option_path(option.group(1))
            line = locate(nix, where / name, loc) or _search_line(files[name], loc)
            sentence = first.removesuffix(" Definition values:").removesuffix(":")
            if line:
                return Explained(f"line {line}: {sentence}", detail, f"files.{name}", line)
            return Explained(sentence, detail, f"files.{name}")
    return Explained(first, detail)


def _our_file(path: str, where: Path, files: Mapping[str, str]) -> str:
    """The name of one of the checked files, when Nix's `path` is its temporary copy."""
    p = Path(path)
    if p.parent == where and p.name in files:
        return p.name
    return ""


def _package_on_line(text: str, line: int, packages: Sequence[str]) -> str:
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    here = lines[line - 1].strip()
    for package in packages:
        try:
            if here == nix_attr_path(package, "pkgs"):
                return package
        except (TypeError, ValueError):
            continue
    return ""


def option_path(shown: str) -> list[str]:
    """`fileSystems."/boot".device` -> ["fileSystems", "/boot", "device"] (lib.showOption, reversed)."""
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|[^.]+', shown)
    return [json.loads(p) if p.startswith('"') else p for p in parts]


# The position of the attribute that defines an option, read by Nix itself from
# the module's attribute set (dotted or nested, it is the same set): nothing of
# the module's values is evaluated, `lib`, `config` and `pkgs` are never read.
_LOCATE = """
let
  m = import {file};
  v = if builtins.isFunction m then m (builtins.mapAttrs (_: _: throw "not read") (builtins.functionArgs m)) else m;
  isSet = x: let t = builtins.tryEval (builtins.isAttrs x); in t.success && t.value;
  step = acc: name:
    if acc.set != null && isSet acc.set && acc.set ? ${{name}}
    then {{ set = acc.set.${{name}}; pos = builtins.unsafeGetAttrPos name acc.set; }}
    else acc // {{ set = null; }};
in (builtins.foldl' step {{ set = v; pos = null; }} {loc}).pos
"""


def locate(nix: str, path: Path, loc: list[str]) -> int:
    """The line where `path` defines the option `loc` (or its nearest enclosing attribute), or 0."""
    text = str(path)
    expr = _LOCATE.format(file=text if _plain(text) else f"(/. + {nix_string(text)})",
                          loc="[ " + " ".join(nix_string(part) for part in loc) + " ]")
    try:
        done = subprocess.run([nix, "--eval", "--readonly-mode", "--strict", "--json", "--expr", expr],
                              capture_output=True, text=True, timeout=30, env=_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if done.returncode != 0:
        return 0
    try:
        pos = json.loads(done.stdout)
    except ValueError:
        return 0
    return int(pos["line"]) if isinstance(pos, dict) and "line" in pos else 0


def _plain(path: str) -> bool:
    return all(c.isalnum() or c in "/._-+" for c in path)


def _search_line(text: str, loc: list[str]) -> int:
    """Without Nix's help: the first line that sets the longest tail of `loc`."""
    lines = text.splitlines()
    for k in range(len(loc), 0, -1):
        tail = r"\s*\.\s*".join(re.escape(part) for part in loc[-k:])
        pattern = re.compile(rf"(^|[\s.{{;]){tail}\s*=")
        for number, line in enumerate(lines, 1):
            if pattern.search(line):
                return number
    return 0
