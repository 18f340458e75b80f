"""The CLI as a person runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MACHINES, ROOT

WIN11 = MACHINES / "win11-along-ubuntu.json"
PASSPHRASE = "correct horse battery staple"


def cli(*args: str, cwd=ROOT, env: dict | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    """The CLI in a subprocess; `code` replaces `-m installer` with a script that calls main() itself."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")} | (env or {})
    start = ["-c", code, *args] if code else ["-m", "installer", *args]
    return subprocess.run(
        [sys.executable, *start], capture_output=True, text=True, cwd=cwd, env=environ,
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
    assert "Nothing was written. Run again with --yes to install." in done.stdout


@pytest.mark.parametrize("mode", ["--machine", "--dry-run"])
def test_yes_on_a_dry_run_walks_every_phase_and_writes_nothing(tmp_path, mode):
    """--yes on a recorded machine or a dry run goes through the whole install
    saying what each phase would do, and ends saying nothing was written."""
    target = tmp_path / "target"
    target.mkdir()
    log = tmp_path / "install.log"
    where = ["--machine", str(WIN11)] if mode == "--machine" else ["--dry-run", "--machine", str(WIN11)]
    done = cli("--answers", answers_for(tmp_path), *where, "--yes", "--target", str(target), "--log", str(log))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    phases = [out.index(f"== [{n}/5]") for n in range(1, 6)]
    assert phases == sorted(phases)
    assert "[dry-run] 1. Wipe the signatures" in out and "cryptsetup luksFormat" in out
    assert f"[dry-run] would write {target}/etc/nixos/configuration.nix" in out
    assert "[dry-run] would run: nixos-install --root" in out
    assert "[dry-run] would set the passwords of alice" in out
    why = "--machine reads a recorded machine"
    assert out.rstrip().endswith(f"Nothing was written: {why}. Log: {log}."), out[-300:]
    assert "Installation finished" not in out and "Run again with --yes" not in out
    assert list(target.iterdir()) == []
    assert PASSPHRASE not in out + done.stderr + log.read_text()
    assert "$y$" not in log.read_text()


def test_help_lists_every_option_of_the_issue():
    done = cli("--help")
    for option in ("--machine", "--dry-run", "--answers", "--plan", "--render", "--target", "--yes",
                   "--nixos-install", "--nixos-enter", "--allow-loop", "--log", "--record-machine"):
        assert option in done.stdout, option


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


@pytest.mark.parametrize(("machine", "device", "reason"), [
    ("booted-from-rp.json", "/dev/vda", "refusing to use /dev/vda: holds the running installer"),
    ("imsm.json", "/dev/sda", "refusing to use /dev/sda: sda2 is mounted at /"),
    ("win11-along-ubuntu.json", "/dev/sr0", "refusing to use /dev/sr0: optical drive"),
])
@pytest.mark.parametrize("mode", [["--plan"], []], ids=["plan", "no-yes"])
def test_refused_disk_exits_3(tmp_path, machine, device, reason, mode):
    done = cli("--answers", answers_for(tmp_path, device=device), "--machine", str(MACHINES / machine), *mode)
    assert done.returncode == 3, done.stdout + done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr


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
        "import sys, installer.cli, installer.flow.session, installer.answers.file, installer.answers.validate, installer.plan.erase;"
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
    from installer.answers.schema import with_reference

    readme = (ROOT / "README.md").read_text()
    assert with_reference(readme) == readme, "regenerate: .venv/bin/python -m installer.answers.schema --readme README.md"
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


FILE_APPEARS_WHILE_EXPORTING = """
import sys
from pathlib import Path
from installer.nixos import export
from installer.cli import main

opened = export.open_private

def open_private(path, **kw):
    if Path(path).name == "README.md":  # another program got there first
        Path(path).write_text("written meanwhile")
    return opened(path, **kw)

export.open_private = open_private
sys.exit(main(sys.argv[1:]))
"""


def test_export_flake_stopped_by_a_file_appearing_meanwhile_says_what_it_wrote(tmp_path):
    out = tmp_path / "fleet"
    done = cli("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--export-flake", str(out),
               code=FILE_APPEARS_WHILE_EXPORTING)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "refusing to replace what" in done.stderr and "README.md" in done.stderr
    assert "nothing was written" not in done.stderr
    assert "only flake.nix, hosts/nixos-laptop/disk-config.nix," in done.stderr
    assert (out / "README.md").read_text() == "written meanwhile"


def test_export_flake_with_force_refuses_a_link_and_exits_3(tmp_path):
    out = tmp_path / "fleet"
    args = ("--answers", answers_for(tmp_path), "--machine", str(WIN11), "--export-flake", str(out), "--force")
    assert cli(*args).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("mine")
    (out / ".gitignore").unlink()
    (out / ".gitignore").symlink_to(elsewhere)
    done = cli(*args)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot write {out / '.gitignore'}: {out / '.gitignore'} is a symbolic link" in done.stderr
    assert "nothing was written" in done.stderr  # every path is checked before the first write
    assert elsewhere.read_text() == "mine"


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


LIVE_PROBE_FAILS = """
import sys
from installer.machine import udevdata
from installer.cli import main

def live_data():
    raise PermissionError("/sys/block: Permission denied")

udevdata.live_data = live_data
sys.exit(main(sys.argv[1:]))
"""


def test_a_failing_live_probe_exits_1_with_a_message(tmp_path):
    done = cli("--answers", answers_for(tmp_path), "--plan", code=LIVE_PROBE_FAILS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot read the machine: probing this machine failed: PermissionError" in done.stderr
    assert "Traceback" not in done.stderr


def test_record_machine_into_a_missing_directory_fails_cleanly(tmp_path):
    done = cli("--record-machine", str(tmp_path / "no" / "such" / "dir.json"))
    assert done.returncode == 1
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("fake", "words"), [
    ("raise ImportError('libudev.so.1: cannot open shared object file')",
     "cannot record this machine: pyudev cannot be imported (libudev.so.1: cannot open shared object file)"),
    ("class Context:\n    def __init__(self):\n        raise RuntimeError('no /sys/class/block')\n",
     "cannot record this machine: probing this machine failed: RuntimeError: no /sys/class/block"),
])
def test_record_machine_when_probing_fails_says_why(tmp_path, fake, words):
    fakes = tmp_path / "fakes"
    (fakes / "pyudev").mkdir(parents=True)
    (fakes / "pyudev" / "__init__.py").write_text(fake)
    out = tmp_path / "machine.json"
    done = cli("--record-machine", str(out), env={"PYTHONPATH": str(fakes)})
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


# -- unattended --yes: the disk changes between planning and the first write --------

# The CLI as `python -m installer` runs it, except that the first plan made also
# changes the disk, as a person (or an automounter) might while the run goes on.
CHANGE_AFTER_PLANNING = """
import subprocess, sys
from installer.flow import session
from installer.cli import main

planned = session.Session.plan
changes = {changes!r}

def plan(self):
    made = planned(self)
    while changes:
        subprocess.run(changes.pop(0), check=True)
    return made

session.Session.plan = plan
sys.exit(main(sys.argv[1:]))
"""


def unattended_answers(tmp_path, device: str) -> str:
    path = tmp_path / "answers.toml"
    path.write_text(f"""
[boot]
firmware = "bios"
[disk]
device = "{device}"
filesystem = "ext4"
swap = "none"
[[users]]
name = "alice"
password_hash = "$y$j9T$adRGRQYJHEV9CAs89LbJU/$gDvIDSJ2V/7SfEYoI7JDPiZPxPX/jC7egPkieq3x0pC"
""")
    return str(path)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for loop devices")
@pytest.mark.parametrize("change", ["mounted", "grown"])
def test_yes_refuses_with_exit_3_when_the_disk_changed_after_planning(tmp_path, change):
    from loopdev import GIB, image_digest, loop_device, run

    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    with loop_device(tmp_path, size=12 * GIB, target=str(target)) as (device, image):
        run("sgdisk", "-n", "1:1M:+100M", "-c", "1:old", device)
        run("partx", "-u", device, check=False)
        run("mkfs.ext4", "-q", "-F", f"{device}p1")
        before = image_digest(image)
        if change == "mounted":  # read-only, without the journal: the mount itself writes nothing
            changes = [["mount", "-o", "ro,noload", f"{device}p1", str(elsewhere)]]
            undo = [["umount", str(elsewhere)]]
            words = f"{device}p1 is mounted at {elsewhere}"
        else:
            changes = [["truncate", "-s", str(13 * GIB), str(image)], ["losetup", "-c", device]]
            undo = [["truncate", "-s", str(12 * GIB), str(image)], ["losetup", "-c", device]]
            words = f"{device} is 13 GiB now, but was 12 GiB when chosen"
        try:
            done = cli("--answers", unattended_answers(tmp_path, device), "--yes", "--allow-loop",
                       "--target", str(target), "--log", str(tmp_path / "install.log"),
                       "--nixos-install", str(ROOT / "tests/standins/nixos-install"),
                       "--nixos-enter", str(ROOT / "tests/standins/nixos-enter"),
                       code=CHANGE_AFTER_PLANNING.format(changes=changes))
        finally:
            for argv in undo:
                run(*argv, check=False)
        assert done.returncode == 3, done.stdout + done.stderr
        assert f"refused: refusing to write to {device}: {words}" in done.stdout
        assert "Traceback" not in done.stderr
        assert image_digest(image) == before


def test_an_ambiguous_match_rule_exits_2_listing_the_disks(tmp_path):
    import re

    path = answers_for(tmp_path)
    text = re.sub(r"(?m)^device = .*\n", "", Path(path).read_text())
    Path(path).write_text(text.replace("# [disk.match]\n# largest = true", "[disk.match]\nlargest = true"))
    done = cli("--answers", path, "--machine", str(MACHINES / "many-nics-and-disks.json"), "--plan")
    assert done.returncode == 2, done.stdout + done.stderr
    # recorded without queue/rotational: what they are is not known, and the message says so
    assert ('disk.match: 4 disks match largest = true with the same size: sda 20 GiB rotation unknown "QEMU '
            'HARDDISK", vda 20 GiB rotation unknown, vdb 20 GiB rotation unknown, vdc 20 GiB rotation unknown'
            ) in done.stderr


def test_premounted_lvm_on_luks_renders_the_luks_device_and_grub_disk(tmp_path):
    import json

    from test_premounted import LUKS_UUID, _lvm_on_luks

    machine = tmp_path / "machine.json"
    machine.write_text(json.dumps(_lvm_on_luks(probert=True)))
    text = Path(answers_for(tmp_path)).read_text().replace('layout = "erase"', 'layout = "premounted"')
    text = text.replace('swap = "partition"', 'swap = "zram"').replace("# firmware = \"uefi\"", 'firmware = "bios"')
    (tmp_path / "answers.toml").write_text(text)
    out = tmp_path / "out"
    done = cli("--answers", str(tmp_path / "answers.toml"), "--machine", str(machine), "--render", str(out))
    assert done.returncode == 0, done.stderr
    hardware = (out / "hardware-configuration.nix").read_text()
    assert f'boot.initrd.luks.devices."cryptlvm".device = "/dev/disk/by-uuid/{LUKS_UUID}";' in hardware
    assert '"/dev/mapper/vg-root"' in hardware
    assert 'boot.loader.grub.device = "/dev/disk/by-id/ata-DISK_1";' in (out / "configuration.nix").read_text()


# -- the pre-flight evaluation before an unattended install (stand-in nixpkgs) -----------

def nix_env(tmp_path, nixpkgs: bool = True) -> dict:
    """The suite's Nix first on PATH, and the stand-in nixpkgs (or none) as NIX_PATH."""
    from nixeval import NIX_INSTANTIATE
    from evalcheck_support import STANDIN_NIXPKGS

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{Path(NIX_INSTANTIATE).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "NIX_PATH": f"nixpkgs={STANDIN_NIXPKGS}" if nixpkgs else "", "HOME": str(home)}


def answers_with_packages(tmp_path, packages: str) -> str:
    path = Path(answers_for(tmp_path))
    text = path.read_text()
    assert 'packages = ["git", "vim", "htop"]' in text
    path.write_text(text.replace('packages = ["git", "vim", "htop"]', f"packages = {packages}"))
    return str(path)


def yes_run(tmp_path, packages: str, *extra: str, nixpkgs: bool = True):
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    log = tmp_path / "install.log"
    done = cli("--answers", answers_with_packages(tmp_path, packages), "--machine", str(WIN11), "--yes",
               "--target", str(target), "--log", str(log), *extra, env=nix_env(tmp_path, nixpkgs))
    return done, target, log


def test_yes_evaluates_first_and_goes_on_when_nix_accepts(tmp_path):
    done, target, log = yes_run(tmp_path, '["git", "vim"]')
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.index("== checking the configuration with Nix") < out.index("== [1/5]")
    assert "Nix evaluated the configuration in" in out
    assert "evaluation with Nix: passed" in log.read_text()
    # Then Nix's dry run of the build (the stand-in system's derivations, none fetched), printed and logged.
    said = next(line for line in out.splitlines() if line.startswith("What the install fetches and builds: "))
    print(said)
    assert re.fullmatch(r"What the install fetches and builds: 0 paths to download \(0\.0 MiB\), [1-9]\d* to build"
                        r": installs without downloading", said)
    assert out.index(said) < out.index("== [1/5]")
    assert "what the install fetches and builds: 0 paths to download" in log.read_text()


def test_yes_exits_2_before_any_phase_when_nix_refuses_a_package(tmp_path):
    done, target, log = yes_run(tmp_path, '["git", "nosuchpackage"]')
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout
    assert "The configuration does not evaluate: nixpkgs has no package 'nosuchpackage'" in out
    assert "fix it in the answers' [software] packages" in out
    assert "attribute 'nosuchpackage' missing" in out  # Nix's own words follow
    assert "Nothing was written" in out and "--skip-eval" in out
    assert "== [1/" not in out and "[dry-run] 1." not in out and "would write" not in out
    assert list(target.iterdir()) == []
    assert PASSPHRASE not in out + done.stderr + log.read_text()


def test_skip_eval_installs_without_asking_nix(tmp_path):
    done, target, log = yes_run(tmp_path, '["git", "nosuchpackage"]', "--skip-eval")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Not checking the configuration with Nix (--skip-eval)." in done.stdout
    assert "checking the configuration with Nix" not in done.stdout.replace("Not checking", "")
    assert "== [5/5] finish" in done.stdout


def test_yes_without_nixpkgs_says_so_and_goes_on(tmp_path):
    done, target, log = yes_run(tmp_path, '["git", "nosuchpackage"]', nixpkgs=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("No nixpkgs was found (no channel, no nixpkgs in NIX_PATH): the configuration could not be checked"
            in done.stdout)
    assert "== [5/5] finish" in done.stdout


def test_an_evaluation_past_eval_timeout_stops_nix_and_writes_nothing(tmp_path, monkeypatch):
    from evalcheck_support import SLOW_NIX, STANDIN_NIXPKGS
    from nixeval import NIX_INSTANTIATE

    record = tmp_path / "slow-nix.record"
    env = nix_env(tmp_path)
    env.update(PATH=f"{SLOW_NIX}:{env['PATH']}", SLOW_NIXPKGS=str(STANDIN_NIXPKGS),
               SLOW_NIX_RECORD=str(record), SLOW_NIX_REAL=NIX_INSTANTIATE)
    target = tmp_path / "target"
    target.mkdir()
    done = cli("--answers", answers_with_packages(tmp_path, '["git"]'), "--machine", str(WIN11), "--yes",
               "--target", str(target), "--log", str(tmp_path / "install.log"), "--eval-timeout", "1", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Nix took longer than 1 s" in done.stdout and "longer --eval-timeout" in done.stdout
    assert "== [1/" not in done.stdout and "[dry-run] 1." not in done.stdout
    assert list(target.iterdir()) == []
    child = int(record.read_text().split("child=")[1])
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


@pytest.mark.parametrize("args", [["--plan"], ["--answers-schema"]])
def test_output_cut_short_by_its_reader_is_no_traceback(tmp_path, args):
    """`installer --plan | head -1`: the reader is gone before the output is written
    (its end of the pipe closed at once, so the write always meets EPIPE)."""
    if args == ["--plan"]:
        args = ["--answers", answers_for(tmp_path), "--machine", str(WIN11), "--plan"]
    reader, writer = os.pipe()
    os.close(reader)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    try:
        done = subprocess.run([sys.executable, "-m", "installer", *args], stdout=writer, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=environ, stdin=subprocess.DEVNULL, timeout=120)
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == 1
