"""nixos-facter's hardware report: the one place the installer runs nixos-facter.

`nixos-facter` (nix-community/nixos-facter, in nixpkgs as pkgs.nixos-facter)
probes the hardware and prints its report as JSON on standard output
({"version": N, "system": "x86_64-linux", "virtualisation": ..., "hardware":
{...}, "smbios": {...}}); NixOS 25.11 reads such a file with
`hardware.facter.reportPath` (nixos/modules/hardware/facter, upstreamed from
nixos-facter-modules in nixpkgs PR 450303). It only reads the machine; the
install runs it after the confirmation anyway, as every other command, and
writes its output into the target (installer.flow.install). Tests point
`program` at a stand-in that prints a real report's format
(tests/standins/nixos-facter).
"""

from __future__ import annotations

import json
import shutil
import subprocess

PROGRAM = "nixos-facter"
TIMEOUT = 300.0  # it reads sysfs and SMBIOS; a minute is long on any machine


class FacterError(Exception):
    """nixos-facter is missing, failed, or printed no report; the message says which, for a person."""


def available(program: str = PROGRAM) -> bool:
    return shutil.which(program) is not None


def hardware_report(program: str = PROGRAM, timeout: float = TIMEOUT) -> str:
    """The report nixos-facter prints, as it printed it (FacterError when there is none)."""
    if not available(program):
        raise FacterError(f"{program} is not installed, so no hardware report can be written")
    try:
        done = subprocess.run([program], capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FacterError(f"{program} did not finish within {timeout:g} s") from None
    except OSError as err:
        raise FacterError(f"{program} could not be started: {err.strerror or err}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise FacterError(f"{program} failed (exit {done.returncode}): {last}")
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("hardware"), dict) or "version" not in report:
        raise FacterError(f"{program} printed no hardware report (no JSON object with version and hardware)")
    return done.stdout if done.stdout.endswith("\n") else done.stdout + "\n"
