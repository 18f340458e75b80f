"""The suite's Nix is 2.26 from the Debian 13 root, and it sees the host's files where they are."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from nixroot import BIN, RECIPE, RECIPE_COMMON, nix_bin_dir, root_dir

from installer.nixos import nixcheck

pytestmark = pytest.mark.skipif(bool(os.environ.get("NIXOS_TUI_NIX_BIN")),
                                reason="NIXOS_TUI_NIX_BIN replaces the shims (the flake's checks)")


def nix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(nix_bin_dir() / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, (args, done.stderr)
    return done


def test_every_shim_is_nix_2_26():
    assert nix("nix", "--version").stdout.strip() == "nix (Nix) 2.26.3"
    assert nix("nix-instantiate", "--version").stdout.strip() == "nix-instantiate (Nix) 2.26.3"
    for shim in BIN.iterdir():
        assert shim.resolve() == (BIN.parent / "run").resolve(), shim


def test_evaluations_are_real():
    # builtins.currentTime changes between calls: nothing is canned.
    first = int(nix("nix-instantiate", "--eval", "-E", "builtins.currentTime").stdout)
    assert first > 1_700_000_000
    value = json.loads(nix("nix-instantiate", "--eval", "--strict", "--json", "-E",
                           "{ v = builtins.nixVersion; l = builtins.langVersion; xs = map (x: x * 2) [ 1 2 3 ]; }").stdout)
    assert value == {"v": "2.26.3", "l": 6, "xs": [2, 4, 6]}


def test_host_paths_and_the_working_directory_are_visible(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.nix").write_text("{ x = 1 + 2; }\n")
    assert nix("nix-instantiate", "--parse", str(tmp_path / "sub" / "a.nix")).stdout.strip() == "{ x = (1 + 2); }"
    assert nix("nix-instantiate", "--eval", "-E", "(import ./sub/a.nix).x", cwd=tmp_path).stdout.strip() == "3"
    # Relative to the working directory, as a caller would pass it.
    assert nix("nix-instantiate", "--parse", "sub/a.nix", cwd=tmp_path).returncode == 0


def test_a_parse_error_is_nix_2_26s_own(tmp_path):
    (tmp_path / "bad.nix").write_text("{ x = ; }\n")
    done = subprocess.run([str(nix_bin_dir() / "nix-instantiate"), "--parse", str(tmp_path / "bad.nix")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: syntax error, unexpected ';'"), done.stderr
    assert f"at {tmp_path}/bad.nix:1:7" in done.stderr, done.stderr


def test_a_path_flake_shows_and_evaluates(tmp_path):
    (tmp_path / "flake.nix").write_text(
        '{ outputs = { self }: { lib.greeting = "hi"; packages.x86_64-linux.default = derivation {'
        ' name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; }; }; }\n')
    shown = json.loads(nix("nix", "flake", "show", "--offline", "--json", f"path:{tmp_path}").stdout)
    assert shown["packages"]["x86_64-linux"]["default"]["name"] == "x"
    assert nix("nix", "eval", "--offline", "--raw", f"path:{tmp_path}#lib.greeting").stdout == "hi"


def test_the_suite_and_the_installer_meet_the_shims_first():
    assert Path(shutil.which("nix-instantiate")) == BIN / "nix-instantiate"
    assert Path(shutil.which("nix")) == BIN / "nix"
    # The installer's own parse check, started from the tests, runs 2.26: only
    # a Nix that knows the pipe operator (2.24+) names it; 2.8 says
    # "syntax error, unexpected invalid token, expecting end of file".
    nixcheck.parse_error.cache_clear()
    assert nixcheck.parse_problem("x |> f").startswith("experimental Nix feature 'pipe-operators' is disabled")


def test_the_root_is_keyed_by_its_recipe():
    # The shims find the root by the same key (sha256 of build-root.sh and what it sources).
    key = subprocess.run(f"cat {RECIPE} {RECIPE_COMMON} | sha256sum | cut -c1-16", shell=True,
                         capture_output=True, text=True).stdout
    assert root_dir().name == f"root-{key.strip()}"
    assert (root_dir() / "done").is_file()
    assert os.access(root_dir() / "root" / "usr" / "bin" / "nix-instantiate", os.X_OK)
