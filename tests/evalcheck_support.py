"""What the pre-flight tests share: the stand-in nixpkgs, the Nix the suite runs, a session.

The engine finds `nix-instantiate` on PATH; the tests put the directory of
the suite's own Nix (tests/nixeval.NIX_INSTANTIATE, whose directory holds
`nix-instantiate` and `nix`) first, so the check runs whichever Nix the
suite provides.
"""

from __future__ import annotations

import os
from pathlib import Path

from conftest import MACHINES, ROOT, valid_model
from nixeval import NIX_INSTANTIATE

from installer.flow.session import Options, Session

STANDIN_NIXPKGS = ROOT / "tests" / "standins" / "nixpkgs"
SLOW_NIX = ROOT / "tests" / "standins" / "slow-nix"
MACHINE = MACHINES / "win11-along-ubuntu.json"


def use_nix(monkeypatch, tmp_path: Path, nixpkgs: Path | None = STANDIN_NIXPKGS, nix_dir: Path | None = None) -> None:
    """The suite's Nix first on PATH; nixpkgs is the stand-in, or none at all
    (no NIX_PATH entry, and a HOME without channels)."""
    where = nix_dir or Path(NIX_INSTANTIATE).parent
    monkeypatch.setenv("PATH", f"{where}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    monkeypatch.setenv("NIX_PATH", f"nixpkgs={nixpkgs}" if nixpkgs else "")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


def use_slow_nix(monkeypatch, tmp_path: Path) -> Path:
    """The never-ending nix-instantiate; returns the file it records its run in."""
    use_nix(monkeypatch, tmp_path, nix_dir=SLOW_NIX)
    record = tmp_path / "slow-nix.record"
    monkeypatch.setenv("SLOW_NIXPKGS", str(STANDIN_NIXPKGS))
    monkeypatch.setenv("SLOW_NIX_RECORD", str(record))
    monkeypatch.setenv("SLOW_NIX_REAL", NIX_INSTANTIATE)
    return record


def session(packages: list[str] | None = None, tmp_path: Path | None = None) -> Session:
    """A dry-run session on a recorded machine with the valid model, probed."""
    log = str((tmp_path or Path("/tmp")) / "evalcheck-test.log")
    s = Session(Options(dry_run=True, machine_file=str(MACHINE), seed=7, log_path=log), valid_model())
    s.probe()
    s.model.disk.device = s.machine.offered_disks[0].path
    if packages is not None:
        s.model.software.packages = packages
    return s


def with_line(text: str, after: str, line: str) -> tuple[str, int]:
    """`text` with `line` inserted after the first line containing `after`; (new text, its line number)."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, here in enumerate(lines) if after in here) + 1
    lines.insert(at, line + "\n")
    return "".join(lines), at + 1
