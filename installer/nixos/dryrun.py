"""What building the system would download and build, asked of Nix with nothing built.

The rendered files are instantiated (the .drv files reach the store: they hold
no secret, as passwords are set with chpasswd after nixos-install) and

    nix-store --realise --dry-run DRV

prints, on stderr, what realising it would do. Nix 2.26 words it

    these 2 derivations will be built:        (or "this derivation will be built:")
      /nix/store/...drv
    these 3 paths will be fetched (1.20 MiB download, 4.50 MiB unpacked):
      /nix/store/...                            (or "this path will be fetched (...)")

(the wordings are installer.base.nixwords'); the listed paths are counted.
When Nix cannot answer (not installed, no nixpkgs, an evaluation error, a
read-only store, a timeout) the summary says so in plain words and the
install goes on as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from installer.base.nixwords import BUILD, FETCH, mib
from installer.nixos.evalcheck import find_nixpkgs, nix_instantiate, private_copy, run_stoppable

DEFAULT_TIMEOUT = 300.0

@dataclass(frozen=True)
class Summary:
    """What the install would fetch and build; `known` is False when Nix could not say."""
    known: bool
    to_fetch: int = 0
    download_mib: float = 0.0
    unpacked_mib: float = 0.0
    to_build: int = 0
    message: str = ""  # when not known: why, for a person

    @property
    def nothing_to_download(self) -> bool:
        """Everything the system needs is already in this store: the install can run offline."""
        return self.known and self.to_fetch == 0

    def line(self) -> str:
        """The one line Review, Confirm and the unattended run show."""
        if not self.known:
            return self.message
        return (f"{self.to_fetch} {'path' if self.to_fetch == 1 else 'paths'} to download "
                f"({self.download_mib:.1f} MiB), {self.to_build} to build")


def parse(text: str) -> Summary:
    """Read `nix-store --realise --dry-run`'s output (its stderr) into a Summary."""
    fetch: list[str] = []
    build: list[str] = []
    down = unpacked = 0.0
    into: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if raw.startswith("  /"):
            if into is not None:
                into.append(line.strip())
            continue
        if BUILD.match(line):
            into = build
        elif (found := FETCH.match(line)) is not None:
            into = fetch
            down, unpacked = mib(found[2], found[3]), mib(found[4], found[5])
        else:
            # warnings and "don't know how to build these paths:" lists are not ours to count
            into = None
    return Summary(True, len(fetch), down, unpacked, len(build))


def ask(files: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT,
        cancel: threading.Event | None = None) -> Summary:
    """Instantiate the system `files` describe and ask Nix what realising it would do; blocking."""
    started = time.monotonic()
    nix = nix_instantiate()
    if nix is None:
        return Summary(False, message="Nix is not installed here, so what the install downloads is not known.")
    nixpkgs = find_nixpkgs(nix, timeout)
    if nixpkgs is None:
        return Summary(False, message="No nixpkgs was found, so what the install downloads is not known.")
    with private_copy(files) as where:
        argv = [nix, f"{nixpkgs}/nixos", "-A", "config.system.build.toplevel",
                "-I", f"nixos-config={where / 'configuration.nix'}", "-I", f"nixpkgs={nixpkgs}"]
        code, out, err = run_stoppable(argv, max(timeout - (time.monotonic() - started), 0.0), cancel)
    if code is None:
        return Summary(False, message="Nix took too long to say what the install downloads; it is not known.")
    if code != 0:
        why = "the store is read-only" if "read-only" in err else "Nix could not evaluate the system"
        return Summary(False, message=f"What the install downloads is not known: {why}.")
    drv = out.strip().splitlines()[-1] if out.strip() else ""
    return realise_dry_run(drv, nix, max(timeout - (time.monotonic() - started), 0.0), cancel)


def realise_dry_run(drv: str, nix_instantiate_path: str, timeout: float,
                    cancel: threading.Event | None = None) -> Summary:
    """The one command: `nix-store --realise --dry-run DRV` (next to nix-instantiate), read."""
    nix_store = nix_instantiate_path.rsplit("/", 1)[0] + "/nix-store" if "/" in nix_instantiate_path else "nix-store"
    code, _out, err = run_stoppable([nix_store, "--realise", "--dry-run", drv], timeout, cancel)
    if code is None:
        return Summary(False, message="Nix took too long to say what the install downloads; it is not known.")
    if code != 0:
        return Summary(False, message="What the install downloads is not known: Nix could not say.")
    return parse(err)
