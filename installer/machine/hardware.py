"""What the probe learns about a machine, as plain data.

`installer.machine.probe` fills these from the live udev database or from a recorded
machine file; everything downstream (validation, plan, templates, screens)
reads only these classes, never udev.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from installer.machine.gaps import Gap

Bus = Literal["nvme", "sata", "scsi", "usb", "virtio", "mmc", "loop", "other"]
# "other": a hypervisor without settings of its own here (xen, parallels...); still not bare metal.
Virtualisation = Literal["qemu", "virtualbox", "vmware", "hyperv", "other", "none"]

MIN_DISK_BYTES = 10 * 1024**3
BY_ID = "/dev/disk/by-id/"
MAPPER = "/dev/mapper/"

ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
BIOS_BOOT_TYPE = "21686148-6449-6e6f-744e-656564454649"
LINUX_FS_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"
LINUX_SWAP_TYPE = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
LINUX_LUKS_TYPE = "ca7d7ccb-63ed-4c53-861c-1742536059cc"
XBOOTLDR_TYPE = "bc13c2ff-59e6-4262-a352-b275fd6f7172"
MBR_EXTENDED = {"0x5", "0xf", "0x85"}
# Windows dynamic disks (Logical Disk Manager): an MBR partition of type 0x42
# over the whole disk, or on GPT an LDM metadata and an LDM data partition.
# Their volumes are described by the LDM database, not the partition table.
MBR_LDM = "0x42"
LDM_METADATA_TYPE = "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3"
LDM_DATA_TYPE = "af9b60a0-1431-4f62-bc68-3311714a69ad"
LDM_TYPES = {MBR_LDM, LDM_METADATA_TYPE, LDM_DATA_TYPE}
# A partition whose start the record does not give: its disk's free space is then unknown.
START_UNKNOWN = -1


@dataclass
class Partition:
    path: str  # /dev/sda1
    number: int
    # Bytes. An MBR extended partition's is the extent its table entry gives it (holding
    # the logical partitions), not the 1 KiB the kernel shows of it.
    size: int
    start: int = 0  # bytes from the start of the disk; START_UNKNOWN when the record lacks it
    type_guid: str = ""  # lower case GUID on GPT, "0x83"-style on MBR
    partlabel: str = ""
    fstype: str = ""  # as blkid names it: vfat, ext4, ntfs, crypto_LUKS, swap, BitLocker...
    fsversion: str = ""
    label: str = ""
    uuid: str = ""
    partuuid: str = ""
    mountpoint: str = ""
    description: str = ""  # what it holds, in words: "Windows (NTFS, 237 GiB)"
    # Shrinking it (issue 18), read by installer.machine.shrinkable from the filesystem's
    # own tool (ntfsresize --info, resize2fs -P, btrfs inspect-internal min-dev-size) or
    # the record: its smallest size in bytes (0: not known), or why it cannot shrink.
    min_size: int = 0
    shrink_refusal: str = ""


@dataclass
class Disk:
    path: str  # /dev/nvme0n1
    name: str  # nvme0n1
    size: int  # bytes
    by_id: str = ""  # the most stable /dev/disk/by-id/ link, or "": what the wizard shows and the config names
    model: str = ""
    serial: str = ""
    bus: Bus = "other"
    rotational: bool | None = False  # None: unknown (no queue/rotational, no ATA rotation rate)
    removable: bool = False
    read_only: bool = False
    logical_sector_size: int = 512
    table: str = ""  # "gpt", "dos" or "" for none
    partitions: list[Partition] = field(default_factory=list)
    # The entry types the recorded table lists ("0x42", GUIDs), when they differ from what the
    # partitions show: the kernel turns a dynamic disk's LDM volumes into partitions of no type.
    table_types: list[str] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)  # kernel modules the initrd needs for it
    kind: str = "disk"  # disk, loop, zram, ram, cdrom, multipath (a /dev/mapper/ map over several paths)
    mountpoint: str = ""  # a filesystem on the whole disk, mounted
    # Why it is not offered, in words for a person ("" when offered): the probe fills it
    # from installer.machine.eligibility, the one policy, so a recorded machine replays it.
    refused: str = ""
    holds: str = ""  # what is on it today, in words for a person
    # Every /dev/disk/by-id/ link udev made for it (by_id among them): an answers
    # file may name the disk by any of them, e.g. its wwn- or nvme-eui. link.
    by_id_links: list[str] = field(default_factory=list)

    @property
    def rotation(self) -> str:
        """HDD, SSD or "rotation unknown", as the messages name it."""
        if self.rotational is None:
            return "rotation unknown"
        return "HDD" if self.rotational else "SSD"

    @property
    def offered(self) -> bool:
        """The probe's verdict on this disk alone; `Machine.offered_disks` adds the machine's facts."""
        return not self.refused

    @property
    def detachable(self) -> bool:
        """It may be unplugged: a USB drive (an HDD in a USB case says removable=0) or a card.
        `removable` alone is the kernel's flag."""
        return self.removable or self.bus == "usb"

    @property
    def stable_path(self) -> str:
        return self.by_id or self.path

    @property
    def dynamic(self) -> bool:
        """A Windows dynamic disk: an LDM partition in its table (or in the table the recording lists,
        when the kernel shows the LDM volumes in its place)."""
        return bool({p.type_guid for p in self.partitions} & LDM_TYPES or set(self.table_types) & LDM_TYPES)

    # Free space, worked out by installer.machine.gaps (imported on use: it reads this class).
    @property
    def gaps(self) -> list[Gap]:
        """The free stretches where a partition could go, in disk order; [] without a GPT or MBR."""
        from installer.machine import gaps

        return gaps.gaps(self)

    @property
    def largest_gap(self) -> Gap | None:
        """The biggest gap a new partition can go into, or None."""
        from installer.machine import gaps

        return gaps.largest_gap(self)

    @property
    def free_primary_slots(self) -> int | None:
        """On MBR, how many more primary partitions the table takes; None on GPT or without a table."""
        from installer.machine import gaps

        return gaps.free_primary_slots(self)


@dataclass
class Mount:
    source: str  # /dev/sda2, /dev/mapper/cryptroot
    target: str
    fstype: str
    options: str = ""
    # The filesystem UUID of the source ("" when unknown): fileSystems names a
    # filesystem by it when no partition the probe sees holds it (a loop device, nbd).
    uuid: str = ""


# PCI class codes (class, subclass) the GPU choice reads: display controllers are class 03
# (0300 VGA, 0302 3D, 0380 other display).
DISPLAY_CLASS = "03"


@dataclass
class PciDevice:
    """One PCI function as sysfs shows it (installer.machine.pci reads it)."""

    slot: str  # 0000:01:00.0 (domain:bus:slot.function, hex)
    vendor: str  # "10de", lower-case hex without 0x
    device: str  # "1c8d"
    pci_class: str = ""  # "030200": class, subclass, programming interface
    driver: str = ""  # the kernel driver bound to it, "" when none

    @property
    def display(self) -> bool:
        return self.pci_class.startswith(DISPLAY_CLASS)


@dataclass
class Machine:
    firmware: Literal["uefi", "bios"] = "uefi"
    cpu_vendor: Literal["intel", "amd", ""] = ""
    # Which of vmx/svm/hypervisor /proc/cpuinfo lists; None: not recorded (kvm modules then left out).
    cpu_flags: list[str] | None = None
    virtualisation: Virtualisation = "none"
    # MemTotal from /proc/meminfo, in bytes; 0: not known (a recording made before it
    # was recorded, or probert's), and then hibernation is refused with that reason.
    memory_bytes: int = 0
    disks: list[Disk] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)  # active swap devices
    luks: dict[str, str] = field(default_factory=dict)  # open LUKS mapping name -> backing device
    # The device-mapper stack: /dev/mapper/NAME -> the devices it sits on, each a
    # /dev/mapper/ name or a partition (LVM on LUKS: vg-root -> cryptlvm -> sda2).
    # Every mapping in `luks` is here too, on its backing device.
    dm_slaves: dict[str, list[str]] = field(default_factory=dict)
    boot_medium: str = ""  # the disk holding the running ISO, e.g. /dev/sdb
    battery: bool = False  # a laptop: the wizard proposes a desktop
    # What the probe could not work out and a person should know, e.g. a disk
    # controller whose initrd module is unknown.
    warnings: list[str] = field(default_factory=list)
    # Every PCI device (installer.machine.pci); [] for a recording made before they were recorded.
    pci: list[PciDevice] = field(default_factory=list)
    hostname: str = "nixos"
    timezone: str = "UTC"
    source: str = "live"  # "live" or the recorded machine file's path

    @property
    def gpus(self) -> list[PciDevice]:
        """The display controllers, in slot order."""
        return [dev for dev in self.pci if dev.display]

    def disk(self, name: str) -> Disk | None:
        """The disk `name` points at: /dev/sda, sda, any of its /dev/disk/by-id/ links, or
        such a link's bare name (ata-QEMU_HARDDISK_QM00001). The one place disks are looked up by name."""
        name = name.strip()
        if not name:
            return None
        short = name.removeprefix("/dev/")
        link = name if name.startswith(BY_ID) else BY_ID + name
        for disk in self.disks:
            if name == disk.path or short == disk.name or link in (disk.by_id, *disk.by_id_links):
                return disk
        return None

    def stack(self, device: str) -> list[str]:
        """`device` and everything under it in the device-mapper stack, top first."""
        seen: list[str] = []
        todo = [device]
        while todo:
            dev = todo.pop(0)
            if dev in seen:
                continue
            seen.append(dev)
            todo += self.dm_slaves.get(dev, [])
        return seen

    def luks_under(self, device: str) -> list[str]:
        """The open LUKS mappings `device` sits on (itself included), top first."""
        names = [dev.removeprefix(MAPPER) for dev in self.stack(device) if dev.startswith(MAPPER)]
        return [name for name in names if name in self.luks]

    def media_mounts(self) -> list[tuple[str, Disk]]:
        """Where a USB stick or card (a detachable disk) is mounted, with its disk: the
        places a person can bring files from (SSH keys) or keep them on (the answers).
        The running ISO's own medium is among them when it is one."""
        found = []
        for disk in self.disks:
            if not disk.detachable:
                continue
            for mountpoint in [disk.mountpoint] + [p.mountpoint for p in disk.partitions]:
                if mountpoint:
                    found.append((mountpoint, disk))
        return found

    @property
    def offered_disks(self) -> list[Disk]:
        """The disks the install may go on, as installer.machine.eligibility judges them."""
        from installer.machine.eligibility import offered_disks

        return offered_disks(self)
