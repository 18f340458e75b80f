"""Storage the installer had never met, refused where a person meets it: the unattended CLI
(exit 3, the disk's reason) and the Disk step (not offered, the reason in view), on the
machines tests/make_fixtures.py derives from the shared recordings."""

from __future__ import annotations

import json

import pytest
from test_cli import answers_for, cli
from test_screens_support import open_step

from conftest import MACHINES
from installer.flow.session import Options, Session
from screens.app import InstallerApp
from screens.disk import DiskScreen

LUKS_LVM = "nvme0n1p3 holds / through LUKS and LVM"


@pytest.mark.parametrize(("machine", "device", "reason"), [
    ("luks-lvm-root.json", "/dev/nvme0n1", f"refusing to use /dev/nvme0n1: {LUKS_LVM}"),
    ("luks-lvm-root.json", "nvme-A400_NVMe_SanDisk_256GB_171877421152", f"refusing to use /dev/nvme0n1: {LUKS_LVM}"),
    ("multipath.json", "/dev/sdb", "refusing to use /dev/sdb: is one path of the multipath device /dev/mapper/mpatha"),
    ("multipath.json", "/dev/disk/by-id/wwn-0x6001405a1b2c3d4e5f60718293a4b5c6",
     "refusing to use /dev/mapper/mpatha: multipath device: not supported here"),
    ("zfs-pool-desktop.json", "/dev/vdb", "refusing to use /dev/vdb: vdb1 is in the imported ZFS pool tank"),
    ("zfs-pool-desktop.json", "/dev/sdb", "refusing to use /dev/sdb: no medium"),
])
@pytest.mark.parametrize("mode", [["--yes"], ["--plan"]], ids=["yes", "plan"])
def test_unattended_run_refuses_with_the_reason(tmp_path, machine, device, reason, mode):
    done = cli("--answers", answers_for(tmp_path, device=device), "--machine", str(MACHINES / machine), *mode)
    assert done.returncode == 3, done.stdout + done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr


def test_an_ssd_rule_never_picks_a_disk_of_unknown_rotation(tmp_path):
    """imsm's TOSHIBA sdb is a spinning disk recorded without queue/rotational: `ssd = true` must not take it."""
    answers = answers_for(tmp_path, extra="\n[disk.match]\nssd = true\n")
    with open(answers) as file:
        text = file.read().replace('device = "/dev/sda"', "")
    with open(answers, "w") as file:
        file.write(text)
    done = cli("--answers", answers, "--machine", str(MACHINES / "imsm.json"), "--plan")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "disk.match" in done.stderr and "sdb 932 GiB rotation unknown" in done.stderr


async def test_disk_step_does_not_offer_the_luks_lvm_root_disk_and_says_why():
    session = Session(Options(machine_file=str(MACHINES / "luks-lvm-root.json"), dry_run=True, seed=7,
                              log_path="/tmp/nixos-tui-installer-test.log"))
    app = InstallerApp(session)
    # 120 columns, so the whole reason fits on its row (how the Disk step fits long reasons
    # into 80 columns is the screen's business, not the probe's)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_step(pilot, DiskScreen)
        options = screen.query_one("#f-disk-device")
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [p.split()[0] for p in prompts] == ["sdb"]
        shown = " ".join(str(w.render()) for w in screen.query("Static"))
        assert "nvme0n1" in shown and LUKS_LVM in shown, shown


def test_a_disk_controller_without_a_known_module_is_warned_about_in_the_plan(tmp_path):
    """simple.json's disk moved behind a SCSI host adapter no rule knows: planned, with a warning to act on."""
    data = json.loads((MACHINES / "simple.json").read_text())
    sda = data["storage"]["blockdev"]["/dev/sda"]
    sda["DEVPATH"] = "/devices/pci0000:00/0000:00:10.0/host2/target2:0:0/2:0:0:0/block/sda"
    machine = tmp_path / "machine.json"
    machine.write_text(json.dumps(data))
    done = cli("--answers", answers_for(tmp_path, device="/dev/sda"), "--machine", str(machine), "--plan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: sda: no kernel module is known for its controller" in done.stdout
    out = tmp_path / "out"
    done = cli("--answers", answers_for(tmp_path, device="/dev/sda"), "--machine", str(machine), "--render", str(out))
    assert done.returncode == 0, done.stderr
    assert "# Not found out: \"sda: no kernel module" in (out / "hardware-configuration.nix").read_text()
