"""The whole wizard driven by keystrokes only, in dry-run, to the review
screen; the answers it saves must make the CLI render the very same files."""

from __future__ import annotations

import subprocess
import sys

from test_screens_support import MACHINE_FILE, ROOT, app_for, type_text, until, wait_ready

from screens.review import NixArea, ReviewScreen

SIZE = (80, 25)


async def on_step(pilot, expected: str) -> None:
    await pilot.pause()
    assert type(pilot.app.screen).__name__ == expected, pilot.app.screen


async def next_step(pilot, expected: str) -> None:
    await pilot.press("f10")
    await on_step(pilot, expected)


async def retype(pilot, text: str) -> None:
    await pilot.press("ctrl+u")
    await type_text(pilot, text)


async def drive_to_review(pilot, answers_path) -> dict[str, str]:
    """Enter moves on from field to field, and from a step's last field to the
    next step; Space toggles and picks; F10 goes on from anywhere."""
    app = pilot.app
    await wait_ready(pilot)
    await pilot.press("enter")  # Welcome: the detected firmware, and on
    await on_step(pilot, "KeyboardScreen")
    await retype(pilot, "de-latin1")
    await pilot.press("enter")
    await retype(pilot, "de_DE.UTF-8")
    await pilot.press("enter")
    await retype(pilot, "de")
    await pilot.press("enter")
    await retype(pilot, "nodeadkeys")
    await pilot.press("enter")  # the last field: on to the Disk step
    await on_step(pilot, "DiskScreen")
    # The disk, then the layout (Enter keeps each and moves on, to cfdisk);
    # past gdisk, Shell and Rescan to the filesystem: Down, and Enter picks btrfs.
    await pilot.press("enter", "enter", "tab", "tab", "tab", "tab", "down", "enter")
    assert app.focused.id == "f-disk-swap"
    await pilot.press("enter")  # swap is the last field in use: on to Encryption
    await on_step(pilot, "EncryptionScreen")
    await pilot.press("space", "enter")
    await type_text(pilot, "open sesame 42")
    await pilot.press("enter")
    await type_text(pilot, "open sesame 42")
    await pilot.press("enter")  # on to the unlock choice: the passphrase alone, and on
    await pilot.press("enter")
    await on_step(pilot, "UsersScreen")
    await retype(pilot, "laptop")
    await pilot.press("tab")
    await retype(pilot, "Europe/Berlin")
    await pilot.press("enter")
    await type_text(pilot, "Alice Liddell")
    await pilot.press("tab", "tab")
    await type_text(pilot, "wonderland")
    await pilot.press("tab")
    await type_text(pilot, "wonderland")
    await next_step(pilot, "SoftwareScreen")
    await pilot.press("down", "down", "enter")  # desktop: Plasma, and on to the SSH server
    await pilot.press("space")  # SSH server on
    await pilot.press("tab", "tab", "tab", "tab")
    await type_text(pilot, "git htop")
    await pilot.press("enter")
    await on_step(pilot, "ReviewScreen")
    screen = app.screen
    await until(pilot, lambda: screen.loaded)
    for _ in range(12):
        if app.focused is not None and app.focused.id == "answers-path":
            break
        await pilot.press("tab")
    assert app.focused.id == "answers-path"
    await retype(pilot, str(answers_path))
    await pilot.press("enter")
    await pilot.pause()
    assert "Saved" in str(screen.query_one("#saved").content)
    return {area.file_name: area.text for area in screen.query(NixArea)}


def cli_render(saved, out) -> dict[str, str]:
    """What `--answers saved --machine same --render DIR` writes, from the real CLI."""
    done = subprocess.run(
        [sys.executable, "-m", "installer", "--answers", str(saved), "--machine", str(MACHINE_FILE),
         "--seed", "7", "--render", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {p.name: p.read_text() for p in out.iterdir()}


async def test_wizard_by_keystrokes_renders_what_the_cli_renders(tmp_path):
    saved = tmp_path / "answers.toml"
    assert MACHINE_FILE.exists(), "the wizard and the CLI must read the same recorded machine"
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        shown = await drive_to_review(pilot, saved)
        assert isinstance(app.screen, ReviewScreen)
        model = app.session.model
    assert model.system.keymap == "de-latin1" and model.system.xkb_variant == "nodeadkeys"
    assert model.system.hostname == "laptop" and model.system.timezone == "Europe/Berlin"
    assert model.users[0].name == "alice" and model.encryption.enabled
    assert model.disk.filesystem == "btrfs" and model.software.desktop == "plasma"
    assert model.software.ssh_server and model.software.packages == ["git", "htop"]
    text = saved.read_text()
    for secret in ("wonderland", "open sesame 42"):
        assert secret not in text
    rendered = cli_render(saved, tmp_path / "cli")
    assert set(rendered) == {"configuration.nix", "hardware-configuration.nix"}
    for name, content in rendered.items():
        assert shown[name] == content, name
    assert '"laptop"' in shown["configuration.nix"]
