"""The flake export: parses, evaluates to the plan's layout in disko's format, leaks no secret."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path

import pytest

from conftest import MACHINES, ssh_key, valid_model
from installer.nixos.export import (
    ExistingFiles, ExportStopped, existing_files, export_files, export_flake, export_problems, exportable_hashes, flake_paths,
)
from installer.nixos.facts import nixpkgs_branch
from installer.machine.hardware import Disk, Machine
from installer.plan.identity import Identity
from installer.answers.model import GIB, InstallModel
from installer.nixos.nixlit import nix
from installer.plan.erase import build_plan
from installer.base.problems import ProblemsError
from nixeval import eval_json, module_args, module_value, nix_path, parse_files

BY_ID = "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T2"
STUB_LIB = "{ mkDefault = x: x; }"
NIX_FILES = ["flake.nix", "configuration.nix", "hardware-configuration.nix", "disk-config.nix", "access.nix"]

PASSPHRASE = "luks \"pass\" ${phrase}"
USER_PASSWORD = "alice's secret pw"
ROOT_PASSWORD = "root secret pw"
USER_HASH = "$6$saltsalt$Xp0xG1m8fJdE6wH4r1nZ7Qk0y9VxQh3aN2bC5dE6fG7hI8jK9lM0nO1pQ2rS3tU4vW5xY6zA7bC8dE9fG0hI1j"
ROOT_HASH = "$6$rootsalt$AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"


def machine(firmware: str = "uefi") -> Machine:
    disk = Disk(path="/dev/nvme0n1", name="nvme0n1", size=1000 * GIB, by_id=BY_ID, model="Samsung SSD 980 PRO 1TB",
                bus="nvme", drivers=["nvme"])
    return Machine(firmware=firmware, cpu_vendor="amd", disks=[disk])


def model_for(firmware: str, fs: str, luks: bool, swap: str) -> InstallModel:
    m = valid_model()
    m.boot.firmware = firmware
    m.disk.device = "/dev/nvme0n1"
    m.disk.filesystem = fs
    m.disk.swap = swap
    m.encryption.enabled = luks
    if luks:
        m.encryption.passphrase = m.encryption.passphrase_confirm = PASSPHRASE
    m.users[0].password = m.users[0].password_confirm = USER_PASSWORD
    m.users[0].password_hash = USER_HASH
    m.root.disabled = False
    m.root.password = m.root.password_confirm = ROOT_PASSWORD
    m.root.password_hash = ROOT_HASH
    m.software.ssh_server = True
    return m


def export_case(m: InstallModel, firmware: str, **kw) -> dict[str, str]:
    mach = machine(firmware)
    plan = build_plan(m, mach, Identity.generate(7))
    return export_files(m, mach, plan, host_platform="x86_64-linux", **kw)


def write(tmp: Path, name: str, files: dict[str, str]) -> Path:
    out = tmp / name
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    return out


# -- what disk-config.nix must say, written out from the issue, not from export.py --


def expected_disk(firmware: str, fs: str, luks: bool, swap: str) -> dict:
    parts: dict = {}
    if firmware == "uefi":
        parts["ESP"] = {
            "priority": 1, "size": "1G", "type": "EF00",
            "content": {"type": "filesystem", "format": "vfat", "mountpoint": "/boot",
                        "mountOptions": ["umask=0077"], "extraArgs": ["-F", "32", "-n", "BOOT"]},
        }
    else:
        parts["bios"] = {"priority": 1, "size": "1M", "type": "EF02"}
        if luks:
            parts["boot"] = {
                "priority": 2, "size": "1G", "type": "8300",
                "content": {"type": "filesystem", "format": "ext4", "mountpoint": "/boot", "extraArgs": ["-L", "boot"]},
            }
    if swap == "partition":
        content = {"type": "swap", "randomEncryption": True} if luks else {"type": "swap"}
        parts["swap"] = {"priority": len(parts) + 1, "size": "4G", "type": "8200", "content": content}
    if fs == "btrfs":
        options = ["compress=zstd", "noatime"]
        root = {
            "type": "btrfs", "extraArgs": ["-f", "-L", "nixos"],
            "subvolumes": {
                "@": {"mountpoint": "/", "mountOptions": options},
                "@home": {"mountpoint": "/home", "mountOptions": options},
                "@nix": {"mountpoint": "/nix", "mountOptions": options},
            },
        }
    else:
        root = {"type": "filesystem", "format": fs, "mountpoint": "/", "extraArgs": ["-L", "nixos"]}
    if luks:
        root = {
            "type": "luks", "name": "cryptroot", "passwordFile": "/tmp/secret.key",
            "extraFormatArgs": ["--type", "luks2"], "settings": {"allowDiscards": True}, "content": root,
        }
    parts["root"] = {"size": "100%", "type": "8309" if luks else "8300", "content": root}
    return {"type": "disk", "device": BY_ID, "content": {"type": "gpt", "partitions": parts}}


MATRIX = list(itertools.product(["uefi", "bios"], ["ext4", "btrfs", "xfs"], [False, True], ["none", "zram", "partition"]))


def test_matrix_parses_and_disk_config_evaluates_to_the_layout(tmp_path):
    dirs = []
    for firmware, fs, luks, swap in MATRIX:
        name = f"{firmware}-{fs}-{'luks' if luks else 'plain'}-{swap}"
        files = export_case(model_for(firmware, fs, luks, swap), firmware)
        dirs.append(write(tmp_path, name, files))
    nix_files = sorted(p for d in dirs for p in d.rglob("*.nix"))
    assert len(nix_files) == len(MATRIX) * len(NIX_FILES)
    parse_files(nix_files)
    exprs = [
        f"(import {nix_path(d / 'hosts/laptop/disk-config.nix')} {{ lib = {STUB_LIB}; }}).disko.devices"
        for d in dirs
    ]
    for (firmware, fs, luks, swap), got in zip(MATRIX, eval_json(exprs), strict=True):
        where = f"{firmware} {fs} luks={luks} swap={swap}"
        assert list(got) == ["disk"] and list(got["disk"]) == ["main"], where
        assert got["disk"]["main"] == expected_disk(firmware, fs, luks, swap), where


def test_partitions_are_created_in_plan_order(tmp_path):
    """disko sorts partitions by priority (root's 100% defaults to 9001, last)."""
    m = model_for("bios", "ext4", True, "partition")
    plan = build_plan(m, machine("bios"), Identity.generate(1))
    files = export_case(m, "bios")
    d = write(tmp_path, "x", files)
    (got,) = eval_json([f"(import {nix_path(d / 'hosts/laptop/disk-config.nix')} {{ lib = {STUB_LIB}; }})"
                        ".disko.devices.disk.main.content.partitions"])
    order = sorted(got, key=lambda name: got[name].get("priority", 9001))
    assert order == [p.name for p in plan.partitions] == ["bios", "boot", "swap", "root"]
    sizes = {p.name: p.size for p in plan.partitions}
    assert got["boot"]["size"] == f"{sizes['boot'] // GIB}G"
    assert got["swap"]["size"] == f"{sizes['swap'] // GIB}G"


def test_flake_evaluates_with_stub_inputs(tmp_path):
    d = write(tmp_path, "x", export_case(model_for("uefi", "btrfs", True, "zram"), "uefi"))
    flake = nix_path(d / "flake.nix")
    expr = (
        f"let f = import {flake}; out = f.outputs {{ self = {{ }}; nixpkgs = {{ lib.nixosSystem = a: a; }};"
        f" disko = {{ nixosModules.disko = \"the disko module\"; }}; }};"
        f" sys = out.nixosConfigurations.laptop; in {{ inherit (f) inputs description; args = builtins.attrNames sys;"
        f" modules = map (m: if builtins.isPath m then toString m else m) sys.modules; }}"
    )
    hw = module_value(d / "hosts/laptop/hardware-configuration.nix", module_args())
    got, hardware = eval_json([expr, hw])
    assert got["inputs"]["nixpkgs"] == {"url": f"github:NixOS/nixpkgs/{nixpkgs_branch()}"}
    assert got["inputs"]["disko"] == {"url": "github:nix-community/disko/latest",
                                      "inputs": {"nixpkgs": {"follows": "nixpkgs"}}}
    # nixosSystem without `system`: the platform comes from the modules, as nixpkgs' flake prefers.
    assert got["args"] == ["modules"]
    assert hardware["nixpkgs"]["hostPlatform"] == "x86_64-linux"
    assert got["modules"][0] == "the disko module"
    host = str((d / "hosts" / "laptop").resolve())
    assert got["modules"][1:] == [f"{host}/disk-config.nix", f"{host}/configuration.nix",
                                  f"{host}/hardware-configuration.nix", f"{host}/access.nix"]
    for path in got["modules"][1:]:
        assert Path(path).is_file()


@pytest.mark.parametrize(
    ("running", "branch"),
    [("26.05.20260601.1234567 (Yarara)", "nixos-26.05"), ("26.11pre904545.f45a5b6 (Z)", "nixos-unstable"),
     ("", "nixos-25.11")],
)
def test_nixpkgs_follows_the_running_release_not_the_state_version(monkeypatch, running, branch):
    """The files use the running ISO's option names; an old stateVersion must not pin an old nixpkgs."""
    from installer.nixos import facts

    monkeypatch.setattr(facts, "nixos_version", lambda *a, **k: running)
    m = model_for("uefi", "ext4", False, "none")
    m.system.state_version = "24.05"
    files = export_case(m, "uefi")
    assert f'nixpkgs.url = "github:NixOS/nixpkgs/{branch}";' in files["flake.nix"]
    assert "24.05" not in files["flake.nix"]
    assert 'system.stateVersion = "24.05";' in files["hosts/laptop/configuration.nix"]
    assert f"`{branch}`" in files["README.md"]


def test_configuration_and_hardware_leave_the_disk_to_disko(tmp_path):
    for firmware, luks, swap in [("uefi", True, "partition"), ("bios", True, "partition"), ("bios", False, "zram")]:
        m = model_for(firmware, "btrfs", luks, swap)
        d = write(tmp_path, f"{firmware}{luks}{swap}", export_case(m, firmware))
        cfg_path, hw_path = d / "hosts/laptop/configuration.nix", d / "hosts/laptop/hardware-configuration.nix"
        cfg, hw = eval_json([module_value(cfg_path), module_value(hw_path)],
                            prelude=f"args = {module_args(['git', 'python3Packages.requests'])};")
        for text_module in (cfg, hw):
            assert "fileSystems" not in text_module
            assert text_module.get("swapDevices", []) == []
            assert "luks" not in text_module.get("boot", {}).get("initrd", {})
        assert cfg["networking"]["hostName"] == "laptop"
        assert cfg["users"]["users"]["alice"]["openssh"]["authorizedKeys"]["keys"] == [ssh_key()]
        assert hw["boot"]["initrd"]["availableKernelModules"] == ["nvme", "sd_mod", "usb_storage", "xhci_pci"]
        assert cfg.get("zramSwap", {}).get("enable", False) == (swap == "zram")
        grub = cfg["boot"]["loader"].get("grub", {})
        if firmware == "bios":
            # disko puts the disk in boot.loader.grub.devices for the EF02 partition;
            # grub.device as well would fail NixOS's "duplicated devices in mirroredBoots".
            assert grub["enable"] is True and "device" not in grub and "devices" not in grub
            assert BY_ID not in cfg_path.read_text()


# -- secrets ---------------------------------------------------------------------


@pytest.mark.parametrize("firmware, fs, luks, swap", [("uefi", "btrfs", True, "partition"), ("bios", "ext4", True, "none")])
def test_no_exported_file_holds_a_secret(tmp_path, firmware, fs, luks, swap):
    m = model_for(firmware, fs, luks, swap)
    secrets = m.secrets()
    assert set(secrets) == {PASSPHRASE, USER_PASSWORD, USER_HASH, ROOT_PASSWORD, ROOT_HASH}
    out = tmp_path / "flake"
    mach = machine(firmware)
    written = export_flake(m, mach, build_plan(m, mach, Identity.generate(3)), out, host_platform="x86_64-linux")
    assert set(written.files) == {"flake.nix", "README.md", ".gitignore"} | {
        f"hosts/laptop/{n}" for n in NIX_FILES if n != "flake.nix"
    }
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for secret in secrets:
                assert secret not in text, f"{path.name} holds a secret"
                assert nix(secret)[1:-1] not in text, f"{path.name} holds an escaped secret"
            assert "hashedPassword" not in text
            assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_password_hashes_only_when_asked(tmp_path):
    m = model_for("uefi", "ext4", True, "zram")
    files = export_case(m, "uefi", include_password_hashes=True)
    for text in files.values():
        for secret in (PASSPHRASE, USER_PASSWORD, ROOT_PASSWORD):
            assert secret not in text
    assert USER_HASH not in "".join(v for k, v in files.items() if not k.endswith("access.nix"))
    d = write(tmp_path, "x", files)
    (got,) = eval_json([f"import {nix_path(d / 'hosts/laptop/access.nix')} {{ lib = {STUB_LIB}; }}"])
    assert got == {"users": {"users": {"alice": {"hashedPassword": USER_HASH}, "root": {"hashedPassword": ROOT_HASH}}}}
    assert "world-readable" in files["README.md"] and "access.nix" in files["README.md"]


def test_plain_password_is_hashed_when_hashes_are_asked_for(tmp_path):
    from installer.base.hashing import verify_password

    m = model_for("uefi", "ext4", False, "zram")
    m.users[0].password_hash = None
    m.root.disabled = True
    files = export_case(m, "uefi", include_password_hashes=True)
    d = write(tmp_path, "x", files)
    (got,) = eval_json([f"import {nix_path(d / 'hosts/laptop/access.nix')} {{ lib = {STUB_LIB}; }}"])
    hashed = got["users"]["users"]["alice"]["hashedPassword"]
    assert list(got["users"]["users"]) == ["alice"]  # root is disabled: no root password
    assert hashed.startswith("$") and verify_password(USER_PASSWORD, hashed)
    assert USER_PASSWORD not in "".join(files.values())


def test_without_hashes_admins_get_sudo_without_a_password(tmp_path):
    m = model_for("uefi", "ext4", False, "zram")
    d = write(tmp_path, "x", export_case(m, "uefi"))
    (got,) = eval_json([f"import {nix_path(d / 'hosts/laptop/access.nix')} {{ lib = {STUB_LIB}; }}"])
    assert got == {"security": {"sudo": {"wheelNeedsPassword": False}}}
    m.users[0].admin = False
    d = write(tmp_path, "y", export_case(m, "uefi"))
    (got,) = eval_json([f"import {nix_path(d / 'hosts/laptop/access.nix')} {{ lib = {STUB_LIB}; }}"])
    assert got == {}


# -- refusals --------------------------------------------------------------------


def refused(m: InstallModel, firmware: str = "uefi", **kw) -> list[str]:
    with pytest.raises(ProblemsError) as err:
        export_case(m, firmware, **kw)
    return [p.field for p in err.value.problems]


def test_refused_without_any_ssh_key():
    m = model_for("uefi", "ext4", False, "zram")
    m.users[0].ssh_keys = []
    assert refused(m) == ["users[0].ssh_keys"]
    m.users[0].ssh_keys = ["   "]
    assert refused(m) == ["users[0].ssh_keys"]
    # With the hashes the person can log in with a password: allowed.
    assert "hashedPassword" in export_case(m, "uefi", include_password_hashes=True)["hosts/laptop/access.nix"]


def test_refusal_names_the_first_admin():
    m = model_for("uefi", "ext4", False, "zram")
    helper = valid_model().users[0]
    helper.name, helper.admin, helper.ssh_keys = "bob", False, []
    m.users[0].ssh_keys = []
    m.users.insert(0, helper)
    assert refused(m) == ["users[1].ssh_keys"]


def test_refused_without_users_or_ssh_server():
    m = model_for("uefi", "ext4", False, "zram")
    m.users = []
    assert refused(m) == ["users"]
    m = model_for("uefi", "ext4", False, "zram")
    m.software.ssh_server = False
    assert refused(m) == ["software.ssh_server"]


def test_refused_for_a_premounted_layout():
    from installer.plan.types import Plan

    m = model_for("uefi", "ext4", False, "zram")
    plan = Plan(layout="premounted", firmware="uefi", loader="systemd-boot", identity=Identity.generate(1))
    assert [p.field for p in export_problems(m, plan)] == ["disk.layout"]


def test_nothing_is_written_when_refused(tmp_path):
    m = model_for("uefi", "ext4", False, "zram")
    m.users[0].ssh_keys = []
    mach = machine()
    with pytest.raises(ProblemsError):
        export_flake(m, mach, build_plan(m, mach, Identity.generate(1)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- README ----------------------------------------------------------------------


def test_readme_has_the_exact_commands():
    luks = export_case(model_for("uefi", "ext4", True, "zram"), "uefi")["README.md"]
    assert (
        "nixos-anywhere --flake .#laptop --disk-encryption-keys /tmp/secret.key ./secret.key"
        " --generate-hardware-config nixos-generate-config ./hosts/laptop/hardware-configuration.nix"
        " --target-host root@IP" in luks
    )
    assert "nixos-anywhere --flake .#laptop --vm-test" in luks
    assert (
        "run 'github:nix-community/disko/latest#disko-install' -- --flake .#laptop --write-efi-boot-entries"
        f" --disk main {BY_ID}" in luks
    )
    assert "secret.key" in luks and PASSPHRASE not in luks
    plain = export_case(model_for("bios", "ext4", False, "zram"), "bios")["README.md"]
    assert "--disk-encryption-keys" not in plain and "--write-efi-boot-entries" not in plain
    assert "nixos-anywhere --flake .#laptop --generate-hardware-config nixos-generate-config" in plain


def test_gitignore_keeps_the_key_out():
    files = export_case(model_for("uefi", "ext4", True, "zram"), "uefi")
    assert "secret.key" in files[".gitignore"].splitlines()


# -- the recorded machines and the templates ----------------------------------------


def test_export_from_a_recorded_machine(tmp_path):
    from installer.machine.probe import probe

    mach = probe(str(MACHINES / "win10.json"))
    disk = mach.disk("sda")
    assert disk is not None and disk.offered and disk.by_id
    m = model_for(mach.firmware, "btrfs", True, "partition")
    m.disk.device = disk.by_id
    files = export_files(m, mach, build_plan(m, mach, Identity.generate(5)), host_platform="x86_64-linux")
    d = write(tmp_path, "x", files)
    parse_files(sorted(d.rglob("*.nix")))
    (got,) = eval_json([f"(import {nix_path(d / 'hosts/laptop/disk-config.nix')} {{ lib = {STUB_LIB}; }})"
                        ".disko.devices.disk.main.device"])
    assert got == disk.by_id


def test_comment_and_path_helpers_refuse_hostile_text():
    from installer.nixos.export import nix_path as path_literal
    from installer.nixos.export import one_line

    assert one_line("a\nb = 1;\r\n# c") == "a b = 1; # c"
    with pytest.raises(ValueError):
        path_literal("hosts/a b/x.nix")
    with pytest.raises(ValueError):
        path_literal("../etc/passwd")
    assert path_literal("hosts/my-host/disk-config.nix") == "./hosts/my-host/disk-config.nix"


def test_refused_for_a_hostname_that_cannot_name_files():
    m = model_for("uefi", "ext4", False, "zram")
    m.system.hostname = "../../etc"
    assert refused(m) == ["system.hostname"]


# Option names each disko type declares (nix-community/disko lib/types/{disk,gpt,filesystem,
# btrfs,luks,swap}.nix, read for this test; only the names seen there). A misspelt
# option would fail disko's module check on the real install.
DISKO_OPTIONS = {
    "disk": {"type", "device", "content"},
    "gpt": {"type", "device", "partitions"},
    "partition": {"type", "device", "priority", "name", "label", "size", "start", "end", "content"},
    "filesystem": {"type", "device", "extraArgs", "mountOptions", "mountpoint", "format"},
    "btrfs": {"type", "device", "extraArgs", "mountOptions", "subvolumes", "mountpoint", "swap"},
    "subvolume": {"name", "type", "extraArgs", "mountOptions", "mountpoint", "swap"},
    "luks": {"type", "device", "name", "keyFile", "passwordFile", "askPassword", "settings", "additionalKeyFiles",
             "initrdUnlock", "extraFormatArgs", "extraOpenArgs", "content"},
    "swap": {"type", "device", "extraArgs", "randomEncryption", "resumeDevice"},
}


def _check_disko_names(node: dict, kind: str, where: str) -> int:
    unknown = set(node) - DISKO_OPTIONS[kind]
    assert not unknown, f"{where}: {sorted(unknown)} are not {kind} options in disko"
    checked = 1
    if kind == "gpt":
        for name, part in node["partitions"].items():
            checked += _check_disko_names(part, "partition", f"{where}.{name}")
    elif kind == "btrfs":
        for name, sub in node.get("subvolumes", {}).items():
            checked += _check_disko_names(sub, "subvolume", f"{where}.{name}")
    if "content" in node:
        content = node["content"]
        checked += _check_disko_names(content, content["type"], f"{where}.content")
    return checked


def test_disk_config_uses_only_disko_option_names(tmp_path):
    dirs = []
    for firmware, fs, luks, swap in [("uefi", "btrfs", True, "partition"), ("bios", "xfs", True, "partition"),
                                     ("uefi", "ext4", False, "partition")]:
        dirs.append(write(tmp_path, f"{firmware}{fs}", export_case(model_for(firmware, fs, luks, swap), firmware)))
    exprs = [f"(import {nix_path(d / 'hosts/laptop/disk-config.nix')} {{ lib = {STUB_LIB}; }}).disko.devices.disk.main"
             for d in dirs]
    counts = [_check_disko_names(disk, "disk", "main") for disk in eval_json(exprs)]
    assert counts == [12, 10, 8]  # every level was walked: disk, gpt, partitions, contents, subvolumes
    with pytest.raises(AssertionError, match="mountoptions"):
        _check_disko_names({"type": "filesystem", "format": "ext4", "mountoptions": []}, "filesystem", "x")


# -- an existing directory -----------------------------------------------------------


def exported_once(tmp_path: Path) -> tuple[InstallModel, Machine, object, Path]:
    m = model_for("uefi", "ext4", False, "zram")
    mach = machine()
    plan = build_plan(m, mach, Identity.generate(4))
    out = tmp_path / "flake"
    export_flake(m, mach, plan, out, host_platform="x86_64-linux")
    return m, mach, plan, out


def test_an_export_never_replaces_files_unless_asked(tmp_path):
    m, mach, plan, out = exported_once(tmp_path)
    (out / "flake.nix").write_text("# my own changes\n")
    before = tree_of(out)
    with pytest.raises(ExistingFiles) as err:
        export_flake(m, mach, plan, out, host_platform="x86_64-linux")
    assert err.value.names == list(flake_paths("laptop")) == existing_files(m, out)
    assert "flake.nix" in str(err.value) and "nothing was written" in str(err.value)
    assert tree_of(out) == before
    # Asked to: every file is the export's again, and private again.
    (out / "README.md").chmod(0o644)
    export_flake(m, mach, plan, out, overwrite=True, host_platform="x86_64-linux")
    assert (out / "flake.nix").read_text().startswith("# flake.nix")
    assert all(stat.S_IMODE((out / n).stat().st_mode) == 0o600 for n in flake_paths("laptop"))


def test_one_existing_file_stops_the_whole_export(tmp_path):
    m = model_for("uefi", "ext4", False, "zram")
    mach = machine()
    out = tmp_path / "flake"
    out.mkdir()
    (out / "README.md").write_text("notes of mine\n")
    (out / ".gitignore").symlink_to(tmp_path / "nowhere")  # writing would follow a dangling link
    with pytest.raises(ExistingFiles) as err:
        export_flake(m, mach, build_plan(m, mach, Identity.generate(4)), out, host_platform="x86_64-linux")
    assert err.value.names == ["README.md", ".gitignore"]
    assert sorted(p.name for p in out.iterdir()) == [".gitignore", "README.md"]
    assert not (tmp_path / "nowhere").exists()


def test_exportable_hashes_names_the_accounts_with_a_password():
    m = model_for("uefi", "ext4", False, "zram")
    assert exportable_hashes(m) == ["alice", "root"]
    m.root.disabled = True
    assert exportable_hashes(m) == ["alice"]
    m.users[0].password = m.users[0].password_hash = None
    assert exportable_hashes(m) == []


@pytest.mark.parametrize("root_disabled", [False, True])
@pytest.mark.parametrize("user_has", ["hash", "password", "nothing"])
def test_the_accounts_offered_are_the_accounts_written(root_disabled, user_has):
    import re

    m = model_for("uefi", "ext4", False, "zram")
    m.root.disabled = root_disabled
    if user_has != "hash":
        m.users[0].password_hash = None
    if user_has == "nothing":
        m.users[0].password = m.users[0].password_confirm = None
    access = export_case(m, "uefi", include_password_hashes=True)["hosts/laptop/access.nix"]
    written = re.findall(r"^  users\.users\.(\w+)\.hashedPassword = ", access, re.M)
    assert written == exportable_hashes(m)
    assert ("alice" in written) == (user_has != "nothing") and ("root" in written) == (not root_disabled)


def tree_of(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_replacing_never_follows_a_link_in_the_directory(tmp_path):
    m, mach, plan, out = exported_once(tmp_path)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the export's\n")
    elsewhere.chmod(0o644)
    (out / "README.md").unlink()
    (out / "README.md").symlink_to(elsewhere)
    (out / "flake.nix").write_text(before := "# changed since\n")
    with pytest.raises(ExportStopped) as err:
        export_flake(m, mach, plan, out, overwrite=True, host_platform="x86_64-linux")
    assert elsewhere.read_text() == "not the export's\n"
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644
    assert err.value.name == "README.md" and err.value.refused
    # Every file's path is checked before the first is written: none was.
    assert err.value.written == ()
    assert "symbolic link" in str(err.value) and "nothing was written" in str(err.value)
    assert not str(err.value).startswith("[Errno")
    assert (out / "flake.nix").read_text() == before


def test_a_file_appearing_while_writing_stops_the_export_saying_what_was_written(tmp_path, monkeypatch):
    import installer.nixos.export

    m = model_for("uefi", "ext4", False, "zram")
    mach = machine()
    out = tmp_path / "flake"
    late = flake_paths("laptop")[4]
    opened = installer.nixos.export.open_private

    def someone_else_writes_first(path, **kw):
        # Another program creates the file between the check and its turn.
        if Path(path) == out / late:
            Path(path).write_text("written meanwhile\n")
        return opened(path, **kw)

    monkeypatch.setattr(installer.nixos.export, "open_private", someone_else_writes_first)
    with pytest.raises(ExistingFiles) as err:
        export_flake(m, mach, build_plan(m, mach, Identity.generate(4)), out, host_platform="x86_64-linux")
    assert (out / late).read_text() == "written meanwhile\n"
    assert err.value.names == [late]
    assert err.value.written == flake_paths("laptop")[:4]
    assert "nothing was written" not in str(err.value)
    assert "only flake.nix, hosts/laptop/disk-config.nix, hosts/laptop/configuration.nix and " \
           "hosts/laptop/hardware-configuration.nix were written" in str(err.value)
    assert not (out / "README.md").exists()
