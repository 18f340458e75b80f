"""Facts about the running installer system that the generated files record.

`state_version()` is the NixOS release of the running ISO (what
nixos-generate-config writes as system.stateVersion); `nixpkgs_branch()` is
the nixpkgs branch of that release, which an exported flake follows;
`host_platform()` is the Nix system double of this CPU. All fall back to safe
defaults off NixOS, so tests and `--machine` runs on any host give stable
answers.
"""

from __future__ import annotations

import platform
import re
import subprocess
from collections.abc import Callable
from functools import cache

from installer.answers.model import DEFAULT_STATE_VERSION

_RELEASE = re.compile(r"(\d{2}\.\d{2})(?:[.\s]|pre|$)")

# `uname -m` names -> Nix system doubles NixOS installs on.
_PLATFORMS = {
    "x86_64": "x86_64-linux",
    "amd64": "x86_64-linux",
    "aarch64": "aarch64-linux",
    "arm64": "aarch64-linux",
    "i686": "i686-linux",
    "riscv64": "riscv64-linux",
}
DEFAULT_PLATFORM = "x86_64-linux"

# The release whose option names the templates use: the flake's nixpkgs when
# the running release is unknown (off NixOS). Older branches lack some of
# those options (services.xserver.xkb, services.desktopManager.gnome, ...).
TEMPLATES_RELEASE = "25.11"


def release_of(version_text: str) -> str:
    """The "YY.MM" release in `nixos-version` output such as "25.11.20251120.abc (Xantusia)"; "" if none."""
    match = _RELEASE.match(version_text.strip())
    return match.group(1) if match else ""


Run = Callable[..., subprocess.CompletedProcess[str]]


def nixos_version(run: Run | None = None) -> str:
    """What `nixos-version` prints on the running system; "" off NixOS.

    Without `run`, asked once per process: the running release does not
    change, and both state_version() and nixpkgs_branch() need it.
    """
    if run is None:
        return _running_nixos_version()
    try:
        done = run(["nixos-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@cache
def _running_nixos_version() -> str:
    return nixos_version(subprocess.run)


def state_version(run: Run | None = None) -> str:
    """The running NixOS release, or DEFAULT_STATE_VERSION when it cannot be found."""
    return release_of(nixos_version(run)) or DEFAULT_STATE_VERSION


def branch_of(version_text: str) -> str:
    """The nixpkgs branch a `nixos-version` output comes from ("" if it names no release).

    A "pre" version (26.05pre123.abc) is unstable before that release exists.
    """
    release = release_of(version_text)
    if not release:
        return ""
    return "nixos-unstable" if version_text.strip()[len(release):].startswith("pre") else f"nixos-{release}"


def nixpkgs_branch(run: Run | None = None) -> str:
    """The nixpkgs branch of the running ISO, for an exported flake; the templates' release off NixOS.

    Not system.stateVersion: that records the release a system was first
    installed with, and may be older than the options the files use.
    """
    return branch_of(nixos_version(run)) or f"nixos-{TEMPLATES_RELEASE}"


def host_platform(machine: str | None = None) -> str:
    """The Nix system double (nixpkgs.hostPlatform) of this CPU, e.g. "x86_64-linux"."""
    arch = (machine if machine is not None else platform.machine()).lower()
    return _PLATFORMS.get(arch, DEFAULT_PLATFORM)
