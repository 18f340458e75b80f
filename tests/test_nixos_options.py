"""The templates set only NixOS options that exist, with values of their types, at the release the flake pins.

The whole template matrix is rendered through the real engine (build_plan,
render, export_files); every distinct file is evaluated by Nix against stub
`config`/`lib`/`pkgs`/`modulesPath` (one nix-instantiate call) and walked
down to the option declarations recorded from nixpkgs in
tests/data/nixpkgs-<release>/options.json. A second, static reading of each
template (every `{% if %}` branch at once) proves the matrix reached every
option path a template can emit, so a new branch cannot escape unchecked.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, ssh_key, valid_model
from nixeval import STUB_CONFIG, eval_json
from nixoptions import (
    ELEM,
    JINJA,
    NAME,
    assigned_paths,
    declarations,
    module_json,
    parse_type,
    prelude,
    show_type,
    static_pattern,
    template_attrs,
    type_problem,
    walk_module,
)

from installer.nixos.export import export_files
from installer.nixos.facts import TEMPLATES_RELEASE
from installer.machine.hardware import ESP_TYPE, Disk, Machine, Partition, PciDevice
from installer.plan.identity import Identity
from installer.answers.model import DESKTOPS, FILESYSTEMS, SWAP_KINDS, UNLOCKS, InstallModel, User
from installer.plan.erase import build_plan
from installer.plan.types import FsEntry, LuksEntry, Plan, SwapEntry
from installer.nixos.render import TEMPLATE_NAMES, render, templates_dir

pytestmark = pytest.mark.nix

GIB = 1024**3
DISK = Disk(path="/dev/sda", name="sda", size=120 * GIB, by_id="/dev/disk/by-id/ata-Samsung_SSD_870_S1",
            model="Samsung SSD 870", bus="sata", drivers=["ahci"])
HASH = "$6$saltsalt$" + "x" * 86
PACKAGES = template_attrs(TEMPLATES_RELEASE)

# The NixOS modules among the templates and the rendered files they become.
# flake.nix is no module (the flake work checks it) and README.md is prose.
MODULE_TEMPLATES = {
    "configuration.nix": "configuration.nix.j2",
    "hardware-configuration.nix": "hardware-configuration.nix.j2",
    "disk-config.nix": "flake/disk-config.nix.j2",
    "access.nix": "flake/access.nix.j2",
}
NOT_MODULES = {"flake/flake.nix.j2", "flake/README.md.j2"}


def decl():
    return declarations(TEMPLATES_RELEASE)


# ---- the matrix ----------------------------------------------------------------

# The axes the issue names, in full: 2 x 3 x 2 x 3 x 4 x 2^5 = 4,608 points.
MAIN = list(itertools.product(
    ("uefi", "bios"), FILESYSTEMS, (False, True), SWAP_KINDS, DESKTOPS,
    (False, True), (False, True), (False, True), (False, True), (False, True),
))
# Axes the templates also branch on, turned in step with the point number at
# coprime periods so their values meet each main axis value many times.
VIRT = ("none", "qemu", "virtualbox", "hyperv", "vmware")
CPU = ("intel", "amd", "")
OUTPUT = ("install", "install", "premounted", "export", "export-hashes")
# The Wi-Fi network kept (installer.plan.wifi): none, through NetworkManager (nothing more
# set), or wpa_supplicant (points without NetworkManager, as validation wants) with a
# password, hidden with one, or open.
WIFI = ("none", "kept", "kept-hidden", "kept-open")
# Issue 18's layouts keep what is on a disk: Windows' 100 MiB ESP reused (mounted at /efi,
# /boot an XBOOTLDR partition, a generation limit), GRUB listing the other systems.
KEEP_DISK = Disk(path="/dev/sda", name="sda", size=120 * GIB, by_id=DISK.by_id, model=DISK.model, bus="sata",
                 drivers=["ahci"], table="gpt", partitions=[
                     Partition("/dev/sda1", 1, 100 * 1024**2, 1024**2, ESP_TYPE, fstype="vfat", uuid="C067-F4C9"),
                     Partition("/dev/sda2", 2, 60 * GIB, 128 * 1024**2, "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
                               fstype="ntfs", min_size=30 * GIB)])
# The graphics the machine has (installer.answers.gpu's cases): none recorded, Intel, AMD,
# NVIDIA Turing+ alone, an Intel + Pascal laptop, an AMD APU + Ampere, a Kepler card.
def _gpu(slot: str, vendor: str, device: str) -> PciDevice:
    return PciDevice(slot=slot, vendor=vendor, device=device, pci_class="030000")


GPUS = ((), (_gpu("0000:00:02.0", "8086", "3e9b"),), (_gpu("0000:03:00.0", "1002", "73ff"),),
        (_gpu("0000:01:00.0", "10de", "1e87"),),
        (_gpu("0000:00:02.0", "8086", "3e9b"), _gpu("0000:01:00.0", "10de", "1c8d")),
        (_gpu("0000:05:00.0", "1002", "1638"), _gpu("0000:01:00.0", "10de", "2520")),
        (_gpu("0000:01:00.0", "10de", "0fc6"),))


@dataclass
class Point:
    n: int
    firmware: str
    fs: str
    luks: bool
    swap: str
    desktop: str
    ssh: bool
    nm: bool
    flakes: bool
    unfree: bool
    packages: bool
    loader: str
    virt: str
    cpu: str
    root: bool
    second_user: bool
    output: str
    gpu: int = 0
    facter: bool = False  # hardware.report = "facter"
    wifi: str = "none"


    def __str__(self) -> str:
        bits = [self.firmware, self.loader, self.fs, "luks" if self.luks else "plain", f"swap={self.swap}",
                f"desktop={self.desktop}", f"ssh={self.ssh}", f"nm={self.nm}", f"flakes={self.flakes}",
                f"unfree={self.unfree}", f"packages={self.packages}", f"virt={self.virt}", f"cpu={self.cpu or '-'}",
                f"root={'on' if self.root else 'off'}", f"users={2 if self.second_user else 1}", self.output,
                f"gpus={self.gpu}", f"facter={self.facter}", f"wifi={self.wifi}"]
        return f"point {self.n} (" + " ".join(bits) + ")"


def points() -> list[Point]:
    out = []
    for n, main in enumerate(MAIN):
        firmware = main[0]
        loader = "grub" if firmware == "bios" or n % 7 == 3 else "systemd-boot"
        out.append(Point(n, *main, loader=loader, virt=VIRT[n % 5], cpu=CPU[n % 3], root=n % 11 == 5,
                         second_user=n % 13 == 2, output="keep" if n % 9 == 4 else OUTPUT[n % 4 if n % 17 else 4],
                         gpu=(n // 5) % len(GPUS), facter=(n // 7) % 3 == 1, wifi=WIFI[n % 19 % 4]))
    return out


def model_of(p: Point) -> InstallModel:
    m = valid_model()
    m.boot.firmware = p.firmware
    m.boot.loader = p.loader
    m.disk.device = DISK.path
    m.disk.filesystem = p.fs
    m.disk.swap = p.swap
    m.encryption.enabled = p.luks
    # Every way to unlock, on the points that encrypt a disk the installer lays out.
    m.encryption.unlock = UNLOCKS[p.n % 3] if p.luks and p.output != "premounted" else "passphrase"
    m.encryption.passphrase = m.encryption.passphrase_confirm = "a long passphrase" if p.luks else None
    m.users[0].password_hash = HASH
    if p.second_user:
        m.users.append(User(name="bob", description="Bob", admin=False, password_hash=HASH))
    m.root.disabled = not p.root
    if p.root:
        m.root.password_hash = HASH
    s = m.software
    s.desktop, s.ssh_server, s.networkmanager, s.flakes, s.allow_unfree = p.desktop, p.ssh, p.nm, p.flakes, p.unfree
    s.packages = list(PACKAGES) if p.packages else []
    m.hardware.report = "facter" if p.facter else "generated"
    if p.wifi != "none":
        n = m.network
        n.wifi_ssid = 'Caf\u00e9 "guest" ${x}' if p.n % 2 else "home"
        n.wifi_hidden = p.wifi == "kept-hidden"
        n.wifi_password = None if p.wifi == "kept-open" else "a wifi password"
        n.wifi_backend = "networkmanager" if p.nm else "wpa_supplicant"
    return m


def premounted_plan(p: Point, ident: Identity) -> Plan:
    """A layout someone mounted at /mnt: two LUKS containers, swap with and without a random key."""
    plan = Plan(layout="premounted", firmware=p.firmware, loader=p.loader, identity=ident,
                grub_device=DISK.by_id if p.loader == "grub" and p.firmware == "bios" else "", zram=p.swap == "zram")
    root = "/dev/mapper/cryptroot" if p.luks else f"/dev/disk/by-uuid/{ident.root_uuid}"
    plan.filesystems.append(FsEntry("/", root, p.fs, ("noatime",) if p.fs == "xfs" else ()))
    plan.filesystems.append(FsEntry("/home", "/dev/disk/by-uuid/" + ident.boot_uuid, "ext4"))
    if p.firmware == "uefi":
        plan.filesystems.append(FsEntry("/boot", f"/dev/disk/by-uuid/{ident.esp_volid}", "vfat", ("umask=0077",)))
    if p.luks:
        plan.luks += [LuksEntry("cryptroot", f"/dev/disk/by-uuid/{ident.luks_uuid}"),
                      LuksEntry("crypthome", f"/dev/disk/by-uuid/{ident.disk_guid}")]
    if p.swap in ("partition", "hibernate"):
        plan.swaps += [SwapEntry(f"/dev/disk/by-uuid/{ident.swap_uuid}"),
                       SwapEntry(f"/dev/disk/by-partuuid/{ident.disk_guid}", random_encryption=True)]
    if p.swap == "hibernate":
        plan.resume_device = f"/dev/disk/by-uuid/{ident.swap_uuid}"
    return plan


def render_point(p: Point) -> dict[str, str]:
    """The NixOS module files the engine writes for this point, by file name."""
    m = model_of(p)
    mach = Machine(firmware=p.firmware, cpu_vendor=p.cpu, virtualisation=p.virt, disks=[DISK], memory_bytes=16 * GIB,
                   pci=list(GPUS[p.gpu]))
    ident = Identity.generate(seed=p.n % 2)
    if p.output == "premounted":
        return render(m, mach, premounted_plan(p, ident), host_platform="x86_64-linux")
    if p.output == "keep":
        mach = Machine(firmware=p.firmware, cpu_vendor=p.cpu, virtualisation=p.virt, disks=[KEEP_DISK],
                       pci=list(GPUS[p.gpu]))
        m.disk.layout, m.disk.shrink = "alongside", "/dev/sda2"
        if m.disk.swap == "hibernate":  # refused when keeping the disk (HIBERNATE_KEEP): its swap as asked instead
            m.disk.swap = "partition"
        return render(m, mach, build_plan(m, mach, ident), host_platform="x86_64-linux")
    plan = build_plan(m, mach, ident)
    if p.output == "install":
        return render(m, mach, plan, host_platform="x86_64-linux")
    hashes = p.output == "export-hashes" or not p.ssh
    files = export_files(m, mach, plan, include_password_hashes=hashes, host_platform="x86_64-linux",
                         nixpkgs_branch=f"nixos-{TEMPLATES_RELEASE}")
    return {name.rsplit("/", 1)[-1]: text for name, text in files.items() if name.endswith(".nix") and name != "flake.nix"}


@dataclass
class Rendered:
    name: str  # the file name, e.g. configuration.nix
    text: str
    first: Point
    count: int = 1


def render_matrix() -> tuple[list[Rendered], int]:
    """Every distinct rendered module file (many points render the same text), and the number of points."""
    unique: dict[tuple[str, str], Rendered] = {}
    pts = points()
    for p in pts:
        for name, text in render_point(p).items():
            assert name in MODULE_TEMPLATES, f"{p}: the engine wrote {name}, which no rule here classifies"
            key = (name, text)
            if key in unique:
                unique[key].count += 1
            else:
                unique[key] = Rendered(name, text, p)
    return list(unique.values()), len(pts)


def evaluate(files: list[tuple[str, str]], tmp: Path, config: str = STUB_CONFIG) -> list:
    """Each (file name, text) evaluated as a module and turned into JSON, in one Nix call."""
    exprs = []
    for i, (name, text) in enumerate(files):
        d = tmp / str(i)
        d.mkdir()
        (d / name).write_text(text, encoding="utf-8")
        exprs.append(module_json(d / name))
    return eval_json(exprs, prelude=prelude(config, PACKAGES))


def import_problems(imports: list, own_name: str, siblings: set[str]) -> list[str]:
    out = []
    d = decl()
    for entry in imports:
        target = entry.get("__path") if isinstance(entry, dict) else None
        if target is None:
            out.append(f"imports: {entry!r} is not a path")
        elif target.startswith("/stub/"):
            rel = target[len("/stub/"):]
            if rel not in d.imports:
                out.append(f"imports: modulesPath + \"/{rel}\" is not a file recorded in nixos/modules of {d.release}")
        elif Path(target).name not in siblings or Path(target).name == own_name:
            out.append(f"imports: {target} is not another file the installer writes next to {own_name}")
    return out


SIBLINGS = {
    "configuration.nix": {"hardware-configuration.nix"},
    "hardware-configuration.nix": set(),
    "disk-config.nix": set(),
    "access.nix": set(),
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    rendered, n_points = render_matrix()
    values = evaluate([(r.name, r.text) for r in rendered], tmp_path_factory.mktemp("options"))
    walks = [walk_module(v, decl()) for v in values]
    return rendered, walks, n_points


def test_every_rendered_file_sets_only_declared_options_of_the_right_type(matrix):
    rendered, walks, n_points = matrix
    problems: dict[tuple[str, str], list] = {}  # (template, problem) -> [first point, files, points]
    for r, w in zip(rendered, walks):
        for problem in w.problems + import_problems(w.imports, r.name, SIBLINGS[r.name]):
            seen = problems.setdefault((MODULE_TEMPLATES[r.name], problem), [r.first, 0, 0])
            seen[1] += 1
            seen[2] += r.count
    report = [f"{template}: {problem}\n    first at {first}; {files} distinct files, {n} matrix points"
              for (template, problem), (first, files, n) in problems.items()]
    assert report == [], "\n".join(report[:40])
    patterns = set().union(*(w.patterns for w in walks))
    print(f"\n{n_points} matrix points, {len(rendered)} distinct files, {len(patterns)} distinct option paths")


def test_the_matrix_reaches_every_option_path_each_template_can_emit(matrix):
    """Read statically from each template, all branches at once: each path must appear in a rendered file."""
    rendered, walks, _ = matrix
    reached: dict[str, set[str]] = {}
    for r, w in zip(rendered, walks):
        reached.setdefault(MODULE_TEMPLATES[r.name], set()).update(w.patterns)
    missing, unread = [], []
    for template in sorted(MODULE_TEMPLATES.values()):
        source = (templates_dir() / template).read_text(encoding="utf-8")
        static = {static_pattern(path, decl()) for path in assigned_paths(source)}
        missing += [f"{template}: {p}" for p in sorted(static - reached.get(template, set()))]
        # And the other way: what the renders set, the static reading found (so it reads the templates right).
        leaves = {p for p in reached.get(template, set()) if not any(q.startswith(p + ".") for q in reached[template])}
        unread += [f"{template}: {p}" for p in sorted(leaves - static)]
    assert missing == [], "option paths no matrix point rendered:\n" + "\n".join(missing)
    assert unread == [], "rendered option paths the static reading missed:\n" + "\n".join(unread)


def test_every_declaration_recorded_is_one_the_templates_use(matrix):
    _, walks, _ = matrix
    reached = set().union(*(w.patterns for w in walks))
    d = decl()
    unused = [name for name, opt in d.options.items() if opt.role != "read" and name not in reached]
    assert unused == [], f"options.json records options no template sets any more: {unused}"
    used_imports = {e["__path"][len("/stub/"):] for w in walks for e in w.imports
                    if isinstance(e, dict) and e.get("__path", "").startswith("/stub/")}
    assert used_imports == set(d.imports)


def test_the_config_the_templates_read_is_declared_with_those_types(tmp_path):
    """The stub `config` holds what the templates read; each value must be one its option can have."""
    (stub,) = eval_json([STUB_CONFIG])
    d = decl()
    w = walk_module(stub, d)
    assert w.problems == []
    read = {name for name, opt in d.options.items() if opt.role == "read"}
    assert w.patterns == read
    # and every `config.` a template reads is in the stub
    wanted = set()
    for template in MODULE_TEMPLATES.values():
        wanted |= set(re.findall(r"(?<![\w.-])config\.([\w.-]+)", (templates_dir() / template).read_text(encoding="utf-8")))
    assert wanted <= read


def test_every_template_is_classified():
    names = {p.relative_to(templates_dir()).as_posix() for p in templates_dir().rglob("*.j2")}
    assert names == set(MODULE_TEMPLATES.values()) | NOT_MODULES
    assert set(TEMPLATE_NAMES.values()) <= set(MODULE_TEMPLATES.values())


# ---- the data ----------------------------------------------------------------------


def test_the_recorded_declarations_are_well_formed():
    d = decl()
    assert d.release == TEMPLATES_RELEASE
    for opt in d.options.values():
        assert opt.role in {"set", "read", "container", "external"}, opt.name
        read_from = opt.source.get("commit") or opt.source.get("index_id")
        assert opt.file and (read_from or opt.role == "external"), f"{opt.name}: where was it read?"
        if opt.source.get("commit"):
            assert re.fullmatch(r"[0-9a-f]{40}", opt.source["commit"]), opt.name
        assert parse_type(show_type(opt.type)) == opt.type, opt.name
        parts = opt.name.split(".")
        # an attrsOf/listOf submodule level is always followed by its sub-options' names
        for i, part in enumerate(parts):
            if part in (NAME, ELEM):
                parent = d.options[".".join(parts[:i])]
                want = "attrsOf" if part == NAME else "listOf"
                assert parent.type[0] == want and parent.type[1] == ("submodule",), opt.name
    for old, entry in d.renamed.items():
        assert old not in d.options and entry["to"] != old
    for old in d.removed:
        assert old not in d.options


def test_every_recorded_type_is_the_declarations_whole_type():
    """`type` is what the checker holds values to; `declared` is the declaration's own text in
    nixpkgs (file and version as recorded). They must be the same type all the way down, so an
    inner type widened in options.json (`listOf str` to `listOf anything`) fails here."""
    import json

    from nixdecl import declared_type
    from nixoptions import DATA

    raw = json.loads((DATA / f"nixpkgs-{TEMPLATES_RELEASE}" / "options.json").read_text(encoding="utf-8"))
    d = decl()
    # Every type with an inner part must be held to its declaration; atoms may be too.
    compound = {name for name, opt in d.options.items() if len(opt.type) > 1 and opt.role != "external"}
    declared = {name for name, opt in d.options.items() if "declared" in opt.source}
    assert compound <= declared, f"types with no declaration text to hold them to: {sorted(compound - declared)}"
    for name in sorted(declared):
        opt = d.options[name]
        got = declared_type(opt.source["declared"], raw["equivalents"], raw.get("types"))
        assert got == opt.type, f"{name}: options.json says {show_type(opt.type)}, nixpkgs declares {show_type(got)}"


def test_the_declaration_reader_sees_inner_types():
    from nixdecl import declared_type

    assert declared_type("with lib.types; listOf (submodule ({ name, ... }: { options.x = 1; }))", {}) == \
        ("listOf", ("submodule",))
    assert declared_type("types.coercedTo types.str (s: { x = s; }) (types.attrsOf types.int)", {}) == \
        ("coercedTo", ("str",), ("attrsOf", ("int",)))
    assert declared_type("types.nullOr (types.listOf types.str) // { description = \"x\"; }", {}) == \
        ("nullOr", ("listOf", ("str",)))
    assert declared_type("types.listOf types.str", {}) != parse_type("listOf anything")


def test_template_attrs_are_the_packages_the_project_names():
    named = set(tomllib.loads((ROOT / "examples" / "answers.toml").read_text())["software"]["packages"])
    named |= set(valid_model().software.packages)
    screen = (ROOT / "screens" / "software.py").read_text(encoding="utf-8")
    named |= set(re.search(r'placeholder="e\.g\. ([^"]+)"', screen).group(1).split())
    for template in templates_dir().rglob("*.j2"):
        named |= set(re.findall(r"\bpkgs\.([A-Za-z_][\w.-]*[\w])", template.read_text(encoding="utf-8")))
    assert set(PACKAGES) == named
    assert len(PACKAGES) == len(set(PACKAGES))


# ---- the checker can fail -------------------------------------------------------------

BAD_MODULES = {
    "renamed gnome": ("{ ... }: { services.xserver.desktopManager.gnome.enable = true; }",
                      "services.xserver.desktopManager.gnome.enable was renamed to services.desktopManager.gnome.enable"),
    "renamed gdm in a set": ("{ ... }: { services.xserver = { enable = true; displayManager.gdm.enable = true; }; }",
                             "services.xserver.displayManager.gdm.enable was renamed to services.displayManager.gdm.enable"),
    "renamed layout": ("{ ... }: { services.xserver.layout = \"de\"; }",
                       "services.xserver.layout was renamed to services.xserver.xkb.layout"),
    "renamed pulseaudio": ("{ ... }: { hardware.pulseaudio.enable = false; }",
                           "hardware.pulseaudio was renamed to services.pulseaudio"),
    "renamed opengl": ("{ lib, ... }: { hardware.opengl.enable = lib.mkDefault true; }",
                       "hardware.opengl.enable was renamed to hardware.graphics.enable"),
    "removed sound": ("{ ... }: { sound.enable = true; }", "sound.enable was removed"),
    "lspci's bus id": ("{ ... }: { hardware.nvidia.prime.nvidiaBusId = \"01:00.0\"; }",
                       'hardware.nvidia.prime.nvidiaBusId: the string "01:00.0" is not of type strMatching'),
    "open as a string": ("{ ... }: { hardware.nvidia.open = \"yes\"; }",
                         'hardware.nvidia.open: the string "yes" is not of type nullOr bool'),
    "string for a bool": ("{ ... }: { services.openssh.enable = \"yes\"; }",
                          'services.openssh.enable: the string "yes" is not of type bool'),
    "bool for a string": ("{ ... }: { networking.hostName = true; }", "networking.hostName: the boolean true is not of type"),
    "hostname pattern": ("{ ... }: { networking.hostName = \"my host\"; }", 'the string "my host" is not of type strMatching'),
    "attrs for a list": ("{ ... }: { users.users.alice.extraGroups = { wheel = true; }; }",
                         "users.users.alice.extraGroups: an attribute set { wheel } is not of type listOf str"),
    "list for attrs": ("{ ... }: { fileSystems = [ { device = \"/dev/sda1\"; } ]; }",
                       "fileSystems: a list of 1 is not of type attrsOf submodule"),
    "unknown sub-option": ("{ ... }: { users.users.alice.isNormaluser = true; }",
                           "users.users.alice.isNormaluser is not an option declared in NixOS"),
    "unknown option": ("{ ... }: { services.opensshd.enable = true; }", "services.opensshd is not an option declared"),
    "value at a prefix": ("{ ... }: { services.xserver = true; }", "services.xserver is not an option but the file gives it"),
    "empty fs options": ("{ ... }: { fileSystems.\"/\".options = [ ]; }", "is not of type nonEmptyListOf nonEmptyStr"),
    "colon in a description": ("{ ... }: { users.users.a.description = \"A: B\"; }", "a passwd field"),
    "string for a package": ("{ ... }: { environment.systemPackages = [ \"git\" ]; }",
                             'element 0: the string "git" is not of type package'),
    "mkIf on a string": ("{ lib, ... }: { zramSwap.enable = lib.mkIf \"yes\" true; }", "not a boolean"),
    "mkMerge hides a bad value": ("{ lib, ... }: { boot.loader.grub = lib.mkMerge [ { enable = true; } { device = 1; } ]; }",
                                  "boot.loader.grub.device: the integer 1 is not of type str"),
    "freeform value": ("{ ... }: { nix.settings.experimental-features = { flakes = true; }; }",
                       "is not of type either"),
    "random key as a string": ("{ ... }: { swapDevices = [ { device = \"/x\"; randomEncryption = \"yes\"; } ]; }",
                               "swapDevices.0.randomEncryption: the string \"yes\" is not of type coercedTo bool submodule"),
    "a module's options": ("{ lib, ... }: { options.foo = 1; }", "not 'options'"),
}


def test_the_checker_catches_each_kind_of_mistake(tmp_path):
    names = list(BAD_MODULES)
    values = evaluate([("configuration.nix", BAD_MODULES[n][0]) for n in names], tmp_path)
    for name, value in zip(names, values):
        problems = walk_module(value, decl()).problems
        want = BAD_MODULES[name][1]
        assert any(want in p for p in problems), f"{name}: {want!r} not in {problems}"


def test_the_checker_accepts_what_nixos_accepts(tmp_path):
    good = """{ lib, pkgs, ... }: {
      boot.initrd.availableKernelModules = [ "ahci" ];
      boot.kernelModules = { kvm-intel = true; };
      swapDevices = [ { device = "/dev/x"; randomEncryption = true; } { device = "/dev/y"; randomEncryption.enable = true; } ];
      fileSystems."/" = lib.mkIf true { device = "/dev/sda1"; fsType = "ext4"; };
      users.users.a = { isNormalUser = true; hashedPassword = null; };
      services = lib.mkMerge [ { openssh.enable = true; } (lib.mkIf false { nothing.here = 1; }) ];
      environment.systemPackages = [ pkgs.git pkgs.python3Packages.requests ];
      console.keyMap = ./keymap.map;
      nix.settings.experimental-features = [ "nix-command" ];
      nixpkgs.config = { allowUnfree = lib.mkForce true; permittedInsecurePackages = [ ]; };
      time.timeZone = null;
    }"""
    (value,) = evaluate([("configuration.nix", good)], tmp_path)
    assert walk_module(value, decl()).problems == []


def test_imports_must_be_recorded_nixos_modules_or_the_installers_own_files():
    assert import_problems([{"__path": "/stub/profiles/qemu-guest.nix"}], "hardware-configuration.nix", set()) == []
    assert import_problems([{"__path": "/stub/profiles/qemu-guests.nix"}], "x.nix", set()) != []
    assert import_problems([{"__path": "/tmp/a/hardware-configuration.nix"}], "configuration.nix",
                           {"hardware-configuration.nix"}) == []
    assert import_problems([{"__path": "/tmp/a/extra.nix"}], "configuration.nix", {"hardware-configuration.nix"}) != []
    assert import_problems(["/stub/profiles/qemu-guest.nix"], "x.nix", set()) != []


@pytest.mark.parametrize(
    ("type_text", "good", "bad"),
    [
        ("bool", [True, False], ["true", 1, None]),
        ("int", [0, -3], [True, "1", 1.5]),
        ("str", ["", "x"], [1, None, {"__path": "/a"}]),
        ("path", [{"__path": "/a"}, "/nix/store/x", {"__pkg": "git"}], ["relative/x", 1]),
        ("package", [{"__pkg": "git"}], ["git", {"__path": "/a"}]),
        ('enum [ "a" "b" ]', ["a", "b"], ["c", True]),
        ("enum [ 1 true ]", [1, True], [2, "1", False]),
        ("nullOr (listOf str)", [None, [], ["a"]], [["a", 1], "a"]),
        ("attrsOf bool", [{}, {"a": True}], [[], {"a": "yes"}]),
        ("either str path", ["us", {"__path": "/k.map"}], [1]),
        ("oneOf [ bool int ]", [True, 3], ["x"]),
        ('strMatching "[[:xdigit:]]{6}"', ["00ff00"], ["00ff0", "gg0000"]),
        ("passwdEntry str", ["Alice"], ["a:b", "a\nb", 1]),
        ("singleLineStr", ["a b"], ["a\nb"]),
        ("nonEmptyListOf nonEmptyStr", [["a"]], [[], [" "]]),
    ],
)
def test_type_checks(type_text, good, bad):
    t = parse_type(type_text)
    assert parse_type(show_type(t)) == t
    for value in good:
        assert type_problem(t, value) is None, (type_text, value)
    for value in bad:
        assert type_problem(t, value) is not None, (type_text, value)


def test_markers_are_looked_through_in_type_checks():
    t = parse_type("bool")
    assert type_problem(t, {"_type": "override", "priority": 1000, "content": True}) is None
    assert type_problem(t, {"_type": "override", "priority": 1000, "content": "x"}) is not None
    assert type_problem(t, {"_type": "if", "condition": False, "content": "x"}) is None  # never defined


@pytest.mark.parametrize("text", ["listOf", "nullOr (str", "enum [ a ]", "frob", "str str"])
def test_the_type_language_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        parse_type(text)


def test_the_static_reading_takes_every_branch_names_and_list_elements():
    source = """{ config, lib, ... }:
{
  imports = [ ./x.nix ];
{% if a %}
  a.b = true;
{% else %}
  a.c.d = {{ v | nix }}; # a comment with a = b;
{% endif %}
  users.users.{{ u | nix_attr }} = {
    isNormalUser = true;
    keys = [ "x" ];
  };
  swapDevices = [
{% for s in swaps %}
    { device = {{ s | nix }}; randomEncryption.enable = true; }
{% endfor %}
  ];
  e = lib.mkDefault { f = 1; };
  s = ''
    not = an; attribute = here;
  '';
}
"""
    paths = set(assigned_paths(source))
    assert paths == {
        ("imports",), ("a", "b"), ("a", "c", "d"), ("users", "users", JINJA, "isNormalUser"),
        ("users", "users", JINJA, "keys"), ("swapDevices", ELEM, "device"),
        ("swapDevices", ELEM, "randomEncryption", "enable"), ("e", "f"), ("s",),
    }
    d = decl()
    assert static_pattern(("users", "users", JINJA, "isNormalUser"), d) == "users.users.<name>.isNormalUser"
    assert static_pattern(("swapDevices", ELEM, "randomEncryption", "enable"), d) == "swapDevices.*.randomEncryption.enable"
    assert static_pattern(("nix", "settings", "experimental-features"), d) == "nix.settings.experimental-features"
    assert static_pattern(("disko", "devices", "disk", "main", "type"), d) == "disko.devices"
    assert static_pattern(("services", "xserver", "desktopManager", "gnome", "enable"), d) == \
        "services.xserver.desktopManager.gnome.enable"
