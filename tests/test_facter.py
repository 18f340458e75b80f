"""Issue 20 item 5: nixos-facter's hardware report in place of the generated hardware-configuration.nix.

The stand-in nixos-facter (tests/standins/nixos-facter) prints a report in
the real format from a sysfs tree (STANDIN_SYSFS); it is the only program on
a PATH of its own where a test needs nixos-facter installed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import MACHINES, ROOT, valid_model
from evalcheck_support import use_nix
from test_gpu import fake_sysfs
from test_screens_support import app_for, open_step

from installer.flow.options import Options
from installer.flow.session import Session
from installer.machine.probe import probe
from installer.nixos import evalcheck
from installer.nixos.export import existing_files, export_files
from installer.nixos.render import render
from installer.plan.erase import build_plan
from installer.plan.identity import Identity
from installer.run.facter import FacterError, available, hardware_report

STANDIN = ROOT / "tests" / "standins" / "nixos-facter"
MACHINE = MACHINES / "desktop-nvidia-rtx3060.json"


@pytest.fixture
def facter_on_path(tmp_path, monkeypatch):
    """nixos-facter installed: the stand-in, alone in a directory put first on PATH, reading a fake sysfs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nixos-facter").symlink_to(STANDIN)
    sysfs = fake_sysfs(tmp_path / "sys", [("0000:2b:00.0", "0x10de", "0x2503", "0x030000", "nvidia"),
                                          ("0000:00:00.0", "0x1022", "0x1480", "0x060000", "")])
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_SYSFS", str(sysfs))
    return bin_dir


@pytest.fixture
def no_facter(tmp_path, monkeypatch):
    """A PATH without nixos-facter (python3, which the stand-in needs, and the suite's Nix stay)."""
    keep = [d for d in os.environ["PATH"].split(":") if d and not (Path(d) / "nixos-facter").exists()]
    monkeypatch.setenv("PATH", ":".join(keep))
    assert not available()


def model_for(machine, report: str = "facter"):
    m = valid_model()
    m.disk.device = machine.offered_disks[0].path
    m.hardware.report = report
    return m


def files_for(report: str) -> dict[str, str]:
    machine = probe(MACHINE)
    m = model_for(machine, report)
    return render(m, machine, build_plan(m, machine, Identity.generate(seed=5)), host_platform="x86_64-linux")


# ---- running it ------------------------------------------------------------------------


def test_the_report_is_what_nixos_facter_prints(facter_on_path):
    report = json.loads(hardware_report())
    assert report["version"] == 1 and report["system"] in ("x86_64-linux", "aarch64-linux")
    card = report["hardware"]["graphics_card"][0]
    assert (card["vendor"]["hex"], card["device"]["hex"], card["sysfs_bus_id"], card["driver"]) == \
        ("10de", "2503", "0000:2b:00.0", "nvidia")


def test_a_failing_or_missing_nixos_facter_says_why(facter_on_path, monkeypatch, tmp_path):
    monkeypatch.setenv("STANDIN_FACTER_FAIL", "1")
    with pytest.raises(FacterError, match=r"nixos-facter failed \(exit 1\): Error: failed to scan hardware"):
        hardware_report()
    not_json = tmp_path / "bin" / "not-facter"
    not_json.write_text("#!/bin/sh\necho 'hello'\n")
    not_json.chmod(0o755)
    with pytest.raises(FacterError, match="printed no hardware report"):
        hardware_report(str(not_json))
    with pytest.raises(FacterError, match="no-such-facter is not installed"):
        hardware_report("no-such-facter")


# ---- the files -------------------------------------------------------------------------


def test_with_the_report_hardware_configuration_reads_it_and_keeps_the_filesystems():
    generated, facter = files_for("generated")["hardware-configuration.nix"], files_for("facter")["hardware-configuration.nix"]
    assert "hardware.facter.reportPath" not in generated and "boot.initrd.availableKernelModules" in generated
    assert "  hardware.facter.reportPath = ./facter.json;\n" in facter
    for detected in ("boot.initrd.availableKernelModules", "boot.kernelModules", "updateMicrocode", "not-detected.nix"):
        assert detected not in facter
    assert 'fileSystems."/" = {' in facter and 'fileSystems."/boot" = {' in facter


def test_the_files_evaluate_with_the_report_and_not_without_it(tmp_path, monkeypatch, facter_on_path):
    files = files_for("facter")
    use_nix(monkeypatch, tmp_path)
    outcome = evalcheck.evaluate({**files, "facter.json": hardware_report()})
    assert outcome.status == "passed", (outcome.message, outcome.detail)
    missing = evalcheck.evaluate(files)  # the stand-in reads the report as NixOS's facter module does
    assert missing.failed and "facter.json" in missing.detail


def session_for(tmp_path, report: str = "facter") -> Session:
    """A real-mode session (nothing here touches a disk: only write_config and the checks run) on a recorded machine."""
    target = tmp_path / "target"
    target.mkdir(parents=True)
    s = Session(Options(target=str(target), log_path=str(tmp_path / "install.log")), valid_model())
    s.machine = probe(MACHINE)
    s.model.disk.device = s.machine.offered_disks[0].path
    s.model.hardware.report = report
    return s


def test_the_install_writes_the_report_into_the_target(tmp_path, facter_on_path):
    s = session_for(tmp_path)
    said: list[str] = []
    written = s.install.write_config(said.append)
    etc = Path(s.options.target) / "etc/nixos"
    assert str(etc / "facter.json") in written
    report = json.loads((etc / "facter.json").read_text())
    assert report["hardware"]["graphics_card"][0]["device"]["hex"] == "2503"
    assert (etc / "facter.json").stat().st_mode & 0o777 == 0o600
    assert "hardware.facter.reportPath = ./facter.json;" in (etc / "hardware-configuration.nix").read_text()
    assert "running nixos-facter for the hardware report" in said


def test_a_dry_run_only_says_it_would_run_nixos_facter(tmp_path):
    s = Session(Options(dry_run=True, machine_file=str(MACHINE), log_path=str(tmp_path / "l.log")), valid_model())
    s.probe()
    s.model.disk.device = s.machine.offered_disks[0].path
    s.model.hardware.report = "facter"
    said: list[str] = []
    s.install.write_config(said.append)
    assert "[dry-run] would run nixos-facter for the hardware report" in said
    assert any(line.endswith("etc/nixos/facter.json") for line in said)


def test_without_nixos_facter_a_real_install_is_refused_before_the_disk(tmp_path, no_facter):
    problems = session_for(tmp_path).preflight.problems()
    assert [p.field for p in problems if p.field == "hardware.report"] == ["hardware.report"]
    assert "nixos-facter is not installed here" in next(p.message for p in problems if p.field == "hardware.report")
    assert not any(p.field == "hardware.report" for p in session_for(tmp_path / "g", "generated").preflight.problems())


def test_the_pre_flight_check_reads_an_empty_report_in_the_place_of_the_real_one(tmp_path, monkeypatch):
    s = session_for(tmp_path)
    use_nix(monkeypatch, tmp_path)
    outcome = s.preflight.nix_check()
    assert outcome.status == "passed", (outcome.message, outcome.detail)


# ---- the export ------------------------------------------------------------------------


def test_the_export_carries_the_report_when_there_is_one(tmp_path):
    machine = probe(MACHINE)
    m = model_for(machine)
    m.software.ssh_server = True
    plan = build_plan(m, machine, Identity.generate(seed=5))
    host = m.system.hostname
    report = '{"version": 1, "system": "x86_64-linux", "hardware": {}, "smbios": {}}\n'
    files = export_files(m, machine, plan, host_platform="x86_64-linux", nixpkgs_branch="nixos-25.11",
                         facter_report=report)
    assert files[f"hosts/{host}/facter.json"] == report
    assert "hardware.facter.reportPath = ./facter.json;" in files[f"hosts/{host}/hardware-configuration.nix"]
    assert f"--generate-hardware-config nixos-facter ./hosts/{host}/facter.json" in files["README.md"]
    without = export_files(m, machine, plan, host_platform="x86_64-linux", nixpkgs_branch="nixos-25.11")
    assert f"hosts/{host}/facter.json" not in without and "nixos-facter" in without["README.md"]
    (tmp_path / "hosts" / host).mkdir(parents=True)
    (tmp_path / "hosts" / host / "facter.json").write_text("{}")
    assert existing_files(m, tmp_path) == [f"hosts/{host}/facter.json"]  # never replaced unasked
    m.hardware.report = "generated"
    generated = export_files(m, machine, plan, host_platform="x86_64-linux", nixpkgs_branch="nixos-25.11",
                             facter_report=report)
    assert f"hosts/{host}/facter.json" not in generated
    assert "--generate-hardware-config nixos-generate-config" in generated["README.md"]


# ---- the choice on Review ----------------------------------------------------------------


async def test_review_switches_the_hardware_file_where_nixos_facter_is_installed(facter_on_path):
    from screens.review import ReviewScreen

    s = Session(Options(dry_run=True, machine_file=str(MACHINE), seed=7, log_path="/tmp/nixos-tui-installer-test.log"),
                valid_model())
    async with app_for(s).run_test(size=(80, 25)) as pilot:
        s.model.disk.device = "/dev/sda"
        screen = await open_step(pilot, ReviewScreen)
        await pilot.pause(0.5)
        assert "Hardware: generated file" in str(screen.query_one("#steps").render())
        await pilot.press("f7")
        await pilot.pause(0.5)
        assert s.model.hardware.report == "facter"
        assert "Hardware: nixos-facter report" in str(screen.query_one("#steps").render())
        assert "hardware.facter.reportPath = ./facter.json;" in s.draft.render()["hardware-configuration.nix"]


async def test_review_offers_no_choice_without_nixos_facter(no_facter):
    from screens.review import ReviewScreen

    s = Session(Options(dry_run=True, machine_file=str(MACHINE), seed=7, log_path="/tmp/nixos-tui-installer-test.log"),
                valid_model())
    async with app_for(s).run_test(size=(80, 25)) as pilot:
        s.model.disk.device = "/dev/sda"
        screen = await open_step(pilot, ReviewScreen)
        await pilot.pause(0.5)
        assert "Hardware:" not in str(screen.query_one("#steps").render())
        await pilot.press("f7")
        await pilot.pause()
        assert s.model.hardware.report == "generated"


def test_the_stand_in_takes_nixos_facters_output_flag(tmp_path, facter_on_path):
    import subprocess

    out = tmp_path / "r.json"
    subprocess.run([sys.executable, str(STANDIN), "-o", str(out)], check=True)
    assert json.loads(out.read_text())["version"] == 1
    bad = subprocess.run([sys.executable, str(STANDIN), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 1 and "unknown flag: --bogus" in bad.stderr
