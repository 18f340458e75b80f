"""Pilot tests at 80x25 of issue 20's choices: hibernation on the Disk step, and
unlocking with a FIDO2 key or the TPM2 on the Encryption step."""

from __future__ import annotations

from test_screens_support import app_for, engine_messages, message_of, open_step, type_text

from installer.machine.eligibility import HIBERNATE_NO_MEMORY
from screens.disk import DiskScreen
from screens.encryption import EncryptionScreen

SIZE = (80, 25)
GIB = 1024**3


async def test_hibernate_on_a_machine_of_unknown_ram_says_why_under_the_swap_choice():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, DiskScreen)
        assert app.session.machine.memory_bytes == 0  # the recorded machine predates the memory record
        screen.query_one("#swap-hibernate").value = True
        await pilot.pause()
        assert app.session.model.disk.swap == "hibernate"
        assert engine_messages(app.session, "disk.swap") == [HIBERNATE_NO_MEMORY]
        assert message_of(screen, "disk.swap") == HIBERNATE_NO_MEMORY
        assert screen.query_one("#f-disk-swap_size_mib").disabled  # the size follows the RAM


async def test_hibernate_sizes_the_swap_partition_to_the_ram_in_the_preview():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await open_step(pilot, DiskScreen)
        app.session.machine.memory_bytes = 8 * GIB
        app.pop_screen()
        screen = await open_step(pilot, DiskScreen)
        screen.query_one("#swap-hibernate").value = True
        await pilot.pause()
        assert message_of(screen, "disk.swap") == ""
        preview = str(screen.query_one("#preview").content)
        assert "swap" in preview and "11 GiB" in preview, preview
        assert app.session.plan().resume_device


async def test_encryption_offers_fido2_and_tpm2_beside_the_passphrase():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, EncryptionScreen)
        choices = screen.query_one("#f-encryption-unlock")
        assert choices.disabled  # nothing to unlock while encryption is off
        await pilot.press("space")  # the checkbox: encryption on
        assert not choices.disabled
        await pilot.press("tab")
        await type_text(pilot, "correct horse battery")
        await pilot.press("tab")
        await type_text(pilot, "correct horse battery")
        screen.query_one("#unlock-tpm2").value = True
        await pilot.pause()
        assert app.session.model.encryption.unlock == "tpm2"
        assert message_of(screen, "encryption.unlock") == ""
        # the whole choice is in view on the console's 25 rows
        region = screen.query_one("#unlock-fido2").region
        assert 0 < region.y < 24
        screen.query_one("#unlock-fido2").value = True
        await pilot.pause()
        assert app.session.model.encryption.unlock == "fido2"
        # encryption off: no key or chip to unlock with any more, and nothing to complain about
        screen.query_one("#f-encryption-enabled").value = False
        await pilot.pause()
        assert app.session.model.encryption.unlock == "passphrase"
        assert screen.query_one("#unlock-passphrase").value and choices.disabled
        assert engine_messages(app.session, "encryption.unlock") == []
