"""open_private: the private files the log, its copies and the flake export are written through."""

from __future__ import annotations

import os
import stat

import pytest

from installer.base.logfile import LogFile, Redactor, open_private

NOBODY = 65534

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own a file as another user")


@as_root
@pytest.mark.parametrize("append", [False, True])
def test_another_users_file_is_refused_untouched(tmp_path, append):
    theirs = tmp_path / "theirs.log"
    theirs.write_text("their own text\n")
    theirs.chmod(0o644)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(OSError, match="belongs to another user"):
        open_private(theirs, append=append)
    # Neither emptied nor tightened: the refusal came before anything was done to it.
    assert theirs.read_text() == "their own text\n"
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o644


@as_root
def test_saving_the_log_over_another_users_file_leaves_it_whole(tmp_path):
    theirs = tmp_path / "theirs.log"
    theirs.write_text("their own text\n")
    os.chown(theirs, NOBODY, NOBODY)
    with LogFile(tmp_path / "install.log") as log:
        log.line("ours")
        with pytest.raises(OSError, match="belongs to another user"):
            log.save_copy(theirs)
    assert theirs.read_text() == "their own text\n"


def test_replacing_our_own_file_empties_it_first(tmp_path):
    ours = tmp_path / "ours.log"
    ours.write_text("a longer older text\n")
    fd = open_private(ours, append=False)
    try:
        os.write(fd, b"new\n")
    finally:
        os.close(fd)
    assert ours.read_text() == "new\n"


def test_appending_keeps_what_was_there(tmp_path):
    ours = tmp_path / "ours.log"
    ours.write_text("old\n")
    fd = open_private(ours)
    try:
        os.write(fd, b"new\n")
    finally:
        os.close(fd)
    assert ours.read_text() == "old\nnew\n"


def test_a_symlink_is_not_followed_and_its_target_is_untouched(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep me\n")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OSError):
        open_private(tmp_path / "link", append=False)
    assert target.read_text() == "keep me\n"


# A user password and a LUKS passphrase that contains it, as people choose them.
PASSWORD, PASSPHRASE = "hunter2", "hunter2-disk"
NESTED_TEXT = "pw hunter2, luks hunter2-disk, glued xhunter2-diskhunter2y\n"
NESTED_REDACTED = "pw <redacted>, luks <redacted>, glued x<redacted><redacted>y\n"


def no_part_of_either(text: str) -> None:
    """Neither secret, nor the tail the longer one would leave after the shorter was cut out."""
    for part in (PASSWORD, PASSPHRASE, "-disk", "2-d"):
        assert part not in text, (part, text)


@pytest.mark.parametrize("order", ["password first", "passphrase first"])
@pytest.mark.parametrize("how", ["together", "one add each", "one Redactor each add"])
def test_a_secret_inside_another_is_redacted_whole_in_any_order(tmp_path, order, how):
    secrets = [PASSWORD, PASSPHRASE] if order == "password first" else [PASSPHRASE, PASSWORD]
    if how == "together":
        redactor = Redactor(secrets)
    elif how == "one add each":
        redactor = Redactor()
        for secret in secrets:
            redactor.add(secret)
    else:  # the runner's way: built with some, then the session adds the rest
        redactor = Redactor(secrets[:1])
        redactor.add(None, secrets[1])
    assert redactor(NESTED_TEXT) == NESTED_REDACTED
    with LogFile(tmp_path / "install.log", redactor=redactor) as log:
        log.write_text(NESTED_TEXT)
        log.line(NESTED_TEXT.strip())
    written = (tmp_path / "install.log").read_text()
    assert written == NESTED_REDACTED * 2
    no_part_of_either(written)


def test_a_chain_of_secrets_each_inside_the_next_is_redacted_whole():
    """Five secrets, each inside the next: only longest first leaves no part of any. Any other
    order (insertion order, a set's order) is right for 1 in 120 orders, so it fails here."""
    chain = ["hunter2", "hunter2-disk", "hunter2-disk-2026", "my hunter2-disk-2026", "my hunter2-disk-2026!"]
    for secrets in (chain, chain[::-1], chain[2:] + chain[:2]):
        redactor = Redactor()
        for secret in secrets:
            redactor.add(secret)
        out = redactor(f"[{chain[-1]}] [{chain[2]}] [{chain[0]}]")
        assert out == "[<redacted>] [<redacted>] [<redacted>]", (secrets, out)


@pytest.mark.parametrize("append", [False, True])
def test_a_file_with_another_hard_link_is_refused_untouched(tmp_path, append):
    """Root may write any file: a log name that is a second link to /etc/shadow (or any
    file) would otherwise be emptied or appended to and chmodded."""
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    precious.chmod(0o644)
    os.link(precious, tmp_path / "install.log")
    with pytest.raises(OSError, match="other hard link"):
        open_private(tmp_path / "install.log", append=append)
    with pytest.raises(OSError, match="other hard link"):
        LogFile(tmp_path / "install.log")
    assert precious.read_text() == "keep me\n"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644


def test_copying_the_log_over_a_hard_link_replaces_the_name_only(tmp_path):
    target = tmp_path / "target"
    (target / "var/log").mkdir(parents=True)
    precious = target / "precious"
    precious.write_text("keep me\n")
    os.link(precious, target / "var/log/nixos-tui-installer.log")
    with LogFile(tmp_path / "install.log") as log:
        log.line("the install")
        copy = log.copy_to(target)
    assert copy.read_text() == "the install\n" and copy.stat().st_nlink == 1
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert precious.read_text() == "keep me\n"
    assert sorted(p.name for p in (target / "var/log").iterdir()) == ["nixos-tui-installer.log"]


def test_a_directory_at_the_copys_place_is_one_clear_error(tmp_path):
    from installer.base.safefs import WriteError

    (tmp_path / "target/var/log/nixos-tui-installer.log").mkdir(parents=True)
    with LogFile(tmp_path / "install.log") as log, pytest.raises(WriteError, match="is a directory, not a regular"):
        log.copy_to(tmp_path / "target")
