"""The installed program, not the checkout: a wheel built as pip builds it, installed offline, run.

Two layouts: a venv (code under sys.prefix) and a `pip install --target`
directory on PYTHONPATH (code outside sys.prefix, as with `pip --user` or
Nix's buildPythonApplication, whose data lands in $out/share). In both,
`--render` and `--export-flake` must write exactly what the checkout writes.
The dependencies come from this venv's site-packages through a .pth file,
so nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import wheelbuild
from conftest import MACHINES, ROOT

pytestmark = pytest.mark.slow

WIN11 = MACHINES / "win11-along-ubuntu.json"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    return wheelbuild.build_wheel(work / "dist", work / "src")


def bare_venv(where: Path) -> Path:
    """A venv without pip that sees this venv's packages (the dependencies) after its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    host = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # A directory named in a .pth is appended to sys.path, but its own .pth files
    # are not run: this venv's editable hook for the checkout stays off.
    Path(site, "host-deps.pth").write_text("".join(f"{p}\n" for p in sorted(host)))
    return python


def pip_install(wheel: Path, pip_args: list[str], install_args: list[str]) -> None:
    """This venv's pip installs the wheel alone, from the file (no index, no dependencies)."""
    done = subprocess.run([sys.executable, "-m", "pip", *pip_args, "install", "-q", "--no-index", "--no-deps",
                           *install_args, str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", params=["venv", "target"])
def installed(request, wheel, tmp_path_factory) -> tuple[list[str], dict[str, str]]:
    """The installed CLI's argv prefix and environment."""
    base = tmp_path_factory.mktemp(request.param)
    python = bare_venv(base / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TEXTUAL"))}
    if request.param == "venv":
        pip_install(wheel, ["--python", str(python)], [])
        return [str(base / "venv" / "bin" / "nixos-tui-installer")], env
    target = base / "site"
    pip_install(wheel, [], ["--target", str(target)])
    return [str(python), "-m", "installer"], {**env, "PYTHONPATH": str(target)}


def answers(tmp: Path) -> Path:
    text = (ROOT / "examples/answers.toml").read_text().replace('device = "/dev/vda"', 'device = "/dev/sda"')
    (tmp / "luks-passphrase.txt").write_text("a passphrase nobody sees\n")
    (tmp / "answers.toml").write_text(text)
    return tmp / "answers.toml"


def run(argv: list[str], env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=120)


def tree(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_wheel_holds_every_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted(p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.j2"))
    assert templates and {"configuration.nix.j2", "flake/flake.nix.j2"} <= set(templates)
    missing = [t for t in templates if f"installer/templates/{t}" not in names]
    assert missing == []


def test_installed_code_and_templates_come_from_the_install(installed, tmp_path):
    argv, env = installed
    python = argv[:-2] if argv[-2:] == ["-m", "installer"] else [str(Path(argv[0]).with_name("python"))]
    done = subprocess.run([*python, "-c", "import installer.nixos.render as r; print(r.__file__); print(r.templates_dir())"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    module, templates = done.stdout.split()
    assert not module.startswith(str(ROOT)) and not templates.startswith(str(ROOT)), done.stdout
    assert Path(templates) == Path(module).parent.parent / "templates"  # installer/nixos/render.py -> installer/templates


def test_installed_cli_renders_and_exports_what_the_checkout_does(installed, tmp_path):
    argv, env = installed
    ans = answers(tmp_path)
    common = ["--answers", str(ans), "--machine", str(WIN11), "--seed", "7"]
    checkout = [sys.executable, "-m", "installer"]
    outputs = {}
    for who, (cmd, cmd_env) in {"installed": (argv, env), "checkout": (checkout, os.environ.copy())}.items():
        for what in ("--render", "--export-flake"):
            out = tmp_path / who / what.strip("-")
            done = run(cmd, cmd_env, tmp_path if who == "installed" else ROOT, *common, what, str(out))
            assert done.returncode == 0, f"{who} {what}: {done.stderr}"
            outputs[who, what] = tree(out)
    for what in ("--render", "--export-flake"):
        assert outputs["installed", what], what
        assert outputs["installed", what] == outputs["checkout", what], what
    assert "hosts/nixos-laptop/disk-config.nix" in outputs["installed", "--export-flake"]
    assert set(outputs["installed", "--render"]) == {"configuration.nix", "hardware-configuration.nix"}


def test_the_build_gives_no_setuptools_warning(tmp_path):
    """No deprecated `license` table, no data directory missing from `packages`
    (setuptools warns of both, and will one day refuse or drop them)."""
    src = wheelbuild.copy_sources(tmp_path / "src")
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c",
         f"from setuptools import build_meta; build_meta.build_wheel({str(tmp_path / 'dist')!r})"],
        cwd=src, capture_output=True, text=True, timeout=wheelbuild.BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "DeprecationWarning" not in output
    assert "absent from the `packages` configuration" not in output
