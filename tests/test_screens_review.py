"""Review and Confirm: edits must parse before going on; only the disk's exact
short name makes the confirmation that lets the install start."""

from __future__ import annotations

from nixeval import NIX_INSTANTIATE
from test_screens_support import BuiltSession, app_for, message_of, showing, type_text, until, wait_ready

from installer.answers.model import User
from installer.flow.install import Install
from installer.flow.session import Options
from screens.confirm import ConfirmScreen
from screens.done import DoneScreen
from screens.install import InstallScreen
from screens.modals import AskScreen, StaleEditScreen
from screens.review import NixArea, ReviewScreen

SIZE = (80, 25)


async def valid(pilot):
    await wait_ready(pilot)
    session = pilot.app.session
    session.model.disk.device = session.machine.offered_disks[0].path
    session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]


async def open_review(pilot, check_delay: float | None = None):
    """A valid model, then Review, loaded; `check_delay` replaces the pause
    after typing before the background parse check."""
    await valid(pilot)
    pilot.app.push_screen(ReviewScreen())
    screen = pilot.app.screen
    if check_delay is not None:
        screen.CHECK_DELAY = check_delay
    await until(pilot, lambda: screen.loaded)
    return screen


async def test_review_edit_must_parse_and_is_what_gets_installed(tmp_path):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        steps = str(screen.query_one("#steps").content)
        for line in app.session.review_lines():
            assert line in steps
        area = screen.query_one("#edit-configuration-nix", NixArea)
        assert area.text == app.session.draft.render()["configuration.nix"]
        area.focus()
        await pilot.press("ctrl+home")
        await type_text(pilot, "{ broken")
        await until(pilot, lambda: message_of(screen, "files.configuration.nix") != "")
        await pilot.press("tab", "f10")
        assert app.screen is screen and app.focused is area
        # Next put the cursor where Nix found the error; the fix is at the top.
        error = app.session.draft.parse_error("configuration.nix", area.text)
        await until(pilot, lambda: area.cursor_location == (error.line - 1, error.column - 1))
        area.move_cursor((0, 0))  # (TextArea has no key for the document's start)
        for _ in "{ broken":
            await pilot.press("delete")
        await until(pilot, lambda: message_of(screen, "files.configuration.nix") == "")
        await type_text(pilot, "# checked by hand\n")
        await until(pilot, lambda: app.session.draft.render()["configuration.nix"].startswith("# checked by hand"))
        await pilot.press("tab", "f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


async def test_confirm_needs_the_exact_disk_name_then_installs():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.push_screen(ConfirmScreen())
        await pilot.pause()
        screen = app.screen
        name = app.session.plan().disk.name
        assert f"'{name}'" in str(screen.query_one("#prompt").content)
        await type_text(pilot, name.upper())
        await pilot.press("enter")
        assert app.screen is screen and app.confirmation is None
        assert name in message_of(screen, "confirm")
        await pilot.press("ctrl+u")
        await type_text(pilot, name)
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None
        assert isinstance(app.screen, (InstallScreen, DoneScreen))
        await until(pilot, lambda: showing(app, DoneScreen))
        assert "Dry run finished" in str(app.screen.query_one("#summary").content)
        # View log: the file's lines, in a modal.
        app.screen.query_one("#view-log").focus()
        await pilot.press("enter")
        assert type(app.screen).__name__ == "LogScreen"
        view = app.screen.query_one("#log-view")
        await until(pilot, lambda: view.line_count > 0)
        assert any("[dry-run]" in line for line in view.lines)
        await pilot.press("escape")
        assert isinstance(app.screen, DoneScreen)


async def test_nothing_is_written_before_the_confirmation(monkeypatch):
    """A real-mode session walked through every step to Confirm: no write is called."""
    calls = []
    session = BuiltSession(Options(dry_run=False, seed=7, log_path="/tmp/nixos-tui-installer-test.log"))
    for part, name in (("install", "execute"), ("install", "write_config"), ("install", "set_passwords"),
                       ("install", "finish"), ("install", "runner"), ("console", "run_partitioner"),
                       ("console", "shell")):
        monkeypatch.setattr(getattr(session, part), name, lambda *a, _n=name, **k: calls.append(_n))
    monkeypatch.setattr(session.console, "apply_keymap", lambda name: "")
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        while not isinstance(app.screen, ConfirmScreen):
            before = app.screen
            await pilot.press("f10")
            if isinstance(app.screen, ReviewScreen):
                await until(pilot, lambda: app.screen.loaded)
                await pilot.press("f10")
            assert app.screen is not before, before
        await type_text(pilot, "wrong")
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
    assert calls == []
    assert app.confirmation is None


async def _export_through_the_dialog(pilot, screen, out, answers=()) -> tuple[str, list[str]]:
    """Export to `out` with keys; each question asked on the way gets the next
    of `answers` ("y" or "n"). Returns what Review says and the questions asked."""
    app = pilot.app
    await until(pilot, lambda: screen.loaded)
    screen.query_one("#export-flake").focus()
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is not screen)
    field = app.screen.query_one("#path")
    assert field.value == screen.export_default() and field.value.startswith("/tmp")  # dry run: a tmp dir
    field.value = str(out)
    await pilot.press("enter")
    asked = []
    for answer in answers:
        await until(pilot, lambda: showing(app, AskScreen))
        asked.append(str(app.screen.query_one("#question").content))
        await pilot.press(answer)
    await until(pilot, lambda: app.screen is screen and "Exporting" not in str(screen.query_one("#saved").content))
    assert not isinstance(app.screen, AskScreen)
    return str(screen.query_one("#saved").content), asked


async def _review_with_key(pilot):
    app = pilot.app
    await valid(pilot)
    app.session.model.users[0].ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Vb5yH5cTf0q alice@laptop"]
    app.session.model.software.ssh_server = True
    app.push_screen(ReviewScreen())
    return app.screen


async def test_export_flake_writes_files_that_nix_parses(tmp_path):
    import subprocess

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _review_with_key(pilot)
        said, asked = await _export_through_the_dialog(pilot, screen, tmp_path / "flake")
    assert said.startswith("Wrote the flake"), said
    assert asked == []  # an SSH key: no question about password hashes
    written = sorted(p for p in (tmp_path / "flake").rglob("*.nix"))
    assert any(p.name == "flake.nix" for p in written) and any(p.name == "disk-config.nix" for p in written), written
    for path in written:
        assert path.name in said
        assert "hashedPassword" not in path.read_text()
        done = subprocess.run([NIX_INSTANTIATE, "--parse", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, (path, done.stderr)


async def test_export_flake_refusal_is_shown_not_raised(tmp_path):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)  # no SSH key: nobody could log in to the exported machine
        app.push_screen(ReviewScreen())
        said, asked = await _export_through_the_dialog(pilot, app.screen, tmp_path / "flake", answers=["n"])
    assert said.startswith("The flake was not written"), said
    assert len(asked) == 1 and "password hashes of alice" in asked[0] and "every user" in asked[0], asked
    assert not (tmp_path / "flake" / "flake.nix").exists()


async def test_export_flake_with_password_hashes_when_the_person_says_so(tmp_path):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)  # no SSH key, but a password
        # Hashed now (as the install does first), so the hash the flake must hold is known.
        app.session.install.hash_passwords()
        hashed = app.session.model.users[0].password_hash
        assert hashed
        app.push_screen(ReviewScreen())
        said, asked = await _export_through_the_dialog(pilot, app.screen, tmp_path / "flake", answers=["y"])
    assert said.startswith("Wrote the flake"), said
    assert len(asked) == 1
    texts = "".join(p.read_text() for p in (tmp_path / "flake").rglob("*.nix"))
    assert f'users.users.alice.hashedPassword = "{hashed}";' in texts
    assert "wonderland" not in texts


async def test_export_flake_asks_before_replacing_files(tmp_path):
    out = tmp_path / "flake"
    out.mkdir()
    (out / "flake.nix").write_text("# mine\n")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _review_with_key(pilot)
        said, asked = await _export_through_the_dialog(pilot, screen, out, answers=["n"])
        assert said.startswith("Nothing was exported"), said
        assert "flake.nix" in asked[0]
        assert (out / "flake.nix").read_text() == "# mine\n" and not (out / "hosts").exists()
        said, asked = await _export_through_the_dialog(pilot, screen, out, answers=["y"])
    assert said.startswith("Wrote the flake"), said
    assert "nixosConfigurations" in (out / "flake.nix").read_text()


# -- edits made before the answers changed ------------------------------------------


async def _edit_then_change_hostname(pilot, hostname: str):
    """Edit configuration.nix on Review, walk back to Users, change the hostname
    with keys, walk forward again: the new Review screen is returned."""
    app = pilot.app
    screen = await open_review(pilot)
    area = screen.query_one("#edit-configuration-nix", NixArea)
    area.focus()
    await pilot.press("ctrl+home")
    await type_text(pilot, "# mine\n")
    await pilot.press("tab", "f10")
    # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert app.session.draft.render()["configuration.nix"].startswith("# mine\n")
    app.pop_screen()  # Confirm
    app.pop_screen()  # Review
    await pilot.pause()
    from screens.users import UsersScreen

    app.push_screen(UsersScreen())
    await pilot.pause()
    assert app.focused.id == "f-system-hostname"
    await pilot.press("ctrl+u")
    await type_text(pilot, hostname)
    await pilot.press("f10")
    assert type(app.screen).__name__ == "SoftwareScreen"
    await pilot.press("f10")
    await until(pilot, lambda: showing(app, StaleEditScreen))
    review = app.screen_stack[-2]
    assert isinstance(review, ReviewScreen)
    return review


async def test_an_edit_made_before_the_hostname_changed_asks_and_can_use_the_new_file():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        old_host = app.session.model.system.hostname
        review = await _edit_then_change_hostname(pilot, "otherbox")
        question = app.screen
        changes = str(question.query_one("#changes").content)
        assert f'-  networking.hostName = "{old_host}";' in changes and '"otherbox"' in changes, changes
        # Nothing stale can be installed while the question is open.
        from installer.base.problems import ProblemsError

        try:
            app.session.draft.render()
        except ProblemsError as err:
            assert err.problems[0].field == "files.configuration.nix"
        else:
            raise AssertionError("a stale edit was rendered for install")
        await pilot.press("u")
        assert app.screen is review
        files = app.session.draft.render()
        assert '"otherbox"' in files["configuration.nix"] and "# mine" not in files["configuration.nix"]
        assert review.query_one("#edit-configuration-nix", NixArea).text == files["configuration.nix"]
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


async def test_an_edit_made_before_the_hostname_changed_can_be_kept_and_esc_asks_again():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        review = await _edit_then_change_hostname(pilot, "otherbox")
        await pilot.press("escape")  # decide later: Next asks again
        assert app.screen is review
        await pilot.press("f10")
        assert type(app.screen).__name__ == "StaleEditScreen"
        await pilot.press("k")
        assert app.screen is review
        kept = app.session.draft.render()["configuration.nix"]
        # The edit stays, with the new hostname taken in (a line the person did not touch).
        assert kept.startswith("# mine\n") and 'networking.hostName = "otherbox";' in kept
        assert "Kept your edit" in str(review.query_one("#saved").content)
        assert review.query_one("#edit-configuration-nix", NixArea).text == kept
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


# -- the edit check: Next stores or refuses what the editor holds now ----------------


async def _review_without_background_checks(pilot):
    screen = await open_review(pilot, check_delay=3600)  # only Next checks: no background check can win the race
    area = screen.query_one("#edit-configuration-nix", NixArea)
    area.focus()
    await pilot.press("ctrl+home")
    return screen, area


async def test_next_right_after_typing_stores_the_edit():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen, area = await _review_without_background_checks(pilot)
        await type_text(pilot, "# typed fast\n")
        await pilot.press("tab", "f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.session.draft.render()["configuration.nix"].startswith("# typed fast\n")


async def test_next_right_after_typing_refuses_an_edit_that_does_not_parse():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen, area = await _review_without_background_checks(pilot)
        await type_text(pilot, "{ broken")
        await pilot.press("tab", "f10")
        await pilot.pause()
        assert app.screen is screen and app.focused is area
        message = message_of(screen, "files.configuration.nix")
        assert message and message == app.session.draft.parse_problems("configuration.nix", area.text)[0].message
        assert "broken" not in app.session.draft.render()["configuration.nix"]


async def test_refused_edit_in_the_second_tab_is_shown_and_focused():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await _review_without_background_checks(pilot)
        hardware = screen.query_one("#edit-hardware-configuration-nix", NixArea)
        hardware.text = "{ broken" + hardware.text  # typed in its tab, which is not the one shown now
        await pilot.press("f10")
        await pilot.pause()
        assert app.screen is screen and app.focused is hardware
        assert message_of(screen, "files.hardware-configuration.nix")


async def test_a_slow_check_of_older_text_never_overwrites_a_newer_edit():
    import threading

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, check_delay=0.01)
        area = screen.query_one("#edit-configuration-nix", NixArea)
        generated = area.text
        older, newer = "# older\n" + generated, "# newer\n" + generated
        release = threading.Event()
        delivered = []

        def parse_problems(name, text):
            if text == older:
                release.wait(30)  # the older check finishes last
            return []

        # The newer check cancels the older worker, but a thread runs on to the
        # end regardless: what counts is when its result reached the screen.
        show_result = screen._checked

        def checked(name, text, found):
            show_result(name, text, found)
            delivered.append(text)

        app.session.draft.parse_problems = parse_problems
        screen._checked = checked
        area.text = older
        await until(pilot, lambda: any(w.is_running for w in screen.workers if w.group.startswith("check")))
        area.text = newer
        await until(pilot, lambda: newer in delivered)
        assert app.session.draft.render()["configuration.nix"] == newer
        release.set()
        await until(pilot, lambda: older in delivered)
        assert app.session.draft.render()["configuration.nix"] == newer


async def test_the_files_are_highlighted_as_nix_in_console_colours():
    from rich.color import ColorType

    from screens import nixsyntax

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.pause()
        area = screen.query_one("#edit-configuration-nix", NixArea)
        assert area.language == "nix" and area.theme == nixsyntax.THEME
        lines = area.text.splitlines()
        comment = next(i for i, line in enumerate(lines) if line.startswith("#"))
        string = next(i for i, line in enumerate(lines) if "networking.hostName" in line)

        async def colours(row: int) -> set[str]:
            y = area.wrapped_document.location_to_offset((row, 0)).y  # long lines wrap: rows above take more
            area.scroll_to(y=y, animate=False)
            await pilot.pause()
            strip = area.render_line(y - area.scroll_offset.y)
            return {seg.style.color.name for seg in strip if seg.style and seg.style.color and seg.text.strip()}

        assert "bright_black" in await colours(comment)
        assert "green" in await colours(string)
        for style in nixsyntax.CONSOLE_THEME.syntax_styles.values():
            assert style.color.type == ColorType.STANDARD and style.color.number < 16


class FailingOnceInstall(Install):
    """The real install pipeline whose first write of the configuration fails."""

    def __init__(self, session) -> None:
        super().__init__(session)
        self.failures = 1

    def write_config(self, log):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk full")
        return super().write_config(log)


class FailingOnce(BuiltSession):
    """The real Session (a dry run) whose first write of the configuration fails."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.install = FailingOnceInstall(self)


async def test_confirm_after_a_late_failure_says_the_disk_is_not_touched_again():
    app = app_for(FailingOnce(Options(dry_run=True, seed=7, log_path="/tmp/nixos-tui-installer-test.log")))
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        name = app.session.plan().disk.name
        app.push_screen(ReviewScreen())
        await until(pilot, lambda: app.screen.loaded)
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"To erase the disk, type its name '{name}'" in str(app.screen.query_one("#prompt").content)
        await type_text(pilot, name)
        await pilot.press("enter")
        install = app.screen
        assert isinstance(install, InstallScreen)
        await until(pilot, lambda: install.query_one("#actions").display)
        install.query_one("#to-review").focus()
        await pilot.press("enter")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("f10")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        prompt = str(confirm.query_one("#prompt").content)
        assert "erase" not in prompt.lower() and "not touched again" in prompt and "'install'" in prompt
        assert str(confirm.query_one("#what").content).startswith("Done by the first attempt, and not done again")
        await type_text(pilot, name)  # the disk's name is no longer the word
        await pilot.press("enter")
        assert app.screen is confirm
        await pilot.press("ctrl+u")
        await type_text(pilot, "install")
        await pilot.press("enter")
        await until(pilot, lambda: showing(app, DoneScreen))


async def test_confirm_shows_what_would_stop_a_real_install_before_the_disk_is_touched(tmp_path):
    """A real run whose --target is missing and whose nixos-install is not installed:
    Confirm lists both and offers no word to type, so nothing is erased first."""
    session = BuiltSession(Options(dry_run=False, seed=7, target=str(tmp_path / "no-target"),
                                   log_path=str(tmp_path / "log"), nixos_install=str(tmp_path / "nixos-install")))
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.push_screen(ConfirmScreen())
        await pilot.pause()
        screen = app.screen
        what = str(screen.query_one("#what").content)
        assert f"the target {tmp_path / 'no-target'} does not exist" in what
        assert f"{tmp_path / 'nixos-install'} is not installed" in what
        assert "Go back and fix the problems above first." in str(screen.query_one("#prompt").content)
        await type_text(pilot, session.plan().disk.name)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and app.confirmation is None


# -- the pre-flight check with Nix (against the stand-in nixpkgs) -----------------------

def nixcheck(screen) -> str:
    return str(screen.query_one("#nixcheck").content)


async def checked(pilot, screen) -> None:
    """Until Review's check with Nix has finished and its outcome is on screen."""
    await until(pilot, lambda: not screen.checking and screen.outcome is not None)
    await pilot.pause()


async def test_review_unknown_package_leads_to_the_software_steps_field(monkeypatch, tmp_path):
    from evalcheck_support import use_nix
    from screens.software import SoftwareScreen

    use_nix(monkeypatch, tmp_path)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.session.model.software.packages = ["git", "nosuchpackage"]
        app.push_screen(SoftwareScreen())
        await pilot.pause()
        software = app.screen
        app.push_screen(ReviewScreen())
        screen = app.screen
        await until(pilot, lambda: screen.loaded)
        assert "Checking the configuration with Nix" in nixcheck(screen) or screen.outcome is not None
        await checked(pilot, screen)
        assert screen.outcome.status == "failed"
        assert "nixpkgs has no package 'nosuchpackage'" in nixcheck(screen) and "F6" in nixcheck(screen)
        # Confirm refuses while it stands.
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert "Nix could not evaluate" in str(confirm.query_one("#nixcheck").content)
        await type_text(pilot, app.session.install.confirm_word())
        await pilot.press("enter")
        assert app.screen is confirm and app.confirmation is None
        assert "F8 installs anyway" in message_of(confirm, "confirm")
        await pilot.press("escape")
        assert app.screen is screen
        # F6: the Software step, its package field focused, Nix's message under it.
        await pilot.press("f6")
        await until(pilot, lambda: app.screen is software and app.focused is not None
                    and getattr(app.focused, "field", "") == "software.packages")
        await until(pilot, lambda: "nosuchpackage" in message_of(software, "software.packages"))
        # Fix it there, and Review checks the new files: they pass, Confirm takes the word.
        await pilot.press("ctrl+u")
        await type_text(pilot, "git htop")
        assert message_of(software, "software.packages") == ""
        await pilot.press("f10")
        await until(pilot, lambda: showing(app, ReviewScreen))
        review = app.screen
        await checked(pilot, review)
        assert review.outcome.status == "passed", review.outcome
        assert "Checked with Nix" in nixcheck(review)
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await type_text(pilot, app.session.install.confirm_word())
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None


async def test_review_unknown_option_marks_its_line_and_install_anyway_is_explicit(monkeypatch, tmp_path):
    from evalcheck_support import use_nix

    use_nix(monkeypatch, tmp_path)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, check_delay=0.05)
        await checked(pilot, screen)
        assert screen.outcome.status == "passed"
        area = screen.query_one("#edit-configuration-nix", NixArea)
        number = next(i for i, line in enumerate(area.text.splitlines()) if "zramSwap.enable" in line) + 2
        area.focus()
        area.move_cursor((number - 2, 0))
        await pilot.press("end", "enter")
        await type_text(pilot, "services.foo.enable = true;")
        # The edit is stored, so the files changed: Review checks them again by itself
        # (an unfinished line may parse on the way, as "services." over the next line does).
        await until(pilot, lambda: not screen.checking and screen.outcome is not None
                    and screen.outcome.message == f"line {number}: The option `services.foo' does not exist.")
        await pilot.pause()
        assert area.text.splitlines()[number - 1].strip() == "services.foo.enable = true;"
        # A parse of a half-typed line may still be on its way (the screen drops it once
        # it sees the text has moved on): wait for the final text's own check to show.
        await until(pilot, lambda: message_of(screen, "files.configuration.nix") == (
            f"line {number}: The option `services.foo' does not exist."))
        assert message_of(screen, "files.configuration.nix") == (
            f"line {number}: The option `services.foo' does not exist.")
        # While the editor has the focus its cursor stays where the person types;
        # once they leave it, the check selects the line Nix named.
        assert area.selection.end == (number - 1, len(area.document.get_line(number - 1)))
        screen.query_one("#next").focus()
        await pilot.press("f5")
        await until(pilot, lambda: not screen.checking and screen.outcome.failed)
        await pilot.pause()
        assert area.selection.start == (number - 1, 0) and area.selection.end[0] == number - 1
        assert f"configuration.nix line {number}" in nixcheck(screen)
        assert "Definition values" in str(screen.query_one("#nixcheck-detail").content)
        await pilot.press("f10")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        word = app.session.install.confirm_word()
        await type_text(pilot, word)
        await pilot.press("enter")
        assert app.confirmation is None
        # F8: asked first; "No" leaves the refusal in place, "Install anyway" lifts it (and is logged).
        await pilot.press("f8")
        await until(pilot, lambda: showing(app, AskScreen))
        await pilot.press("n")
        assert app.screen is confirm and app.session.preflight.nix_check_refusal()
        await pilot.press("f8")
        await until(pilot, lambda: showing(app, AskScreen))
        await pilot.press("y")
        assert app.screen is confirm and not app.session.preflight.nix_check_refusal()
        assert "you chose to install anyway" in str(confirm.query_one("#nixcheck").content)
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None


async def test_review_without_nixpkgs_says_so_and_goes_on(monkeypatch, tmp_path):
    from evalcheck_support import use_nix

    use_nix(monkeypatch, tmp_path, nixpkgs=None)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await checked(pilot, screen)
        assert screen.outcome.status == "no-nixpkgs"
        assert nixcheck(screen).startswith("No nixpkgs was found")
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Not checked with Nix: No nixpkgs was found" in str(app.screen.query_one("#nixcheck").content)
        await type_text(pilot, app.session.install.confirm_word())
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None


async def test_review_ctrl_c_stops_the_check_and_review_stays_usable(monkeypatch, tmp_path):
    from evalcheck_support import use_slow_nix

    record = use_slow_nix(monkeypatch, tmp_path)
    app = app_for()
    app.session.options.eval_timeout = 100.0  # never reached unless Ctrl+C fails to stop it
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await until(pilot, lambda: record.exists())
        assert screen.checking and "Checking the configuration with Nix" in nixcheck(screen)
        # Typing goes on while Nix runs.
        area = screen.query_one("#edit-configuration-nix", NixArea)
        area.focus()
        await pilot.press("ctrl+home")
        await type_text(pilot, "# typed while checking\n")
        assert area.text.startswith("# typed while checking\n")
        # Next waits for the check; Ctrl+C stops it (no Quit question), and Review stays.
        await pilot.press("tab", "f10")
        assert app.screen is screen and "Still checking" in nixcheck(screen)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not screen.checking)
        assert app.screen is screen
        assert screen.outcome.status == "cancelled" and "stopped" in nixcheck(screen)
        child = int(record.read_text().split("child=")[1])
        await until(pilot, lambda: _gone(child))
        area.focus()
        await pilot.press("ctrl+home")
        await type_text(pilot, "# and after\n")
        assert "# and after\n" in area.text and area.text.startswith("# typed while checking\n")
        # With the check stopped for these files, Next goes on, unchecked; Confirm says so.
        await pilot.press("tab", "f10")
        await until(pilot, lambda: app.screen is not screen or screen.checking)
        if screen.checking:  # the edit after stopping made new files: they are checked anew
            await pilot.press("ctrl+c")
            await until(pilot, lambda: not screen.checking)
            await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Not checked with Nix" in str(app.screen.query_one("#nixcheck").content)
        # Ctrl+C with no check running is the Quit question, as on every step.
        await pilot.press("escape")
        await pilot.press("ctrl+c")
        assert showing(app, AskScreen)


async def test_review_timeout_leaves_review_usable_and_f5_checks_again(monkeypatch, tmp_path):
    from evalcheck_support import STANDIN_NIXPKGS, use_nix, use_slow_nix

    record = use_slow_nix(monkeypatch, tmp_path)
    app = app_for()
    app.session.options.eval_timeout = 1.0
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await checked(pilot, screen)
        assert screen.outcome.status == "timeout"
        assert "Nix took longer than 1 s" in nixcheck(screen) and "F5 checks again" in nixcheck(screen)
        child = int(record.read_text().split("child=")[1])
        await until(pilot, lambda: _gone(child))
        # Review works: an edit is taken, Next is possible.
        area = screen.query_one("#edit-configuration-nix", NixArea)
        assert not area.read_only
        # F5 with a Nix that answers: the check runs again and passes.
        use_nix(monkeypatch, tmp_path, STANDIN_NIXPKGS)
        screen.query_one("#next").focus()
        await pilot.press("f5")
        await until(pilot, lambda: screen.outcome is not None and screen.outcome.status == "passed")
        await pilot.press("f10")
        # Next waits for a pre-flight check still running (under load it may): Confirm comes once it is done.
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# -- issue 22: an edit kept after another disk was chosen; the editor ------------------

TWO_DISKS = "tests/fixtures/machines/many-nics-and-disks.json"  # BIOS: GRUB is written to the chosen disk


def two_disk_app():
    from test_screens_support import ROOT

    from installer.flow.session import Session

    return app_for(Session(Options(machine_file=str(ROOT / TWO_DISKS), dry_run=True, seed=7,
                                   log_path="/tmp/nixos-tui-installer-test.log")))


async def _edit_then_choose_another_disk(pilot, edit):
    """At Review, edit configuration.nix with `edit(text) -> text`, go on to
    Confirm, walk back and choose /dev/vda instead of /dev/sda (as the Disk
    step stores it), come back to Review: its "changed under your edit" question."""
    app = pilot.app
    await wait_ready(pilot)
    app.session.model.disk.device = "/dev/sda"
    screen = await open_review(pilot, check_delay=3600)
    area = screen.query_one("#edit-configuration-nix", NixArea)
    area.text = edit(area.text)
    await pilot.press("f10")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert "'sda'" in str(app.screen.query_one("#prompt").content)
    app.pop_screen()  # Confirm
    app.pop_screen()  # Review
    await pilot.pause()
    app.session.model.disk.device = "/dev/vda"
    app.push_screen(ReviewScreen())
    await until(pilot, lambda: showing(app, StaleEditScreen))
    changes = str(app.screen.query_one("#changes").content)
    assert '+  boot.loader.grub.device = "/dev/vda";' in changes, changes
    return app.screen_stack[-2]


async def test_keep_my_edit_after_choosing_another_disk_takes_the_new_disk():
    app = two_disk_app()
    async with app.run_test(size=SIZE) as pilot:
        review = await _edit_then_choose_another_disk(pilot, lambda text: "# mine\n" + text)
        await pilot.press("k")
        assert app.screen is review
        area = review.query_one("#edit-configuration-nix", NixArea)
        await until(pilot, lambda: area.text.startswith("# mine\n"))
        assert 'boot.loader.grub.device = "/dev/vda";' in area.text and "QEMU_HARDDISK" not in area.text
        assert app.session.draft.render()["configuration.nix"] == area.text
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "'vda'" in str(app.screen.query_one("#prompt").content)


async def test_an_edited_line_naming_the_old_disk_is_marked_then_stops_confirm():
    old = 'boot.loader.grub.device = "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001";'
    app = two_disk_app()
    async with app.run_test(size=SIZE) as pilot:
        review = await _edit_then_choose_another_disk(pilot, lambda text: text.replace(old, old + " # mine"))
        await pilot.press("k")
        area = review.query_one("#edit-configuration-nix", NixArea)
        # Both changed that line: both versions between markers, the cursor on the first marker.
        await until(pilot, lambda: "<<<<<<< your edit" in area.text)
        marker = area.text.splitlines().index("<<<<<<< your edit")
        await until(pilot, lambda: app.focused is area and area.cursor_location == (marker, 0))
        message = message_of(review, "files.configuration.nix")
        assert message.startswith(f"configuration.nix line {marker + 1}, column 1: your edit and the newly "), message
        await pilot.press("f10")
        assert app.screen is review
        # The person keeps their own version of the line.
        lines = area.text.splitlines()
        area.text = "\n".join(lines[:marker] + [lines[marker + 1]] + lines[marker + 5:]) + "\n"
        await until(pilot, lambda: message_of(review, "files.configuration.nix") == "")
        number = next(i for i, line in enumerate(area.text.splitlines(), 1) if "grub.device" in line)
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        what = str(confirm.query_one("#what").content)
        assert (f"configuration.nix line {number} names /dev/disk/by-id/ata-QEMU_HARDDISK_QM00001, which this "
                "install does not set up (it installs to /dev/vda)") in what, what
        assert 'put back the newly generated line\n  boot.loader.grub.device = "/dev/vda";' in what
        assert "Go back and fix the problems above first." in str(confirm.query_one("#prompt").content)
        for word in ("vda", "sda"):
            await type_text(pilot, word)
            await pilot.press("enter")
            assert app.screen is confirm and app.confirmation is None
            await pilot.press("ctrl+u")


async def test_a_syntax_error_names_line_and_column_and_the_cursor_goes_there():
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, check_delay=0.05)
        area = screen.query_one("#edit-configuration-nix", NixArea)
        number = next(i for i, line in enumerate(area.text.splitlines(), 1) if "networking.hostName" in line)
        area.focus()
        area.move_cursor((number - 1, 0))
        await type_text(pilot, "  networking.domain = ;\n")
        # A check of the half-typed line may land first: wait for the whole line's.
        await until(pilot, lambda: message_of(screen, "files.configuration.nix").startswith(
            f"configuration.nix line {number}, column 23: syntax error"))
        message = message_of(screen, "files.configuration.nix")
        # Nix's code frame, its line numbers those of the file, the caret under the column.
        assert message.startswith(f"configuration.nix line {number}, column 23: syntax error"), message
        assert f"{number}|   networking.domain = ;" in message and "|" + " " * 23 + "^" in message
        assert area.cursor_location == (number, 0)  # typing: the cursor stays the person's
        await pilot.press("tab")
        await pilot.press("f10")  # refused: back in the editor, at the error
        assert app.screen is screen
        await until(pilot, lambda: app.focused is area and area.cursor_location == (number - 1, 22))


async def test_long_lines_wrap_and_esc_leaves_the_editor_not_the_step():
    from screens.software import SoftwareScreen

    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await valid(pilot)
        app.push_screen(SoftwareScreen())
        await pilot.pause()
        software = app.screen
        screen = await open_review(pilot)
        area = screen.query_one("#edit-configuration-nix", NixArea)
        width = area.content_region.width - area.gutter_width
        long = [line for line in area.text.splitlines() if len(line) > width]
        assert long and area.soft_wrap
        await pilot.pause()
        assert area.wrapped_document.height >= area.document.line_count + len(long)
        assert area.max_scroll_x == 0  # nothing cut on the right
        area.focus()
        await pilot.pause()
        assert screen.active_bindings["escape"].binding.description == "Leave editor"
        await pilot.press("escape")
        assert app.screen is screen and app.focused is not area
        assert screen.active_bindings["escape"].binding.description == "Back"
        await pilot.press("escape")
        assert app.screen is software


async def test_without_nixpkgs_the_notice_says_what_that_risks_and_hides_under_a_syntax_error(monkeypatch, tmp_path):
    from evalcheck_support import use_nix

    use_nix(monkeypatch, tmp_path, nixpkgs=None)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, check_delay=0.05)
        await checked(pilot, screen)
        notice = screen.query_one("#nixcheck")
        assert "could not be checked" in nixcheck(screen) and "after the disk is erased" in nixcheck(screen)
        assert notice.display
        area = screen.query_one("#edit-configuration-nix", NixArea)
        area.focus()
        await type_text(pilot, "{ broken")
        await until(pilot, lambda: message_of(screen, "files.configuration.nix") != "")
        assert not notice.display
        for _ in "{ broken":
            await pilot.press("backspace")
        await until(pilot, lambda: message_of(screen, "files.configuration.nix") == "" and notice.display)
