"""The Session's side of the wizard's edits and hand-overs: an edit keeps the
generated file it was made from and is never installed once that file
changed; a dry run opens no partitioner or shell; a late failure resumes
without partitioning only for the plan that was carried out."""

from __future__ import annotations

import pytest
from test_screens_support import make_session

from installer.base.problems import ProblemsError
from installer.flow.session import DryRun

CONFIG = "configuration.nix"


def ready_session():
    from installer.answers.model import User

    session = make_session()
    session.probe()
    session.apply_machine_defaults()
    session.model.disk.device = session.machine.offered_disks[0].path
    session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
    return session


def test_an_edit_is_installed_until_the_answers_change_under_it():
    session = ready_session()
    generated = session.draft.generated()[CONFIG]
    assert session.draft.set_edited(CONFIG, "# mine\n" + generated) == []
    assert session.draft.render()[CONFIG] == "# mine\n" + generated
    session.model.system.hostname = "otherbox"
    [stale] = session.draft.stale_edits()
    assert stale.name == CONFIG and stale.was == generated and '"otherbox"' in stale.now
    assert any(line.startswith("+") and "otherbox" in line for line in stale.changes())
    with pytest.raises(ProblemsError) as refused:
        session.draft.render()
    assert refused.value.problems[0].field == f"files.{CONFIG}"
    # Typing on in the stale edit does not make it current.
    assert session.draft.set_edited(CONFIG, "# mine, more\n" + generated) == []
    assert session.draft.stale_edits()
    session.draft.keep_edit(CONFIG)
    assert session.draft.render()[CONFIG] == "# mine, more\n" + generated


def test_using_the_new_file_drops_the_edit():
    session = ready_session()
    generated = session.draft.generated()[CONFIG]
    session.draft.set_edited(CONFIG, "# mine\n" + generated)
    session.model.system.hostname = "otherbox"
    session.draft.drop_edit(CONFIG)
    assert session.draft.stale_edits() == []
    assert '"otherbox"' in session.draft.render()[CONFIG] and "# mine" not in session.draft.render()[CONFIG]


def test_the_generated_text_is_no_edit_and_an_unparseable_edit_is_not_kept():
    session = ready_session()
    generated = session.draft.generated()[CONFIG]
    assert session.draft.set_edited(CONFIG, generated) == [] and session.draft.edits == {}
    found = session.draft.set_edited(CONFIG, "{ broken")
    assert found and found[0].field == f"files.{CONFIG}" and session.draft.edits == {}
    with pytest.raises(KeyError):
        session.draft.set_edited("flake.nix", "{ }")


def test_a_dry_run_opens_no_partitioner_and_no_shell():
    session = ready_session()
    taken = []

    def handover():
        taken.append("terminal")
        raise AssertionError("a dry run must not take the terminal")

    with pytest.raises(DryRun, match="cfdisk /dev/sda.*nothing was opened"):
        session.console.run_partitioner("cfdisk", "/dev/sda", handover)
    with pytest.raises(DryRun, match="nothing was opened"):
        session.console.disk_shell(handover)
    with pytest.raises(ValueError):
        session.console.run_partitioner("rm", "/dev/sda", handover)
    assert taken == []


def test_a_late_failure_resumes_after_the_disk_only_for_the_same_plan():
    session = ready_session()
    disk = session.plan().disk.name
    assert session.install.resume_phase() == "disk" and session.install.confirm_word() == disk
    session.install.set_resume_phase("config")  # the disk phase of this plan was done
    assert session.install.resume_phase() == "config" and session.install.confirm_word() == "install"
    session.model.system.hostname = "otherbox"  # not a disk choice: still no partitioning
    assert session.install.resume_phase() == "config"
    session.model.disk.filesystem = "xfs"  # another disk layout: partition again
    assert session.install.resume_phase() == "disk" and session.install.confirm_word() == disk


def test_probing_again_plans_from_the_new_machine():
    session = ready_session()
    first = session.plan()
    session.probe()
    assert session.plan() is not first


def test_confirm_refuses_while_an_edit_is_stale():
    """No path hands out the token that erases the disk while the files that
    will be installed are not final."""
    session = ready_session()
    session.draft.set_edited(CONFIG, session.draft.generated()[CONFIG] + "\n# mine\n")
    session.model.system.hostname = "otherbox"
    with pytest.raises(ProblemsError, match="edited before the answers changed"):
        session.install.confirm(session.install.confirm_word())
    session.draft.keep_edit(CONFIG)
    assert session.install.confirm(session.install.confirm_word()) is not None


def test_shown_files_keep_a_stale_edit_in_view():
    session = ready_session()
    mine = session.draft.generated()[CONFIG] + "\n# mine\n"
    session.draft.set_edited(CONFIG, mine)
    session.model.system.hostname = "otherbox"
    assert session.draft.shown_files()[CONFIG] == mine
    with pytest.raises(ProblemsError):
        session.draft.render()


def fake_loadkeys(tmp_path, monkeypatch, code: int):
    calls = tmp_path / "calls"
    tool = tmp_path / "bin" / "loadkeys"
    tool.parent.mkdir(exist_ok=True)
    tool.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "loadkeys: cannot open $1" >&2\nexit {code}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}:/usr/bin:/bin")
    return calls


def real_session():
    from installer.flow.session import Options, Session

    return Session(Options(dry_run=False))


def test_a_loaded_keymap_is_not_loaded_again(tmp_path, monkeypatch):
    calls = fake_loadkeys(tmp_path, monkeypatch, 0)
    session = real_session()
    assert session.console.apply_keymap("de-latin1") == ""
    assert session.console.apply_keymap("de-latin1") == ""
    assert session.console.apply_keymap("fr") == ""
    assert calls.read_text().split() == ["de-latin1", "fr"]
    assert session.console.loaded_keymap == "fr"


def test_a_keymap_that_failed_is_tried_again(tmp_path, monkeypatch):
    calls = fake_loadkeys(tmp_path, monkeypatch, 1)
    session = real_session()
    assert session.console.apply_keymap("de-latin1") == "loadkeys: cannot open de-latin1"
    assert session.console.apply_keymap("de-latin1") == "loadkeys: cannot open de-latin1"
    assert calls.read_text().split() == ["de-latin1", "de-latin1"]
    assert session.console.loaded_keymap == ""
