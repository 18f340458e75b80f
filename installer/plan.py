"""The partition plan: a pure description of what will be done to the disk.

`build_plan(model, machine, identity)` turns answers and probe results into
an ordered list of steps plus the resulting layout (filesystems, LUKS
devices, swap) that the templates render. It does no I/O: the executor runs
the steps, `--plan` prints them, the review screen describes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from installer.hardware import Disk, Machine
from installer.identity import Identity
from installer.model import InstallModel


@dataclass(frozen=True)
class PartSpec:
    """One partition of a new GPT table."""

    number: int
    name: str  # GPT partition name (PARTLABEL)
    type_guid: str
    start: int  # bytes, 1 MiB aligned
    size: int  # bytes
    purpose: str  # "esp", "bios-boot", "boot", "swap", "root"
    fstype: str  # what goes on it: "vfat", "ext4", "btrfs", "xfs", "swap", "crypto_LUKS", ""

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Step:
    action: str  # wipefs, partition, mkfs, luks-format, luks-open, subvolume, mount, swapon
    describe: str  # one line for a person
    argv: tuple[str, ...] = ()  # the exact command; empty for a library call
    call: dict = field(default_factory=dict)  # library call arguments (pyparted)
    stdin: str = ""  # name of the secret fed on stdin, e.g. "luks_passphrase"

    def shown(self) -> str:
        """The command as --plan prints it; a secret fed on stdin is shown redacted."""
        text = " ".join(_quote(a) for a in self.argv) if self.argv else _call_text(self)
        return f"{text} <<< <redacted>" if self.stdin else text


@dataclass(frozen=True)
class FsEntry:
    mountpoint: str  # "/", "/boot", "/home"
    device: str  # "/dev/disk/by-uuid/..." (or /dev/mapper/... for LUKS)
    fstype: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class LuksEntry:
    name: str  # "cryptroot"
    device: str  # "/dev/disk/by-uuid/<luks uuid>"


@dataclass(frozen=True)
class SwapEntry:
    device: str  # by-uuid, or by-partuuid when it is random-key encrypted
    random_encryption: bool = False


@dataclass
class Plan:
    layout: str  # "erase" or "premounted"
    firmware: str
    loader: str
    identity: Identity
    disk: Disk | None = None
    grub_device: str = ""  # by-id path, for GRUB on BIOS; "nodev" on UEFI GRUB
    partitions: list[PartSpec] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    filesystems: list[FsEntry] = field(default_factory=list)
    luks: list[LuksEntry] = field(default_factory=list)
    swaps: list[SwapEntry] = field(default_factory=list)
    zram: bool = False

    @property
    def destructive(self) -> bool:
        return bool(self.steps)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _call_text(step: Step) -> str:
    args = " ".join(f"{k}={v!r}" for k, v in step.call.items())
    return f"pyparted.{step.action}({args})"


def build_plan(model: InstallModel, machine: Machine, identity: Identity) -> Plan:
    """The plan for the model's disk choice. Raises ProblemsError when refused."""
    raise NotImplementedError("the disks work fills this in")
