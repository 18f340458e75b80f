"""The Nix-literal filter: exact round trips through the real nix-instantiate."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from installer.nixos.nixlit import is_identifier, nix, nix_attr_name, nix_attr_path, nix_string
from nixeval import collect, eval_json, parse_texts, smallest_mismatches

pytestmark = pytest.mark.nix

# Everything a text file can hold except NUL; lone surrogates (category Cs)
# cannot be encoded at all.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
# The sequences that mean something inside Nix strings, mixed in often so
# that they also meet each other ("$${", "''${", "\\${" ...).
TRICKY = st.sampled_from(["${", "$", "{", "}", "''", "'", "\\", '"', "\n", "\t", "\r", "\r\n", "''${", "''\\", "$${", "\\$", "#", "/*", "*/"])
TEXT = st.lists(st.one_of(TRICKY, st.text(CHARS, max_size=12)), max_size=12).map("".join)
INT64 = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)


def test_scalars():
    assert nix(None) == "null"
    assert nix(True) == "true"
    assert nix(False) == "false"
    assert nix(0) == "0"
    assert nix(42) == "42"
    assert nix(-3) == "(-3)"
    assert nix("plain") == '"plain"'


def test_collections():
    assert nix([]) == "[ ]"
    assert nix(()) == "[ ]"
    assert nix({}) == "{ }"
    assert nix(["a", 1, True]) == '[ "a" 1 true ]'
    assert nix([1, -2]) == "[ 1 (-2) ]"
    assert nix({"a": 1, "foo-bar": [None], "foo.bar": "x"}) == '{ a = 1; foo-bar = [ null ]; "foo.bar" = "x"; }'


def test_string_escapes():
    assert nix_string('say "hi"') == r'"say \"hi\""'
    assert nix_string("back\\slash") == r'"back\\slash"'
    assert nix_string("${pkgs.evil}") == r'"\${pkgs.evil}"'
    assert nix_string("cost: $5") == '"cost: $5"'  # a lone $ needs no escape
    assert nix_string("a\nb\tc\rd") == r'"a\nb\tc\rd"'
    assert nix_string("Zoë 😀 ünïcode") == '"Zoë 😀 ünïcode"'


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        ("foo", "foo"),
        ("foo-bar", "foo-bar"),
        ("_x'1", "_x'1"),
        ("foo.bar", '"foo.bar"'),
        ("1x", '"1x"'),
        ("", '""'),
        ("/", '"/"'),
        ("/home", '"/home"'),
        ("with", '"with"'),
        ("or", '"or"'),
        ("in", '"in"'),
        ("a b", '"a b"'),
        ("${x}", r'"\${x}"'),
    ],
)
def test_attr_names(name, rendered):
    assert nix_attr_name(name) == rendered
    assert is_identifier(name) == (rendered == name)


def test_attr_paths_quote_each_component():
    assert nix_attr_path("python3Packages.requests", "pkgs") == "pkgs.python3Packages.requests"
    assert nix_attr_path("if.1x", "pkgs") == 'pkgs."if"."1x"'
    assert nix_attr_path("a", "") == "a"


@pytest.mark.parametrize("bad", ["a\0b", "\0"])
def test_nul_is_refused(bad):
    with pytest.raises(ValueError, match="NUL"):
        nix(bad)
    with pytest.raises(ValueError, match="NUL"):
        nix_attr_name(bad)


def test_lone_surrogate_is_refused():
    with pytest.raises(ValueError, match="Unicode"):
        nix("a\ud800b")


@pytest.mark.parametrize("value", [1.5, object(), b"bytes", {1: "x"}])
def test_unsupported_values_are_refused(value):
    with pytest.raises(TypeError):
        nix(value)


TRICKY_STRINGS = [
    "",
    "$",
    "${",
    "$${",
    "$$${x}",
    "\\${x}",
    "\\\\${x}",
    "''",
    "''${x}",
    "''\\n",
    '"',
    '\\"',
    "a$",
    "$\\",
    '$"',
    "\r\n\r",
    "\x01\x1b[31m\x7f",
    "\u2028\u2029\ufeff",
    "Zoë 😀 \U0010ffff",
    "# not a comment */ /* nor this",
]


def test_tricky_strings_round_trip():
    assert eval_json([nix(s) for s in TRICKY_STRINGS]) == TRICKY_STRINGS


def test_attr_names_round_trip():
    names = ["foo", "foo-bar", "foo.bar", "1x", "", "with", "or", "${x}", "a\nb", "Zoë"]
    exprs = [f"builtins.attrNames {{ {nix_attr_name(n)} = 1; }}" for n in names]
    assert eval_json(exprs) == [[n] for n in names]


def test_property_text_round_trips_exactly():
    """(a) nix(text) evaluates back to exactly `text`, for arbitrary Unicode without NUL.

    The same texts, used as attribute names, come back from builtins.attrNames.
    """
    texts = collect(TEXT)
    exprs = [nix(t) for t in texts] + [f"builtins.attrNames {{ {nix_attr_name(t)} = null; }}" for t in texts]
    got = eval_json(exprs)
    n = len(texts)
    assert smallest_mismatches(list(zip(texts, got[:n]))) == []
    assert smallest_mismatches([([t], g) for t, g in zip(texts, got[n:])]) == []


SHORT_TEXT = TRICKY | st.text(CHARS, max_size=8)
VALUES = st.recursive(
    st.none() | st.booleans() | INT64 | SHORT_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXT, inner, max_size=4),
    max_leaves=6,
)


def test_property_values_round_trip():
    """Nested lists and attribute sets come back as the same JSON value."""
    values = collect(VALUES)
    got = eval_json([nix(v) for v in values])
    assert smallest_mismatches(list(zip(values, got))) == []


def test_literals_parse_as_files():
    parse_texts([nix(s) for s in TRICKY_STRINGS] + [nix({"a": [1, {"b.c": None}]})])


def test_round_trip_check_can_fail():
    """The comparison is real: a naive literal (no `${` escape) does not survive."""
    naive = '"' + "${builtins.toString 1}" + '"'
    assert eval_json([naive]) == ["1"]  # interpolated, not the text
    assert nix("${builtins.toString 1}") != naive


# -- the strength of the property tests ----------------------------------------------


@pytest.mark.parametrize(("ci", "examples"), [("true", 2000), ("1", 2000), ("false", 200), (None, 200)])
def test_ci_selects_the_full_strength_profile(ci, examples):
    """`make test` under CI (CI=true) runs 2,000 examples per property; xdist workers load conftest alike."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci is not None else {})
    done = subprocess.run(
        [sys.executable, "-c", "import conftest; from hypothesis import settings; print(settings.default.max_examples)"],
        cwd=Path(__file__).parent, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == examples


@pytest.mark.parametrize("ci", [True, False])
def test_collect_refuses_a_short_run(monkeypatch, ci):
    """95 distinct values for 100 wanted: enough for a developer's run (90%), not for CI (all)."""
    import nixeval

    monkeypatch.setattr(nixeval, "in_ci", lambda: ci)
    if ci:
        with pytest.raises(AssertionError, match="only 95 of 100"):
            collect(st.integers(0, 94), max_examples=100, database=None)
    else:
        assert len(collect(st.integers(0, 94), max_examples=100, database=None)) == 95
    with pytest.raises(AssertionError, match="only 2 of 100"):
        collect(st.booleans(), max_examples=100, database=None)
