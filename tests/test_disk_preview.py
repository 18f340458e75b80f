"""The Disk step's preview always equals the plan (issue 22 item 7): made again
when the person comes back from a later step, never from invalid choices, and
for a layout made by hand, the commands that would mount it."""

from __future__ import annotations

from test_screens_support import app_for, open_step, until

from installer.machine.hardware import Disk, Partition
from installer.plan.premounted import example_mounts
from screens.disk import DiskScreen
from screens.encryption import EncryptionScreen

SIZE = (80, 25)


def preview_of(screen) -> str:
    return str(screen.query_one("#preview").content)


async def test_an_invalid_swap_size_is_no_partition_of_zero_bytes():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        app.session.model.disk.swap = "partition"
        app.session.model.disk.swap_size_mib = 0
        screen.sync()
        shown = preview_of(screen)
        assert shown.startswith("Preview: fix the choices above first (a swap partition should be between")
        assert "0 B" not in shown and "swap" not in shown.split("(", 1)[0]
        app.session.model.disk.swap_size_mib = 2048
        screen.sync()
        assert "2 GiB  swap" in preview_of(screen)


async def test_luks_turned_on_later_puts_the_boot_partition_in_the_preview_on_bios():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        model = app.session.model
        model.boot.firmware = "bios"
        screen = await open_step(pilot, DiskScreen)
        assert "/boot" not in preview_of(screen) and " boot " not in preview_of(screen)
        app.push_screen(EncryptionScreen())
        await until(pilot, lambda: isinstance(app.screen, EncryptionScreen) and app.screen.is_mounted, 10)
        model.encryption.enabled = True
        model.encryption.passphrase = model.encryption.passphrase_confirm = "correct horse battery"
        await pilot.press("escape")  # back to the Disk step, which was left on the stack
        await until(pilot, lambda: app.screen is screen, 10)
        plan = app.session.plan()
        boot = next(p for p in plan.partitions if p.purpose == "boot")
        await until(pilot, lambda: f"{boot.number}. {boot.name}" in preview_of(screen), 10)
        for part in plan.partitions:  # every partition of the plan, in its order
            assert f"{part.number}. {part.name}" in preview_of(screen)


async def test_a_layout_made_by_hand_and_not_mounted_gets_the_commands_to_mount_it():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        app.session.model.disk.layout = "premounted"
        screen.sync()
        shown = preview_of(screen)
        assert "nothing is mounted at /mnt" in shown
        disk = screen.highlighted_disk()
        for line in example_mounts(disk, "uefi", "/mnt"):
            assert line in shown
        # The filesystem is what the person made: that choice does not apply.
        assert screen.query_one("#f-disk-filesystem").disabled


def test_example_mounts_name_the_disks_own_partitions():
    disk = Disk(path="/dev/nvme0n1", name="nvme0n1", size=512 * 2**30, partitions=[
        Partition(path="/dev/nvme0n1p1", number=1, size=2**30, fstype="vfat",
                  type_guid="c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
        Partition(path="/dev/nvme0n1p2", number=2, size=20 * 2**30, fstype="ext4"),
        Partition(path="/dev/nvme0n1p3", number=3, size=400 * 2**30, fstype="btrfs"),
    ])
    assert example_mounts(disk, "uefi") == [
        "mount /dev/nvme0n1p3 /mnt",
        "mkdir -p /mnt/boot && mount -o umask=0077 /dev/nvme0n1p1 /mnt/boot",
    ]
    assert example_mounts(Disk(path="/dev/sda", name="sda", size=2**40), "bios", "/target/") == [
        "mount /dev/sdXN /target"]
