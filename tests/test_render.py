"""Rendered NixOS files, checked by the real Nix: they parse, and evaluate to what the plan says."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import ssh_key, valid_model
from hypothesis import strategies as st
from nixeval import collect, eval_json, module_args, module_value, parse_files, smallest_mismatches

from installer.nixos import export as export_module
from installer.nixos import render as render_module
from installer.nixos.facts import TEMPLATES_RELEASE, branch_of, host_platform, nixpkgs_branch, release_of, state_version
from installer.machine.hardware import Disk, Machine
from installer.plan.identity import Identity
from installer.answers.model import InstallModel
from installer.plan.types import FsEntry, LuksEntry, Plan, SwapEntry
from installer.nixos.render import SAFE_FILTERS, environment, render, templates_dir
from installer.answers.validate import validate

pytestmark = pytest.mark.nix

GIB = 1024**3
DISK = Disk(
    path="/dev/sda",
    name="sda",
    size=120 * GIB,
    by_id="/dev/disk/by-id/ata-Samsung_SSD_870_S1",
    model="Samsung SSD 870",
    bus="sata",
    drivers=["ahci"],
)


def machine(firmware: str = "uefi", **kw) -> Machine:
    return Machine(firmware=firmware, cpu_vendor=kw.pop("cpu_vendor", "intel"), cpu_flags=kw.pop("cpu_flags", ["vmx"]),
                   disks=[DISK], **kw)


def model_for(firmware: str, fs: str, luks: bool, swap: str, desktop: str) -> InstallModel:
    m = valid_model()
    m.boot.firmware = firmware
    m.disk.device = DISK.path
    m.disk.filesystem = fs
    m.disk.swap = swap
    m.encryption.enabled = luks
    m.encryption.passphrase = m.encryption.passphrase_confirm = "a long passphrase" if luks else None
    m.software.desktop = desktop
    m.software.ssh_server = desktop == "none"
    m.users[0].password_hash = "$6$saltsalt$" + "x" * 86
    return m


def hand_plan(m: InstallModel, ident: Identity) -> Plan:
    """The layout the disks issue describes, built by hand (independent of build_plan)."""
    firmware = m.boot.firmware
    luks = m.encryption.enabled
    fs = m.disk.filesystem
    plan = Plan(
        layout="erase",
        firmware=firmware,
        loader="systemd-boot" if firmware == "uefi" else "grub",
        identity=ident,
        disk=DISK,
        grub_device="" if firmware == "uefi" else DISK.by_id,
        zram=m.disk.swap == "zram",
    )
    root_dev = "/dev/mapper/cryptroot" if luks else f"/dev/disk/by-uuid/{ident.root_uuid}"
    if fs == "btrfs":
        opts = ("compress=zstd", "noatime")
        plan.filesystems += [
            FsEntry("/", root_dev, "btrfs", ("subvol=@", *opts)),
            FsEntry("/home", root_dev, "btrfs", ("subvol=@home", *opts)),
            FsEntry("/nix", root_dev, "btrfs", ("subvol=@nix", *opts)),
        ]
    else:
        plan.filesystems.append(FsEntry("/", root_dev, fs))
    if firmware == "uefi":
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{ident.esp_volid}", "vfat", ("fmask=0077", "dmask=0077")))
    elif luks:
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{ident.boot_uuid}", "ext4"))
    if luks:
        plan.luks.append(LuksEntry("cryptroot", f"/dev/disk/by-uuid/{ident.luks_uuid}"))
    if m.disk.swap == "partition":
        if luks:
            plan.swaps.append(SwapEntry(f"/dev/disk/by-partuuid/{ident.swap_uuid}", random_encryption=True))
        else:
            plan.swaps.append(SwapEntry(f"/dev/disk/by-uuid/{ident.swap_uuid}"))
    return plan


def real_plan(m: InstallModel, mach: Machine, ident: Identity) -> Plan | None:
    """build_plan's plan, when the disks work provides it."""
    try:
        from installer.plan.erase import build_plan

        return build_plan(m, mach, ident)
    except NotImplementedError:
        return None


MATRIX = list(
    itertools.product(("uefi", "bios"), ("ext4", "btrfs", "xfs"), (False, True), ("none", "zram", "partition"), ("none", "gnome", "plasma"))
)


def write(tmp: Path, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    d = tmp / name
    d.mkdir()
    for fname, text in files.items():
        (d / fname).write_text(text, encoding="utf-8")
    return d / "configuration.nix", d / "hardware-configuration.nix"


TUNING = ("compress=zstd", "noatime")  # configuration.nix's, not hardware-configuration.nix's


def expected_hw(plan: Plan) -> dict:
    fs = {}
    for entry in plan.filesystems:
        fs[entry.mountpoint] = {"device": entry.device, "fsType": entry.fstype}
        if [o for o in entry.options if o not in TUNING]:
            fs[entry.mountpoint]["options"] = [o for o in entry.options if o not in TUNING]
    swaps = []
    for s in plan.swaps:
        swaps.append({"device": s.device, **({"randomEncryption": {"enable": True}} if s.random_encryption else {})})
    luks = {e.name: {"device": e.device} for e in plan.luks}
    return {"fileSystems": fs, "swapDevices": swaps, "luks": luks}


def check_config(cfg: dict, m: InstallModel, plan: Plan, where: str) -> None:
    assert cfg["networking"]["hostName"] == m.system.hostname, where
    assert cfg["networking"]["networkmanager"]["enable"] is True, where
    assert cfg["time"]["timeZone"] == m.system.timezone
    assert cfg["i18n"]["defaultLocale"] == m.system.locale
    assert cfg["console"]["keyMap"] == m.system.keymap
    assert cfg["console"].get("earlySetup", False) == bool(plan.luks), where
    loader = cfg["boot"]["loader"]
    if plan.loader == "systemd-boot":
        assert loader == {"systemd-boot": {"enable": True}, "efi": {"canTouchEfiVariables": True}}, where
    elif plan.firmware == "uefi":
        assert loader == {"grub": {"enable": True, "efiSupport": True, "device": "nodev"}, "efi": {"canTouchEfiVariables": True}}
    else:
        assert loader == {"grub": {"enable": True, "device": DISK.by_id}}, where
    user = cfg["users"]["users"]["alice"]
    assert user == {
        "isNormalUser": True,
        "description": "Alice Liddell",
        "extraGroups": ["wheel", "networkmanager"],
        "openssh": {"authorizedKeys": {"keys": [ssh_key()]}},
    }, where
    assert cfg["imports"][0].endswith("/hardware-configuration.nix")
    # How the filesystems are mounted is configuration.nix's: a regenerated hardware file keeps only subvol=.
    assert cfg.get("fileSystems", {}) == {
        fs.mountpoint: {"options": [o for o in fs.options if o in TUNING]}
        for fs in plan.filesystems if any(o in TUNING for o in fs.options)}, where
    assert cfg.get("zramSwap", {}).get("enable", False) == plan.zram, where
    assert cfg["environment"]["systemPackages"] == ["git", "python3Packages.requests"]
    assert cfg["nix"]["settings"]["experimental-features"] == ["nix-command", "flakes"]
    assert cfg["nixpkgs"]["config"]["allowUnfree"] is False
    assert cfg["system"]["stateVersion"] == m.system.state_version
    services = cfg.get("services", {})
    desktop = m.software.desktop
    assert services.get("desktopManager", {}).get("gnome", {}).get("enable", False) == (desktop == "gnome"), where
    assert services.get("displayManager", {}).get("gdm", {}).get("enable", False) == (desktop == "gnome"), where
    assert services.get("desktopManager", {}).get("plasma6", {}).get("enable", False) == (desktop == "plasma"), where
    assert services.get("displayManager", {}).get("sddm", {}).get("enable", False) == (desktop == "plasma"), where
    if desktop != "none":
        assert services["xserver"]["xkb"] == {"layout": "de", "variant": "nodeadkeys"}
        assert services["pipewire"]["enable"] is True
    else:
        assert "xserver" not in services
    assert services.get("openssh", {}).get("enable", False) == m.software.ssh_server


def check_hardware(hw: dict, plan: Plan, mach: Machine, where: str) -> None:
    want = expected_hw(plan)
    assert hw["fileSystems"] == want["fileSystems"], where
    assert hw["swapDevices"] == want["swapDevices"], where
    for swap in hw["swapDevices"]:
        # NixOS's swap module asserts this: a random key wipes the UUID/label at every boot.
        if swap.get("randomEncryption", {}).get("enable"):
            assert not swap["device"].startswith(("/dev/disk/by-uuid/", "/dev/disk/by-label/")), where
    assert hw["boot"]["initrd"].get("luks", {}).get("devices", {}) == want["luks"], where
    assert hw["boot"]["initrd"]["availableKernelModules"] == ["ahci", "sd_mod", "usb_storage", "xhci_pci"]
    assert hw["boot"]["initrd"]["kernelModules"] == []
    assert hw["boot"]["kernelModules"] == ["kvm-intel"]
    assert hw["boot"]["extraModulePackages"] == []
    assert hw["imports"] == ["/stub/installer/scan/not-detected.nix"]
    assert hw["networking"]["useDHCP"] is True
    assert hw["nixpkgs"]["hostPlatform"] == host_platform()
    # config.hardware.enableRedistributableFirmware is false in the stub config
    assert hw["hardware"]["cpu"] == {"intel": {"updateMicrocode": False}}


def test_matrix_parses_and_evaluates(tmp_path):
    """UEFI/BIOS x ext4/btrfs/xfs x LUKS x swap x desktop, from hand-made and build_plan plans."""
    cases = []
    for i, combo in enumerate(MATRIX):
        m = model_for(*combo)
        mach = machine(combo[0])
        ident = Identity.generate(seed=i)
        plans = [("hand", hand_plan(m, ident))]
        built = real_plan(m, mach, ident)
        if built is not None:
            plans.append(("build_plan", built))
        for source, plan in plans:
            files = render(m, mach, plan)
            for secret in m.secrets():
                assert all(secret not in text for text in files.values())
            cfg, hw = write(tmp_path, f"{i}-{source}", files)
            cases.append((f"{combo} {source}", m, mach, plan, cfg, hw))
    parse_files([p for case in cases for p in case[4:]])
    exprs = [module_value(p) for case in cases for p in case[4:]]
    values = eval_json(exprs, prelude=f"args = {module_args(['git', 'python3Packages.requests'])};")
    for n, (where, m, mach, plan, _cfg, _hw) in enumerate(cases):
        check_config(values[2 * n], m, plan, where)
        check_hardware(values[2 * n + 1], plan, mach, where)
    assert len(cases) >= len(MATRIX)


def test_hand_plans_cover_the_layout_details():
    """The matrix compares against plans; these pin what those plans must produce."""
    ident = Identity.generate(seed=7)
    m = model_for("uefi", "btrfs", True, "partition", "none")
    want = expected_hw(hand_plan(m, ident))
    assert want["fileSystems"]["/"] == {
        "device": "/dev/mapper/cryptroot",
        "fsType": "btrfs",
        "options": ["subvol=@"],  # compress=zstd and noatime: configuration.nix
    }
    assert want["fileSystems"]["/boot"]["options"] == ["fmask=0077", "dmask=0077"]
    assert want["luks"] == {"cryptroot": {"device": f"/dev/disk/by-uuid/{ident.luks_uuid}"}}
    assert want["swapDevices"] == [{"device": f"/dev/disk/by-partuuid/{ident.swap_uuid}", "randomEncryption": {"enable": True}}]


def evaluate_pair(tmp_path: Path, files: dict[str, str], packages=("git", "python3Packages.requests")) -> tuple[dict, dict]:
    cfg, hw = write(tmp_path, "one", files)
    parse_files([cfg, hw])
    return tuple(eval_json([module_value(cfg), module_value(hw)], prelude=f"args = {module_args(list(packages))};"))


def test_uefi_grub_and_qemu_amd(tmp_path):
    m = model_for("uefi", "ext4", False, "none", "none")
    m.boot.loader = "grub"
    mach = machine("uefi", cpu_vendor="amd", cpu_flags=["svm", "hypervisor"], virtualisation="qemu")
    plan = hand_plan(m, Identity.generate(seed=3))
    plan.loader = "grub"
    cfg, hw = evaluate_pair(tmp_path, render(m, mach, plan))
    assert cfg["boot"]["loader"] == {
        "grub": {"enable": True, "efiSupport": True, "device": "nodev"},
        "efi": {"canTouchEfiVariables": True},
    }
    assert hw["imports"] == ["/stub/profiles/qemu-guest.nix"]
    assert hw["boot"]["kernelModules"] == ["kvm-amd"]
    assert "hardware" not in hw  # microcode is the host's business in a virtual machine


def test_xfce_virtualbox_no_cpu_vendor(tmp_path):
    m = model_for("bios", "xfs", False, "zram", "xfce")
    m.software.networkmanager = False
    m.software.flakes = False
    m.software.allow_unfree = True
    m.software.packages = []
    m.root.disabled = False
    mach = machine("bios", cpu_vendor="", cpu_flags=None, virtualisation="virtualbox")
    cfg, hw = evaluate_pair(tmp_path, render(m, mach, hand_plan(m, Identity.generate(seed=4))), packages=())
    xserver = cfg["services"]["xserver"]
    assert xserver["enable"] is True
    assert xserver["displayManager"]["lightdm"]["enable"] is True
    assert xserver["desktopManager"]["xfce"]["enable"] is True
    assert cfg["networking"]["networkmanager"]["enable"] is False
    assert cfg["users"]["users"]["alice"]["extraGroups"] == ["wheel"]
    assert "nix" not in cfg
    assert cfg["nixpkgs"]["config"]["allowUnfree"] is True
    assert "systemPackages" not in cfg.get("environment", {})
    assert hw["imports"] == []
    assert hw["virtualisation"] == {"virtualbox": {"guest": {"enable": True}}}
    assert hw["boot"]["kernelModules"] == []
    assert "hardware" not in hw


def test_without_filesystems_for_a_disko_flake(tmp_path):
    m = model_for("uefi", "btrfs", True, "partition", "none")
    m.disk.swap = "zram"
    mach = machine("uefi")
    plan = hand_plan(m, Identity.generate(seed=5))
    plan.swaps.append(SwapEntry("/dev/disk/by-uuid/0000"))
    files = render(m, mach, plan, include_filesystems=False)
    cfg, hw = evaluate_pair(tmp_path, files)
    assert "fileSystems" not in hw and "swapDevices" not in hw
    assert "luks" not in hw["boot"]["initrd"]
    assert cfg["zramSwap"]["enable"] is True
    assert cfg["console"]["earlySetup"] is True  # the disko layout still has LUKS
    assert "/dev/" not in files["hardware-configuration.nix"]


def test_host_platform_is_rendered(tmp_path):
    m = model_for("uefi", "ext4", False, "none", "none")
    files = render(m, machine(), hand_plan(m, Identity.generate(seed=6)), host_platform="aarch64-linux")
    _cfg, hw = evaluate_pair(tmp_path, files)
    assert hw["nixpkgs"]["hostPlatform"] == "aarch64-linux"


def test_premounted_plan_uses_mounted_disks_drivers(tmp_path):
    nvme = Disk(path="/dev/nvme0n1", name="nvme0n1", size=500 * GIB, drivers=["nvme"])
    nvme.partitions = []
    usb = Disk(path="/dev/sdb", name="sdb", size=32 * GIB, drivers=["uas"], mountpoint="")
    from installer.machine.hardware import Partition

    nvme.partitions.append(Partition(path="/dev/nvme0n1p2", number=2, size=400 * GIB, uuid="abcd", mountpoint="/mnt"))
    mach = Machine(firmware="uefi", cpu_vendor="intel", disks=[nvme, usb])
    m = model_for("uefi", "ext4", False, "none", "none")
    plan = Plan(layout="premounted", firmware="uefi", loader="systemd-boot", identity=Identity.generate(seed=1))
    plan.filesystems.append(FsEntry("/", "/dev/disk/by-uuid/abcd", "ext4"))
    _cfg, hw = evaluate_pair(tmp_path, render(m, mach, plan))
    assert hw["boot"]["initrd"]["availableKernelModules"] == ["nvme", "sd_mod", "usb_storage", "xhci_pci"]


def test_package_names_that_are_keywords_stay_selections(tmp_path):
    m = model_for("uefi", "ext4", False, "none", "none")
    m.software.packages = ["if", "or.in", "with-x", "a'b", "rec.let.then"]
    assert validate(m) == []
    files = render(m, machine(), hand_plan(m, Identity.generate(seed=8)))
    assert 'pkgs."if"' in files["configuration.nix"]
    cfg, _hw = evaluate_pair(tmp_path, files, packages=m.software.packages)
    assert cfg["environment"]["systemPackages"] == m.software.packages


@pytest.mark.parametrize(
    ("bus", "drivers"),
    [("nvme", ["nvme"]), ("sata", ["ahci", "sd_mod"]), ("virtio", ["virtio_blk", "virtio_pci"]),
     ("scsi", ["megaraid_sas", "sd_mod"]), ("other", [])],
)
def test_initrd_modules_are_the_disks_drivers_and_the_pc_defaults(bus, drivers):
    disk = Disk(path="/dev/x", name="x", size=64 * GIB, bus=bus, drivers=drivers)
    plan = Plan(layout="erase", firmware="uefi", loader="systemd-boot", identity=Identity.generate(seed=1), disk=disk)
    modules = render_module.initrd_modules(Machine(disks=[disk]), plan)
    assert modules == sorted(set(drivers) | {"sd_mod", "usb_storage", "xhci_pci"})


def test_multiline_ssh_key_entries_become_one_key_per_line(tmp_path):
    m = model_for("uefi", "ext4", False, "none", "none")
    a, b = ssh_key(comment="a@x"), ssh_key("ssh-rsa", "b@y")
    m.users[0].ssh_keys = [f"  {a}\n\n{b}  \n", "   "]
    cfg, _hw = evaluate_pair(tmp_path, render(m, machine(), hand_plan(m, Identity.generate(seed=2))))
    assert cfg["users"]["users"]["alice"]["openssh"]["authorizedKeys"]["keys"] == [a, b]


# ---- every interpolation goes through a filter safe for its file type ----------

# Nix literals anywhere in a .nix file: the NixOS files' filters and the flake's.
NIX_FILTERS = SAFE_FILTERS | export_module.NIX_FILTERS
TEMPLATES = sorted(templates_dir().rglob("*.j2"))


def allowed_filters(name: str, source: str):
    """For a template file name: line number -> the filters allowed there.

    .nix: Nix filters; one_line too, but only on a `#` comment line outside
    any Nix string (one line of text cannot end the comment, but inside
    a string `${` or a quote could). .md (the flake's README): prose and
    shell words. Any other kind of template needs a rule here first.
    """
    if name.endswith(".nix.j2"):
        lines = source.splitlines()
        comment = export_module.LINE_FILTERS
        return lambda n: NIX_FILTERS | (comment if _nix_comment_line(lines, n) else frozenset())
    if name.endswith(".md.j2"):
        return lambda n: export_module.LINE_FILTERS | export_module.SHELL_FILTERS
    raise AssertionError(f"{name}: no filter rule for this kind of template; add one to allowed_filters")


def _nix_comment_line(lines: list[str], lineno: int) -> bool:
    import re

    if not lines[lineno - 1].lstrip().startswith("#"):
        return False
    code = "\n".join(re.sub(r"\\.", "", line) for line in lines[: lineno - 1] if not line.lstrip().startswith("#"))
    return code.count('"') % 2 == 0 and code.count("''") % 2 == 0  # no string left open above


def unsafe_outputs(source: str, trusted: frozenset[str] = frozenset(), allowed=lambda lineno: SAFE_FILTERS) -> list[str]:
    """Each `{{ ... }}` in a template that does not end in a filter allowed on its line.

    An expression is allowed unfiltered only when every name in it is in
    `trusted`, a closed list of values no user can influence.
    """
    from jinja2 import nodes

    env = environment()
    bad = []
    for output in env.parse(source).find_all(nodes.Output):
        for expr in output.nodes:
            if isinstance(expr, nodes.TemplateData):
                continue
            if isinstance(expr, nodes.Filter) and expr.name in allowed(expr.lineno):
                continue
            names = {n.name for n in expr.find_all(nodes.Name)}
            if isinstance(expr, nodes.Name):
                names.add(expr.name)
            if names and names <= trusted and not any(True for _ in expr.find_all(nodes.Call)):
                continue
            bad.append(f"line {expr.lineno}: {{{{ {_describe(expr)} }}}}")
    return bad


def _describe(expr) -> str:
    return type(expr).__name__ + (f" {expr.name}" if hasattr(expr, "name") else "")


def test_every_template_is_checked():
    names = {p.relative_to(templates_dir()).as_posix() for p in TEMPLATES}
    assert set(render_module.TEMPLATE_NAMES.values()) | {"flake/flake.nix.j2", "flake/README.md.j2"} <= names


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.relative_to(templates_dir()).as_posix())
def test_templates_filter_every_interpolation(template):
    source = template.read_text(encoding="utf-8")
    assert "{{" in source
    assert unsafe_outputs(source, allowed=allowed_filters(template.name, source)) == []


@pytest.mark.parametrize(
    ("name", "snippet"),
    [
        ("x.nix.j2", "x = {{ host | one_line }};"),
        ("x.nix.j2", "x = 1; # {{ host | one_line }}"),
        ("x.nix.j2", "x = ''\n  # {{ host | one_line }}\n'';"),
        ("x.nix.j2", 'x = "\n  # {{ host | one_line }}\n";'),
        ("x.nix.j2", "# {{ host | sh }}"),
        ("x.nix.j2", "x = {{ host | sh }};"),
        ("x.md.j2", "Host {{ host | nix }}"),
        ("x.md.j2", "Host {{ host }}"),
    ],
)
def test_the_filter_check_knows_the_file_type(name, snippet):
    assert unsafe_outputs(snippet, allowed=allowed_filters(name, snippet)) != []


@pytest.mark.parametrize(
    ("name", "snippet"),
    [
        ("x.nix.j2", "# {{ host | one_line }}\nx = {{ host | nix }};"),
        ("x.nix.j2", 'x = "a \\" b";\n  # {{ host | one_line }}'),
        ("x.nix.j2", "{{ disk | nix_block(8) }} {{ path | nix_path }} {{ p | nix_pkg }}"),
        ("x.md.j2", "`git commit -m {{ host | sh }}` for {{ host | one_line }}"),
    ],
)
def test_the_filter_check_accepts_each_file_types_filters(name, snippet):
    assert unsafe_outputs(snippet, allowed=allowed_filters(name, snippet)) == []


def test_the_filter_check_needs_a_rule_for_a_new_file_type():
    with pytest.raises(AssertionError, match="no filter rule"):
        allowed_filters("setup.sh.j2", "{{ x | sh }}")


@pytest.mark.parametrize(
    "snippet",
    [
        "{{ model.system.hostname }}",
        "x = {{ user.description | upper }};",
        "{{ user.description | nix | upper }}",
        "{{ '\"' ~ (user.description | nix) }}",
        "{{ user.description | string }}",
        "{{ trusted_name ~ model.system.hostname }}",
        "{{ trusted_name(model) }}",
        "{% for u in users %}{{ u.name }}{% endfor %}",
        "{% if x %}{{ x }}{% endif %}",
    ],
)
def test_the_filter_check_catches_unfiltered_values(snippet):
    assert unsafe_outputs(snippet, trusted=frozenset({"trusted_name"})) != []


@pytest.mark.parametrize(
    "snippet",
    ["{{ model.system.hostname | nix }}", "{{ u.name | nix_attr }}", "{{ p | nix_pkg }}", "{{ trusted_name }}", "text only"],
)
def test_the_filter_check_accepts_safe_values(snippet):
    assert unsafe_outputs(snippet, trusted=frozenset({"trusted_name"})) == []


def test_environment_is_strict_and_lazy():
    import jinja2

    env = environment()
    assert env is environment()
    assert env.undefined is jinja2.StrictUndefined
    assert env.autoescape is False
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing | nix }}").render()


# ---- (b) free-text fields survive the real templates exactly ----------------

SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":"), max_size=20)
DESCRIPTION = st.lists(
    st.one_of(st.sampled_from(["${", "''", "\\", '"', "$", "''${", "#", "/*", "Zoë"]), SAFE_TEXT), max_size=6
).map("".join)
COMMENT = DESCRIPTION.map(lambda s: " ".join(s.split()))
KEY_KIND = st.sampled_from(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"])
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
# RFC 1123 labels: built from characters (much faster than from_regex), then
# trimmed of '-' at either end.
HOSTNAME = st.tuples(st.sampled_from(LOWER), st.text(LOWER + "-", max_size=62)).map(
    lambda t: (t[0] + t[1]).rstrip("-") or t[0]
)
IDENT_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
ATTR = st.tuples(st.sampled_from(IDENT_START), st.text(IDENT_START + "0123456789'-", max_size=12)).map("".join)
PACKAGE = st.lists(ATTR, min_size=1, max_size=3).map(".".join)
FIELDS = st.fixed_dictionaries(
    {
        "description": DESCRIPTION,
        "keys": st.lists(st.tuples(KEY_KIND, COMMENT), max_size=3),
        "hostname": HOSTNAME,
        "packages": st.lists(PACKAGE, max_size=4),
    }
)


def test_property_free_text_fields_round_trip(tmp_path):
    """(b) Full name, SSH keys, hostname and packages that pass validation come back exactly."""
    examples = collect(FIELDS)
    plan_ident = Identity.generate(seed=11)
    cases, paths = [], []
    for n, ex in enumerate(examples):
        m = model_for("uefi", "ext4", False, "none", "none")
        m.system.hostname = ex["hostname"]
        m.users[0].description = ex["description"]
        m.users[0].ssh_keys = [ssh_key(kind, comment) for kind, comment in ex["keys"]]
        m.software.packages = ex["packages"]
        problems = [p for p in validate(m) if p.severity == "error"]
        assert problems == [], (ex, problems)
        files = render(m, machine(), hand_plan(m, plan_ident))
        cfg, _hw = write(tmp_path, str(n), files)
        cases.append(m)
        paths.append(cfg)
    parse_files(paths)
    packages = sorted({p for m in cases for p in m.software.packages})
    exprs = [
        f"let c = {module_value(p)}; in {{ host = c.networking.hostName; user = c.users.users.alice;"
        " pkgs = c.environment.systemPackages or [ ]; }"
        for p in paths
    ]
    got = eval_json(exprs, prelude=f"args = {module_args(packages)};")
    pairs = []
    for m, value in zip(cases, got):
        want = {
            "host": m.system.hostname,
            "description": m.users[0].description,
            "keys": m.users[0].ssh_keys,
            "pkgs": m.software.packages,
        }
        user = value["user"]
        have = {
            "host": value["host"],
            "description": user["description"],
            "keys": user.get("openssh", {}).get("authorizedKeys", {}).get("keys", []),
            "pkgs": value["pkgs"],
        }
        pairs.append((want, have))
    assert smallest_mismatches(pairs) == []


# ---- facts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "release"),
    [("25.11.20251120.abcdef0 (Xantusia)", "25.11"), ("26.05pre123.abc (Yarara)", "26.05"), ("24.05", "24.05"), ("garbage", "")],
)
def test_release_of(text, release):
    assert release_of(text) == release


def test_state_version_falls_back():
    import subprocess

    def missing(*a, **k):
        raise FileNotFoundError("nixos-version")

    def fails(*a, **k):
        return subprocess.CompletedProcess(a, 1, "", "boom")

    def works(*a, **k):
        return subprocess.CompletedProcess(a, 0, "26.05.20260501.1234567 (Yarara)\n", "")

    assert state_version(missing) == "25.11"
    assert state_version(fails) == "25.11"
    assert state_version(works) == "26.05"


@pytest.mark.parametrize(
    ("text", "branch"),
    [
        ("25.11.20251120.abcdef0 (Xantusia)", "nixos-25.11"),
        ("26.05.20260601.1234567 (Yarara)", "nixos-26.05"),
        ("26.05pre904545.f45a5b6 (Yarara)", "nixos-unstable"),
        ("garbage", ""),
    ],
)
def test_branch_of(text, branch):
    assert branch_of(text) == branch


def test_nixpkgs_branch_is_the_running_release_or_the_templates_one():
    import subprocess

    def version(text):
        return lambda *a, **k: subprocess.CompletedProcess(a, 0, text, "")

    def missing(*a, **k):
        raise FileNotFoundError("nixos-version")

    assert nixpkgs_branch(version("26.05.20260601.1234567 (Yarara)\n")) == "nixos-26.05"
    assert nixpkgs_branch(version("26.11pre1.abc (Z)\n")) == "nixos-unstable"
    # Off NixOS: the release whose option names the templates use.
    assert nixpkgs_branch(missing) == f"nixos-{TEMPLATES_RELEASE}" == "nixos-25.11"


def test_host_platform_names():
    assert host_platform("x86_64") == "x86_64-linux"
    assert host_platform("aarch64") == "aarch64-linux"
    assert host_platform("weird") == "x86_64-linux"


# -- hardware facts as nixos-generate-config reads them (issue 13, item 9) ----------
@pytest.mark.parametrize(("vendor", "flags", "virt", "modules", "microcode"), [
    ("intel", ["vmx"], "none", ["kvm-intel"], {"intel": {"updateMicrocode": False}}),
    ("intel", [], "none", [], {"intel": {"updateMicrocode": False}}),  # VT-x off in the firmware: no kvm-intel
    ("amd", ["svm", "hypervisor"], "qemu", ["kvm-amd"], None),  # nested virtualisation; microcode is the host's
    ("intel", ["hypervisor"], "other", [], None),  # a Xen or Parallels guest is not bare metal either
    ("amd", None, "none", [], {"amd": {"updateMicrocode": False}}),  # flags not recorded: no guess
])
def test_kvm_from_the_cpu_flags_and_microcode_only_on_bare_metal(tmp_path, vendor, flags, virt, modules, microcode):
    m = model_for("uefi", "ext4", False, "none", "none")
    mach = machine("uefi", cpu_vendor=vendor, cpu_flags=flags, virtualisation=virt)
    _cfg, hw = evaluate_pair(tmp_path, render(m, mach, hand_plan(m, Identity.generate(seed=9))))
    assert hw["boot"]["kernelModules"] == modules
    assert hw.get("hardware", {}).get("cpu") == microcode
    assert hw["imports"] == (["/stub/installer/scan/not-detected.nix"] if virt == "none" else
                             ["/stub/profiles/qemu-guest.nix"] if virt == "qemu" else [])


def test_btrfs_mount_choices_are_in_configuration_nix(tmp_path):
    """hardware-configuration.nix keeps what nixos-generate-config writes back (subvol=); the rest is the user's."""
    m = model_for("uefi", "btrfs", False, "none", "none")
    files = render(m, machine(), hand_plan(m, Identity.generate(seed=10)))
    cfg, hw = evaluate_pair(tmp_path, files)
    assert hw["fileSystems"]["/"]["options"] == ["subvol=@"]
    assert hw["fileSystems"]["/home"]["options"] == ["subvol=@home"]
    assert cfg["fileSystems"] == {mp: {"options": ["compress=zstd", "noatime"]} for mp in ("/", "/home", "/nix")}
    assert "compress" not in files["hardware-configuration.nix"]


def test_recorded_piix_disk_and_an_unknown_controller_in_the_hardware_file(tmp_path):
    from installer.machine.probe import probe
    from installer.plan.erase import build_plan
    from conftest import MACHINES

    found = probe(MACHINES / "simple.json")  # QEMU's PIIX IDE at 00:01.1
    m = valid_model()
    m.boot.firmware, m.boot.loader = "bios", "grub"
    m.disk.device = "/dev/sda"
    found.warnings.append('sdb: no kernel module is known for its controller 0000:00:10.0; "quoted"')
    files = render(m, found, build_plan(m, found, Identity.generate(1)))
    _cfg, hw = evaluate_pair(tmp_path, files)
    assert "ata_piix" in hw["boot"]["initrd"]["availableKernelModules"]
    assert "ahci" not in hw["boot"]["initrd"]["availableKernelModules"]
    assert '  # Not found out: "sdb: no kernel module is known for its controller 0000:00:10.0; \\"quoted\\""' in (
        files["hardware-configuration.nix"])


WIFI_SSID = 'Café "x" ${pkgs.a} \\ n'  # 23 bytes: quotes, an antiquotation, a backslash
WIFI_PASSWORD = "correct horse battery"


def test_wifi_kept_through_wpa_supplicant_names_its_secret_and_never_holds_it(tmp_path):
    """networking.wireless as nixpkgs 25.11's module wants it: the network under its own
    name (escaped), pskRaw "ext:" naming the secret in secretsFile, a string path (a Nix
    path literal would be copied into the store); the password in no rendered file."""
    from installer.plan import wifi

    m = model_for("uefi", "ext4", False, "none", "none")
    m.software.networkmanager = False
    m.network.wifi_ssid, m.network.wifi_password = WIFI_SSID, WIFI_PASSWORD
    m.network.wifi_hidden, m.network.wifi_backend = True, "wpa_supplicant"
    assert [p for p in validate(m) if p.field.startswith("network")] == []
    files = render(m, machine(), hand_plan(m, Identity.generate(seed=5)))
    assert all(WIFI_PASSWORD not in text for text in files.values())
    cfg, _ = evaluate_pair(tmp_path, files)
    wireless = cfg["networking"]["wireless"]
    assert wireless == {"enable": True, "secretsFile": wifi.WPA_SECRETS_FILE,
                        "networks": {WIFI_SSID: {"pskRaw": f"ext:{wifi.WPA_SECRET_NAME}", "hidden": True}}}
    assert cfg["networking"]["networkmanager"]["enable"] is False


def test_open_wifi_through_wpa_supplicant_has_no_secret(tmp_path):
    m = model_for("uefi", "ext4", False, "none", "none")
    m.software.networkmanager = False
    m.network.wifi_ssid, m.network.wifi_backend = "library", "wpa_supplicant"
    cfg, _ = evaluate_pair(tmp_path, render(m, machine(), hand_plan(m, Identity.generate(seed=5))))
    assert cfg["networking"]["wireless"] == {"enable": True, "networks": {"library": {}}}


def test_wifi_kept_through_networkmanager_sets_only_networkmanager(tmp_path):
    """The network and its password go to a root-only keyfile (installer.run.carryover), not here."""
    m = model_for("uefi", "ext4", False, "none", "none")
    m.network.wifi_ssid, m.network.wifi_password = WIFI_SSID, WIFI_PASSWORD
    files = render(m, machine(), hand_plan(m, Identity.generate(seed=5)))
    assert all(WIFI_PASSWORD not in text and "wireless" not in text for text in files.values())
    cfg, _ = evaluate_pair(tmp_path, files)
    assert cfg["networking"]["networkmanager"]["enable"] is True
    assert "wireless" not in cfg["networking"]

