"""flake.nix and nix/: they parse, and their outputs evaluate with Nix 2.26 against
the nixpkgs stand-in (tests/standins/nixpkgs-flake), which offers exactly the
attributes tests/data/nixpkgs-25.11/package-attrs.txt lists.

No nixpkgs checkout can be had here; the real build and the ISO are
exercised on a machine with network (`nix build .#iso`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT
from nixeval import NIX_INSTANTIATE, nix_path, parse_files

NIX = str(Path(NIX_INSTANTIATE).parent / "nix")
STANDIN = ROOT / "tests" / "standins" / "nixpkgs-flake"
ATTRS_FILE = ROOT / "tests" / "data" / "nixpkgs-25.11" / "package-attrs.txt"
FLAKE_FILES = ["flake.nix", "flake.lock", "nix", "pyproject.toml", "README.md", "installer", "screens", "templates"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def listed_attrs(text: str | None = None) -> list[str]:
    text = ATTRS_FILE.read_text() if text is None else text
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def flake_tree(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the flake's sources and of the stand-in, as `path:` flakes see them
    (a path flake copies its whole directory: no caches, no venv)."""
    top = tmp_path_factory.mktemp("flake")
    src, nixpkgs = top / "src", top / "nixpkgs"
    src.mkdir()
    for name in FLAKE_FILES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    shutil.copytree(ROOT / "tests", src / "tests", ignore=shutil.ignore_patterns("cache", "__pycache__", ".hypothesis"))
    shutil.copytree(STANDIN, nixpkgs)
    shutil.copy(ATTRS_FILE, nixpkgs / "package-attrs.txt")
    return src, nixpkgs


def nix_flake(tree: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    src, nixpkgs = tree
    return subprocess.run(
        [NIX, *[a.replace("SRC", f"path:{src}") for a in args],
         "--offline", "--no-write-lock-file", "--override-input", "nixpkgs", f"path:{nixpkgs}"],
        capture_output=True, text=True, cwd=src)


def flake_eval(tree, attr: str, apply: str | None = None):
    args = ["eval", "--json", f"SRC#{attr}"] + (["--apply", apply] if apply else [])
    done = nix_flake(tree, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def run_outputs(tmp_path: Path, expr: str, *, src: Path = ROOT, attrs_text: str | None = None):
    text = ATTRS_FILE.read_text() if attrs_text is None else attrs_text
    attrs = tmp_path / "package-attrs.txt"
    attrs.write_text(text)
    program = (f"let f = import {nix_path(ROOT / 'tests' / 'flake_eval.nix')} {{ src = {nix_path(src)};"
               f" standin = {nix_path(STANDIN)}; attrsText = builtins.readFile {nix_path(attrs)}; }}; in {expr}")
    return subprocess.run([NIX_INSTANTIATE, "--eval", "--strict", "--json", "--read-write-mode", "-E", program],
                          capture_output=True, text=True)


# Every output whose evaluation asks nixpkgs for something: the package, the
# dev shell, the checks and the ISO (its toplevel runs the module's hook).
ALL_OUTPUTS = ("[ f.packages.x86_64-linux.default.drvPath f.packages.aarch64-linux.default.drvPath"
               " f.devShells.x86_64-linux.default.drvPath f.checks.x86_64-linux.tests.drvPath"
               " f.packages.x86_64-linux.iso.drvPath ]")


def test_flake_files_parse():
    parse_files([ROOT / "flake.nix", *sorted((ROOT / "nix").glob("*.nix"))])


def test_the_lock_pins_nixos_25_11():
    lock = json.loads((ROOT / "flake.lock").read_text())
    node = lock["nodes"]["nixpkgs"]
    assert node["original"] == {"owner": "NixOS", "repo": "nixpkgs", "ref": "nixos-25.11", "type": "github"}
    assert re.fullmatch(r"[0-9a-f]{40}", node["locked"]["rev"])
    assert node["locked"]["narHash"].startswith("sha256-")
    assert 'inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";' in (ROOT / "flake.nix").read_text()


def test_flake_show_lists_every_output(flake_tree):
    done = nix_flake(flake_tree, "flake", "show", "--json", "--all-systems", "SRC")
    assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(done.stdout)
    name = f"{PYPROJECT['name']}-{PYPROJECT['version']}"
    for system in ("x86_64-linux", "aarch64-linux"):
        assert shown["packages"][system]["default"] == {"name": name, "type": "derivation"} | (
            {"description": PYPROJECT["description"]} if "description" in shown["packages"][system]["default"] else {})
        assert shown["apps"][system]["default"]["type"] == "app"
        assert shown["devShells"][system]["default"]["type"] == "derivation"
        assert shown["checks"][system]["tests"]["type"] == "derivation"
    assert shown["packages"]["x86_64-linux"]["iso"]["name"] == "nixos-minimal-25.11-x86_64-linux.iso"
    assert "iso" not in shown["packages"]["aarch64-linux"]
    assert shown["nixosModules"]["default"]["type"] == "nixos-module"
    assert shown["nixosConfigurations"]["iso"]["type"] == "nixos-configuration"


def test_the_package_is_the_project_with_its_tools(flake_tree):
    pkg = flake_eval(flake_tree, "packages.x86_64-linux.default", "p: { inherit (p) name pname version meta;"
                     " wrap = p.makeWrapperArgs; deps = map (d: d.pname) p.propagatedBuildInputs;"
                     " textual = (builtins.head p.propagatedBuildInputs).version; out = p.outPath; }")
    assert (pkg["pname"], pkg["version"]) == (PYPROJECT["name"], PYPROJECT["version"])
    assert pkg["meta"]["mainProgram"] == "nixos-tui-installer" == next(iter(tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["scripts"]))
    # Every runtime dependency of pyproject.toml, and nothing else.
    wanted = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower() for d in PYPROJECT["dependencies"]}
    assert set(pkg["deps"]) == wanted
    major, minor = (int(x) for x in pkg["textual"].split(".")[:2])
    assert (8, 2) <= (major, minor) < (9, 0)  # pyproject: textual>=8.2,<9
    flag, var, sep, path = pkg["wrap"]
    assert (flag, var, sep) == ("--suffix", "PATH", ":")
    assert [re.sub(r"^/nix/store/[a-z0-9]{32}-", "", p) for p in path.split(":")] == [
        f"{t}/bin" for t in ("parted", "gptfdisk", "dosfstools", "e2fsprogs", "btrfs-progs", "xfsprogs",
                             "cryptsetup", "util-linux", "kbd", "nixos-install-tools", "nixos-facter")]
    app = flake_eval(flake_tree, "apps.x86_64-linux.default.program")
    assert app == f"{pkg['out']}/bin/nixos-tui-installer"


def test_the_package_patches_a_line_that_exists():
    # nix/package.nix names libcrypt's file in installer/base/hashing.py with
    # --replace-fail; this is the line it replaces.
    text = (ROOT / "nix" / "package.nix").read_text()
    (old,) = re.findall(r"--replace-fail \\\n\s*'([^']+)'", text)
    assert old in (ROOT / "installer" / "base" / "hashing.py").read_text()


def test_the_module_and_the_iso(flake_tree):
    iso = flake_eval(flake_tree, "nixosConfigurations.iso", "c: { t = c._type;"
                     " opts = builtins.attrNames c.options.programs.nixos-tui-installer;"
                     " pkgs = map (p: p.name) c.config.environment.systemPackages;"
                     " hook = c.config.environment.loginShellInit; help = c.config.services.getty.helpLine;"
                     " user = c.config.services.getty.autologinUser; iso = c.config.system.build.isoImage.drvPath; }")
    assert iso["t"] == "configuration"
    assert iso["opts"] == ["autostart", "enable", "package"]
    assert iso["pkgs"] == [f"{PYPROJECT['name']}-{PYPROJECT['version']}"]
    assert iso["user"] == "nixos"
    assert '"$(tty)" = /dev/tty1' in iso["hook"] and '"$(id -un)" = nixos' in iso["hook"]
    assert "exec" not in iso["hook"]  # quitting returns to the login shell
    assert iso["help"].startswith('The "nixos" and "root" accounts') and "sudo nixos-tui-installer" in iso["help"]


def module_eval(tmp_path, extra: str, expr: str):
    attrs = tmp_path / "package-attrs.txt"
    attrs.write_text(ATTRS_FILE.read_text())
    program = (f"let np = import {nix_path(STANDIN / 'default.nix')} {{ attrsText = builtins.readFile {nix_path(attrs)}; }};"
               f" s = np.lib.nixosSystem {{ modules = [ {nix_path(ROOT / 'nix' / 'module.nix')}"
               f" {{ nixpkgs.hostPlatform = \"x86_64-linux\"; }} {extra} ]; }}; in {expr}")
    return subprocess.run([NIX_INSTANTIATE, "--eval", "--strict", "--json", "--read-write-mode", "-E", program],
                          capture_output=True, text=True)


def test_the_module_alone_adds_the_package_only_when_enabled(tmp_path):
    off = module_eval(tmp_path, "{ }", "map (p: p.name) s.config.environment.systemPackages")
    on = module_eval(tmp_path, "{ programs.nixos-tui-installer.enable = true; }",
                      "[ (map (p: p.name) s.config.environment.systemPackages) s.config.environment.loginShellInit ]")
    assert off.returncode == 0 and json.loads(off.stdout) == [], off.stderr
    assert on.returncode == 0, on.stderr[-3000:]
    # The default package is built from nix/package.nix; no autostart hook.
    assert json.loads(on.stdout) == [[f"{PYPROJECT['name']}-{PYPROJECT['version']}"], ""]


def test_autostart_needs_a_console_autologin(tmp_path):
    done = module_eval(tmp_path, "{ programs.nixos-tui-installer = { enable = true; autostart = true; }; }",
                        "s.config.system.build.toplevel.drvPath")
    assert done.returncode == 1
    assert "Failed assertions:" in done.stderr and "set services.getty.autologinUser" in done.stderr, done.stderr
    fine = module_eval(tmp_path, "{ programs.nixos-tui-installer = { enable = true; autostart = true; };"
                        " services.getty.autologinUser = \"nixos\"; }", "s.config.system.build.toplevel.drvPath")
    assert fine.returncode == 0, fine.stderr[-3000:]


def test_the_stand_in_refuses_what_nixos_refuses(tmp_path):
    unknown = module_eval(tmp_path, "{ programs.nixos-tui-installer.enabel = true; }",
                           "s.config.environment.systemPackages")
    assert unknown.returncode == 1
    assert "The option `programs.nixos-tui-installer.enabel' does not exist." in unknown.stderr, unknown.stderr
    wrong = module_eval(tmp_path, "{ programs.nixos-tui-installer.autostart = \"yes\"; }",
                         "s.config.programs.nixos-tui-installer.autostart")
    assert wrong.returncode == 1
    assert "A definition for option `programs.nixos-tui-installer.autostart' is not of type `boolean'." \
        in wrong.stderr, wrong.stderr


def test_every_output_evaluates_with_only_the_listed_attributes(tmp_path):
    done = run_outputs(tmp_path, ALL_OUTPUTS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(p.startswith("/nix/store/") and p.endswith(".drv") for p in json.loads(done.stdout))


def test_every_listed_attribute_is_used(tmp_path):
    """Drop each listed attribute in turn: the outputs must then fail, naming it.
    So the list holds exactly what nix/ asks of nixpkgs, nothing stale."""
    text = ATTRS_FILE.read_text()
    unused = []
    for attr in listed_attrs(text):
        kept = "\n".join(line for line in text.splitlines() if not line.strip() or line.split()[0] != attr)
        done = run_outputs(tmp_path, ALL_OUTPUTS, attrs_text=kept)
        if done.returncode == 0:
            unused.append(attr)
            continue
        # Nix names the first missing step of the path (a set that is now empty is gone too).
        named = [part for part in attr.split(".")
                 if f"attribute '{part}' missing" in done.stderr or f"without required argument '{part}'" in done.stderr]
        assert named, (attr, done.stderr[-2000:])
    assert unused == []


def test_an_attribute_nixpkgs_lacks_fails(tmp_path):
    """nix/package.nix asking for an attribute not in the list (a typo, or a
    package 25.11 does not have) fails the evaluation, naming it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in FLAKE_FILES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    package = src / "nix" / "package.nix"
    package.write_text(package.read_text().replace("py.pyparted\n", "py.pyparted-ng\n", 1))
    done = run_outputs(tmp_path, "f.packages.x86_64-linux.default.drvPath", src=src)
    assert done.returncode == 1
    assert "attribute 'pyparted-ng' missing" in done.stderr, done.stderr[-2000:]


def test_the_flakes_module_defaults_to_the_flakes_own_package(tmp_path):
    """A system on an older nixpkgs (here one without textual at all) gets the
    package built with the nixpkgs this flake pins, never one of its own."""
    full, lacking = tmp_path / "full.txt", tmp_path / "lacking.txt"
    full.write_text(ATTRS_FILE.read_text())
    lacking.write_text("\n".join(line for line in ATTRS_FILE.read_text().splitlines()
                                 if not line.startswith("python3Packages.textual ")))
    program = (f"let f = import {nix_path(ROOT / 'tests' / 'flake_eval.nix')} {{ src = {nix_path(ROOT)};"
               f" standin = {nix_path(STANDIN)}; attrsText = builtins.readFile {nix_path(full)}; }};"
               f" older = import {nix_path(STANDIN / 'default.nix')} {{ attrsText = builtins.readFile {nix_path(lacking)}; }};"
               " s = older.lib.nixosSystem { modules = [ f.nixosModules.default { nixpkgs.hostPlatform = \"x86_64-linux\";"
               " programs.nixos-tui-installer.enable = true; } ]; };"
               " in [ (map (p: p.outPath) s.config.environment.systemPackages)"
               " f.packages.x86_64-linux.default.outPath ]")
    done = subprocess.run([NIX_INSTANTIATE, "--eval", "--strict", "--json", "--read-write-mode", "-E", program],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    installed, own = json.loads(done.stdout)
    assert installed == [own]


def test_textual_says_it_relaxes_rich():
    """nixos-25.11's rich is 14.1, textual 8.2.8 asks for 14.2: the override says so itself."""
    text = (ROOT / "nix" / "python.nix").read_text()
    assert 'pythonRelaxDeps = (old.pythonRelaxDeps or [ ]) ++ [ "rich" ];' in text


def test_the_tree_sitter_bounds_are_dropped_by_name_not_by_prefix():
    """The relax-deps hook matches by prefix ("tree-sitter" would rewrite
    "tree-sitter-nix>=0.1"): the package drops both bounds from pyproject.toml, and
    each string it replaces is there."""
    text = (ROOT / "nix" / "package.nix").read_text()
    assert "pythonRelaxDeps =" not in text
    replaced = re.findall(r"--replace-fail '(\"tree-sitter[^']*)' '(\"[^']*)'", text)
    assert [old for old, _ in replaced] == ['"tree-sitter>=0.25"', '"tree-sitter-nix>=0.1"']
    assert all(old in (ROOT / "pyproject.toml").read_text() for old, _ in replaced)
