"""How Nix announces what realising a derivation will do (libmain/shared.cc printMissing),
read by the install's progress and by the dry run before it: written once here.

Nix 2.26 prints "these N derivations will be built:" / "this derivation will be
built:" and "these N paths will be fetched (X MiB download, Y MiB unpacked):" /
"this path will be fetched (...)", each followed by the paths, two spaces in.
Nix before 2.4 left out the count; nixpkgs refuses a Nix older than 2.18
(lib/minver.nix), so only the counted wording reaches an install.
"""

from __future__ import annotations

import re

_UNITS = {"B": 1 / (1024 * 1024), "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0 * 1024}
_SIZE = r"([0-9.]+) ?(B|KiB|MiB|GiB|TiB)"
# Matched in either case: Nix 2.26's `nix-build --dry-run` printed "These 3
# derivations will be built:" here in two runs (and "these" in every other one).
FETCH = re.compile(
    r"^th(?:ese ([0-9]+) paths|is path) will be fetched \(" + _SIZE + r" download, " + _SIZE + r" unpacked\):",
    re.IGNORECASE,
)
BUILD = re.compile(r"^th(?:ese ([0-9]+) derivations|is derivation) will be built:", re.IGNORECASE)


def mib(number: str, unit: str) -> float:
    """A size as Nix printed it ("1.50", "GiB"), in MiB."""
    try:
        return float(number) * _UNITS[unit]
    except ValueError:
        return 0.0
