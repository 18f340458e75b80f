"""Build the project's wheel the way pip would, from a copy of the sources.

setuptools writes build/ and *.egg-info into the tree it builds, and other
tests running in parallel read that tree, so the wheel is built from a copy.
What the copy holds is read from pyproject.toml (packages and where they
live, data-files, readme, licence files), so a new package or data file
cannot be silently left out of the test's wheel while a real build ships it.

The build runs without build isolation, with the venv's own setuptools
(the [test] extra asks for one that builds wheels), so no network is needed.
"""

from __future__ import annotations

import glob
import posixpath
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What setuptools includes as licence files when pyproject names none.
DEFAULT_LICENSE_GLOBS = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")
BUILD_TIMEOUT = 300


def project(root: Path = ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def package_source_dir(package: str, package_dir: dict[str, str]) -> str:
    """Where setuptools reads `package` from, relative to the project root (its package-dir rules)."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return posixpath.normpath(posixpath.join(package_dir[prefix], *parts[i:]))
    return posixpath.normpath(posixpath.join(package_dir.get("", ""), *parts))


def source_paths(root: Path = ROOT) -> list[str]:
    """The top-level files and directories a build of this project reads."""
    data = project(root)
    setup = data.get("tool", {}).get("setuptools", {})
    package_dir = setup.get("package-dir", {})
    names = {"pyproject.toml"}
    for extra in ("setup.py", "setup.cfg", "MANIFEST.in"):
        if (root / extra).exists():
            names.add(extra)
    for package in setup.get("packages", []):
        names.add(package_source_dir(package, package_dir).split("/")[0])
    for files in setup.get("data-files", {}).values():
        for pattern in files:
            names.update(Path(p).relative_to(root).parts[0] for p in glob.glob(str(root / pattern)))
    meta = data.get("project", {})
    readme = meta.get("readme")
    if isinstance(readme, dict):
        readme = readme.get("file")
    if readme:
        names.add(readme)
    licence = meta.get("license")
    if isinstance(licence, dict) and licence.get("file"):
        names.add(licence["file"])
    patterns = meta.get("license-files") or setup.get("license-files") or DEFAULT_LICENSE_GLOBS
    for pattern in patterns:
        names.update(Path(p).relative_to(root).parts[0] for p in glob.glob(str(root / pattern)))
    return sorted(names)


def copy_sources(dest: Path, root: Path = ROOT) -> Path:
    """A fresh copy of what a build reads (no caches, no earlier build output)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in source_paths(root):
        path = root / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=skip)
        elif path.exists():
            shutil.copy2(path, dest / name)
        else:
            raise FileNotFoundError(f"pyproject.toml names {name}, which is not in {root}")
    return dest


def build_wheel(out_dir: Path, work: Path, root: Path = ROOT) -> Path:
    """Build the project's wheel into out_dir (earlier wheels of it removed); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{wheel_name_prefix(root)}-*.whl"):
        old.unlink()
    src = copy_sources(work, root)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out_dir), str(src)],
        cwd=work.parent, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    if done.returncode != 0:
        hint = ""
        if "bdist_wheel" in done.stderr or "setuptools" in done.stderr:
            hint = "\n(the venv's setuptools cannot build wheels: `make install` installs the [test] extra)"
        raise RuntimeError(f"pip wheel failed:\n{done.stdout}{done.stderr}{hint}")
    (wheel,) = out_dir.glob(f"{wheel_name_prefix(root)}-*.whl")
    return wheel


def wheel_name_prefix(root: Path = ROOT) -> str:
    """The distribution name as wheel file names spell it."""
    return re.sub(r"[-_.]+", "_", project(root)["project"]["name"]).lower()
