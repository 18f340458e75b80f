"""Review and Confirm show what the install would download and build (Nix's dry run), or why Nix could not say."""

from __future__ import annotations

import re

from test_screens_review import SIZE, checked, nixcheck, open_review
from test_screens_support import app_for, type_text, until

from installer.nixos import dryrun
from screens.confirm import ConfirmScreen

SUMMARY = re.compile(r"0 paths to download \(0\.0 MiB\), [1-9]\d* to build: installs without downloading")


async def test_review_and_confirm_show_the_download_summary_and_the_offline_install(monkeypatch, tmp_path):
    from evalcheck_support import use_nix

    use_nix(monkeypatch, tmp_path)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await checked(pilot, screen)
        assert screen.outcome.status == "passed", screen.outcome
        assert SUMMARY.search(nixcheck(screen)), nixcheck(screen)
        summary = app.session.preflight.downloads()
        assert summary is not None and summary.known and summary.to_fetch == 0 and summary.to_build > 0
        # The install pane's progress starts from these very counts.
        assert app.session.install.expected_counts() == (0, summary.to_build, summary.download_mib,
                                                           summary.unpacked_mib)
        # Nothing to download: the install runs without substituters (nixos-install's --option).
        assert app.session.preflight.offline_install()
        argv = app.session.install.install_argv()
        assert argv[argv.index("--option"):][:3] == ["--option", "substituters", ""]
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        said = str(confirm.query_one("#nixcheck").content)
        assert said.startswith("Checked with Nix") and SUMMARY.search(said), said
        assert "installs without downloading" in said
        # Beside the disk summary, which stays as it was.
        assert str(confirm.query_one("#what").content).strip()
        await type_text(pilot, app.session.install.confirm_word())
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None


async def test_when_nix_cannot_say_review_says_so_and_goes_on(monkeypatch, tmp_path):
    """The evaluation passed but the dry run could not answer (here: no time left for it)."""
    from evalcheck_support import use_nix

    use_nix(monkeypatch, tmp_path)
    real_ask = dryrun.ask
    monkeypatch.setattr(dryrun, "ask", lambda files, timeout, cancel: real_ask(files, timeout=0.0, cancel=cancel))
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await checked(pilot, screen)
        assert screen.outcome.status == "passed", screen.outcome
        # Which step ran out of time first varies; either way it is said in plain words.
        assert re.search(r"\n(No nixpkgs was found|Nix took too long to say)[^\n]*what the install downloads[^\n]*"
                         r"not known\.$", nixcheck(screen)), nixcheck(screen)
        assert not app.session.preflight.offline_install()
        assert "substituters" not in app.session.install.install_argv()
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "not known" in str(app.screen.query_one("#nixcheck").content)
        await type_text(pilot, app.session.install.confirm_word())
        await pilot.press("enter")
        await pilot.pause()
        assert app.confirmation is not None
