"""The alongside-Windows VM run (issue 18's acceptance test) and its checks, from the host.

`run_alongside` makes up what a Windows install would leave on the disk (the boot
manager's files, the ESP's volume serial, the partitions' PARTUUIDs, files for the
NTFS volume), hands them to tests/vm/guest-alongside.sh through the 9p share, and
boots it. The guest lays the disk out, installs with layout = "alongside" and records
what it saw; `check` compares that, and the disk image itself (sgdisk and blkid on
the image file), with what the host made up here, never with what the guest measured
before the install. Every check appends a message, so one run reports every broken
promise at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import vmrun

MIB = 1024 * 1024
GIB = 1024 * MIB
SECTOR = 512
# Sparse: a 20 GiB disk costs what is written. NTFS takes all but the ESP and MSR
# (~19.9 GiB) and is shrunk to 4 GiB: NixOS gets ~15.9 GiB, over its 10 GiB floor.
DISK_SIZE = 20 * GIB
SHRINK_TO_GIB = 4
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
MSR_TYPE = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
BASIC_DATA_TYPE = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
XBOOTLDR_TYPE = "BC13C2FF-59E6-4262-A352-B275FD6F7172"
LINUX_FS_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
# nixpkgs' systemd-boot-builder.py copy_from_file: /EFI/nixos/<store hash>-<name>-<file>.efi
BOOT_FILE = re.compile(r"^/EFI/nixos/[0-9a-df-np-sv-z]{32}-[^/\s]+\.efi$")
# What Windows' installer leaves on its ESP (names as it writes them); bytes made up here.
ESP_FILES = ("EFI/Microsoft/Boot/bootmgfw.efi", "EFI/Microsoft/Boot/bootmgr.efi", "EFI/Microsoft/Boot/BCD",
             "EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui", "EFI/Microsoft/Recovery/BCD")
NTFS_FILES = {"Windows/System32/config/SYSTEM": 3 * MIB, "Users/alice/Documents/notes 2024.txt": 17,
              "Users/alice/Pictures/holiday.jpg": 9 * MIB + 123, "pagefile-not.sys": 200 * 1024,
              "Program Files/App/app.dll": 1 * MIB}


@dataclass
class Windows:
    """What the host made up for the Windows side, and so expects back unchanged."""
    esp_serial: str  # 8 hex digits, as mkfs.fat -i takes it
    esp_partuuid: str
    ntfs_partuuid: str
    esp_sums: dict[str, str] = field(default_factory=dict)  # path on the ESP -> sha256
    ntfs_sums: dict[str, str] = field(default_factory=dict)  # path on the NTFS volume -> sha256

    @property
    def esp_uuid(self) -> str:
        """The serial as blkid prints a FAT volume's UUID."""
        return f"{self.esp_serial[:4]}-{self.esp_serial[4:]}".upper()


def answers_text(win: Windows) -> str:
    return f"""\
[system]
hostname = "vm-alongside"
timezone = "Europe/Berlin"
keymap = "us"

[disk]
device = "{vmrun.BY_ID}"
layout = "alongside"
shrink = "{win.ntfs_partuuid}"
shrink_to_gib = {SHRINK_TO_GIB}
filesystem = "ext4"
swap = "zram"

[[users]]
name = "alice"
password_hash = "$y$j9T$adRGRQYJHEV9CAs89LbJU/$gDvIDSJ2V/7SfEYoI7JDPiZPxPX/jC7egPkieq3x0pC"

[software]
desktop = "none"
"""


def _write(root: Path, name: str, size: int) -> str:
    data = os.urandom(size)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def prepare(cache: Path, wheels: Path) -> tuple[vmrun.VmRun, Windows]:
    run_dir, share = vmrun.fresh_share(cache, "alongside", "guest-alongside.sh", wheels,
                                       ("nixos-install", "nixos-enter"))
    inp = share / "input"
    win = Windows(esp_serial=secrets.token_hex(4), esp_partuuid=str(uuid.uuid4()), ntfs_partuuid=str(uuid.uuid4()))
    for name in ESP_FILES:
        win.esp_sums[name] = _write(inp / "esp", name, 4096 + secrets.randbelow(256 * 1024))
    for name, size in NTFS_FILES.items():
        win.ntfs_sums[name] = _write(inp / "ntfs", name, size)
    (inp / "esp-serial").write_text(win.esp_serial)
    (inp / "esp-partuuid").write_text(win.esp_partuuid)
    (inp / "ntfs-partuuid").write_text(win.ntfs_partuuid)
    answers = answers_text(win)
    (inp / "answers.toml").write_text(answers)
    disk = run_dir / "target.img"
    with open(disk, "wb") as f:
        f.truncate(DISK_SIZE)
    # mode "uefi": qemu_argv boots it through OVMF, so the installer sees UEFI firmware.
    run = vmrun.VmRun("uefi", run_dir, share, disk, run_dir / "console.log", 0, "", answers)
    return run, win


def run_alongside(cache: Path = vmrun.CACHE, image: Path | None = None,
                  wheels: Path | None = None) -> tuple[vmrun.VmRun, Windows]:
    wheels = wheels or vmrun.build_wheels(cache)
    image = image or vmrun.build_image(cache, wheels)
    run, win = prepare(cache, wheels)
    vmrun.boot(run, vmrun.qemu_argv(run, image))
    return run, win


def sums(text: str) -> dict[str, str]:
    """The guest's `path<TAB>sha256` lines."""
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def blkid_sections(text: str) -> dict[str, dict[str, str]]:
    """The guest's `# partN` headed `blkid -p -o export` output, by N's name."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            current = out.setdefault(line[2:].strip(), {})
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key] = value
    return out


class Checker:
    def __init__(self, run: vmrun.VmRun, win: Windows):
        self.run, self.win = run, win
        self.failures: list[str] = []

    def expect(self, cond: bool, message: str) -> bool:
        if not cond:
            self.failures.append(f"[alongside] {message}")
        return cond

    def result(self, name: str) -> str:
        path = self.run.results / name
        return path.read_text(errors="replace") if path.exists() else ""

    def tool(self, *argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL).stdout

    def check_all(self) -> list[str]:
        if not self.check_ran():
            return self.failures
        parts = self.check_table()
        self.check_esp(parts)
        self.check_ntfs()
        self.check_xbootldr(parts)
        self.check_bootctl(parts)
        self.check_configuration()
        return self.failures

    def check_ran(self) -> bool:
        console = self.run.console.read_text(errors="replace") if self.run.console.exists() else ""
        ok = self.expect(self.run.qemu_rc == 0, f"QEMU exit status {self.run.qemu_rc} (124 = killed by the "
                                                f"timeout); console tail:\n{console[-3000:]}")
        ok &= self.expect(self.result("guest.rc").strip() == "0",
                          f"guest script status {self.result('guest.rc').strip() or 'missing'}:\n"
                          f"{self.result('guest.log')[-3000:]}")
        ok &= self.expect(self.result("cli.rc").strip() == "0",
                          f"the alongside install exited {self.result('cli.rc').strip() or 'missing'}:\n"
                          f"{self.result('cli.out')[-4000:]}")
        return ok

    def check_table(self) -> dict[str, dict[str, str]]:
        """The GPT on the image after the install; its partitions by what they are."""
        disk = str(self.run.disk)
        found: dict[str, dict[str, str]] = {}
        listing = self.tool("sgdisk", "-p", disk)
        for number in re.findall(r"^\s+(\d+)\s+\d+\s+\d+", listing, re.M):
            out = self.tool("sgdisk", "-i", number, disk)
            info = {k: (re.search(rf"^{k}: (\S+)", out, re.M) or [None, ""])[1] for k in
                    ("Partition GUID code", "Partition unique GUID", "First sector", "Last sector")}
            info["number"] = number
            kind = {ESP_TYPE: "esp", MSR_TYPE: "msr", BASIC_DATA_TYPE: "ntfs", XBOOTLDR_TYPE: "xbootldr",
                    LINUX_FS_TYPE: "root"}.get(info["Partition GUID code"].upper(), f"other{number}")
            found[kind] = info
        self.expect(sorted(found) == ["esp", "msr", "ntfs", "root", "xbootldr"],
                    f"partitions {sorted(found)}, expected esp, msr, ntfs, xbootldr, root:\n{listing}")

        def span(kind: str) -> tuple[int, int]:
            info = found.get(kind, {})
            first, last = int(info.get("First sector") or 0), int(info.get("Last sector") or -1)
            return first, (last - first + 1) * SECTOR

        self.expect(span("esp") == (2048, 100 * MIB), f"the ESP is {span('esp')}, Windows' was (2048, 100 MiB)")
        self.expect(span("msr")[1] == 16 * MIB, f"the MSR is {span('msr')}")
        msr_end = span("msr")[0] + span("msr")[1] // SECTOR
        self.expect(span("ntfs") == (msr_end, SHRINK_TO_GIB * GIB),
                    f"the NTFS partition is {span('ntfs')}: expected to start where it did ({msr_end}) "
                    f"and end {SHRINK_TO_GIB} GiB later")
        self.expect(span("xbootldr")[1] == GIB, f"the XBOOTLDR partition is {span('xbootldr')}, expected 1 GiB")
        for kind, want in (("esp", self.win.esp_partuuid), ("ntfs", self.win.ntfs_partuuid)):
            have = found.get(kind, {}).get("Partition unique GUID", "").lower()
            self.expect(have == want, f"the {kind} partition's PARTUUID is {have}, Windows' was {want}")
        return found

    def check_esp(self, parts: dict[str, dict[str, str]]) -> None:
        if "esp" in parts:
            first = int(parts["esp"]["First sector"])
            ids = dict(line.split("=", 1) for line in self.tool(
                "blkid", "-p", "-o", "export", "--offset", str(first * SECTOR), "--size", str(100 * MIB),
                str(self.run.disk)).splitlines() if "=" in line)
            self.expect(ids.get("TYPE") == "vfat" and ids.get("UUID") == self.win.esp_uuid and ids.get("LABEL") == "SYSTEM",
                        f"the ESP was reformatted or relabelled: {ids}, Windows' was vfat {self.win.esp_uuid} SYSTEM")
        after = sums(self.result("esp-after"))
        for name, digest in self.win.esp_sums.items():
            self.expect(after.get(name) == digest, f"the ESP's {name} is {after.get(name) or 'gone'}, "
                                                   f"Windows wrote {digest}")
        # NixOS's builder: the loader and loader.conf on the ESP, its kernels and entries not.
        self.expect("EFI/systemd/systemd-bootx64.efi" in after, f"no systemd-boot on the ESP: {sorted(after)}")
        strays = [n for n in after if n.startswith(("EFI/nixos/", "loader/entries/nixos"))]
        self.expect(not strays, f"NixOS's boot files on the small ESP: {strays}")
        conf = self.result("boot-loader/loader.conf")
        self.expect("default nixos-generation-1.conf" in conf.splitlines(), f"the ESP's loader.conf:\n{conf}")

    def check_ntfs(self) -> None:
        self.expect(sums(self.result("ntfs-after")) == self.win.ntfs_sums,
                    f"the NTFS files changed: {sums(self.result('ntfs-after'))} != {self.win.ntfs_sums}")
        info = self.result("ntfsresize-info")
        self.expect(self.result("ntfsresize-info.rc").strip() == "0"
                    and ("You might resize at" in info or "Space in use" in info),
                    f"ntfsresize --info on the shrunk volume:\n{info}")

    def check_xbootldr(self, parts: dict[str, dict[str, str]]) -> None:
        ids = blkid_sections(self.result("blkid-after")).get(f"part{parts.get('xbootldr', {}).get('number')}", {})
        self.expect(ids.get("TYPE") == "vfat" and ids.get("PART_ENTRY_TYPE", "").upper() == XBOOTLDR_TYPE,
                    f"the XBOOTLDR partition: {ids}")
        files = sums(self.result("xbootldr-after"))
        entries = sorted(n for n in files if n.startswith("loader/entries/"))
        if not self.expect(entries == ["loader/entries/nixos-generation-1.conf"],
                           f"entries on XBOOTLDR: {entries} (all: {sorted(files)})"):
            return
        entry = self.result("boot-loader/entries/nixos-generation-1.conf")
        fields = dict(line.split(" ", 1) for line in entry.splitlines() if " " in line)
        self.expect(fields.get("title") == "NixOS" and fields.get("sort-key") == "nixos"
                    and fields.get("version", "").startswith("Generation 1 ")
                    and fields.get("options", "").startswith("init=/nix/store/"), f"the entry:\n{entry}")
        for key in ("linux", "initrd"):
            path = fields.get(key, "")
            self.expect(bool(BOOT_FILE.match(path)) and path[1:] in files,
                        f"the entry's {key} {path!r} is not a builder-named file on XBOOTLDR ({sorted(files)})")

    def check_bootctl(self, parts: dict[str, dict[str, str]]) -> None:
        status = self.result("bootctl-status")
        esp = parts.get("esp", {}).get("Partition unique GUID", "?").lower()
        xbl = parts.get("xbootldr", {}).get("Partition unique GUID", "?").lower()
        self.expect(self.result("bootctl-status.rc").strip() == "0", f"bootctl status failed:\n{status}")
        self.expect(f"ESP: /mnt/efi (/dev/disk/by-partuuid/{esp})" in status,
                    f"bootctl status does not take /mnt/efi as the ESP {esp}:\n{status}")
        self.expect(f"$BOOT: /mnt/boot (/dev/disk/by-partuuid/{xbl})" in status,
                    f"bootctl status does not take /mnt/boot as XBOOTLDR {xbl}:\n{status}")
        self.expect("id: nixos-generation-1.conf" in status and "No such file" not in status,
                    f"bootctl status does not find the default entry and its files:\n{status}")
        self.expect("/EFI/systemd/systemd-bootx64.efi (systemd-boot " in status,
                    f"bootctl status finds no systemd-boot on the ESP:\n{status}")
        # canTouchEfiVariables: the firmware's entry names the loader on the ESP, not XBOOTLDR.
        listed = status.partition("Boot Loaders Listed in EFI Variables:")[2].partition("\n\n")[0]
        self.expect("Linux Boot Manager" in listed and f"Partition: /dev/disk/by-partuuid/{esp}" in listed,
                    f"no firmware boot entry for systemd-boot on the ESP {esp}:\n{listed}")
        # Windows' own entry is made by systemd-boot at boot time (its auto-windows entry, from
        # \EFI\Microsoft\Boot\bootmgfw.efi, checked above); bootctl 252 lists only what a booted
        # systemd-boot reported, so it cannot be asked here.
        listing = self.result("bootctl-list")
        self.expect(self.result("bootctl-list.rc").strip() == "0"
                    and "source: /mnt/boot/loader/entries/nixos-generation-1.conf" in listing,
                    f"bootctl list does not list NixOS's entry from XBOOTLDR:\n{listing}")

    def check_configuration(self) -> None:
        config = self.result("target-etc-nixos/configuration.nix")
        for line in ('boot.loader.efi.efiSysMountPoint = "/efi";', 'boot.loader.systemd-boot.xbootldrMountPoint = "/boot";'):
            self.expect(line in config, f"configuration.nix lacks {line}")
        hardware = self.result("target-etc-nixos/hardware-configuration.nix")
        self.expect(f'"/dev/disk/by-uuid/{self.win.esp_uuid}"' in hardware and 'fileSystems."/efi"' in hardware,
                    f"hardware-configuration.nix does not mount the Windows ESP at /efi:\n{hardware}")


def check(run: vmrun.VmRun, win: Windows) -> list[str]:
    return Checker(run, win).check_all()
