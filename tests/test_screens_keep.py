"""Pilot tests of the Disk and Confirm steps keeping what is on a disk (issue 18), at 80x25
on the recorded machines: the ways each disk offers and why the others are not, the bars
of the disk today and after, NixOS's share with its allowed range, and the partition's
name typed to confirm a shrink."""

from __future__ import annotations

import pytest
from test_offers_recorded import BITLOCKER, machine_with_min_sizes
from conftest import MACHINES
from test_screens_support import app_for, message_of, open_step, type_text, until

from installer.flow.session import Options, Session
from installer.plan.offers import offers, refusal_lines
from screens.confirm import ConfirmScreen
from screens.disk import NOT_OFFERED_ROWS, PREMOUNTED, DiskScreen, cut

SIZE = (80, 25)
RECORDED = ["win11-along-ubuntu", "win10", "ubuntu-and-free-space", "win11-and-free-space", "threebuntu-on-msdos"]


class RecordedSession(Session):
    """A recorded machine whose partitions carry the recording's own smallest sizes
    (what installer.machine.shrinkable reads from a record), set on them directly."""

    def __init__(self, name: str) -> None:
        super().__init__(Options(machine_file=str(MACHINES / f"{name}.json"), dry_run=True, seed=7,
                                 log_path="/tmp/nixos-tui-installer-test.log"))
        self.name = name

    def probe(self):  # type: ignore[no-untyped-def]
        self.machine = machine_with_min_sizes(self.name)
        return self.machine


def text_of(screen, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(screen.query_one(selector).content)


def rows(screen) -> list[str]:  # type: ignore[no-untyped-def]
    ways = screen.query_one("#f-disk-layout")
    return [str(ways.get_option_at_index(i).prompt) for i in range(ways.option_count)]


@pytest.mark.parametrize("name", RECORDED)
async def test_the_disk_step_lists_each_recorded_disks_offers_and_reasons(name: str) -> None:
    session = RecordedSession(name)
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        disk = session.machine.offered_disks[0]
        found = offers(session.model, session.machine, disk)
        width = SIZE[0] - 4
        assert rows(screen) == [cut(o.words(), width) for o in found if o.offered] + [PREMOUNTED]
        said = text_of(screen, "#not-offered").splitlines()
        assert said == [cut(f"Not offered: {line}", width) for line in refusal_lines(found, NOT_OFFERED_ROWS)]
        assert text_of(screen, "#ways-label") == f"How NixOS goes onto {disk.name}:"
        # the first way, the most room, is the one chosen: erase, with its bars
        assert session.model.disk.layout == "erase"
        assert "everything erased" in text_of(screen, "#bars")


async def test_alongside_ubuntu_with_a_share_in_range_and_confirmed_by_the_partitions_name() -> None:
    session = RecordedSession("win11-along-ubuntu")
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        assert any(line.startswith("Not offered: shrink sda3 Windows (BitLocker-encrypted): " + BITLOCKER[:12])
                   for line in text_of(screen, "#not-offered").splitlines())
        shown = rows(screen)
        along = next(i for i, row in enumerate(shown) if row.startswith("Shrink sda5"))
        assert shown[along] == "Shrink sda5 Ubuntu Plucky Puffin (ext4): NixOS up to 50 GiB beside it"
        screen.query_one("#f-disk-layout").focus()
        await pilot.press("home", *["down"] * along)
        d = session.model.disk
        assert (d.layout, d.shrink, d.replace) == ("alongside", "/dev/sda5", "")
        bars = text_of(screen, "#bars").splitlines()
        assert bars[0].startswith("Today ") and bars[1].startswith("After ")
        assert bars[2].strip() == "sda5 Ubuntu Plucky Puffin (ext4) 65 GiB -> 14 GiB | NixOS 50 GiB"  # 11.5 GiB held + 25 %
        assert set(bars[0][6:]) <= {"\u2593", "\u2592", "\u2591"} and "\u2588" in bars[1]
        assert text_of(screen, "#share-label") == "NixOS's share in GiB, between 10 and 50 GiB (0: all of it)"
        assert screen.query_one("#share-row").display
        preview = text_of(screen, "#preview")
        for kept in ("/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sda4"):
            assert f"  Keep {kept}: " in preview
        # a share out of range is said at its field; one inside it moves the shrink
        screen.query_one("#f-disk-size_gib").focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "99")
        await until(pilot, lambda: message_of(screen, "disk.size_gib") != "")
        assert message_of(screen, "disk.size_gib") == "NixOS's share here can be between 10 and 50 GiB"
        await pilot.press("ctrl+u")
        await type_text(pilot, "30")
        await until(pilot, lambda: "NixOS 30 GiB" in text_of(screen, "#bars"))
        assert "65 GiB -> 35 GiB | NixOS 30 GiB" in text_of(screen, "#bars")
        assert message_of(screen, "disk.size_gib") == ""
        # Confirm asks for the partition's name, not the disk's
        app.push_screen(ConfirmScreen())
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.word == "sda5"
        assert text_of(confirm, "#prompt").startswith(
            "To shrink /dev/sda5 (Ubuntu Plucky Puffin (ext4, 65 GiB)), type 'sda5' and press Enter:")
        what = text_of(confirm, "#what")
        assert what.startswith("Shrink /dev/sda5 (Ubuntu Plucky Puffin (ext4, 65 GiB)): 65 GiB -> 35 GiB")
        assert "  Keep /dev/sda3: Windows (BitLocker-encrypted, 62 GiB), 62 GiB" in what
        assert session.install.confirm("sda") is None
        assert session.install.confirm("sda5") is not None


async def test_choosing_another_way_asks_the_share_anew() -> None:
    session = RecordedSession("ubuntu-and-free-space")
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        shown = rows(screen)
        screen.query_one("#f-disk-layout").focus()
        await pilot.press("home", *["down"] * shown.index("Use the free space: NixOS up to 29 GiB, nothing else touched"))
        assert session.model.disk.layout == "free-space"
        assert text_of(screen, "#bars").splitlines()[2].strip() == "free space -> NixOS 29 GiB, nothing else touched"
        screen.query_one("#f-disk-size_gib").focus()
        await type_text(pilot, "2")  # "02": 2 GiB, under NixOS's 10
        await until(pilot, lambda: session.model.disk.size_gib == 2)
        screen.query_one("#f-disk-layout").focus()
        await pilot.press("home")  # back to erase: the share is not carried over
        assert session.model.disk.layout == "erase" and session.model.disk.size_gib == 0
        assert not screen.query_one("#share-row").display
        await pilot.press("end")
        assert session.model.disk.layout == "premounted"
