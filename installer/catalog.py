"""The lists a person picks from: console keymaps, locales, timezones, xkb layouts.

Read lazily from files shipped in installer/data (so validation gives the
same answer on every machine) and cached; the running system's own keymaps,
when it has a kbd keymap directory, are added to the shipped list.
"""

from __future__ import annotations

import os
import zoneinfo
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

# Where kbd keeps keymaps on the NixOS ISO and on other distributions.
KEYMAP_DIRS = ("/run/current-system/sw/share/keymaps", "/usr/share/keymaps", "/usr/share/kbd/keymaps")


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@cache
def keymaps() -> tuple[str, ...]:
    names = set(_lines("keymaps.txt"))
    for top in KEYMAP_DIRS:
        for _dir, _subdirs, files in os.walk(top):
            names.update(f.split(".map")[0] for f in files if ".map" in f)
    return tuple(sorted(names, key=str.lower))


@cache
def locales() -> tuple[str, ...]:
    return tuple(_lines("locales.txt"))


@cache
def timezones() -> tuple[str, ...]:
    zones = {z for z in zoneinfo.available_timezones() if not z.startswith(("posix/", "right/"))}
    return tuple(sorted(zones | {"UTC"}))


@cache
def xkb_layouts() -> dict[str, str]:
    """Layout name -> description, e.g. "de" -> "German"."""
    return dict(line.split("\t", 1) for line in _lines("xkb_layouts.tsv"))


@cache
def xkb_variants() -> dict[str, dict[str, str]]:
    """Layout -> {variant -> description}."""
    out: dict[str, dict[str, str]] = {}
    for line in _lines("xkb_variants.tsv"):
        layout, variant, description = line.split("\t", 2)
        out.setdefault(layout, {})[variant] = description
    return out


def _searchable(text: str) -> str:
    # "America/New_York" is found by "new york" as well as by "new_york".
    return text.lower().replace("_", " ")


def matching(entries: dict[str, str], text: str) -> list[str]:
    """The entries (name -> description) that `text` finds, best first: the
    name typed exactly, names starting with it, then names or descriptions
    holding it. Case, and "_" against a space, do not matter. Empty text finds
    every entry, in order."""
    needle = _searchable(text.strip())
    if not needle:
        return list(entries)
    exact, prefix, inside = [], [], []
    for name, description in entries.items():
        key = _searchable(name)
        if key == needle:
            exact.append(name)
        elif key.startswith(needle):
            prefix.append(name)
        elif needle in key or needle in _searchable(description):
            inside.append(name)
    return exact + prefix + inside
