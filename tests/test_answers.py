"""The answers file: loading, every error named by its key, saving without secrets."""

from __future__ import annotations

import os
import stat

import pytest

from conftest import ROOT, valid_model
from installer.answers import file as answers
from installer.base.problems import ProblemsError
from installer.answers.validate import validate

EXAMPLE = ROOT / "examples" / "answers.toml"


def test_example_loads_and_validates():
    model = answers.load(EXAMPLE)
    assert model.system.hostname == "nixos-laptop"
    assert model.disk.filesystem == "btrfs"
    assert model.encryption.passphrase == "correct horse battery staple"
    assert model.users[0].password_hash.startswith("$y$")
    assert validate(model) == []


def test_dump_then_load_gives_the_same_answers(tmp_path):
    model = valid_model()
    model.users[0].password_hash = "$y$j9T$salt$hash"
    path = tmp_path / "saved.toml"
    answers.save(model, path)
    again = answers.load(path)
    assert again == model  # secrets take no part in equality...
    assert again.users[0].password_hash is None  # ...and none was saved
    assert again.users[0].password is None


def test_saved_file_holds_no_secret_and_is_private(tmp_path):
    model = valid_model()
    model.users[0].password_hash = "$y$j9T$salt$hash"
    model.encryption.enabled = True
    model.encryption.passphrase = model.encryption.passphrase_confirm = "open sesame 123"
    model.root.password = "hunter22"
    path = tmp_path / "saved.toml"
    answers.save(model, path)
    text = path.read_text()
    for secret in ["correct horse", "$y$j9T$salt$hash", "open sesame 123", "hunter22"]:
        assert secret not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def write(tmp_path, text: str):
    path = tmp_path / "a.toml"
    path.write_text(text)
    return path


BAD = [
    ('[system]\nhostnmae = "x"\n', "system.hostnmae", "unknown key; expected one of hostname"),
    ('[disk]\nfilesystem = "zfs"\n', "disk.filesystem", "must be one of 'ext4', 'btrfs', 'xfs'"),
    ("[disk]\nswap_size_mib = \"4G\"\n", "disk.swap_size_mib", "whole number"),
    ("[software]\nssh_server = \"yes\"\n", "software.ssh_server", "true or false"),
    ("[software]\npackages = \"git vim\"\n", "software.packages", "must be a list"),
    ("[software]\npackages = [1]\n", "software.packages[0]", "must be a string"),
    ("[[users]]\nname = \"a\"\npassword = \"x\"\npassword_hash = \"$y$1\"\n", "users[0].password", "not both"),
    ("[[users]]\nname = \"a\"\npassword_hash = \"plain\"\n", "users[0].password_hash", "crypt hash"),
    ('[encryption]\npassphrase_file = "nope.txt"\n', "encryption.passphrase_file", "cannot read"),
    ("[desktop]\nname = \"gnome\"\n", "desktop", "unknown key; expected one of boot"),
    ("users = 3\n", "users", "must be a list"),
    ("[system\n", "answers", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "field", "words"), BAD, ids=[b[1] for b in BAD])
def test_bad_answers_name_the_key(tmp_path, text, field, words):
    with pytest.raises(ProblemsError) as caught:
        answers.load(write(tmp_path, text))
    found = {p.field: p.message for p in caught.value.problems}
    assert field in found, found
    assert words in found[field]


def test_every_problem_listed_at_once(tmp_path):
    text = '[system]\nhostnmae = "x"\n[disk]\nfilesystem = "zfs"\nswap = 3\n'
    with pytest.raises(ProblemsError) as caught:
        answers.load(write(tmp_path, text))
    # The schema's findings and the model's own rules (no disk chosen, nobody can administer
    # the system) come in one list.
    assert {p.field for p in caught.value.problems} == {
        "system.hostnmae", "disk.filesystem", "disk.swap", "disk.device", "users"}


def test_passphrase_file_relative_to_answers_and_final_newline_dropped(tmp_path):
    (tmp_path / "key").write_text("two words\n")
    model = answers.load(write(tmp_path, '[encryption]\nenabled = true\npassphrase_file = "key"\n'))
    assert model.encryption.passphrase == "two words"
    assert model.encryption.passphrase_confirm == "two words"


def test_disk_match_rule_is_a_nested_table(tmp_path):
    model = answers.load(write(tmp_path, '[disk.match]\nssd = true\nsize_min_gib = 100\n'))
    assert model.disk.match is not None
    assert (model.disk.match.ssd, model.disk.match.size_min_gib, model.disk.match.largest) == (True, 100, False)
    again = answers.from_dict(answers.to_dict(model))
    assert again.disk.match == model.disk.match
    with pytest.raises(ProblemsError) as caught:
        answers.load(write(tmp_path, '[disk.match]\nbiggest = true\n'))
    assert "disk.match.biggest" in [p.field for p in caught.value.problems]


@pytest.mark.parametrize("system, layout", [
    ({"keymap": "de-latin1"}, ("de", "")),  # kbd-model-map's row
    ({"keymap": "fr"}, ("fr", "")),
    ({"keymap": "de-latin1", "xkb_layout": "us"}, ("us", "")),  # chosen: kept
    ({"keymap": "de-latin1", "xkb_variant": "nodeadkeys"}, ("us", "nodeadkeys")),
    ({}, ("us", "")),
])
def test_the_desktop_layout_follows_the_console_keymap_unless_given(system, layout):
    model = answers.from_dict({"system": system})
    assert (model.system.xkb_layout, model.system.xkb_variant) == layout
