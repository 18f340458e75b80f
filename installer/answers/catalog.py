"""The lists a person picks from: console keymaps, locales, timezones, xkb layouts.

Read lazily from files shipped in installer/data (so validation gives the
same answer on every machine) and cached; the running system's own keymaps,
when it has a kbd keymap directory, are added to the shipped list. The
timezones and the countries they are in come from the tz database the
zoneinfo module reads (the system's, else the tzdata package).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import zoneinfo
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"  # installer/data

# Where kbd keeps keymaps on the NixOS ISO (its console module links kbd's data
# to /etc/kbd too) and on other distributions.
KEYMAP_DIRS = ("/run/current-system/sw/share/keymaps", "/etc/kbd/keymaps", "/usr/share/keymaps",
               "/usr/share/kbd/keymaps")


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


def _tz_table(name: str) -> list[list[str]]:
    """A tab-separated table of the tz database (zone.tab, iso3166.tab), from
    where zoneinfo looks first: its TZPATH, then the tzdata package."""
    for top in zoneinfo.TZPATH:
        path = Path(top) / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:
        try:
            text = importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError):
            return []
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def timezone_places() -> dict[str, str]:
    """Every timezone -> where it is, e.g. "Europe/Berlin" -> "Germany, most of
    Germany", so a search for the country finds its zones ("" when the tz
    database names no country, as for UTC)."""
    countries = {row[0]: row[1] for row in _tz_table("iso3166.tab") if len(row) >= 2}
    places: dict[str, str] = {}
    for row in _tz_table("zone.tab"):
        if len(row) >= 3:
            country = countries.get(row[0], row[0])
            places[row[2]] = f"{country}, {row[3]}" if len(row) >= 4 and row[3] else country
    return {zone: places.get(zone, "") for zone in timezones()}


# zone.tab lists most countries' main zone first, but a few of the countries
# with several zones start from one edge (CA with St_Johns, BR with Noronha):
# for those, the capital's zone, where most people's clocks are.
CAPITAL_ZONES = {"AU": "Australia/Sydney", "BR": "America/Sao_Paulo", "CA": "America/Toronto",
                 "RU": "Europe/Moscow", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent"}


@cache
def country_zones() -> dict[str, str]:
    """Country code -> the zone most of its people live in, e.g. "DE" -> "Europe/Berlin"."""
    zones: dict[str, str] = {}
    for row in _tz_table("zone.tab"):
        if len(row) >= 3:
            zones.setdefault(row[0], row[2])
    known = set(timezones())
    zones.update({country: zone for country, zone in CAPITAL_ZONES.items() if zone in known})
    return zones


# xkb layouts named otherwise than their country's ISO 3166 code.
XKB_COUNTRY = {"gb": "GB", "uk": "GB", "latam": "MX", "br": "BR", "dk": "DK", "se": "SE", "ee": "EE", "jp": "JP"}


def country_timezone(locale: str, keymap: str, defaults: tuple[str, str]) -> str | None:
    """The timezone of the country the locale (or else the keymap) names, or None.

    A newcomer who picks de_DE.UTF-8 lives in Europe/Berlin more often than in
    UTC. Only what the person chose counts: a locale and keymap still at their
    defaults (`defaults`: en_US.UTF-8, us) name no country, and nothing follows."""
    default_locale, default_keymap = defaults
    country = ""
    if locale != default_locale:
        territory = locale.split(".", 1)[0].split("@", 1)[0].partition("_")[2]
        country = territory.upper()
    elif keymap != default_keymap:
        layout = (xkb_for_keymap(keymap) or ("", ""))[0].split(",")[0]
        country = XKB_COUNTRY.get(layout, layout.upper())
    return country_zones().get(country) if country else None


@cache
def keymap_xkb() -> dict[str, tuple[str, str]]:
    """Console keymap -> (xkb layout, variant) that type the same (systemd's kbd-model-map)."""
    table: dict[str, tuple[str, str]] = {}
    for line in _lines("keymap_xkb.tsv"):
        keymap, layout, variant = (line.split("\t") + ["", ""])[:3]
        table.setdefault(keymap, (layout, variant))
    return table


def xkb_for_keymap(keymap: str) -> tuple[str, str] | None:
    """The desktop layout and variant that follow a console keymap, or None
    when there is none to follow: the keymap's row of kbd-model-map, else an
    xkb layout of the keymap's name or its first part ("pl" -> "pl", "de-mac" -> "de")."""
    if keymap in keymap_xkb():
        return keymap_xkb()[keymap]
    for name in (keymap, keymap.replace("_", "-").replace(".", "-").split("-")[0]):
        if name in xkb_layouts():
            return name, ""
    return None


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
    name typed exactly, names starting with it, names holding it, then
    descriptions with a word starting with it ("germany" finds Europe/Berlin,
    "utc" not Dutch St Maarten). Case, and "_" against a space, do not
    matter. Empty text finds every entry, in order."""
    needle = _searchable(text.strip())
    if not needle:
        return list(entries)
    word = re.compile(r"\b" + re.escape(needle))
    exact, prefix, inside, described = [], [], [], []
    for name, description in entries.items():
        key = _searchable(name)
        if key == needle:
            exact.append(name)
        elif key.startswith(needle):
            prefix.append(name)
        elif needle in key:
            inside.append(name)
        elif description and word.search(_searchable(description)):
            described.append(name)
    return exact + prefix + inside + described
