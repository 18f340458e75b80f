"""Facts about the running installer system that the generated files record.

`state_version()` is the NixOS release of the running ISO (what
nixos-generate-config writes as system.stateVersion); `host_platform()` is the
Nix system double of this CPU. Both fall back to safe defaults off NixOS, so
tests and `--machine` runs on any host give stable answers.
"""

from __future__ import annotations

import platform
import re
import subprocess
from collections.abc import Callable

from installer.model import DEFAULT_STATE_VERSION

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


def release_of(version_text: str) -> str:
    """The "YY.MM" release in `nixos-version` output such as "25.11.20251120.abc (Xantusia)"; "" if none."""
    match = _RELEASE.match(version_text.strip())
    return match.group(1) if match else ""


def state_version(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> str:
    """The running NixOS release, or DEFAULT_STATE_VERSION when it cannot be found."""
    try:
        done = run(["nixos-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_STATE_VERSION
    if done.returncode != 0:
        return DEFAULT_STATE_VERSION
    return release_of(done.stdout) or DEFAULT_STATE_VERSION


def host_platform(machine: str | None = None) -> str:
    """The Nix system double (nixpkgs.hostPlatform) of this CPU, e.g. "x86_64-linux"."""
    arch = (machine if machine is not None else platform.machine()).lower()
    return _PLATFORMS.get(arch, DEFAULT_PLATFORM)
