"""End to end in a VM: real UEFI and BIOS installs onto a virtual disk.

Each run boots a small Debian VM (built once and cached, tests/vm/) under
QEMU with a fresh sparse target disk, runs the real CLI unattended from an
answers file (`--answers F --yes`) with the nixos-install/nixos-enter
stand-ins, and then checks the disk image and what the guest recorded:
GPT layout and type codes, the FAT32 ESP mounted at /boot, the LUKS2 header
and the filesystem inside it with the plan's UUIDs, the firmware seen and the
loader chosen, the generated files naming exactly those UUIDs, and no trace
of the passphrase anywhere outside the LUKS keyslots.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

from vm import alongside, checks, vmrun, wifichecks

# One xdist worker runs the VMs one after the other: two TCG guests at once
# would only fight over the same CPUs.
pytestmark = pytest.mark.xdist_group("vm")

MISSING = vmrun.missing_host_tools()
# `make test` sets it: the whole suite must run the VM installs, so a missing
# prerequisite fails there; a developer's plain `pytest` skips with the reason.
FULL_SUITE = os.environ.get("NIXOS_TUI_FULL_SUITE") == "1"
TIMINGS = vmrun.CACHE / "timings.txt"


def needs_vm(test):
    return pytest.mark.vm(pytest.mark.slow(pytest.mark.usefixtures("vm_prerequisites")(test)))


@pytest.fixture(scope="module")
def vm_prerequisites() -> None:
    if not MISSING:
        return
    reason = ("VM tests need " + ", ".join(MISSING)
              + " (make test installs qemu-system-x86, ovmf, debootstrap and runs them as root)")
    if FULL_SUITE:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _note(line: str) -> None:
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    with open(TIMINGS, "a") as f:
        f.write(f"{time.strftime('%H:%M:%S')} {line}\n")
    print(line)


@pytest.fixture(scope="module")
def image(vm_prerequisites) -> tuple[Path, Path]:
    start = time.monotonic()
    wheels = vmrun.build_wheels()
    _note(f"wheels: {time.monotonic() - start:.0f} s")
    start = time.monotonic()
    img = vmrun.build_image(wheels=wheels)
    _note(f"image build (cached when unchanged): {time.monotonic() - start:.0f} s")
    return img, wheels


@pytest.fixture(scope="module")
def runs(image) -> dict[str, vmrun.VmRun]:
    done: dict[str, vmrun.VmRun] = {}
    return done


def _install(mode: str, image, runs) -> vmrun.VmRun:
    if mode not in runs:
        img, wheels = image
        run = vmrun.run_install(mode, image=img, wheels=wheels)
        _note(f"{mode} run: {run.seconds:.0f} s (accelerator {' '.join(vmrun.accel_args())}; "
              f"KDF memory {run.pbkdf_memory or 'product default'} KiB; guest phases {vmrun.guest_phases(run)})")
        runs[mode] = run
    return runs[mode]


@needs_vm
@pytest.mark.parametrize("mode", vmrun.MODES)
def test_install_in_vm(mode, image, runs):
    run = _install(mode, image, runs)
    failures = checks.check(run)
    assert not failures, f"{len(failures)} check(s) failed; everything is in {run.dir}\n" + "\n".join(failures)


@needs_vm
def test_checks_catch_a_wrong_expectation(image, runs):
    """The checks can fail: the same finished install, expected with other UUIDs, is refused."""
    run = _install("uefi", image, runs)
    right = checks.expected_identity(run)
    wrong = dataclasses.replace(right, luks_uuid="00000000-0000-4000-8000-000000000000",
                                root_uuid="11111111-1111-4111-8111-111111111111")
    assert checks.check(run, right) == []  # the same install, expected right, passes
    failures = checks.check(run, wrong)
    joined = "\n".join(failures)
    assert "LUKS UUID" in joined and "root filesystem UUID" in joined, joined
    assert "the files name UUIDs" in joined and "boot.initrd.luks.devices" in joined, joined
    assert "in the guest: holds ('crypto_LUKS'" in joined, joined
    # A UEFI install checked as if it were the BIOS one: layout, firmware and loader all refused.
    as_bios = "\n".join(checks.check(dataclasses.replace(run, mode="bios")))
    assert "partition 1 (bios)" in as_bios and "the installer recorded [boot]" in as_bios, as_bios
    assert "BIOS loader" in as_bios, as_bios
    if run.pbkdf_memory:  # a keyslot not made by the test's cheaper KDF is noticed
        slow = "\n".join(checks.check(dataclasses.replace(run, pbkdf_memory=run.pbkdf_memory * 2)))
        assert "keyslot argon2 memory" in slow, slow


def test_scan_sparse_finds_a_needle_across_chunks_and_holes(tmp_path):
    path = tmp_path / "disk.img"
    needle = b"vm-pass-0123456789ab x"
    with open(path, "wb") as f:
        f.truncate(64 * 1024 * 1024)
        f.seek(8 * 1024 * 1024 - 5)  # straddles a chunk boundary
        f.write(needle)
        f.seek(40 * 1024 * 1024)  # after a hole
        f.write(b"..." + needle)
    assert checks.scan_sparse(path, needle, chunk=1024 * 1024) == [8 * 1024 * 1024 - 5, 40 * 1024 * 1024 + 3]
    assert checks.scan_sparse(path, b"not there") == []


def test_accelerator_is_kvm_only_with_a_real_kvm_module():
    args = vmrun.accel_args()
    real_kvm = os.path.exists("/dev/kvm") and any(
        os.path.exists(f"/sys/module/{m}") for m in ("kvm_intel", "kvm_amd"))
    assert args[:2] == (["-accel", "kvm"] if real_kvm else ["-accel", "tcg,thread=multi"])


@pytest.mark.parametrize("full_suite", [True, False])
def test_missing_prerequisites_fail_the_full_suite_and_skip_otherwise(tmp_path, full_suite):
    """Without QEMU and the rest on PATH: `make test` (NIXOS_TUI_FULL_SUITE=1) fails, plain pytest skips."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("NIXOS_TUI_FULL_SUITE", "PYTEST_ADDOPTS")}
    env["PATH"] = str(tmp_path)  # no qemu, debootstrap, sgdisk, ...
    if full_suite:
        env["NIXOS_TUI_FULL_SUITE"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "vm", "-rs", "-k", "install_in_vm",
         str(Path(__file__))],
        cwd=vmrun.ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert "VM tests need qemu-system-x86_64" in done.stdout, done.stdout
    if full_suite:
        assert done.returncode == 1 and "2 error" in done.stdout, done.stdout
    else:
        assert done.returncode == 0 and "2 skipped" in done.stdout, done.stdout


def test_dependency_wheels_are_the_venvs_versions_and_nothing_else(tmp_path):
    """Two versions of one package in the share would break the image's `pip install ./*.whl`."""
    from importlib import metadata

    from packaging.version import Version

    pins = vmrun.runtime_pins()
    assert pins["textual"] == Version(metadata.version("textual"))
    assert {"rich", "jinja2", "markupsafe", "pyparted", "jsonschema"} <= set(pins)  # the closure, not the top level
    assert "linkify-it-py" in pins  # textual asks for markdown-it-py[linkify]: extras are followed
    assert "pytest" not in pins and "hypothesis" not in pins  # test tools stay out of the image
    textual = pins["textual"]
    for name in (f"textual-{textual}-py3-none-any.whl", "textual-0.1.0-py3-none-any.whl",
                 "nixos_tui_installer-0.1.0-py3-none-any.whl", "leftover_dep-1.0-py3-none-any.whl", "junk.whl"):
        (tmp_path / name).write_bytes(b"")
    assert vmrun.prune_wheels(tmp_path, pins) == {"textual"}
    assert [p.name for p in tmp_path.iterdir()] == [f"textual-{textual}-py3-none-any.whl"]


@pytest.fixture(scope="module")
def tpm2_run(image) -> vmrun.VmRun:
    missing = vmrun.missing_host_tools(tpm=True)
    if missing:
        reason = "the TPM2 VM test needs " + ", ".join(missing) + " (make test installs swtpm)"
        if FULL_SUITE:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    img, wheels = image
    run = vmrun.run_tpm2(image=img, wheels=wheels)
    _note(f"tpm2 run: {run.seconds:.0f} s (accelerator {' '.join(vmrun.accel_args())}; "
          f"guest phases {vmrun.guest_phases(run)})")
    return run


@needs_vm
def test_tpm2_first_boot_service_enrols_with_an_emulated_tpm_and_the_tpm_alone_unlocks(tpm2_run):
    """swtpm on the host, a TPM 2.0 in QEMU: the first-boot service's own script (from a
    configuration.nix the engine rendered) runs systemd-cryptenroll --tpm2-device=auto
    --tpm2-pcrs=7 with the installer's key file; then systemd-cryptsetup opens the
    container with tpm2-device=auto and no passphrase to fall back on, as the initrd's
    crypttab line (crypttabExtraOpts) does, and so does cryptsetup's systemd-tpm2 token."""
    run = tpm2_run
    r = run.results

    def read(name: str) -> str:
        return (r / name).read_text(errors="replace").strip() if (r / name).exists() else f"<no {name}>"

    where = f"; everything is in {run.dir} (guest log: {read('guest.log')[-2000:]})"
    assert read("guest.rc") == "0", "guest script failed" + where
    assert "tpmrm0" in read("tpm-devices.txt"), read("tpm-devices.txt") + where
    assert read("format.rc") == "0", read("format.log") + where
    assert read("enrol.rc") == "0", read("enrol.log") + where
    assert "New TPM2 token enrolled as key slot 1." in read("enrol.log"), read("enrol.log") + where
    assert read("key-left") == "no", "the key file was not shredded" + where
    slots = read("slots.txt")
    assert re.search(r"^\s*0\s+password$", slots, re.M) and re.search(r"^\s*1\s+tpm2$", slots, re.M), slots + where
    assert "systemd-tpm2" in read("luksdump.txt"), read("luksdump.txt") + where
    assert read("attach.rc") == "0" and read("mapped") == "yes", read("attach.log") + where
    assert read("token-only.rc") == "0", read("token-only.log") + where
    assert read("again.rc") == "0" and read("slots-again.txt") == slots, read("again.log") + where
    # The passphrase never left its files: not in any result, nor the console.
    for path in [*r.rglob("*"), run.console]:
        if path.is_file():
            assert run.passphrase not in path.read_text(errors="replace"), f"the passphrase leaked into {path}"


@needs_vm
def test_fido2_enrolment_runs_after_luks_open_and_before_nixos_install_in_a_real_install(image):
    """The whole unattended install with unlock = "fido2" in a kernel with dm-crypt: the
    stand-in systemd-cryptenroll's prompts come after the LUKS container is opened and
    before nixos-install, the root's header gets the systemd-fido2 token beside the
    passphrase's slot, and the key file under /run is gone."""
    img, wheels = image
    run = vmrun.run_fido2(image=img, wheels=wheels)
    _note(f"fido2 run: {run.seconds:.0f} s (guest phases {vmrun.guest_phases(run)})")
    r = run.results

    def read(name: str) -> str:
        return (r / name).read_text(errors="replace") if (r / name).exists() else f"<no {name}>"

    where = f"; everything is in {run.dir}"
    assert read("install.rc").strip() == "0", read("out.txt")[-3000:] + where
    out = read("out.txt")
    touch = out.index("please confirm presence on security token")
    assert out.rindex("$ cryptsetup open") < touch < out.index("] nixos-install"), out + where
    assert "New FIDO2 token enrolled as key slot 1." in out
    luks = json.loads(read("luks.json"))
    assert sorted(luks["keyslots"]) == ["0", "1"], read("luks.json") + where
    assert [t["type"] for t in luks["tokens"].values()] == ["systemd-fido2"]
    assert 'boot.initrd.luks.devices.cryptroot.crypttabExtraOpts = [ "fido2-device=auto" ];' in read("configuration.nix")
    assert "boot.initrd.systemd.enable = true;" in read("configuration.nix")
    assert "nixos-tui-installer-key-" not in read("run.txt"), read("run.txt")
    for path in [*r.rglob("*"), run.console]:
        if path.is_file():
            assert run.passphrase not in path.read_text(errors="replace"), f"the passphrase leaked into {path}"


@pytest.fixture(scope="module")
def alongside_run(image) -> tuple[vmrun.VmRun, "alongside.Windows"]:
    img, wheels = image
    run, win = alongside.run_alongside(image=img, wheels=wheels)
    _note(f"alongside run: {run.seconds:.0f} s (accelerator {' '.join(vmrun.accel_args())}; "
          f"guest phases {vmrun.guest_phases(run)})")
    return run, win


@needs_vm
def test_alongside_windows_keeps_its_esp_and_files_and_boots_nixos_from_xbootldr(alongside_run):
    """UEFI, a disk laid out as Windows' installer does (a 100 MiB ESP holding
    EFI/Microsoft/Boot, an MSR, NTFS holding files), then an unattended layout =
    "alongside" install: the Microsoft files and the ESP's serial are unchanged, the NTFS
    partition starts where it did and is 4 GiB, its files unchanged and ntfsresize's
    check clean; the new XBOOTLDR partition holds the entry and the kernel and initrd it
    names, laid out as nixpkgs' systemd-boot builder writes them (the stand-in runs the
    real bootctl install), and bootctl, given /mnt/efi and /mnt/boot, accepts the pair,
    finds the default entry's files and the firmware entry for systemd-boot on the ESP."""
    run, win = alongside_run
    failures = alongside.check(run, win)
    assert not failures, f"{len(failures)} check(s) failed; everything is in {run.dir}\n" + "\n".join(failures)


@needs_vm
def test_alongside_checks_catch_a_changed_windows_file_and_serial(alongside_run):
    """The checks can fail: the same finished run, expected with another bootmgfw.efi,
    another NTFS file, another ESP serial and a PARTUUID that is not the NTFS one's."""
    run, win = alongside_run
    assert alongside.check(run, win) == []
    wrong = dataclasses.replace(
        win, esp_serial="0badf00d", ntfs_partuuid="00000000-0000-4000-8000-000000000000",
        esp_sums={**win.esp_sums, "EFI/Microsoft/Boot/bootmgfw.efi": "0" * 64},
        ntfs_sums={**win.ntfs_sums, "Users/alice/Documents/notes 2024.txt": "1" * 64})
    joined = "\n".join(alongside.check(run, wrong))
    assert "the ESP's EFI/Microsoft/Boot/bootmgfw.efi is" in joined, joined
    assert "the ESP was reformatted or relabelled" in joined, joined
    assert "the NTFS files changed" in joined, joined
    assert "the ntfs partition's PARTUUID" in joined, joined


@pytest.fixture(scope="module")
def wifi_run(image) -> vmrun.VmRun:
    img, wheels = image
    run = vmrun.run_wifi(image=img, wheels=wheels)
    _note(f"wifi run: {run.seconds:.0f} s (accelerator {' '.join(vmrun.accel_args())}; "
          f"guest phases {vmrun.guest_phases(run)})")
    return run


def _wifi_steps(run: vmrun.VmRun) -> tuple[dict, dict[str, dict], str]:
    r = run.results

    def read(name: str) -> str:
        return (r / name).read_text(errors="replace") if (r / name).exists() else f"<no {name}>"

    where = (f"; everything is in {run.dir} (guest rc {read('guest.rc').strip()}, driver rc "
             f"{read('driver.rc').strip()}; driver log: {read('driver.log')[-3000:]}; guest log: {read('guest.log')[-1500:]})")
    assert (r / "wifi.json").exists(), "the driver wrote no wifi.json" + where
    data = json.loads(read("wifi.json"))
    return data, {s["step"]: s for s in data["steps"]}, where


@needs_vm
def test_wifi_through_networkmanager_lists_refuses_connects_reaches_the_cache_and_carries_the_keyfile(wifi_run):
    """mac80211_hwsim, hostapd (WPA2-PSK) in a network namespace of its own, NetworkManager on
    the second radio: the engine lists the network with its signal, refuses a wrong password
    with NetworkManager's reason in plain words, connects with the right one, the connectivity
    check reaches the in-guest stand-in substituter only then, and the keyfile it writes into
    the target is 0600, holds the PSK, and is one NetworkManager connects with by itself."""
    run = wifi_run
    data, steps, where = _wifi_steps(run)
    assert not data.get("errors"), "\n".join(data["errors"]) + where
    assert steps["nm_running"]["value"] is True, where
    kinds = {i["name"]: i for i in steps["interfaces"]["value"]}
    assert kinds["wlan1"]["kind"] == "wireless" and "wlan0" not in kinds, kinds  # the AP's radio is elsewhere
    assert kinds["wlan2"]["state"] == "unmanaged", kinds
    before = steps["check_before"]
    assert before["cache"] is False and before["words"].startswith("Not online"), before
    nets = {n["ssid"]: n for n in steps["wifi_list"]["value"]}
    assert vmrun.WIFI_SSID in nets, nets
    assert nets[vmrun.WIFI_SSID]["signal"] > 0 and nets[vmrun.WIFI_SSID]["security"] == "WPA2", nets
    wrong = steps["wrong_password"]
    assert wrong["refused"] is True, wrong
    assert wrong["message"] == "The password is wrong (NetworkManager: Secrets were required, but not provided).", wrong
    assert steps["after_wrong"]["profiles"] == [], steps["after_wrong"]  # the wrong password's keyfile is gone
    assert steps["connected"]["profile_mode"] == "0o600", steps["connected"]
    connected = {i["name"]: i for i in steps["connected"]["interfaces"]}["wlan1"]
    assert connected["state"] == "connected" and connected["address"].startswith("192.168.77."), connected
    after = steps["check_after"]
    assert after["cache"] is True and after["url"] == vmrun.WIFI_CACHE_URL, after
    assert after["words"] == f"Online: the binary cache {vmrun.WIFI_CACHE_URL} answers.", after
    again = steps["keyfile_connects"]
    assert again["load_rc"] == 0 and again["up_rc"] == 0, again
    assert {i["name"]: i for i in again["interfaces"]}["wlan1"]["state"] == "connected", again
    name = steps["connected"]["name"]
    keyfile = run.results / "target" / "etc" / "NetworkManager" / "system-connections" / f"{name}.nmconnection"
    assert f"psk={run.passphrase}\n" in keyfile.read_text(), keyfile
    modes = (run.results / "target-modes.txt").read_text()
    assert re.search(rf"^600 root \S*/{re.escape(name)}\.nmconnection$", modes, re.M), modes
    assert re.search(r"^700 root \S*/system-connections$", modes, re.M), modes
    assert "wifi-" not in (run.results / "run-dir.txt").read_text(), "a passwd-file was left under /run"


@needs_vm
def test_wifi_through_wpa_cli_refuses_a_wrong_password_and_connects(wifi_run):
    """The 25.05 ISO's way: a wpa_supplicant with a control socket and no NetworkManager on the
    third radio; installer.run.wpacli scans, refuses a wrong password (the 4-way handshake
    fails) and connects with the right one (COMPLETED), the password typed on wpa_cli's stdin."""
    data, steps, where = _wifi_steps(wifi_run)
    assert steps["wpa_interfaces"]["value"] == ["wlan2"], steps["wpa_interfaces"]
    nets = {n["ssid"]: n for n in steps["wpa_scan"]["value"]}
    assert vmrun.WIFI_SSID in nets and nets[vmrun.WIFI_SSID]["security"] == "WPA2", nets
    assert 0 < nets[vmrun.WIFI_SSID]["signal"] <= 100, nets
    wrong = steps["wpa_wrong_password"]
    assert wrong["refused"] is True and wrong["message"].startswith("The password is wrong"), wrong
    done = steps["wpa_connected"]
    assert done["wpa_state"] == "COMPLETED" and done["ssid"] == vmrun.WIFI_SSID, done
    assert done["key_mgmt"] == "WPA2-PSK", done


@needs_vm
def test_wifi_password_is_in_no_argv_environment_log_or_configuration(wifi_run):
    """A poller read every process's cmdline and environ all through the run (and saw the
    engine's nmcli and wpa_cli calls go by); no result but the carried keyfile holds the PSK
    or the wrong password: not the driver's log, NetworkManager's, wpa_supplicant's, the
    captured nmcli output, nor target/etc/nixos."""
    run = wifi_run
    data, _steps, where = _wifi_steps(run)
    assert data["leaks"] == [], data["leaks"]
    seen = data["seen"]
    assert data["polls"] > 20, data["polls"]
    # The poller saw the engine's long calls go by: it would have seen a password in them.
    # (wpa_cli's own short calls go by between two polls; the recorder wrapping each lasts longer.)
    assert any(s.startswith("nmcli --wait 45 connection up id wifi-") for s in seen), seen
    assert any(s.startswith("/bin/sh /tmp/wpa_cli-rec -p /run/wpa_supplicant -i wlan2 s") for s in seen), seen
    wrong = (run.share / "input" / "wrong-psk").read_text()
    keyfiles = set((run.results / "target" / "etc" / "NetworkManager").rglob("*"))
    assert keyfiles, "no keyfile was carried" + where
    carried = set((run.results / wifichecks.KEYFILES).rglob("*"))  # the install's, judged below
    assert carried, "the install carried no keyfile" + where
    keyfiles |= carried
    for path in [*run.results.rglob("*"), run.console]:
        if path.is_file() and path not in keyfiles and path.name != "hostapd.conf":
            text = path.read_text(errors="replace")
            assert run.passphrase not in text and wrong not in text, f"a Wi-Fi password leaked into {path}"
    assert (run.results / "target" / "etc" / "nixos" / "configuration.nix").exists()


@needs_vm
def test_wifi_unattended_install_joins_reaches_the_cache_and_carries_the_keyfile_after_the_install(wifi_run):
    """Offline again after the engine's steps (the profile deleted), the real CLI installs
    unattended (`--answers --yes`, [network] wifi_ssid and a 0600 wifi_password_file,
    --nix-conf naming the stand-in cache, the nixos-install stand-in) onto the VM's disk:
    it joins through NetworkManager before the pre-flight ("Joined ..."), says the cache
    answers, exits 0, and the keyfile in the installed system is the pipeline's own: 0600
    root, holding the PSK, which is in no argv or environment polled during the run, not in
    the CLI's output, its log, /etc/nixos nor anywhere else in the installed root."""
    _data, _steps, where = _wifi_steps(wifi_run)
    assert wifichecks.install_problems(wifi_run.results, wifi_run.passphrase) == [], where


@needs_vm
def test_wifi_install_checks_catch_a_leak_a_mode_and_a_failed_join(wifi_run, tmp_path):
    """The same checks on copies of that run's results, each with one thing spoiled, fail with it."""
    import shutil

    def spoiled(change) -> list[str]:
        copy = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        shutil.copytree(wifi_run.results, copy, symlinks=True)
        change(copy)
        return wifichecks.install_problems(copy, wifi_run.passphrase)

    def append(name: str, text: str):
        return lambda r: (r / name).write_text((r / name).read_text() + text)

    def rewrite(name: str, old: str, new: str):
        return lambda r: (r / name).write_text((r / name).read_text().replace(old, new))

    psk = wifi_run.passphrase
    assert any("install.log" in p for p in spoiled(append("install.log", f"password {psk}\n")))
    assert any("installed/nixos" in p for p in spoiled(append("installed/nixos/configuration.nix", f"# {psk}\n")))
    assert any("not 0600" in p for p in spoiled(rewrite("installed-modes.txt", "600 root /mnt", "644 root /mnt")))
    assert any("Joined" in p for p in spoiled(rewrite("cli.out", "Joined ", "Could not join ")))
    assert any("lacks the PSK" in p for p in spoiled(lambda r: [k.write_text("[wifi-security]\n")
                                                               for k in (r / wifichecks.KEYFILES).iterdir()]))
    assert any("elsewhere" in p for p in spoiled(append("psk-hits-in-root", "/mnt/var/log/x\n")))
