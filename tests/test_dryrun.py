"""What the install would download: the parser on Nix 2.26's real `nix-store --realise --dry-run` output."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from installer.nixos import dryrun
from nixroot import nix_bin_dir

DATA = Path(__file__).parent / "data" / "dryrun"


def test_parse_captured_build_only() -> None:
    got = dryrun.parse((DATA / "nix-2.26-build.txt").read_text())
    assert got == dryrun.Summary(True, to_fetch=0, download_mib=0.0, unpacked_mib=0.0, to_build=2)
    assert got.nothing_to_download
    assert got.line() == "0 paths to download (0.0 MiB), 2 to build"


def test_parse_captured_fetch_and_build() -> None:
    got = dryrun.parse((DATA / "nix-2.26-fetch-and-build.txt").read_text())
    assert (got.to_fetch, got.to_build) == (1, 1)
    assert not got.nothing_to_download
    assert got.line() == "1 path to download (0.0 MiB), 1 to build"


def test_parse_reads_sizes_and_ignores_warnings() -> None:
    text = ("warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n"
            "these 2 paths will be fetched (12.34 MiB download, 56.70 MiB unpacked):\n"
            "  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x\n  /nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-y\n")
    got = dryrun.parse(text)
    assert (got.to_fetch, got.download_mib, got.unpacked_mib, got.to_build) == (2, 12.34, 56.7, 0)


def _nix(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(nix_bin_dir() / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd)


def _two_step(tmp_path: Path) -> tuple[str, str]:
    """A fresh pair of derivations (b needs a), never built before: (b's drv, a's drv)."""
    tag = uuid.uuid4().hex[:12]
    (tmp_path / "t.nix").write_text(
        f'let a = builtins.derivation {{ name = "dl-{tag}-a"; system = builtins.currentSystem; builder = "/bin/sh";'
        f' args = ["-c" "echo a > $out"]; }};\n'
        f'in builtins.derivation {{ name = "dl-{tag}-b"; system = builtins.currentSystem; builder = "/bin/sh";'
        f' args = ["-c" "cat ${{a}} > $out"]; }}\n')
    b = _nix("nix-instantiate", "t.nix", cwd=tmp_path)
    assert b.returncode == 0, b.stderr
    refs = _nix("nix-store", "-q", "--references", b.stdout.strip(), cwd=tmp_path).stdout.split()
    a = next(r for r in refs if r.endswith("-a.drv"))
    return b.stdout.strip(), a


def test_live_build_only_matches_captured(tmp_path: Path) -> None:
    b, _a = _two_step(tmp_path)
    got = dryrun.realise_dry_run(b, str(nix_bin_dir() / "nix-instantiate"), 120.0)
    assert got == dryrun.parse((DATA / "nix-2.26-build.txt").read_text())


def test_live_fetch_from_a_local_binary_cache(tmp_path: Path) -> None:
    b, a = _two_step(tmp_path)
    built = _nix("nix-store", "--realise", a, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    out = built.stdout.strip()
    cache = f"file://{tmp_path / 'cache'}"
    copied = _nix("nix", "--extra-experimental-features", "nix-command", "copy", "--to", cache, out, cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert _nix("nix-store", "--delete", out, cwd=tmp_path).returncode == 0
    done = _nix("nix-store", "--realise", "--dry-run", b, "--option", "substituters", cache,
                "--option", "require-sigs", "false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = dryrun.parse(done.stderr)
    assert got == dryrun.parse((DATA / "nix-2.26-fetch-and-build.txt").read_text())
    assert (got.to_fetch, got.to_build) == (1, 1)


def test_nix_cannot_answer_is_said_in_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    got = dryrun.ask({"configuration.nix": "{ }", "hardware-configuration.nix": "{ }"})
    assert not got.known and not got.nothing_to_download
    assert got.line() == "Nix is not installed here, so what the install downloads is not known."


def test_no_nixpkgs_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    got = dryrun.ask({"configuration.nix": "{ }", "hardware-configuration.nix": "{ }"}, timeout=60)
    assert not got.known
    assert "nixpkgs" in got.line()


@pytest.mark.parametrize("name", ["nix-2.26-build.txt", "nix-2.26-fetch-and-build.txt"])
def test_the_install_progress_reads_the_same_totals(name: str) -> None:
    """The install pane's totals come from the same announcements (nixos-install prints them again)."""
    from installer.run.progress import Progress

    text = (DATA / name).read_text()
    progress = Progress()
    progress.feed_lines(text.splitlines())
    summary = dryrun.parse(text)
    assert (progress.fetch_total, progress.build_total) == (summary.to_fetch, summary.to_build)
    assert (progress.download_mib, progress.unpacked_mib) == (summary.download_mib, summary.unpacked_mib)
