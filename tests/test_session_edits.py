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
    # Keeping it takes in the new file's changes to the lines the person did not touch.
    session.draft.keep_edit(CONFIG)
    assert session.draft.render()[CONFIG] == "# mine, more\n" + stale.now


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


# -- an edit kept after another disk was chosen (issue 22, item 2) --------------------

TWO_DISKS = "tests/fixtures/machines/many-nics-and-disks.json"  # BIOS: GRUB names the disk
OLD_GRUB = 'boot.loader.grub.device = "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001";'
NEW_GRUB = 'boot.loader.grub.device = "/dev/vda";'


def two_disk_session():
    from installer.answers.model import User
    from installer.flow.session import Options, Session
    from test_screens_support import ROOT

    session = Session(Options(machine_file=str(ROOT / TWO_DISKS), dry_run=True, seed=7,
                              log_path="/tmp/nixos-tui-installer-test.log"))
    session.probe()
    session.apply_machine_defaults()
    session.model.disk.device = "/dev/sda"
    session.model.users = [User(name="alice", password="wonderland", password_confirm="wonderland")]
    return session


def test_merge3_takes_each_sides_changes_and_marks_where_both_changed():
    from installer.nixos.edits import merge3

    base = "a\nb\nc\nd\ne\n"
    assert merge3(base, "mine\na\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\n").text == "mine\na\nb\nC\nd\ne\n"
    assert merge3(base, "a\nb\nC\nd\ne\n", "a\nb\nC\nd\ne\n").text == "a\nb\nC\nd\ne\n"  # the same change once
    both = merge3(base, "a\nb\nK\nd\ne\n", "a\nb\nC\nd\ne\n")
    assert both.conflicts == (3,)
    assert both.text == "a\nb\n<<<<<<< your edit\nK\n=======\nC\n>>>>>>> newly generated\nd\ne\n"
    assert merge3(base, "a\nb\nc\nd\ne", "A\nb\nc\nd\ne\n").text == "A\nb\nc\nd\ne"  # no newline added


def test_keeping_an_edit_after_another_disk_takes_in_the_new_disks_lines():
    session = two_disk_session()
    generated = session.draft.generated()[CONFIG]
    assert OLD_GRUB in generated
    assert session.draft.set_edited(CONFIG, "# mine\n" + generated) == []
    assert session.draft.problems() == []
    session.model.disk.device = "/dev/vda"
    merged = session.draft.keep_edit(CONFIG)
    kept = session.draft.render()[CONFIG]
    assert merged.conflicts == () and kept == merged.text
    assert kept.startswith("# mine\n") and NEW_GRUB in kept and OLD_GRUB not in kept
    assert session.draft.problems() == []
    assert session.install.confirm_word() == "vda"


def test_an_edited_line_naming_the_old_disk_stops_confirm_saying_line_and_device():
    session = two_disk_session()
    generated = session.draft.generated()[CONFIG]
    mine = generated.replace(OLD_GRUB, OLD_GRUB + "  # my disk")  # the person edited that very line
    assert session.draft.set_edited(CONFIG, mine) == []
    session.model.disk.device = "/dev/vda"
    merged = session.draft.keep_edit(CONFIG)
    # Both changed the line: both versions kept, which does not parse and stops Confirm.
    [line] = merged.conflicts
    assert merged.text.splitlines()[line - 1] == "<<<<<<< your edit"
    [problem] = session.draft.parse_problems(CONFIG, merged.text)
    assert problem.message.startswith(f"{CONFIG} line {line}, column 1: your edit and the newly generated")
    with pytest.raises(ProblemsError, match=f"line {line}: your edit and the newly generated file"):
        session.install.confirm_word()
    # The person resolves it by keeping their own line: the old disk, refused by name.
    lines = merged.text.splitlines()
    resolved = lines[:line - 1] + lines[line:line + 1] + lines[line + 4:]
    number = next(i for i, text in enumerate(resolved, 1) if "grub.device" in text)
    assert session.draft.set_edited(CONFIG, "\n".join(resolved) + "\n") == []
    with pytest.raises(ProblemsError) as refused:
        session.install.confirm_word()
    [problem] = refused.value.problems
    assert problem.field == f"files.{CONFIG}"
    assert problem.message.startswith(f"{CONFIG} line {number} names /dev/disk/by-id/ata-QEMU_HARDDISK_QM00001, "
                                      "which this install does not set up (it installs to /dev/vda)")
    assert f"put back the newly generated line\n  {NEW_GRUB}" in problem.message
    # Taking the generated line back lifts the refusal.
    fixed = "\n".join(resolved).replace(OLD_GRUB + "  # my disk", NEW_GRUB) + "\n"
    assert session.draft.set_edited(CONFIG, fixed) == []
    assert session.draft.problems() == [] and session.install.confirm_word() == "vda"


def test_hardware_configuration_lines_are_checked_too_and_known_devices_pass():
    session = two_disk_session()
    name = "hardware-configuration.nix"
    generated = session.draft.generated()[name]
    plan = session.plan()
    root = next(f.device for f in plan.filesystems if f.mountpoint == "/")
    ok = generated.replace("swapDevices = [ ];", 'swapDevices = [ ];\n  # /dev/vdb is for later\n'
                           f'  fileSystems."/".label = "{root}";\n  services.getty.extraArgs = [ "/dev/tty1" ];')
    assert session.draft.set_edited(name, ok) == []
    assert session.draft.problems() == []  # a comment, the plan's own UUID, a tty: no disk the plan lacks
    uuid = "0d2f6a3e-1b7c-4e59-9a41-5c8e2b7f3d10"
    bad = generated.replace("swapDevices = [ ];", f'swapDevices = [ {{ device = "/dev/disk/by-uuid/{uuid}"; }} ];')
    assert session.draft.set_edited(name, bad) == []
    [problem] = session.draft.problems()
    assert problem.field == f"files.{name}" and f"names /dev/disk/by-uuid/{uuid}" in problem.message
    assert "swapDevices = [ ];" in problem.message  # the generated line to put back
