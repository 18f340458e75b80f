"""open_private: the private files the log, its copies and the flake export are written through."""

from __future__ import annotations

import os
import stat

import pytest

from installer.base.logfile import LogFile, open_private

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
