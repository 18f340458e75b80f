"""The engine's lists and their search: keymap -> desktop layout, timezone places."""

from __future__ import annotations

import pytest

from installer.answers import catalog


def test_every_keymap_row_names_a_known_layout_and_variant():
    table = catalog.keymap_xkb()
    assert len(table) > 60
    for keymap, (layout, variant) in table.items():
        layouts = layout.split(",")
        assert all(name in catalog.xkb_layouts() for name in layouts), keymap
        known = {v for name in layouts for v in catalog.xkb_variants().get(name, {})}
        assert all(not v or v in known for v in variant.split(",")), keymap


def test_the_layout_for_a_keymap():
    assert catalog.xkb_for_keymap("de-latin1") == ("de", "")
    assert catalog.xkb_for_keymap("de-latin1-nodeadkeys") == ("de", "nodeadkeys")
    assert catalog.xkb_for_keymap("uk") == ("gb", "")
    assert catalog.xkb_for_keymap("sg") == ("ch", "de_nodeadkeys")
    assert catalog.xkb_for_keymap("pl") == ("pl", "")  # not in the table: a layout of that name
    assert catalog.xkb_for_keymap("de-mac") == ("de", "")  # the name's first part
    assert catalog.xkb_for_keymap("amiga-de") is None
    assert catalog.xkb_for_keymap("") is None


def test_timezone_places_name_the_country():
    places = catalog.timezone_places()
    assert set(places) == set(catalog.timezones())
    assert places["Europe/Berlin"].startswith("Germany")
    assert places["America/New_York"].startswith("United States")
    assert places["UTC"] == ""


def test_matching_puts_exact_then_prefix_then_inside():
    entries = {"de": "German", "de_CH": "", "at": "German (Austria)", "America/New_York": "United States"}
    assert catalog.matching(entries, "de") == ["de", "de_CH"]
    assert catalog.matching(entries, "GERMAN") == ["de", "at"]
    assert catalog.matching(entries, "new york") == ["America/New_York"]
    assert catalog.matching(entries, "New_York") == ["America/New_York"]
    assert catalog.matching(entries, "  ") == list(entries)
    assert catalog.matching(entries, "erman") == []  # a description is searched from a word's start
    assert catalog.matching(entries, "states") == ["America/New_York"]
    places = catalog.timezone_places()
    assert catalog.matching(places, "utc")[:2] == ["UTC", "Etc/UTC"]
    assert catalog.matching(places, "germany")[0] == "Europe/Berlin"


@pytest.mark.root
def test_keymaps_in_etc_kbd_are_offered(tmp_path):
    """NixOS's console module puts kbd's data in /etc/kbd: a keymap only there is
    offered. /etc gets an overlay holding it, in a mount namespace of the child's own."""
    import os
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    upper, work = tmp_path / "upper", tmp_path / "work"
    (upper / "kbd/keymaps/i386/qwerty").mkdir(parents=True)
    (upper / "kbd/keymaps/i386/qwerty/zz-only-in-etc-kbd.map.gz").write_bytes(b"")
    work.mkdir()
    script = ("mount -t overlay overlay -o lowerdir=/etc,upperdir=$1,workdir=$2 /etc && exec \"$3\" -c "
              "'from installer.answers.catalog import keymaps; print(\"zz-only-in-etc-kbd\" in keymaps())'")
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(upper),
                           str(work), sys.executable], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
