"""The plan's layout in disko's format: the exported flake's hosts/<host>/disk-config.nix.

The same partitions, sizes, type codes, filesystems and LUKS container as the
plan the executor would run (installer.plan.erase), written as the attribute
sets disko's gpt, luks, btrfs and filesystem types take.
"""

from __future__ import annotations

from typing import Any

from installer.answers.model import InstallModel
from installer.base.units import GIB, MIB, human_size
from installer.plan.erase import BTRFS_OPTIONS, BTRFS_SUBVOLUMES, LUKS_NAME, SWAP_LUKS_NAME
from installer.plan.types import PartSpec, Plan

# Where nixos-anywhere's --disk-encryption-keys and disko-install expect the
# passphrase while disko formats the disk.
SECRET_KEY_PATH = "/tmp/secret.key"

# sgdisk type codes disko takes (gpt.nix accepts 4 hex digits or a GUID).
TYPE_CODES = {"esp": "EF00", "bios-boot": "EF02", "boot": "8300", "swap": "8200", "root": "8300"}
ROOT_CODE_LUKS = "8309"  # Linux LUKS

MKFS_ARGS = {
    "vfat": ["-F", "32", "-n", "BOOT"],
    "ext4": ["-L", "nixos"],
    "xfs": ["-L", "nixos"],
    "btrfs": ["-f", "-L", "nixos"],
}
ESP_MOUNT_OPTIONS = ["umask=0077"]  # the ESP holds the boot loader's random seed: root only


def _size(n: int) -> str:
    """sgdisk's size syntax as disko takes it: binary units, whole numbers."""
    if n % GIB == 0:
        return f"{n // GIB}G"
    if n % MIB == 0:
        return f"{n // MIB}M"
    return f"{n // 1024}K"


def disko_partitions(model: InstallModel, plan: Plan) -> list[dict[str, Any]]:
    """The plan's partitions as disko's `partitions` entries, in disk order.

    Each is {"name", "comment", "body"}; body is the attribute set written
    after `<name> =`. Explicit priorities keep disko's creation order equal to
    the plan's (disko sorts by priority, then by name).
    """
    luks = model.encryption.enabled
    out = []
    for part in plan.partitions:
        body: dict[str, Any] = {}
        if part.purpose == "root":
            body["size"] = "100%"  # the rest of the disk, created last
        else:
            body["priority"] = part.number
            body["size"] = _size(part.size)
        body["type"] = ROOT_CODE_LUKS if part.purpose == "root" and luks else TYPE_CODES[part.purpose]
        content = _content(part, model)
        if content is not None:
            body["content"] = content
        out.append({"name": part.name, "comment": _comment(part, model), "body": body})
    return out


def _content(part: PartSpec, model: InstallModel) -> dict[str, Any] | None:
    luks = model.encryption.enabled
    if part.purpose == "bios-boot":
        return None  # raw space GRUB writes its core image into
    if part.purpose == "esp":
        return _filesystem("vfat", "/boot", ESP_MOUNT_OPTIONS)
    if part.purpose == "boot":
        return _filesystem("ext4", "/boot", None, ["-L", "boot"])
    if part.purpose == "swap" and model.disk.swap == "hibernate":
        # disko's resumeDevice sets boot.resumeDevice; encrypted, the swap is in a LUKS
        # container of its own (installer.plan.erase.SWAP_LUKS_NAME), opened with the same passphrase.
        resume: dict[str, Any] = {"type": "swap", "resumeDevice": True}
        if not luks:
            return resume
        return {"type": "luks", "name": SWAP_LUKS_NAME, "extraFormatArgs": ["--type", "luks2"],
                "passwordFile": SECRET_KEY_PATH, "content": resume}
    if part.purpose == "swap":
        swap: dict[str, Any] = {"type": "swap"}
        if luks:
            swap["randomEncryption"] = True  # a new key at every boot: nothing swapped out survives
        return swap
    root = _root_filesystem(model.disk.filesystem)
    if not luks:
        return root
    return {
        "type": "luks",
        "name": LUKS_NAME,
        "extraFormatArgs": ["--type", "luks2"],
        # Read once while formatting; the passphrase itself is never in this file.
        "passwordFile": SECRET_KEY_PATH,
        "settings": {"allowDiscards": True},
        "content": root,
    }


def _filesystem(fmt: str, mountpoint: str, options: list[str] | None, args: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "filesystem", "format": fmt, "extraArgs": list(args or MKFS_ARGS[fmt]),
                           "mountpoint": mountpoint}
    if options:
        out["mountOptions"] = list(options)
    return out


def _root_filesystem(fs: str) -> dict[str, Any]:
    if fs != "btrfs":
        return _filesystem(fs, "/", None)
    subvolumes = {name: {"mountpoint": point, "mountOptions": list(BTRFS_OPTIONS)} for name, point in BTRFS_SUBVOLUMES}
    return {"type": "btrfs", "extraArgs": list(MKFS_ARGS["btrfs"]), "subvolumes": subvolumes}


def _comment(part: PartSpec, model: InstallModel) -> str:
    luks = model.encryption.enabled
    words = {
        "esp": f"EFI system partition, {human_size(part.size)} FAT32 on /boot (boot loader and kernels)",
        "bios-boot": "BIOS boot partition: GRUB's core image lives here on a GPT disk",
        "boot": f"{human_size(part.size)} ext4 /boot: GRUB cannot read the encrypted root",
        "swap": f"{human_size(part.size)} swap" + (
            (" for hibernation" + (f" in LUKS2 container {SWAP_LUKS_NAME}" if luks else ""))
            if model.disk.swap == "hibernate" else (", encrypted with a new random key at every boot" if luks else "")),
        "root": "The rest of the disk: "
        + (f"LUKS2 container {LUKS_NAME} holding " if luks else "")
        + {"ext4": "ext4 /", "xfs": "xfs /", "btrfs": "btrfs with subvolumes @ (/), @home, @nix"}[model.disk.filesystem],
    }
    return words[part.purpose]


def disk_summary(plan: Plan) -> list[str]:
    return [f"{p.number}. {p.name}: {human_size(p.size)}, {p.purpose}" for p in plan.partitions]
