"""Ask the real Nix (nix-instantiate) about generated text, many questions per call.

Starting nix-instantiate costs tens of milliseconds (the 2.26 shim adds about
10 ms to Nix's own start: a mount namespace, tests/newnix/run); parsing and evaluating is
fast. So the tests hand over whole batches: `parse_files` parses many files in
one call, `eval_json` evaluates a list of expressions as one Nix list. When a
batch fails, it is split until the failing piece is found, and the error names
it, so a batch never hides which input broke.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from conftest import CI_EXAMPLES, in_ci
from installer.nixos.nixlit import nix, nix_string
from nixroot import nix_bin_dir

# Nix 2.26 (tests/nixroot.py); its directory holds the `nix` shim too.
NIX_INSTANTIATE = str(nix_bin_dir() / "nix-instantiate")

# Arguments a NixOS module gets, stubbed: `lib` functions that only mark
# priorities return their value, `config` holds what the templates read, and
# `modulesPath` is a path that is never read (imports are only turned into
# strings). `pkgs` is built per batch by `pkgs_stub`.
STUB_LIB = """{
  mkDefault = x: x; mkForce = x: x; mkOverride = _: x: x; mkBefore = x: x; mkAfter = x: x;
  mkIf = c: x: if c then x else { }; mkMerge = xs: xs; optionals = c: xs: if c then xs else [ ];
}"""
STUB_CONFIG = "{ hardware.enableRedistributableFirmware = false; }"
PKG_MARK = "stub package path"  # never a Nix identifier, so no package name collides with it


class NixError(AssertionError):
    """Nix refused an input; the message holds Nix's error and the input."""


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NIX_INSTANTIATE, *args], capture_output=True, text=True, encoding="utf-8")


def parse_files(paths: list[Path]) -> None:
    """Raise NixError naming the first file that does not parse."""
    if not paths:
        return
    done = _run(["--parse", *map(str, paths)])
    if done.returncode == 0:
        return
    if len(paths) == 1:
        raise NixError(f"{paths[0]} does not parse:\n{done.stderr}\n--- file ---\n{paths[0].read_text()}")
    half = len(paths) // 2
    parse_files(paths[:half])
    parse_files(paths[half:])
    raise NixError(f"nix-instantiate --parse failed on the batch but on no single file:\n{done.stderr}")


def parse_texts(texts: list[str]) -> None:
    """Parse each text as a .nix file of its own (one nix-instantiate call when all parse)."""
    with tempfile.TemporaryDirectory(prefix="nixparse-") as tmp:
        paths = []
        for i, text in enumerate(texts):
            path = Path(tmp) / f"f{i}.nix"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        parse_files(paths)


def eval_json(exprs: list[str], *, prelude: str = "") -> list[object]:
    """The JSON value of every expression, evaluated strictly in one batch.

    `prelude` is a `let` body shared by all expressions, e.g. "lib = ...;".
    """
    if not exprs:
        return []
    with tempfile.TemporaryDirectory(prefix="nixeval-") as tmp:
        return _eval_batch(Path(tmp), exprs, prelude)


def _eval_batch(tmp: Path, exprs: list[str], prelude: str) -> list[object]:
    body = "[\n" + "\n".join(f"({e})" for e in exprs) + "\n]"
    text = f"let\n{prelude}\nin\n{body}\n" if prelude else body
    path = tmp / f"batch{len(exprs)}-{abs(hash(text))}.nix"
    path.write_text(text, encoding="utf-8")
    done = _run(["--eval", "--strict", "--json", str(path)])
    if done.returncode == 0:
        values = json.loads(done.stdout)
        assert len(values) == len(exprs)
        return values
    if len(exprs) == 1:
        raise NixError(f"Nix could not evaluate:\n{exprs[0][:4000]}\n--- error ---\n{done.stderr[:4000]}")
    half = len(exprs) // 2
    _eval_batch(tmp, exprs[:half], prelude)
    _eval_batch(tmp, exprs[half:], prelude)
    raise NixError(f"the batch failed but no single expression did:\n{done.stderr[:4000]}")


def pkgs_stub(package_paths: list[str]) -> str:
    """A `pkgs` where every listed attribute path exists and knows its own path.

    `pkgs.python3Packages.requests` evaluates to a set whose `PKG_MARK`
    attribute is "python3Packages.requests", so a test can map the rendered
    systemPackages back to the names it put in.
    """
    tree: dict = {}
    for path in package_paths:
        node = tree
        parts = path.split(".")
        for i, part in enumerate(parts):
            node = node.setdefault(part, {})
            if i == len(parts) - 1:
                node[PKG_MARK] = path
    return nix(tree)


def module_args(package_paths: list[str] = ()) -> str:
    """The argument set a module is called with, as a Nix expression."""
    return (
        f"{{ lib = {STUB_LIB}; config = {STUB_CONFIG}; pkgs = {pkgs_stub(list(package_paths))};"
        " modulesPath = /stub; }"
    )


def module_value(path: Path, args: str = "args") -> str:
    """An expression for the attribute set a module file returns, made JSON-safe.

    `imports` hold paths, which --json would try to copy into the store, so
    they become strings; packages become the attribute paths they were named by.
    """
    m = f"(import {nix_path(path)} {args})"
    return (
        f"let m = {m}; in removeAttrs m [ \"imports\" ] // {{ imports = map toString (m.imports or [ ]); }}"
        f" // (if m ? environment then {{ environment = m.environment // {{ systemPackages ="
        f" map (p: p.{nix_string(PKG_MARK)}) (m.environment.systemPackages or [ ]); }}; }} else {{ }})"
    )


def nix_path(path: Path) -> str:
    """A Nix path literal for an absolute file path (the temp dirs tests use are plain)."""
    text = str(path.resolve())
    if not all(c.isalnum() or c in "/._-+" for c in text):
        return f"(/. + {nix_string(text)})"
    return text


def collect(strategy, **settings_kw) -> list:
    """Draw examples from a hypothesis strategy into a list, for one batched Nix call.

    Hypothesis runs as many examples as the loaded profile says (2000 in CI);
    the caller evaluates them all at once and reports the smallest failure.
    """
    from hypothesis import given, settings

    found: list = []

    @settings(**settings_kw)
    @given(strategy)
    def gather(value):
        found.append(value)

    gather()
    wanted = settings_kw.get("max_examples", settings.default.max_examples)
    # Hypothesis stops early only when it runs out of distinct inputs; none of
    # these strategies should, so a short run means the property was not
    # tested. CI holds the full count (the issue asks for 2,000 each); a
    # developer's quick run may fall a little short.
    if in_ci() and "max_examples" not in settings_kw:
        # The profile conftest loads; a process that skipped it would test 100 and say nothing.
        assert wanted >= CI_EXAMPLES, f"CI=true but hypothesis runs {wanted} examples, not {CI_EXAMPLES}"
    need = wanted if in_ci() else int(0.9 * wanted)
    assert len(found) >= need, f"only {len(found)} of {wanted} examples were generated (at least {need} needed)"
    return found


def smallest_mismatches(pairs: list[tuple[object, object]], key=lambda p: len(repr(p[0]))) -> list:
    """The (expected, got) pairs that differ, smallest input first."""
    return sorted(((want, got) for want, got in pairs if want != got), key=key)
