"""Install progress read from nixos-install's and Nix's own words.

Phases come from the lines nixos-install.sh echoes; counts come from Nix's
`printMissing` ("these N paths will be fetched (X MiB download, Y MiB
unpacked):", "these N derivations will be built:") and from the activity
lines its plain logger prints per item ("copying path '...' from '...'...",
"building '....drv'..."). Nothing is estimated: the fraction is done/total of
the items Nix announced, or None when it announced none.

`feed` runs for every output line (the pane may see 200k lines a second), so
it looks at the first character before any `startswith`, and uses a regex
only on the rare announcement lines.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from installer.base.nixwords import BUILD as BUILD_ANNOUNCED
from installer.base.nixwords import FETCH as FETCH_ANNOUNCED
from installer.base.nixwords import mib

# Phase names, in the order nixos-install goes through them.
STARTING = "starting"
CHANNEL = "channel"
BUILD = "build"
BOOTLOADER = "bootloader"
ETC = "etc"
ROOT_PASSWORD = "root-password"
FINISHED = "finished"

PHASE_TITLES = {
    STARTING: "Starting",
    CHANNEL: "Copying the channel",
    BUILD: "Building the system",
    BOOTLOADER: "Installing the boot loader",
    ETC: "Setting up /etc",
    ROOT_PASSWORD: "Setting the root password",
    FINISHED: "Installation finished",
}

# nixos-install.sh's echo lines (and the activation script's, run by
# nixos-enter while installing the boot loader).
_PHASE_LINES = (
    ("copying channel...", CHANNEL),
    ("building the configuration in ", BUILD),
    ("building the flake in ", BUILD),
    ("installing the boot loader...", BOOTLOADER),
    ("setting up /etc...", ETC),
    ("setting root password...", ROOT_PASSWORD),
    ("installation finished!", FINISHED),
)

# nixos-install's own refusals are not "error:" lines but are the error:
# (prefix, a word the line must also hold).
_REFUSALS = (
    ("mount point ", "doesn't exist"),
    ("path ", "should have permissions"),
    ("configuration file ", "doesn't exist"),
    ("Please specify the name", "NixOS configuration"),
    ("Setting a root password failed", "error"),
)

# First characters of every line _one acts on; anything else is skipped at once.
_HEADS = frozenset("cbtTeispPmS/")

MAX_ERRORS = 50
STORE_DIR = "/nix/store/"
_HASH_LEN = 32


def store_name(path: str) -> str:
    """'/nix/store/<hash>-hello-2.12.drv' -> 'hello-2.12'."""
    base = path.rsplit("/", 1)[-1]
    if len(base) > _HASH_LEN and base[_HASH_LEN] == "-":
        base = base[_HASH_LEN + 1 :]
    if base.endswith(".drv"):
        base = base[:-4]
    return base


@dataclass
class Progress:
    """What the install is doing, from the lines seen so far."""

    phase: str = STARTING
    phases: list[str] = field(default_factory=lambda: [STARTING])
    fetch_total: int = 0
    fetch_done: int = 0
    build_total: int = 0
    build_done: int = 0
    download_mib: float = 0.0
    unpacked_mib: float = 0.0
    last_error: str | None = None
    error_phase: str | None = None
    # Nix's first error is usually the cause ("builder for ... failed"); the
    # last one the consequence ("1 dependencies of derivation ... failed").
    errors: list[str] = field(default_factory=list)
    lines: int = 0
    run_number: int = 1  # which run of nixos-install this is (1, then 2 after a Retry, ...)
    returncode: int | None = None  # its exit code once it ended (negative: killed by that signal)
    started: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    _current: str = ""  # the raw store path; named lazily, the UI asks ~30x/s
    _expected: bool = False  # the totals are the dry run's, until Nix announces its own

    # -- reading --------------------------------------------------------------
    def feed(self, line: str) -> None:
        self.lines += 1
        self._one(line)

    def feed_lines(self, lines: list[str]) -> None:
        """The same as feed() for each line, at a fraction of the cost per line.

        The bulk of an install's output is "copying path" lines: they are
        counted inline; any other line that could matter goes through _one,
        after the pending copies, so the order-dependent bits (the current
        item, the phase an error happened in) come out the same.
        """
        self.lines += len(lines)
        copied, last = 0, None
        one = self._one
        for line in lines:
            if line.startswith("copying path '"):
                copied += 1
                last = line
            elif line and line[0] in _HEADS:
                if last is not None:
                    self._copied(copied, last)
                    copied, last = 0, None
                one(line)
        if last is not None:
            self._copied(copied, last)

    def _copied(self, count: int, last: str) -> None:
        self.fetch_done += count
        end = last.find("'", 14)
        self._current = last[14:end] if end > 0 else last[14:]

    def _one(self, line: str) -> None:
        if not line:
            return
        head = line[0]
        if head == "c":
            if line.startswith("copying path '"):
                end = line.find("'", 14)
                self.fetch_done += 1
                self._current = line[14:end] if end > 0 else line[14:]
            elif line.startswith("copying channel..."):
                self._enter(CHANNEL)
            else:
                self._refusal(line)
        elif head == "b":
            if line.startswith("building '"):
                end = line.find("'", 10)
                self.build_done += 1
                self._current = line[10:end] if end > 0 else line[10:]
            elif line.startswith(("building the configuration in ", "building the flake in ")):
                self._enter(BUILD)
        elif head in "tT":
            if line.startswith(("th", "Th")):
                self._announcement(line)
        elif head == "e":
            if line.startswith("error:"):
                self._error(line)
        elif head in "ispPmS":
            for prefix, phase in _PHASE_LINES:
                if line.startswith(prefix):
                    self._enter(phase)
                    return
            self._refusal(line)
        elif head == "/":
            # "$0: ..." lines: the script names itself by its store path.
            if "nixos-install: " in line:
                self._error(line)

    def expect(self, fetch: int, build: int, download_mib: float, unpacked_mib: float) -> None:
        """The totals the pre-flight's dry run found (installer.nixos.dryrun), shown
        until nixos-install's Nix announces its own, which then replace them."""
        self.fetch_total, self.build_total = fetch, build
        self.download_mib, self.unpacked_mib = download_mib, unpacked_mib
        self._expected = True

    def _announcement(self, line: str) -> None:
        if self._expected and line.endswith(("will be built:", "unpacked):")):
            self._expected = False  # Nix's own counts from here on, added up as it announces them
            self.fetch_total = self.build_total = 0
            self.download_mib = self.unpacked_mib = 0.0
        if line.endswith("will be built:"):
            match = BUILD_ANNOUNCED.match(line)
            if match:
                self.build_total += int(match.group(1) or 1)
        elif " will be fetched (" in line:
            match = FETCH_ANNOUNCED.match(line)
            if match:
                self.fetch_total += int(match.group(1) or 1)
                self.download_mib += mib(match.group(2), match.group(3))
                self.unpacked_mib += mib(match.group(4), match.group(5))

    def _refusal(self, line: str) -> None:
        for prefix, word in _REFUSALS:
            if line.startswith(prefix) and word in line:
                self._error(line)
                return

    def _enter(self, phase: str) -> None:
        if phase != self.phase:
            self.phase = phase
            self.phases.append(phase)
        if phase == FINISHED:
            self.finished_at = time.monotonic()

    def _error(self, line: str) -> None:
        self.last_error = line
        self.error_phase = self.phase
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(line)

    @property
    def first_error(self) -> str | None:
        return self.errors[0] if self.errors else None

    # -- what the UI shows ----------------------------------------------------
    @property
    def current(self) -> str:
        """The item being fetched or built, without its hash."""
        return store_name(self._current) if self._current else ""

    @property
    def done(self) -> int:
        return self.fetch_done + self.build_done

    @property
    def total(self) -> int:
        return self.fetch_total + self.build_total

    @property
    def fraction(self) -> float | None:
        """done/total of the items Nix announced; None when it announced none."""
        total = self.total
        if not total:
            return None
        # Nix may copy an item it did not announce (a flake input, say):
        # the bar stays full rather than past its end.
        return min(self.done, total) / total

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started

    @property
    def phase_title(self) -> str:
        return PHASE_TITLES.get(self.phase, self.phase)

    def summary(self) -> str:
        """One plain line: phase, counts, MiB, elapsed; what the CLI prints."""
        parts = [self.phase_title]
        if self.fetch_total or self.fetch_done:
            parts.append(f"fetched {self.fetch_done}/{self.fetch_total} paths ({self.download_mib:.1f} MiB)")
        if self.build_total or self.build_done:
            parts.append(f"built {self.build_done}/{self.build_total} derivations")
        parts.append(format_elapsed(self.elapsed))
        return ", ".join(parts)


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
