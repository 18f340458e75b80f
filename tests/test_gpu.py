"""Issue 20, items 1 and 2: PCI probing, and the graphics driver chosen from it.

The probe's PCI reader runs on a fake sysfs tree laid out as the kernel's
(/sys/bus/pci/devices/<slot>/{vendor,device,class} holding "0x10de\\n", a
`driver` link into /sys/bus/pci/drivers/); the four GPU fixtures
(tests/make_fixtures.py) render through the real engine, and the files are
evaluated by Nix against the stand-in nixpkgs, which holds nvidia.nix's
assertions and nixpkgs' unfree refusal.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import MACHINES, valid_model
from evalcheck_support import use_nix

from installer.answers.file import from_dict
from installer.answers.gpu import _table, generation, legacy_package, plan_gpu
from installer.answers.validate import validate
from installer.base.problems import ProbeError, ProblemsError
from installer.machine.pci import devices_from, nix_bus_id, read_pci
from installer.machine.udevdata import has_battery
from installer.machine.probe import machine_from_data, probe
from installer.nixos import evalcheck
from installer.nixos.render import render
from installer.plan.erase import build_plan
from installer.plan.identity import Identity

FIXTURES = {"laptop": "laptop-intel-nvidia-pascal", "rtx": "desktop-nvidia-rtx3060", "amd": "desktop-amd-gpu",
            "vm": "vm-virtio-gpu"}


def fake_sysfs(root: Path, devices: list[tuple[str, str, str, str, str]], batteries: dict[str, str] = {}) -> Path:
    """A /sys with devices (slot, vendor, device, class, driver) as the kernel lays them out."""
    drivers = root / "bus" / "pci" / "drivers"
    for slot, vendor, device, klass, driver in devices:
        real = root / "devices" / "pci0000:00" / slot
        real.mkdir(parents=True)
        for name, value in (("vendor", vendor), ("device", device), ("class", klass), ("subsystem_vendor", vendor)):
            (real / name).write_text(value + "\n")
        if driver:
            (drivers / driver).mkdir(parents=True, exist_ok=True)
            os.symlink(f"../../../bus/pci/drivers/{driver}", real / "driver")
        link = root / "bus" / "pci" / "devices" / slot
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f"../../../devices/pci0000:00/{slot}", link)
    for name, kind in batteries.items():
        supply = root / "class" / "power_supply" / name
        supply.mkdir(parents=True)
        (supply / "type").write_text(kind + "\n")
    return root


# ---- probing -------------------------------------------------------------------------


def test_read_pci_reads_each_device_as_sysfs_shows_it(tmp_path):
    sys = fake_sysfs(tmp_path, [("0000:01:00.0", "0x10de", "0x1c8d", "0x030200", "nouveau"),
                                ("0000:00:02.0", "0x8086", "0x3e9b", "0x030000", "i915"),
                                ("0000:00:1f.4", "0x8086", "0xa323", "0x0c0500", "")],
                    {"AC": "Mains", "BAT0": "Battery"})
    records = read_pci(str(sys))
    assert records == [
        {"slot": "0000:00:02.0", "vendor": "0x8086", "device": "0x3e9b", "class": "0x030000", "driver": "i915"},
        {"slot": "0000:00:1f.4", "vendor": "0x8086", "device": "0xa323", "class": "0x0c0500", "driver": ""},
        {"slot": "0000:01:00.0", "vendor": "0x10de", "device": "0x1c8d", "class": "0x030200", "driver": "nouveau"},
    ]
    assert has_battery(str(sys)) is True
    devices = devices_from(records)
    assert [(d.vendor, d.device, d.pci_class, d.display) for d in devices] == [
        ("8086", "3e9b", "030000", True), ("8086", "a323", "0c0500", False), ("10de", "1c8d", "030200", True)]


def test_no_pci_bus(tmp_path):
    assert read_pci(str(tmp_path)) == []
    sys = fake_sysfs(tmp_path / "ups", [], {"ups": "UPS", "AC0": "Mains"})
    assert has_battery(str(sys)) is False


def test_devices_from_leaves_out_what_is_not_a_device_record():
    assert devices_from(None) == []
    assert devices_from([{"slot": "nonsense", "vendor": "0x10de", "device": "0x1c8d"},
                         {"slot": "0000:01:00.0", "vendor": "green", "device": "0x1c8d"}, "text"]) == []


@pytest.mark.parametrize("slot, bus_id", [("0000:01:00.0", "PCI:1:0:0"), ("0000:00:02.0", "PCI:0:2:0"),
                                          ("0000:2b:00.0", "PCI:43:0:0"), ("0000:c1:1f.7", "PCI:193:31:7"),
                                          ("0001:02:03.4", "PCI:2@1:3:4")])
def test_bus_ids_are_decimal_in_nixs_format(slot, bus_id):
    assert nix_bus_id(slot) == bus_id
    # nvidia.nix's busIDType accepts it
    assert re.fullmatch(r"([[:print:]]+:[0-9]{1,3}(@[0-9]{1,10})?:[0-9]{1,2}:[0-9])?".replace("[[:print:]]", r"[ -~]"),
                        bus_id)


def test_recorded_machines_carry_their_pci_devices_and_old_ones_still_load(tmp_path):
    laptop = probe(MACHINES / f"{FIXTURES['laptop']}.json")
    assert laptop.battery is True
    assert [(d.slot, d.vendor, d.device, d.driver) for d in laptop.gpus] == [
        ("0000:00:02.0", "8086", "3e9b", "i915"), ("0000:01:00.0", "10de", "1c8d", "nouveau")]
    old = probe(MACHINES / "simple.json")  # a probert recording: no "pci" list
    assert old.pci == [] and old.battery is False and old.disks
    bad = json.loads((MACHINES / "simple.json").read_text())
    bad["pci"] = {"0000:01:00.0": {}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ProbeError, match='"pci" entry is not a list'):
        probe(tmp_path / "bad.json")


def test_record_machine_writes_the_pci_list(tmp_path, monkeypatch):
    """--record-machine's data (probe._live_data: udevdata.live_data and the PCI list) carries the devices
    and the battery; the probe reads them back."""
    import sys
    import types

    from installer.machine import pci as pci_module
    from installer.machine import probe as probe_module
    from installer.machine import udevdata

    sysfs = fake_sysfs(tmp_path / "sys", [("0000:2b:00.0", "0x10de", "0x2503", "0x030000", "nvidia")],
                       {"BAT1": "Battery"})
    no_disks = types.SimpleNamespace(Context=lambda: types.SimpleNamespace(list_devices=lambda **kw: []))
    monkeypatch.setitem(sys.modules, "pyudev", no_disks)
    real_read_pci = pci_module.read_pci
    monkeypatch.setattr(pci_module, "read_pci", lambda: real_read_pci(str(sysfs)))
    monkeypatch.setattr(udevdata, "has_battery", lambda: has_battery(str(sysfs)))
    data = udevdata.trim(probe_module._live_data())
    assert data["pci"] == [{"slot": "0000:2b:00.0", "vendor": "0x10de", "device": "0x2503", "class": "0x030000",
                            "driver": "nvidia"}]
    assert data["machine"]["battery"] is True
    got = machine_from_data(data)
    assert got.battery and [(d.device, d.driver) for d in got.gpus] == [("2503", "nvidia")]


# ---- the generation table -------------------------------------------------------------


def test_the_table_is_ordered_without_overlaps():
    rows = _table()
    assert rows[0][0] == 0
    for (first, last, _, _), (nxt, _, _, _) in zip(rows, rows[1:]):
        assert first <= last < nxt


@pytest.mark.parametrize("device, gen", [("1c8d", "pascal"), ("1b80", "pascal"), ("2503", "ampere"),
                                         ("1e84", "turing"), ("2182", "turing"), ("1f99", "turing"),
                                         ("13c2", "maxwell"), ("1381", "maxwell"), ("1db4", "volta"),
                                         ("0fc6", "kepler-or-older"), ("1180", "kepler-or-older"),
                                         ("2684", "ada"), ("2b85", "blackwell"), ("3182", "newer"),
                                         ("1500", "unknown"), ("zz", "unknown")])
def test_generation_by_pci_id(device, gen):
    assert generation(device) == gen


def test_legacy_580_only_where_the_stable_driver_left_these_cards():
    assert legacy_package("25.11") == ""  # its stable (production) branch is 580
    assert legacy_package("26.05") == "legacy_580"


# ---- the rule, the answers and the files ----------------------------------------------


def machine(name: str):
    return probe(MACHINES / f"{FIXTURES[name]}.json")


def model_for(mach, *, unfree: bool = True, gpu: str = "auto", desktop: str = "gnome"):
    m = valid_model()
    m.disk.device = mach.offered_disks[0].path
    m.software.allow_unfree = unfree
    m.software.desktop = desktop
    m.hardware.gpu = gpu
    return m


def files_for(name: str, **kw) -> dict[str, str]:
    mach = machine(name)
    m = model_for(mach, **kw)
    assert [p for p in validate(m, mach) if p.severity == "error"] == []
    return render(m, mach, build_plan(m, mach, Identity.generate(seed=4)), host_platform="x86_64-linux")


def graphics(text: str) -> list[str]:
    """The option lines of the Graphics section of configuration.nix."""
    if "# ---- Graphics" not in text:
        return []
    section = text.split("# ---- Graphics", 1)[1].split("\n", 1)[1].split("# ----", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip() and not line.strip().startswith("#")]


EXPECTED = {
    "laptop": ['services.xserver.videoDrivers = [ "nvidia" ];', "hardware.graphics.enable = true;",
               "hardware.nvidia.open = false;", "hardware.nvidia.prime.offload.enable = true;",
               "hardware.nvidia.prime.offload.enableOffloadCmd = true;",
               'hardware.nvidia.prime.intelBusId = "PCI:0:2:0";', 'hardware.nvidia.prime.nvidiaBusId = "PCI:1:0:0";'],
    "rtx": ['services.xserver.videoDrivers = [ "nvidia" ];', "hardware.graphics.enable = true;",
            "hardware.nvidia.open = true;"],
    "amd": [],
    "vm": [],
}


@pytest.mark.parametrize("name", FIXTURES)
def test_each_fixture_gets_its_driver_and_evaluates(name, tmp_path, monkeypatch):
    files = files_for(name)
    assert graphics(files["configuration.nix"]) == EXPECTED[name]
    if EXPECTED[name]:
        assert "nixpkgs.config.allowUnfree = true;" in files["configuration.nix"]
    use_nix(monkeypatch, tmp_path)
    outcome = evalcheck.evaluate(files, ["git", "python3Packages.requests"])
    assert outcome.status == "passed", (outcome.message, outcome.detail)


def test_without_consent_the_nvidia_card_gets_nouveau_and_it_is_said(tmp_path, monkeypatch):
    files = files_for("laptop", unfree=False)
    assert graphics(files["configuration.nix"]) == []
    assert "driven by nouveau" in files["configuration.nix"]
    assert "nixpkgs.config.allowUnfree = false;" in files["configuration.nix"]
    assert "unfree" in plan_gpu(model_for(machine("laptop"), unfree=False), machine("laptop")).says
    use_nix(monkeypatch, tmp_path)
    assert evalcheck.evaluate(files).status == "passed"


def test_the_stand_in_refuses_what_nixos_refuses(tmp_path, monkeypatch):
    """The files evaluate because they are right: without `open`, or with the unfree driver not allowed,
    the stand-in fails in nvidia.nix's and nixpkgs' words."""
    use_nix(monkeypatch, tmp_path)
    files = files_for("rtx")
    no_open = dict(files, **{"configuration.nix": files["configuration.nix"].replace("hardware.nvidia.open = true;", "")})
    outcome = evalcheck.evaluate(no_open)
    assert outcome.failed and "You must configure `hardware.nvidia.open`" in outcome.detail
    not_allowed = files["configuration.nix"].replace("allowUnfree = true", "allowUnfree = false")
    outcome = evalcheck.evaluate(dict(files, **{"configuration.nix": not_allowed}))
    assert outcome.failed and "unfree license" in outcome.detail


def test_none_renders_no_graphics_options():
    assert graphics(files_for("rtx", gpu="none")["configuration.nix"]) == []
    assert "# ---- Graphics" not in files_for("laptop", gpu="none")["configuration.nix"]


def test_an_amd_igpu_beside_nvidia_gets_amdgpus_bus_id():
    mach = machine("rtx")
    data = json.loads((MACHINES / f"{FIXTURES['rtx']}.json").read_text())
    data["pci"].append({"slot": "0000:30:00.0", "vendor": "0x1002", "device": "0x1638", "class": "0x030000",
                        "driver": "amdgpu"})
    hybrid = machine_from_data(data)
    m = model_for(mach)
    lines = graphics(render(m, hybrid, build_plan(m, hybrid, Identity.generate(seed=4)),
                            host_platform="x86_64-linux")["configuration.nix"])
    assert 'hardware.nvidia.prime.amdgpuBusId = "PCI:48:0:0";' in lines
    assert 'hardware.nvidia.prime.nvidiaBusId = "PCI:43:0:0";' in lines
    assert not any("intelBusId" in line for line in lines)


@pytest.mark.parametrize("name, gpu, unfree, message", [
    ("laptop", "nvidia-open", True, "cannot run NVIDIA's open kernel modules, which need Turing or newer"),
    ("rtx", "nvidia", False, "also allow unfree software (software.allow_unfree = true)"),
    ("amd", "nvidia-open", True, "no NVIDIA card was found on this machine"),
])
def test_a_forced_driver_that_cannot_work_is_refused_at_its_key(name, gpu, unfree, message):
    mach = machine(name)
    problems = [p for p in validate(model_for(mach, gpu=gpu, unfree=unfree), mach) if p.field == "hardware.gpu"]
    assert len(problems) == 1 and message in problems[0].message


def test_the_answers_file_key():
    m = from_dict({"hardware": {"gpu": "nouveau"}})
    assert m.hardware.gpu == "nouveau"
    assert from_dict({}).hardware.gpu == "auto"
    with pytest.raises(ProblemsError, match="hardware.gpu: must be one of 'auto', 'none', 'nvidia-open', 'nvidia', "
                                            "'nouveau'"):
        from_dict({"hardware": {"gpu": "radeon"}})
    # forcing nouveau on an NVIDIA card renders the plain nouveau note, nothing else
    files = files_for("rtx", gpu="nouveau")
    assert graphics(files["configuration.nix"]) == [] and "driven by nouveau" in files["configuration.nix"]


def test_an_unattended_run_names_the_key_and_renders_the_driver(tmp_path, capsys):
    """--plan refuses a forced driver the card cannot run (exit 2, the key named); --render writes the driver."""
    from installer.cli import main

    hashed = "$y$j9T$adRGRQYJHEV9CAs89LbJU/$gDvIDSJ2V/7SfEYoI7JDPiZPxPX/jC7egPkieq3x0pC"
    answers = tmp_path / "answers.toml"
    text = (f'[disk]\ndevice = "/dev/sda"\n[[users]]\nname = "alice"\npassword_hash = "{hashed}"\n'
            '[software]\nallow_unfree = true\n[hardware]\ngpu = "GPU"\n')
    laptop = str(MACHINES / f"{FIXTURES['laptop']}.json")
    answers.write_text(text.replace("GPU", "nvidia-open"))
    assert main(["--machine", laptop, "--answers", str(answers), "--plan"]) == 2
    assert "hardware.gpu: this card (pascal) cannot run NVIDIA's open kernel modules" in capsys.readouterr().err
    answers.write_text(text.replace("GPU", "auto"))
    assert main(["--machine", laptop, "--answers", str(answers), "--render", str(tmp_path / "out")]) == 0
    assert graphics((tmp_path / "out" / "configuration.nix").read_text()) == EXPECTED["laptop"]


@pytest.mark.nix
def test_the_fixtures_files_set_only_declared_options_of_their_types(tmp_path):
    """The option-declaration check (tests/test_nixos_options.py) on each GPU fixture's files, with and
    without the unfree consent: every option they set is declared in 25.11 with the value's type."""
    from nixoptions import walk_module
    from test_nixos_options import decl, evaluate

    rendered = [(name, text) for fixture in FIXTURES for unfree in (True, False)
                for name, text in files_for(fixture, unfree=unfree).items()]
    values = evaluate(rendered, tmp_path)
    walks = [walk_module(value, decl()) for value in values]
    assert [problem for w in walks for problem in w.problems] == []
    reached = set().union(*(w.patterns for w in walks))
    assert {"hardware.nvidia.open", "hardware.nvidia.prime.intelBusId", "services.xserver.videoDrivers"} <= reached
