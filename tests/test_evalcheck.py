"""The pre-flight evaluation (installer.nixos.evalcheck) against the stand-in nixpkgs, with real Nix.

The stand-in (tests/standins/nixpkgs) evaluates `<nixpkgs/nixos>` with a
tiny module system of its own; what it models is said at the top of its
nixos/lib/eval.nix. These tests check both the engine (running Nix, mapping
its error to a field or a line, timeout, cancel, privacy) and that the
stand-in refuses what real NixOS refuses, in real NixOS's words.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from nixeval import NIX_INSTANTIATE
from evalcheck_support import STANDIN_NIXPKGS, session, use_nix, use_slow_nix, with_line

from installer.nixos import evalcheck
from installer.nixos.nixlit import nix_string


def evaluate(s, **kw):
    return evalcheck.evaluate(s.draft.render(), list(s.model.software.packages), **kw)


def test_a_good_configuration_passes_with_the_drv_path_of_the_system(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    outcome = evaluate(session())
    assert outcome.status == "passed", outcome
    assert outcome.nixpkgs == str(STANDIN_NIXPKGS)
    assert outcome.drv_path.startswith("/nix/store/") and outcome.drv_path.endswith("-nixos-system-laptop-25.11.drv")


def test_every_desktop_and_layout_the_templates_emit_evaluates(monkeypatch, tmp_path):
    """The stand-in declares every option the generated files set: nothing the
    installer writes is refused by the check (else the check would cry wolf)."""
    use_nix(monkeypatch, tmp_path)
    for desktop in ("none", "gnome", "plasma", "xfce"):
        for swap in ("zram", "partition", "none"):
            s = session()
            s.model.software.desktop = desktop
            s.model.software.ssh_server = True
            s.model.disk.swap = swap
            s.model.disk.filesystem = "btrfs" if desktop == "plasma" else "ext4"
            s.model.encryption.enabled = desktop == "gnome"
            s.model.encryption.passphrase = s.model.encryption.passphrase_confirm = "a long passphrase"
            outcome = evaluate(s)
            assert outcome.status == "passed", (desktop, swap, outcome.detail)


def test_an_unknown_package_maps_to_the_software_steps_package_field(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    s = session(["git", "nosuchpackage", "htop"])
    outcome = s.preflight.nix_check()
    assert outcome.status == "failed"
    assert outcome.field == "software.packages" and outcome.package == "nosuchpackage"
    assert "nixpkgs has no package 'nosuchpackage'" in outcome.message
    # Nix's own words, with the place shown as it will be on the installed system.
    assert "attribute 'nosuchpackage' missing" in outcome.detail
    assert "/etc/nixos/configuration.nix:" in outcome.detail and "nixos-evalcheck-" not in outcome.detail
    # The Software step shows it at the field, until the packages change.
    assert [(p.field, p.severity) for p in s.validate("software")] == [("software.packages", "warning")]
    assert s.preflight.nix_check_refusal()
    s.model.software.packages = ["git", "htop"]
    assert s.validate("software") == [] and s.preflight.nix_check_outcome() is None and not s.preflight.nix_check_refusal()


def test_an_unknown_nested_package_is_found_by_its_whole_name(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    outcome = evaluate(session(["git", "python3Packages.requestz"]))
    assert (outcome.field, outcome.package) == ("software.packages", "python3Packages.requestz")
    assert "requests" in outcome.message  # Nix's "Did you mean" is passed on


@pytest.mark.parametrize("name, after, line, option", [
    ("configuration.nix", "zramSwap.enable", "  services.foo.enable = true;", "services.foo"),
    ("configuration.nix", "networking.hostName", "  networking.hostname = \"typo\";", "networking.hostname"),
    ("configuration.nix", "isNormalUser = true;", "    isNormalUsr = true;", "users.users.alice.isNormalUsr"),
    ("hardware-configuration.nix", "boot.kernelModules", "  boot.initrd.kernelModule = [ ];",
     "boot.initrd.kernelModule"),
    ("configuration.nix", "zramSwap.enable", "  services = { openssh = { enable = true; permitRootLogin = \"no\"; }; };",
     "services.openssh.permitRootLogin"),
])
def test_an_unknown_option_maps_to_its_line_in_the_edited_file(monkeypatch, tmp_path, name, after, line, option):
    use_nix(monkeypatch, tmp_path)
    s = session()
    # The nested line defines services.openssh itself: the generated one (the SSH
    # server is on with the model's key) would make it a duplicate attribute.
    s.model.software.ssh_server = "openssh" not in line
    text, number = with_line(s.draft.generated()[name], after, line)
    assert s.draft.set_edited(name, text) == []
    outcome = s.preflight.nix_check()
    assert outcome.status == "failed", outcome
    assert (outcome.field, outcome.line) == (f"files.{name}", number), outcome
    assert outcome.message == f"line {number}: The option `{option}' does not exist."
    # The shape real NixOS prints (lib/modules.nix checkUnmatched and lib/options.nix showDefs).
    assert outcome.detail.startswith(f"The option `{option}' does not exist. Definition values:\n- In "
                                     f"`/etc/nixos/{name}'")


def test_a_value_of_the_wrong_type_maps_to_its_line(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    s = session()
    text = s.draft.generated()["configuration.nix"].replace("zramSwap.enable = true;", 'zramSwap.enable = "yes";')
    number = text.splitlines().index('  zramSwap.enable = "yes";') + 1
    s.draft.set_edited("configuration.nix", text)
    outcome = s.preflight.nix_check()
    assert (outcome.field, outcome.line) == ("files.configuration.nix", number)
    assert "A definition for option `zramSwap.enable' is not of type `boolean'." in outcome.message
    assert "- In `/etc/nixos/configuration.nix': \"yes\"" in outcome.detail


def test_an_error_with_no_place_of_ours_is_shown_verbatim(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    s = session()
    text = s.draft.generated()["configuration.nix"].replace(
        "zramSwap.enable = true;", 'zramSwap.enable = throw "the machine is not ready";')
    s.draft.set_edited("configuration.nix", text)
    outcome = s.preflight.nix_check()
    assert outcome.status == "failed" and outcome.field == ""
    assert outcome.message == "the machine is not ready"


def test_no_nixpkgs_says_so_plainly_and_does_not_hold_the_install_back(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path, nixpkgs=None)
    s = session(["nosuchpackage"])
    outcome = s.preflight.nix_check()
    assert outcome.status == "no-nixpkgs"
    assert outcome.message == evalcheck.NO_NIXPKGS and "No nixpkgs was found" in outcome.message
    assert not s.preflight.nix_check_refusal() and s.install.confirm(s.install.confirm_word()) is not None


def test_a_failure_refuses_the_confirmation_until_fixed_or_overridden(monkeypatch, tmp_path):
    use_nix(monkeypatch, tmp_path)
    s = session(["nosuchpackage"])
    word = s.install.confirm_word()
    assert s.install.confirm(word) is not None  # not checked yet: nothing to refuse
    s.preflight.nix_check()
    assert s.install.confirm(word) is None
    s.preflight.override_nix_check()
    assert s.preflight.nix_check_overridden() and s.install.confirm(word) is not None
    assert "chose to install anyway" in Path(s.options.log_path).read_text()
    # The override was for those files: other files that fail are refused again.
    s.model.software.packages = ["nosuchpackage", "alsonothere"]
    s.preflight.nix_check()
    assert s.install.confirm(word) is None
    s.model.software.packages = ["git"]
    s.preflight.nix_check()
    assert s.install.confirm(word) is not None and s.preflight.nix_check_outcome().status == "passed"


def test_the_check_writes_nothing_to_the_store_and_keeps_its_copy_private(monkeypatch, tmp_path):
    """Read-only Nix: not even the system's .drv reaches the (world-readable)
    store; the temporary copy of the files is 0700/0600 and gone afterwards."""
    use_nix(monkeypatch, tmp_path)
    s = session()
    # A new marker each run: a store path an earlier run (or another test) made cannot hide a write.
    s.model.users[0].description = f"marker-{os.urandom(6).hex()} not for the store"
    made = []
    real_mkdtemp = evalcheck.tempfile.mkdtemp

    def mkdtemp(**kw):
        made.append(Path(real_mkdtemp(dir=tmp_path, **kw)))
        return str(made[-1])

    monkeypatch.setattr(evalcheck.tempfile, "mkdtemp", mkdtemp)
    seen = {}
    real_run = evalcheck.run_stoppable

    def run_stoppable(argv, *a):
        where = made[-1]
        seen["dir"] = stat.S_IMODE(where.stat().st_mode)
        seen["files"] = {p.name: stat.S_IMODE(p.stat().st_mode) for p in where.iterdir()}
        seen["argv"] = argv
        return real_run(argv, *a)

    monkeypatch.setattr(evalcheck, "run_stoppable", run_stoppable)
    outcome = evaluate(s)
    assert outcome.status == "passed"
    assert "--readonly-mode" in seen["argv"] and "--eval" in seen["argv"]
    assert seen["dir"] == 0o700 and seen["files"] == {"configuration.nix": 0o600, "hardware-configuration.nix": 0o600}
    assert not made[-1].exists()
    # Ask the same Nix (its own store, wherever it is) whether the drv was written.
    exists = subprocess.run([NIX_INSTANTIATE, "--eval", "--expr", f"builtins.pathExists {nix_string(outcome.drv_path)}"],
                            capture_output=True, text=True)
    assert exists.returncode == 0, exists.stderr
    assert exists.stdout.strip() == "false", f"{outcome.drv_path} was written to the store"


def _slow_run(monkeypatch, tmp_path, **kw):
    record = use_slow_nix(monkeypatch, tmp_path)
    s = session()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("outcome", evaluate(s, **kw)))
    worker.start()
    for _ in range(400):
        if record.exists():
            break
        time.sleep(0.025)
    lines = record.read_text().splitlines()
    child = int(next(line for line in lines if line.startswith("child=")).split("=")[1])
    config = next(line for line in lines if line.startswith("nixos-config=")).split("=", 1)[1]
    private = stat.S_IMODE(Path(config).parent.stat().st_mode)
    return worker, result, child, Path(config), private


def _gone(pid: int) -> bool:
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.025)
    return False


def test_cancel_stops_nix_and_all_it_started(monkeypatch, tmp_path):
    cancel = threading.Event()
    worker, result, child, config, private = _slow_run(monkeypatch, tmp_path, cancel=cancel, timeout=600)
    assert private == 0o700 and config.is_file()
    assert worker.is_alive()
    cancel.set()
    worker.join(10)
    assert not worker.is_alive()
    assert result["outcome"].status == "cancelled"
    assert _gone(child), "the evaluation's child process still runs"
    assert not config.parent.exists()


def test_a_timeout_stops_nix_and_says_so(monkeypatch, tmp_path):
    worker, result, child, config, _ = _slow_run(monkeypatch, tmp_path, timeout=1.0)
    worker.join(15)
    assert result["outcome"].status == "timeout"
    assert "longer than 1 s" in result["outcome"].message
    assert _gone(child) and not config.parent.exists()


def test_core_error_reads_both_nix_layouts():
    nix28 = ("error: attribute 'gitt' missing\n\n       at /tmp/x/configuration.nix:69:5:\n\n"
             "           68|   environment.systemPackages = [\n(use '--show-trace' to show detailed location information)\n")
    nix226 = ("error:\n       … while evaluating the attribute 'config.system.build.toplevel.drvPath'\n"
              "         at /nix/store/x-source/nixos/default.nix:1:1:\n\n"
              "       (stack trace truncated; use '--show-trace' to show the full trace)\n\n"
              "       error: attribute 'gitt' missing\n       at /tmp/x/configuration.nix:69:5:\n"
              "           68|   environment.systemPackages = [\n       Did you mean git?\n")
    assert evalcheck.core_error(nix28).splitlines()[0] == "attribute 'gitt' missing"
    core = evalcheck.core_error(nix226)
    assert core.splitlines()[0] == "attribute 'gitt' missing" and "while evaluating" not in core
    assert "Did you mean git?" in core.splitlines()


def test_option_paths_read_back_as_lib_show_option_prints_them():
    assert evalcheck.option_path('fileSystems."/boot".device') == ["fileSystems", "/boot", "device"]
    assert evalcheck.option_path("services.foo") == ["services", "foo"]


def test_nothing_is_left_running_when_the_caller_is_interrupted(monkeypatch, tmp_path):
    """Ctrl+C in an unattended run raises KeyboardInterrupt while Nix runs in
    a session of its own (the terminal's Ctrl+C never reaches it): it is stopped."""
    record = use_slow_nix(monkeypatch, tmp_path)
    cancel = threading.Event()
    real_set = cancel.is_set
    calls = []

    def interrupted():
        calls.append(1)
        if record.exists():
            raise KeyboardInterrupt
        return real_set()

    monkeypatch.setattr(cancel, "is_set", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(session(), cancel=cancel, timeout=600)
    child = int(next(line for line in record.read_text().splitlines() if line.startswith("child=")).split("=")[1])
    assert _gone(child)


@pytest.fixture(autouse=True)
def _no_leftover_copies(monkeypatch, tmp_path):
    """Every test's temporary files go to a directory of its own, and the
    private copies of the files are gone when it ends."""
    import tempfile

    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    yield
    assert list(where.glob("nixos-evalcheck-*")) == []


STANDIN_OPTIONS = """
let
  lib = import STANDIN/lib.nix;
  walk = prefix: node:
    if lib.isOption node then
      [ { name = prefix; type = node.type.name; } ]
      ++ (if node.type ? submodule then walk "${prefix}.*" node.type.submodule else [ ])
    else builtins.concatMap (n: walk (if prefix == "" then n else "${prefix}.${n}") node.${n}) (builtins.attrNames node);
in walk "" (import STANDIN/nixos/modules/options.nix { inherit lib; })
"""


def test_the_stand_in_declares_exactly_the_recorded_nixos_options():
    """Keeps the stand-in honest: every option it accepts is one NixOS 25.11
    declares (tests/data/nixpkgs-25.11/options.json, read from nixpkgs), so an
    option real NixOS refuses is refused here too; and every option the
    installer's NixOS files can set is declared, so the check never refuses
    what NixOS takes."""
    import json

    from nixoptions import declarations

    done = subprocess.run([NIX_INSTANTIATE, "--eval", "--strict", "--json", "--expr",
                           STANDIN_OPTIONS.replace("STANDIN", str(STANDIN_NIXPKGS))], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ours = {o["name"]: o["type"] for o in json.loads(done.stdout)}
    recorded = declarations("25.11").options
    own = {"system.build.toplevel"}  # the stand-in's own system derivation (internal in NixOS too)
    # An option under a freeform submodule (nix.settings) is taken by its freeform type.
    freeform = {name for name, opt in recorded.items() if opt.freeform is not None}
    loose = {name for name in ours if name not in recorded and any(name.startswith(f + ".") for f in freeform)}
    assert "nix.settings" in freeform and loose == {"nix.settings.experimental-features"}
    assert set(ours) - set(recorded) - own - loose == set()
    # What the stand-in may leave out: options only the exported flake sets.
    flake_only = {"disko.devices", "security.sudo.wheelNeedsPassword", "users.users.<name>.hashedPassword"}
    leaves = {name for name, opt in recorded.items() if not opt.type[0] in ("submodule",)
              and not (opt.type[0] == "attrsOf" and opt.type[1][0] == "submodule")
              and not (opt.type[0] == "listOf" and opt.type[1][0] == "submodule")}
    assert leaves - set(ours) - flake_only - {"swapDevices.*.randomEncryption"} == set()
    # Types: the stand-in's is the recorded one or looser only in what the checked values never hit.
    kinds = {"bool": {"bool"}, "str": {"str", "strMatching", "passwdEntry", "nonEmptyStr", "singleLineStr", "lines"},
             "listOf": {"listOf", "coercedTo", "nonEmptyListOf"}, "nullOr": {"nullOr"}, "either": {"either"},
             "package": {"package"}, "int": {"int"}}
    for name, kind in ours.items():
        if name in own or name in loose:
            continue
        assert recorded[name].type[0] in kinds[kind], (name, kind, recorded[name].type)
