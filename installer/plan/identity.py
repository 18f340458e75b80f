"""The identities a new disk layout gets, chosen before any disk is touched.

The plan passes these to mkfs and cryptsetup, so the rendered NixOS files
(which name filesystems by UUID) are final on the review screen.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    root_uuid: str  # ext4/btrfs/xfs filesystem UUID of /
    boot_uuid: str  # ext4 /boot (BIOS + LUKS)
    esp_volid: str  # FAT volume id, "ABCD-1234" as blkid shows it
    luks_uuid: str  # LUKS2 header UUID of the root container
    swap_uuid: str  # swap partition's UUID (unencrypted swap)
    disk_guid: str  # GPT disk GUID
    # LUKS2 header UUID of the hibernation swap's own container (made last, so the
    # identities above stay what a seed gave them before it was added).
    swap_luks_uuid: str = ""

    @classmethod
    def generate(cls, seed: int | None = None) -> Identity:
        """Fresh random identities, or reproducible ones from `seed` (tests)."""
        rng = random.Random(seed) if seed is not None else random.SystemRandom()

        def new_uuid() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        vol = rng.getrandbits(32)
        return cls(
            root_uuid=new_uuid(),
            boot_uuid=new_uuid(),
            esp_volid=f"{vol >> 16:04X}-{vol & 0xFFFF:04X}",
            luks_uuid=new_uuid(),
            swap_uuid=new_uuid(),
            disk_guid=new_uuid(),
            swap_luks_uuid=new_uuid(),
        )

    @property
    def esp_volid_hex(self) -> str:
        """The volume id as mkfs.fat's `-i` takes it (8 hex digits)."""
        return self.esp_volid.replace("-", "")
