"""The Nix the suite runs: 2.26 from a cached Debian 13 root, through shims.

Debian 12's nix-bin is 2.8, and nixpkgs refuses a Nix older than 2.18
(lib/minver.nix). tests/newnix/build-root.sh debootstraps Debian 13 with its
nix-bin (2.26) once into tests/newnix/cache/ (rebuilt when the script
changes); tests/newnix/bin/ holds `nix`, `nix-instantiate` and the other
commands as shims that run the root's Nix with every host path in place (see
tests/newnix/run). conftest puts that directory first on PATH, so anything the
tests start, the installer's own Nix calls included, meets Nix 2.26.

NIXOS_TUI_NIX_BIN names another directory holding `nix` and `nix-instantiate`
(>= 2.18) to use instead: the flake's `checks` set it to nixpkgs' own Nix,
inside a build sandbox where no Debian root can be made.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import lru_cache
from pathlib import Path

NEWNIX = Path(__file__).resolve().parent / "newnix"
BIN = NEWNIX / "bin"
RECIPE = NEWNIX / "build-root.sh"
RECIPE_COMMON = NEWNIX.parent / "debootstrap-common.sh"  # sourced by the recipe, part of its key


def cache_dir() -> Path:
    return Path(os.environ.get("NIXOS_TUI_NIX_CACHE") or NEWNIX / "cache")


def root_dir() -> Path:
    """Where the root for the current recipe lives (the shims compute the same key)."""
    key = hashlib.sha256(RECIPE.read_bytes() + RECIPE_COMMON.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"root-{key}"


class NixRootMissing(RuntimeError):
    """The Nix 2.26 root is not built and could not be built here."""


def chosen_bin_dir() -> Path:
    """NIXOS_TUI_NIX_BIN when set, else the shims (built or not)."""
    return Path(os.environ["NIXOS_TUI_NIX_BIN"]) if os.environ.get("NIXOS_TUI_NIX_BIN") else BIN


@lru_cache(maxsize=1)
def nix_bin_dir() -> Path:
    """The directory of Nix 2.26 shims, building the root first when it is missing."""
    if os.environ.get("NIXOS_TUI_NIX_BIN"):
        return chosen_bin_dir()
    if not (root_dir() / "done").is_file():
        done = subprocess.run([str(RECIPE), str(cache_dir())], capture_output=True, text=True)
        if done.returncode != 0:
            raise NixRootMissing(f"{RECIPE} failed (it needs root and the Debian mirror):\n{done.stderr[-4000:]}")
    return BIN


def on_path(path: str | None) -> str:
    """PATH with the shims first (no build: a shim builds the root itself when needed)."""
    first = chosen_bin_dir()
    rest = [p for p in (path or os.defpath).split(os.pathsep) if p and Path(p) != first]
    return os.pathsep.join([str(first), *rest])
