"""The CLI as a person runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import MACHINES, ROOT

WIN11 = MACHINES / "win11-along-ubuntu.json"
PASSPHRASE = "correct horse battery staple"


def cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    return subprocess.run(
        [sys.executable, "-m", "installer", *args], capture_output=True, text=True, cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, timeout=120,
    )


def answers_for(tmp_path, device: str = "/dev/sda", extra: str = "") -> str:
    """The example answers pointed at a disk of the recorded machine."""
    text = (ROOT / "examples/answers.toml").read_text().replace('device = "/dev/vda"', f'device = "{device}"')
    (tmp_path / "luks-passphrase.txt").write_text(PASSPHRASE + "\n")
    path = tmp_path / "answers.toml"
    path.write_text(text + extra)
    return str(path)


def test_render_writes_both_files(tmp_path):
    out = tmp_path / "out"
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--render", str(out), "--seed", "7")
    assert done.returncode == 0, done.stderr
    config = (out / "configuration.nix").read_text()
    hardware = (out / "hardware-configuration.nix").read_text()
    assert 'networking.hostName = "nixos-laptop";' in config
    assert "boot.initrd.luks.devices" in hardware
    assert PASSPHRASE not in config + hardware
    # The same seed gives the same UUIDs: the files are final before any disk is touched.
    again = tmp_path / "again"
    cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--render", str(again), "--seed", "7")
    assert (again / "hardware-configuration.nix").read_text() == hardware


def test_plan_redacts_every_secret(tmp_path):
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--plan")
    assert done.returncode == 0, done.stderr
    assert "cryptsetup luksFormat" in done.stdout
    assert "<redacted>" in done.stdout
    assert PASSPHRASE not in done.stdout + done.stderr
    assert "$y$" not in done.stdout
    assert "wipefs" in done.stdout and "/dev/sda" in done.stdout


def test_without_yes_prints_the_plan_and_writes_nothing(tmp_path):
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11))
    assert done.returncode == 0, done.stderr
    assert "Nothing was written" in done.stdout


def test_bad_answers_exit_2_listing_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[system]\nhostname = "-bad-"\ntimezone = "Mars/Base"\n[disk]\ndevice = "/dev/sda"\nfilesystem = "zfs"\n'
        '[[users]]\nname = "root"\npassword_hash = "$y$x"\n'
    )
    done = cli("--answers", str(path), "--machine", str(WIN11), "--plan")
    assert done.returncode == 2
    # The file-level error (zfs) is reported first; fix it and the model-level ones show.
    assert "disk.filesystem" in done.stderr
    path.write_text(path.read_text().replace('"zfs"', '"ext4"'))
    done = cli("--answers", str(path), "--machine", str(WIN11), "--plan")
    assert done.returncode == 2
    for field in ("system.hostname", "system.timezone", "users[0].name"):
        assert field in done.stderr
    assert "Traceback" not in done.stderr


def test_refused_disk_exits_3(tmp_path):
    # sr0 holds the running installer medium on the recorded machine.
    done = cli("--answers", answers_for(tmp_path, device="/dev/sr0"), "--machine", str(WIN11), "--plan")
    assert done.returncode in (2, 3), done.stderr
    assert "sr0" in done.stderr


def test_flags_needing_answers_exit_2():
    done = cli("--plan")
    assert done.returncode == 2
    assert "--answers" in done.stderr


@pytest.mark.parametrize("args", [["--machine", "/nonexistent.json"], ["--bogus"]])
def test_bad_arguments_exit_2(args):
    assert cli(*args).returncode == 2


def test_engine_never_imports_textual(tmp_path):
    """The unattended path must not load Textual (start-up time, and the engine contract)."""
    code = (
        "import sys, installer.cli, installer.session, installer.answers, installer.validate, installer.plan;"
        "from installer.cli import main;"
        f"main(['--answers', {answers_for(tmp_path)!r}, '--machine', {str(WIN11)!r}, '--plan']);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'screens')];"
        "print('LOADED', bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "LOADED []" in done.stdout, done.stdout + done.stderr


def test_answers_schema_is_the_checked_in_file():
    done = cli("--answers-schema")
    assert done.returncode == 0
    assert done.stdout == (ROOT / "answers.schema.json").read_text()


def test_readme_reference_is_generated_from_the_schema():
    from installer.schema import with_reference

    readme = (ROOT / "README.md").read_text()
    assert with_reference(readme) == readme, "regenerate: .venv/bin/python -m installer.schema --readme README.md"
    assert readme.index("make run") < readme.index("<!-- answers-reference:start -->")


def test_export_flake_writes_a_flake_without_secrets(tmp_path):
    out = tmp_path / "fleet"
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--export-flake", str(out))
    assert done.returncode == 0, done.stderr
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"flake.nix", "hosts/nixos-laptop/disk-config.nix", "hosts/nixos-laptop/configuration.nix",
            "hosts/nixos-laptop/hardware-configuration.nix", "README.md"} <= names
    text = "".join((out / n).read_text() for n in names)
    assert PASSPHRASE not in text and "$y$" not in text
    assert 'passwordFile = "/tmp/secret.key"' in (out / "hosts/nixos-laptop/disk-config.nix").read_text()


def test_export_flake_refuses_to_replace_files_without_force(tmp_path):
    out = tmp_path / "fleet"
    args = ("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--export-flake", str(out))
    assert cli(*args).returncode == 0
    (out / "flake.nix").write_text("# edited by hand\n")
    again = cli(*args)
    assert again.returncode == 3
    assert "refusing to replace" in again.stderr and "flake.nix" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert (out / "flake.nix").read_text() == "# edited by hand\n"
    forced = cli(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "flake.nix").read_text().startswith("# flake.nix")
    assert cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--plan", "--force").returncode == 2


def test_nixos_install_options_reach_its_command_line(tmp_path):
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--plan", "--max-jobs", "auto",
               "--cores", "2", "--keep-going", "--offline")
    assert done.returncode == 0, done.stderr
    assert "nixos-install --root /mnt --no-root-passwd --max-jobs auto --cores 2 --keep-going --option substituters ''" in done.stdout
    assert cli("--max-jobs", "many").returncode == 2


def test_unreadable_machine_file_exits_2_with_a_message(tmp_path):
    bad = tmp_path / "machine.json"
    bad.write_text("{not json")
    done = cli("--answers", answers_for(tmp_path), "--machine", str(bad), "--plan")
    assert done.returncode == 2
    assert "cannot read the machine" in done.stderr and "Traceback" not in done.stderr


def test_record_machine_into_a_missing_directory_fails_cleanly(tmp_path):
    done = cli("--record-machine", str(tmp_path / "no" / "such" / "dir.json"))
    assert done.returncode == 1
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr
