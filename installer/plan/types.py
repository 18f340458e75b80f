"""What a plan is made of: its partitions, its steps and the layout it leaves.

Pure data, shared by the plan that builds it (erase, premounted), the
executor that runs its steps, `--plan` and the review that print it, and the
templates that render its layout.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from installer.base.problems import Problem
from installer.machine.hardware import Disk
from installer.plan.identity import Identity


class Action(StrEnum):
    """What a step does; the executor dispatches on it. A StrEnum: its value is what
    `--plan`, the log and a library call's text print (f"{Action.WAIT}" is "wait")."""

    WIPEFS = "wipefs"
    PARTITION = "partition"  # a library call: pyparted writes the new table
    SET_TYPES = "set-types"
    WAIT = "wait"  # a library call: partx, then wait for the partition nodes
    MKFS = "mkfs"
    LUKS_FORMAT = "luks-format"
    LUKS_OPEN = "luks-open"
    MOUNT = "mount"
    SUBVOLUME = "subvolume"
    UMOUNT = "umount"
    MKDIR = "mkdir"
    SWAPON = "swapon"
    # systemd-cryptenroll --fido2-device=auto: its passphrase in a key file the
    # executor writes for it (installer.plan.unlock), its prompts logged as they come.
    ENROLL_FIDO2 = "enroll-fido2"
    # Keeping what is on the disk (issue 18: free-space, alongside, replace). Each is
    # a library call, its arguments in Step.call; the executor runs them, the plan
    # only describes them. Order inside a plan: SHRINK_FS before RESIZE_PART (a
    # filesystem is shrunk before its partition entry, never the other way round),
    # DELETE_PART and RESIZE_PART before ADD_PARTS, CHECK_KEPT after the disk phase.
    #   SHRINK_FS    {"device": "/dev/sda3", "fstype": "ntfs"|"ext4"|"btrfs", "new_size": bytes}
    # Sector numbers are the disk's logical sectors; an end sector is inclusive, as in PARTITION.
    #   RESIZE_PART  {"device": "/dev/sda", "number": 3, "start_sector": s, "new_end_sector": e,
    #                 "sector_size": 512}: moves the entry's end only; start_sector is
    #                 re-checked, never changed
    #   DELETE_PART  {"device": "/dev/sda", "number": 5, "start_sector": s, "end_sector": e}
    #   ADD_PARTS    {"device": "/dev/sda", "table": "gpt"|"msdos", "sector_size": 512,
    #                 "partitions": [{"number": n, "name": "...", "start": sector, "end": sector,
    #                 "type_guid": "..." (GPT) or "type_id": "0x83" (MBR), "logical": bool}]}:
    #                 added into free space of the existing table, nothing else touched
    #                 (on GPT a SET_TYPES step with sgdisk then sets the exact type GUIDs and
    #                 an encrypted swap's PARTUUID, as after PARTITION, the disk GUID kept)
    #   CHECK_KEPT   {"partitions": [{"path": "/dev/sda3", "fstype": "ntfs", "shrunk": bool,
    #                 "first_mib_sha256": "..." (untouched ones: hashed at confirmation)}]}
    #                 The plan leaves first_mib_sha256 "" (it reads no disk): the executor
    #                 fills it for every partition with shrunk False when the person confirms,
    #                 and compares. The plan puts CHECK_KEPT after the partition and mkfs
    #                 steps, before the first MOUNT: mounting a reused ESP (vfat) marks its
    #                 boot sector dirty, which is no change to what is kept.
    SHRINK_FS = "shrink-fs"
    RESIZE_PART = "resize-partition"
    DELETE_PART = "delete-partition"
    ADD_PARTS = "add-partitions"
    CHECK_KEPT = "check-kept"


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
    path: str = ""  # the partition's device node, e.g. /dev/nvme0n1p2
    partuuid: str = ""  # set only when the configuration names the partition by it

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Step:
    action: Action
    describe: str  # one line for a person
    argv: tuple[str, ...] = ()  # the exact command; empty for a library call
    call: dict[str, Any] = field(default_factory=dict)  # library call arguments (pyparted)
    stdin: str = ""  # name of the secret fed on stdin, e.g. "luks_passphrase"

    def __post_init__(self) -> None:
        # A step written with the plain word ("mkfs") gets its Action all the same.
        object.__setattr__(self, "action", Action(self.action))

    def shown(self) -> str:
        """The command as --plan prints it; a secret fed on stdin is shown redacted."""
        text = " ".join(shlex.quote(a) for a in self.argv) if self.argv else _call_text(self)
        if self.action is Action.ENROLL_FIDO2:
            return f"{text} (<key file>: {self.stdin}, mode 0600 under /run, removed after)"
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
    # by-uuid, or by-partuuid when it is random-key encrypted: the random key
    # rewrites the partition on every boot, so it has no lasting fs UUID (and
    # NixOS's swap module asserts against by-uuid/by-label with randomEncryption).
    device: str
    random_encryption: bool = False


@dataclass(frozen=True)
class PartChange:
    """What a keep layout does to a partition already on the disk, for --plan and Confirm."""

    path: str
    what: str  # its description: "Windows 11 (NTFS, 120 GiB)"
    change: str  # "kept", "shrunk", "deleted" or "reused" (the ESP NixOS's loader goes onto)
    size: int  # bytes today
    new_size: int = 0  # shrunk: bytes after


@dataclass
class Plan:
    layout: str  # "erase", "free-space", "alongside", "replace" or "premounted"
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
    # boot.resumeDevice: the swap hibernation writes the RAM into ("" without hibernation),
    # by its swap UUID, or /dev/mapper/NAME inside the LUKS container of its own.
    resume_device: str = ""
    target: str = "/mnt"
    warnings: list[Problem] = field(default_factory=list)  # premounted: things worth a look
    # Keeping what is on the disk (installer.plan.keep): each old partition's fate, and the
    # boot set-up beside the other systems (installer.answers.resolve.keep_boot).
    changes: list[PartChange] = field(default_factory=list)
    efi_mount: str = "/boot"  # where the ESP is mounted: /efi when /boot is an XBOOTLDR partition
    xbootldr: bool = False
    configuration_limit: int = 0  # generations kept on a /boot shared or small (0: no limit)
    os_prober: bool = False  # GRUB lists the other systems

    @property
    def destructive(self) -> bool:
        return bool(self.steps)

    def summary_lines(self) -> list[str]:
        from installer.plan.erase import summary_lines  # erase builds on these types

        return summary_lines(self)


def _call_text(step: Step) -> str:
    call = step.call
    if step.action is Action.PARTITION:
        parts = ", ".join(
            f"{p['number']}:{p['name']}:{p['start']}-{p['end']}:{p['type_guid']}" for p in call["partitions"]
        )
        return f"pyparted: new {call['table']} table on {call['device']} (sectors of {call['sector_size']}): {parts}"
    if step.action is Action.WAIT:
        return "wait for " + " ".join(call.get("nodes", ()))
    args = " ".join(f"{k}={v!r}" for k, v in call.items())
    return f"{step.action}({args})"
