"""Checks on a finished VM install, from the host.

The disk image itself is read without a loop device: `sgdisk` on the image
file, `blkid -p --offset`, and partitions copied out with dd for
`fsck.fat`/`cryptsetup luksDump`. What only the guest can see (inside LUKS,
what was mounted) comes from the results it wrote to the share. Every check
appends a message to a list instead of stopping, so one run reports every
broken promise at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from installer.plan.identity import Identity

from .vmrun import BY_ID, VmRun

SECTOR = 512
MIB = 1024 * 1024
GIB = 1024 * MIB
# sgdisk's names for the type GUIDs the layouts must use.
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
LINUX_SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
LINUX_LUKS = "CA7D7CCB-63ED-4C53-861C-1742536059CC"
# A host tool on a disk image finishes in seconds; a hung one must not hang the suite.
TOOL_TIMEOUT = 120
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\b[0-9A-F]{4}-[0-9A-F]{4}\b")


@dataclass(frozen=True)
class Part:
    number: int
    name: str
    type_guid: str
    size: int  # bytes; 0 = the rest of the disk
    partuuid: str = ""


def expected_layout(mode: str, ident: Identity) -> list[Part]:
    """What the answers file asks for, written out independently of the planner."""
    if mode == "uefi":
        return [Part(1, "ESP", ESP, GIB), Part(2, "swap", LINUX_SWAP, 512 * MIB, ident.swap_uuid),
                Part(3, "root", LINUX_LUKS, 0)]
    return [Part(1, "bios", BIOS_BOOT, MIB), Part(2, "boot", LINUX_FS, GIB), Part(3, "root", LINUX_LUKS, 0)]


def expected_identity(run: VmRun) -> Identity:
    return Identity.generate(run.seed)


class Checker:
    def __init__(self, run: VmRun, ident: Identity | None = None):
        self.run = run
        self.ident = ident or expected_identity(run)
        self.failures: list[str] = []
        self.partinfo: dict[int, dict[str, str]] = {}

    # -- helpers ---------------------------------------------------------------
    def fail(self, message: str) -> None:
        self.failures.append(f"[{self.run.mode}] {message}")

    def expect(self, cond: bool, message: str) -> bool:
        if not cond:
            self.fail(message)
        return cond

    def result(self, name: str) -> str:
        path = self.run.results / name
        return path.read_text(errors="replace") if path.exists() else ""

    def tmp(self, name: str) -> Path:
        return self.run.dir / name

    def extract(self, number: int, limit: int | None = None) -> Path:
        """Copy partition `number` (or its first `limit` bytes) out of the image."""
        info = self.partinfo[number]
        first, last = int(info["first"]), int(info["last"])
        size = (last - first + 1) * SECTOR
        if limit:
            size = min(size, limit)
        out = self.tmp(f"part{number}.img")
        with open(self.run.disk, "rb") as src, open(out, "wb") as dst:
            src.seek(first * SECTOR)
            left = size
            while left:
                chunk = src.read(min(left, 4 * MIB))
                if not chunk:
                    break
                if chunk.count(0) == len(chunk):
                    dst.seek(len(chunk), os.SEEK_CUR)  # keep the copy as sparse as the image
                else:
                    dst.write(chunk)
                left -= len(chunk)
            dst.truncate(size)
        return out

    def tool(self, argv: list[str]) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"{' '.join(argv)} took longer than {TOOL_TIMEOUT} s")
            return subprocess.CompletedProcess(argv, 124, "", "timed out")

    def blkid(self, path: Path) -> dict[str, str]:
        done = self.tool(["blkid", "-p", "-o", "export", str(path)])
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    # -- the checks ------------------------------------------------------------
    def check_all(self) -> list[str]:
        self.check_guest_ran()
        self.check_gpt()
        if self.partinfo:
            self.check_boot_partitions()
            self.check_luks()
        self.check_partitions_in_the_guest()
        self.check_inside_luks()
        self.check_mounts()
        self.check_firmware_and_loader()
        self.check_rendered_files()
        self.check_exported_flake()
        self.check_no_passphrase()
        return self.failures

    def check_guest_ran(self) -> None:
        r = self.run
        console = r.console.read_text(errors="replace") if r.console.exists() else ""
        self.expect(r.qemu_rc == 0, f"QEMU exit status {r.qemu_rc} (124 = killed by the timeout); "
                                    f"console tail:\n{console[-3000:]}")
        self.expect(self.result("guest.rc").strip() == "0",
                    f"guest.sh status {self.result('guest.rc').strip() or 'missing'}; guest.log tail:\n"
                    f"{self.result('guest.log')[-3000:]}")
        self.expect(self.result("plan.rc").strip() == "0", f"--plan failed: {self.result('plan.err')[-2000:]}")
        self.expect(self.result("render.rc").strip() == "0",
                    f"--render exited {self.result('render.rc').strip() or 'missing'}: {self.result('render.err')[-2000:]}")
        self.expect(self.result("cli.rc").strip() == "0",
                    f"the unattended install exited {self.result('cli.rc').strip() or 'missing'}:\n"
                    f"{self.result('cli.out')[-2000:]}\n{self.result('cli.err')[-3000:]}")
        self.expect("virtio-target0 ->" in self.result("by-id.txt"), f"{BY_ID} missing in the guest")
        self.expect((r.results / "install.log").is_file(), "no install log written")

    def check_gpt(self) -> None:
        disk = str(self.run.disk)
        pttype = self.tool(["blkid", "-p", "-o", "value", "-s", "PTTYPE", disk])
        if not self.expect(pttype.stdout.strip() == "gpt", f"no GPT on the target disk ({pttype.stdout.strip()!r})"):
            return
        table = self.tool(["sgdisk", "-p", disk])
        guid = re.search(r"Disk identifier \(GUID\): (\S+)", table.stdout)
        self.expect(bool(guid) and guid.group(1).lower() == self.ident.disk_guid,
                    f"disk GUID {guid and guid.group(1)} != planned {self.ident.disk_guid}")
        numbers = [int(m) for m in re.findall(r"^\s+(\d+)\s+\d+\s+\d+", table.stdout, re.M)]
        want = expected_layout(self.run.mode, self.ident)
        if not self.expect(numbers == [p.number for p in want],
                           f"partitions {numbers}, expected {[p.number for p in want]}:\n{table.stdout}"):
            return
        last_usable = int(re.search(r"last usable sector is (\d+)", table.stdout).group(1))
        start = MIB // SECTOR
        for part in want:
            out = self.tool(["sgdisk", "-i", str(part.number), disk]).stdout
            field = lambda label: (re.search(rf"^{label}: (.*)$", out, re.M) or [None, ""])[1].strip()  # noqa: E731
            info = {
                "type": field("Partition GUID code").split()[0] if field("Partition GUID code") else "",
                "partuuid": field("Partition unique GUID"),
                "first": field("First sector").split()[0] if field("First sector") else "0",
                "last": field("Last sector").split()[0] if field("Last sector") else "0",
                "name": field("Partition name").strip("'"),
            }
            self.partinfo[part.number] = info
            first, last = int(info["first"]), int(info["last"])
            where = f"partition {part.number} ({part.name})"
            self.expect(info["type"].upper() == part.type_guid, f"{where}: type {info['type']}, expected {part.type_guid}")
            self.expect(info["name"] == part.name, f"{where}: GPT name {info['name']!r}, expected {part.name!r}")
            self.expect(first == start, f"{where}: starts at sector {first}, expected {start}")
            self.expect(first * SECTOR % MIB == 0, f"{where}: start not 1 MiB aligned")
            size = (last - first + 1) * SECTOR
            if part.size:
                self.expect(size == part.size, f"{where}: {size} bytes, expected {part.size}")
            else:
                self.expect(last_usable - last < MIB // SECTOR * 2 and size > 5 * GIB,
                            f"{where}: ends at {last} (last usable {last_usable}): should fill the disk")
            if part.partuuid:
                self.expect(info["partuuid"].lower() == part.partuuid,
                            f"{where}: PARTUUID {info['partuuid']} != planned {part.partuuid}")
            start = last + 1

    def check_boot_partitions(self) -> None:
        if self.run.mode == "uefi":
            esp = self.extract(1)
            ids = self.blkid(esp)
            self.expect(ids.get("TYPE") == "vfat" and ids.get("VERSION") == "FAT32",
                        f"ESP is not FAT32: {ids}")
            self.expect(ids.get("UUID") == self.ident.esp_volid, f"ESP volume id {ids.get('UUID')} != planned "
                                                                  f"{self.ident.esp_volid}")
            self.expect(ids.get("LABEL") == "BOOT", f"ESP label {ids.get('LABEL')!r} != 'BOOT'")
            fsck = self.tool(["fsck.fat", "-n", str(esp)])
            self.expect(fsck.returncode == 0, f"fsck.fat -n on the ESP failed: {fsck.stdout}{fsck.stderr}")
        else:
            boot = self.extract(2)
            ids = self.blkid(boot)
            self.expect(ids.get("TYPE") == "ext4", f"/boot is not ext4: {ids}")
            self.expect(ids.get("UUID") == self.ident.boot_uuid,
                        f"/boot UUID {ids.get('UUID')} != planned {self.ident.boot_uuid}")
            fsck = self.tool(["e2fsck", "-fn", str(boot)])
            self.expect(fsck.returncode == 0, f"e2fsck -fn on /boot failed: {fsck.stdout}{fsck.stderr}")
            bios = self.blkid(self.extract(1))
            self.expect("TYPE" not in bios, f"the BIOS boot partition holds a filesystem: {bios}")

    def check_luks(self) -> None:
        header = self.extract(3, limit=16 * MIB)
        dump = self.tool(["cryptsetup", "luksDump", str(header)])
        if not self.expect(dump.returncode == 0, f"no LUKS header on partition 3: {dump.stderr}"):
            return
        text = dump.stdout
        self.expect(re.search(r"^Version:\s+2$", text, re.M) is not None, "LUKS header is not LUKS2")
        uuid = re.search(r"^UUID:\s+(\S+)", text, re.M)
        self.expect(bool(uuid) and uuid.group(1) == self.ident.luks_uuid,
                    f"LUKS UUID {uuid and uuid.group(1)} != planned {self.ident.luks_uuid}")
        slots = re.findall(r"^\s+(\d+): luks2$", text, re.M)
        self.expect(len(slots) == 1, f"expected one keyslot, found {slots}")
        memory = re.search(r"^\s+Memory:\s+(\d+)", text, re.M)
        if self.run.pbkdf_memory:  # the guest's test-only cryptsetup shim made the keyslot
            self.expect(bool(memory) and int(memory.group(1)) == self.run.pbkdf_memory,
                        f"keyslot argon2 memory {memory and memory.group(1)}, expected the test's "
                        f"{self.run.pbkdf_memory} KiB: was the shim on PATH?")
        # The shim, not the product, lowers the cost: the installer's luksFormat names no KDF option.
        formats = [line for line in self.result("plan.txt").splitlines() if "cryptsetup luksFormat" in line]
        self.expect(len(formats) == 1 and not re.search(r"--pbkdf|--iter-time", formats[0]),
                    f"the plan's luksFormat: {formats}")
        (self.run.dir / "luksDump.txt").write_text(text)

    def check_partitions_in_the_guest(self) -> None:
        """What the guest's kernel and udev saw behind the by-id names the files use."""
        seen: dict[int, dict[str, str]] = {}
        current = None
        for line in self.result("blkid-parts").splitlines():
            head = re.match(rf"# {re.escape(BY_ID)}-part(\d+)$", line)
            if head:
                current = seen.setdefault(int(head.group(1)), {})
            elif current is not None and "=" in line:
                key, _, value = line.partition("=")
                current[key] = value
        want = expected_layout(self.run.mode, self.ident)
        if not self.expect(sorted(seen) == [p.number for p in want],
                           f"the guest's {BY_ID}-part*: {sorted(seen)}:\n{self.result('blkid-parts')[-2000:]}"):
            return
        i = self.ident
        content = {  # partition name -> (TYPE, UUID) blkid must find; None: no signature at all
            "ESP": ("vfat", i.esp_volid), "bios": None, "boot": ("ext4", i.boot_uuid),
            "swap": None,  # random-key swap: set up at every boot, nothing written now
            "root": ("crypto_LUKS", i.luks_uuid),
        }
        for part in want:
            ids = seen[part.number]
            where = f"{BY_ID}-part{part.number} in the guest"
            self.expect(ids.get("PART_ENTRY_NAME") == part.name, f"{where}: name {ids.get('PART_ENTRY_NAME')!r}")
            self.expect(ids.get("PART_ENTRY_TYPE", "").upper() == part.type_guid,
                        f"{where}: type {ids.get('PART_ENTRY_TYPE')}, expected {part.type_guid}")
            if part.partuuid:
                self.expect(ids.get("PART_ENTRY_UUID", "").lower() == part.partuuid,
                            f"{where}: PARTUUID {ids.get('PART_ENTRY_UUID')} != planned {part.partuuid}")
            found = (ids["TYPE"], ids.get("UUID")) if "TYPE" in ids else None
            self.expect(found == content[part.name], f"{where}: holds {found}, expected {content[part.name]}")

    def check_inside_luks(self) -> None:
        ids = dict(line.split("=", 1) for line in self.result("blkid-cryptroot").splitlines() if "=" in line)
        fs = "btrfs" if self.run.mode == "uefi" else "ext4"
        self.expect(ids.get("TYPE") == fs, f"inside LUKS: {ids or self.result('blkid-cryptroot')!r}, expected {fs}")
        self.expect(ids.get("UUID") == self.ident.root_uuid,
                    f"root filesystem UUID {ids.get('UUID')} != planned {self.ident.root_uuid}")
        self.expect(ids.get("LABEL") == "nixos", f"root label {ids.get('LABEL')!r} != 'nixos'")

    def mounts(self, name: str) -> dict[str, tuple[str, str, str, str]]:
        """mount point -> (fstype, source, root within the fs, super options)."""
        out = {}
        for line in self.result(name).splitlines():
            left, _, right = line.partition(" - ")
            f, r = left.split(), right.split()
            if len(f) >= 5 and len(r) >= 3:
                out[f[4]] = (r[0], r[1], f[3], r[2])
        return out

    def check_mounts(self) -> None:
        m = self.mounts("mountinfo-at-install")
        if not self.expect(bool(m), "no mountinfo recorded while nixos-install ran (was it run?)"):
            return
        root = m.get("/mnt")
        fs = "btrfs" if self.run.mode == "uefi" else "ext4"
        self.expect(bool(root) and root[0] == fs, f"/mnt during nixos-install: {root}, expected {fs}")
        if root:  # the source is /dev/mapper/cryptroot, or dm-N as the kernel names it
            self.expect("cryptroot" in root[1] or root[1].startswith("/dev/dm-"),
                        f"/mnt is not the LUKS mapping: {root[1]}")
        boot = m.get("/mnt/boot")
        if self.run.mode == "uefi":
            self.expect(bool(boot) and boot[0] == "vfat", f"ESP not mounted at /mnt/boot: {boot}")
            if boot:
                self.expect(boot[1].endswith("vdb1") or "target0-part1" in boot[1], f"/mnt/boot from {boot[1]}")
                self.expect("fmask=0077" in boot[3] and "dmask=0077" in boot[3],
                            f"ESP mounted readable by others: {boot[3]}")
            for point, vol in (("/mnt", "/@"), ("/mnt/home", "/@home"), ("/mnt/nix", "/@nix")):
                got = m.get(point)
                self.expect(bool(got) and got[0] == "btrfs" and got[2] == vol,
                            f"{point}: {got}, expected btrfs subvolume {vol}")
        else:
            self.expect(bool(boot) and boot[0] == "ext4" and boot[1].endswith("vdb2"),
                        f"/boot partition not mounted at /mnt/boot: {boot}")

    def check_firmware_and_loader(self) -> None:
        """The VM's firmware as the guest sees it, and as the installer detected it (the answers leave it out)."""
        uefi = self.run.mode == "uefi"
        self.expect(self.result("firmware").strip() == self.run.mode,
                    f"guest saw firmware {self.result('firmware').strip()!r} in a {self.run.mode} VM")
        self.expect(uefi == bool(self.result("efivars")), "efivarfs presence does not match the firmware mode")
        # The installer's detection, from what it wrote: the answers it recorded in the target ...
        saved = self.run.results / "target-etc-nixos" / "answers.toml"
        try:
            boot = tomllib.loads(saved.read_text()).get("boot", {})
        except (OSError, tomllib.TOMLDecodeError) as err:
            self.fail(f"no readable answers.toml in the target's /etc/nixos: {err}")
            boot = {}
        self.expect(boot.get("firmware") == self.run.mode, f"the installer recorded [boot] {boot}, not {self.run.mode}")
        self.expect(boot.get("loader") in (None, "systemd-boot" if uefi else "grub"),
                    f"the installer recorded loader {boot.get('loader')!r} on {self.run.mode}")
        # ... and the plan it printed and executed: an ESP on UEFI, a BIOS boot partition on BIOS.
        for name, text in (("plan.txt", self.result("plan.txt")), ("install.log", self.result("install.log"))):
            self.expect(("mkfs.fat" in text) == uefi, f"{name}: {'no' if uefi else 'an'} ESP format step")
            self.expect((BIOS_BOOT in text.upper()) == (not uefi),
                        f"{name}: {'a' if uefi else 'no'} BIOS boot partition on {self.run.mode}")

    def check_rendered_files(self) -> None:
        from nixeval import eval_json, module_args, module_value

        written = self.run.results / "target-etc-nixos"
        rendered = self.run.results / "rendered"
        names = ("configuration.nix", "hardware-configuration.nix")
        for name in names:
            if not self.expect((written / name).is_file(), f"{name} not written to /mnt/etc/nixos"):
                return
            self.expect((rendered / name).is_file() and (rendered / name).read_text() == (written / name).read_text(),
                        f"{name} in the target differs from --render with the same answers")
        config, hardware = ((written / n) for n in names)
        i = self.ident
        if self.run.mode == "uefi":
            want_uuids = {i.root_uuid, i.luks_uuid, i.esp_volid, i.swap_uuid}
        else:
            want_uuids = {i.root_uuid, i.luks_uuid, i.boot_uuid}
        seen = {u.lower() if "-" in u and len(u) > 9 else u for u in UUID_RE.findall(hardware.read_text())}
        seen |= {u.lower() for u in UUID_RE.findall(config.read_text()) if len(u) > 9}
        self.expect(seen == want_uuids, f"the files name UUIDs {sorted(seen)}, expected exactly {sorted(want_uuids)}")
        try:
            hw, cfg = eval_json([module_value(hardware, module_args()), module_value(config, module_args())])
        except AssertionError as err:
            self.fail(f"Nix cannot evaluate the written files: {err}")
            return
        fss = hw.get("fileSystems", {})
        luks = hw.get("boot", {}).get("initrd", {}).get("luks", {}).get("devices", {})
        self.expect(luks == {"cryptroot": {"device": f"/dev/disk/by-uuid/{i.luks_uuid}"}},
                    f"boot.initrd.luks.devices = {luks}")
        self.expect(fss.get("/", {}).get("device") == f"/dev/disk/by-uuid/{i.root_uuid}",
                    f'fileSystems."/" = {fss.get("/")}')
        loader = cfg.get("boot", {}).get("loader", {})
        if self.run.mode == "uefi":
            self.expect(set(fss) == {"/", "/home", "/nix", "/boot"}, f"fileSystems: {sorted(fss)}")
            for point, vol in (("/", "@"), ("/home", "@home"), ("/nix", "@nix")):
                got = fss.get(point, {})
                self.expect(got.get("fsType") == "btrfs" and f"subvol={vol}" in got.get("options", []),
                            f"fileSystems.{point} = {got}")
            self.expect(fss.get("/boot", {}).get("device") == f"/dev/disk/by-uuid/{i.esp_volid}"
                        and fss["/boot"].get("fsType") == "vfat", f'fileSystems."/boot" = {fss.get("/boot")}')
            swaps = hw.get("swapDevices", [])
            self.expect(swaps == [{"device": f"/dev/disk/by-partuuid/{i.swap_uuid}", "randomEncryption": {"enable": True}}],
                        f"swapDevices = {swaps}")
            self.expect(loader.get("systemd-boot", {}).get("enable") is True, f"UEFI loader: {loader}")
            self.expect("grub" not in loader or not loader["grub"].get("enable"), f"GRUB enabled on UEFI: {loader}")
        else:
            self.expect(set(fss) == {"/", "/boot"}, f"fileSystems: {sorted(fss)}")
            self.expect(fss.get("/boot", {}).get("device") == f"/dev/disk/by-uuid/{i.boot_uuid}"
                        and fss["/boot"].get("fsType") == "ext4", f'fileSystems."/boot" = {fss.get("/boot")}')
            self.expect(fss["/"].get("fsType") == "ext4", f'fileSystems."/" = {fss["/"]}')
            grub = loader.get("grub", {})
            self.expect(grub.get("enable") is True and grub.get("device") == BY_ID, f"BIOS loader: {loader}")
            self.expect("systemd-boot" not in loader, f"systemd-boot configured on BIOS: {loader}")
        plan = self.result("plan.txt")
        self.expect(i.luks_uuid in plan and i.root_uuid in plan, "--plan does not show the planned UUIDs")

    def check_exported_flake(self) -> None:
        """--export-flake from the installed wheel: its flake templates, the plan's layout in disko's format."""
        from nixeval import NixError, eval_json, nix_path, parse_files

        if not self.expect(self.result("export.rc").strip() == "0",
                           f"--export-flake exited {self.result('export.rc').strip() or 'missing'}: "
                           f"{self.result('export.err')[-2000:]}"):
            return
        flake = self.run.results / "flake"
        host = f"vm-{self.run.mode}"
        files = sorted(p for p in flake.rglob("*.nix"))
        names = {p.relative_to(flake).as_posix() for p in files}
        want = {"flake.nix", *(f"hosts/{host}/{n}" for n in
                               ("disk-config.nix", "configuration.nix", "hardware-configuration.nix", "access.nix"))}
        if not self.expect(names == want, f"exported .nix files {sorted(names)}"):
            return
        try:
            parse_files(files)
            (disk,) = eval_json([f"(import {nix_path(flake / 'hosts' / host / 'disk-config.nix')}"
                                 " { lib = { mkDefault = x: x; }; }).disko.devices.disk.main"])
        except NixError as err:
            self.fail(f"the exported flake does not parse or evaluate: {err}")
            return
        self.expect(disk.get("device") == BY_ID, f"disko device {disk.get('device')}")
        parts = disk.get("content", {}).get("partitions", {})
        self.expect(sorted(parts) == sorted(p.name for p in expected_layout(self.run.mode, self.ident)),
                    f"disko partitions {sorted(parts)}")
        root = parts.get("root", {}).get("content", {})
        self.expect(root.get("type") == "luks" and root.get("passwordFile") == "/tmp/secret.key",
                    f"disko root: {root}")

    def check_no_passphrase(self) -> None:
        secret = self.run.passphrase.encode()
        hits = []
        for path in sorted(self.run.share.rglob("*")):
            if path.is_file() and "input" not in path.relative_to(self.run.share).parts[:1]:
                if secret in path.read_bytes():
                    hits.append(str(path.relative_to(self.run.share)))
        for path in (self.run.console, self.run.dir / "qemu.out"):
            if path.exists() and secret in path.read_bytes():
                hits.append(path.name)
        self.expect(not hits, f"the passphrase appears in {hits}")
        self.expect((self.run.results / "passphrase-hits-in-root").exists(), "the guest did not search the root fs")
        inside = self.result("passphrase-hits-in-root").split()
        self.expect(not inside, f"the passphrase appears inside the installed root: {inside}")
        offsets = scan_sparse(self.run.disk, secret)
        self.expect(not offsets, f"the passphrase appears in plain text in the disk image at byte offsets {offsets[:5]}")


def scan_sparse(path: Path, needle: bytes, chunk: int = 8 * MIB) -> list[int]:
    """Offsets of `needle` in a sparse file, reading only its data extents."""
    found: list[int] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        pos = 0
        while pos < end:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # no data after pos
                break
            hole = os.lseek(fd, pos, os.SEEK_HOLE)
            prev = b""
            while pos < hole:
                data = os.pread(fd, min(chunk, hole - pos), pos)
                if not data:
                    break
                buf = prev + data
                start = 0
                while (at := buf.find(needle, start)) >= 0:
                    found.append(pos - len(prev) + at)
                    start = at + 1
                prev = buf[-(len(needle) - 1):] if len(needle) > 1 else b""
                pos += len(data)
            pos = max(pos, hole)
    finally:
        os.close(fd)
    return found


def check(run: VmRun, ident: Identity | None = None) -> list[str]:
    return Checker(run, ident).check_all()


def summary(run: VmRun) -> str:
    return json.dumps({"mode": run.mode, "seconds": round(run.seconds, 1), "qemu_rc": run.qemu_rc,
                       "results": str(run.results)})
