"""The nixos-install command line and environment: what the runner runs.

Pure: no secret ever goes into the argv (passwords are set afterwards
through chpasswd's stdin), and the environment makes Nix print the plain
per-path lines `Progress` counts.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

# Nix draws its one-line progress bar when stderr is a tty, TERM is not
# "dumb" and NO_COLOR is unset (libutil/terminal.cc isTTY); the bar prints no
# per-path lines, and `nix build` (flake installs) then also drops to notice
# verbosity (nix/main.cc). Its plain logger at info verbosity prints one
# "copying path"/"building" line per item: the counts `Progress` reads.
PLAIN_NIX_ENV = {"TERM": "dumb", "NO_COLOR": "1"}


@dataclass(frozen=True)
class RunOptions:
    flake_host: str | None = None  # set when a flake was generated: --flake TARGET/etc/nixos#HOST
    max_jobs: int | str | None = None  # a number or "auto"
    cores: int | None = None
    keep_going: bool = False
    show_trace: bool = False
    offline: bool = False  # no substituters: build or copy from the live system's store only


def build_argv(target: str, options: RunOptions = RunOptions(), command: str | Sequence[str] = "nixos-install") -> list[str]:
    """The nixos-install command line for these options (no secret ever goes here)."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    target = str(target)
    # Always --no-root-passwd: under a pty nixos-install would prompt for
    # root's password; passwords are set afterwards through chpasswd's stdin.
    argv += ["--root", target, "--no-root-passwd"]
    if options.flake_host is not None:
        host = options.flake_host
        # nixos-install splits the flake URI at the last '#' and rejects '"'.
        if not host or "#" in host or '"' in host:
            raise ValueError(f"flake host name {host!r} cannot be used in a flake URI")
        argv += ["--no-channel-copy", "--flake", f"{target.rstrip('/') or ''}/etc/nixos#{host}"]
    if options.max_jobs is not None:
        if not (options.max_jobs == "auto" or (isinstance(options.max_jobs, int) and options.max_jobs >= 0)):
            raise ValueError("max_jobs is a number of jobs or 'auto'")
        argv += ["--max-jobs", str(options.max_jobs)]
    if options.cores is not None:
        if not isinstance(options.cores, int) or options.cores < 0:
            raise ValueError("cores is a number (0: all)")
        argv += ["--cores", str(options.cores)]
    if options.keep_going:
        argv.append("--keep-going")
    if options.show_trace:
        argv.append("--show-trace")
    if options.offline:
        argv += ["--option", "substituters", ""]
    return argv
