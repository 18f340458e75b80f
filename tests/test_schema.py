"""The answers file's JSON Schema: generated from the model, checked in, used to validate."""

from __future__ import annotations

import json
import re
import tomllib

import jsonschema
import pytest

from conftest import ROOT, valid_model
from installer.answers import file as answers
from installer.base.problems import ProblemsError
from installer.answers.schema import DESCRIPTIONS, reference_markdown, schema, schema_text, validate_with_schema

CHECKED_IN = ROOT / "answers.schema.json"
REGENERATE = ".venv/bin/python -m installer.answers.schema > answers.schema.json"


def test_checked_in_schema_is_the_generated_one():
    assert CHECKED_IN.is_file(), f"answers.schema.json is missing; make it with: {REGENERATE}"
    assert CHECKED_IN.read_text(encoding="utf-8") == schema_text(), (
        f"answers.schema.json differs from the model; regenerate it with: {REGENERATE}"
    )


def test_schema_is_valid_draft_2020_12():
    doc = schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)
    assert json.loads(schema_text()) == doc


def test_schema_has_every_model_key_and_secret_key():
    """Each answers-file key the loader accepts is in the schema, and nothing else."""
    props = schema()["properties"]
    for section, keys in answers.defaults().items():
        obj = props[section]["items"] if section == "users" else props[section]
        expected = set(keys) | answers.SECRET_KEYS.get(section, set())
        assert set(obj["properties"]) == expected, section
        assert obj["additionalProperties"] is False
    match = schema()["$defs"]["DiskMatch"]["properties"]
    assert set(match) == {"largest", "ssd", "model", "size_min_gib", "size_max_gib", "removable"}
    assert props["disk"]["properties"]["match"] == {"$ref": "#/$defs/DiskMatch"}
    assert props["disk"]["properties"]["filesystem"]["enum"] == ["ext4", "btrfs", "xfs"]
    assert props["boot"]["properties"]["firmware"]["enum"] == ["uefi", "bios"]


def test_every_property_is_described():
    def walk(obj, at):
        for name, prop in obj.get("properties", {}).items():
            if "$ref" not in prop:
                assert prop.get("description"), f"{at}.{name}"

    doc = schema()
    for name, prop in doc["properties"].items():
        walk(prop.get("items", prop), name)
    walk(doc["$defs"]["DiskMatch"], "disk.match")
    unused = {k for k in DESCRIPTIONS if k not in reference_markdown() and "." in k and not k.endswith(".")}
    assert not unused, f"descriptions for keys the model no longer has: {unused}"


def test_example_answers_file_validates():
    data = tomllib.loads((ROOT / "examples" / "answers.toml").read_text(encoding="utf-8"))
    assert validate_with_schema(data) == []


def test_saved_answers_validate():
    """What the wizard saves (answers.dump) is a file the schema accepts."""
    model = valid_model()
    model.disk.match = None
    data = tomllib.loads(answers.dump(model))
    assert validate_with_schema(data) == []
    from installer.answers.model import DiskMatch

    model.disk.match = DiskMatch(ssd=True, size_min_gib=100)
    assert validate_with_schema(tomllib.loads(answers.dump(model))) == []


# (answers file, the key the schema must name, whether answers.load names it too)
BAD = [
    ('[disk]\nfilesystem = "zfs"', "disk.filesystem", True),
    ('[disk]\nswap = "file"', "disk.swap", True),
    ('[disk]\nlayout = "manual"', "disk.layout", True),
    ("[disk]\nswap_size_mib = \"4G\"", "disk.swap_size_mib", True),
    ("[disk]\nesp_size_mib = 1024.0", "disk.esp_size_mib", True),
    ("[disk]\nesp_size_mib = true", "disk.esp_size_mib", True),
    ("[disk]\nsize = 100", "disk.size", True),
    ("[disk.match]\nssd = \"yes\"", "disk.match.ssd", True),
    ("[disk.match]\nvendor = \"Samsung\"", "disk.match.vendor", True),
    ("[disk.match]\nsize_min_gib = -1", "disk.match.size_min_gib", False),
    ("[disk]\nmatch = \"largest\"", "disk.match", True),
    ('[boot]\nfirmware = "efi"', "boot.firmware", True),
    ('[boot]\nloader = "lilo"', "boot.loader", True),
    ("[system]\nhostname = 42", "system.hostname", True),
    ('[system]\nhostname = "My Laptop"', "system.hostname", False),
    ('[system]\nstate_version = "unstable"', "system.state_version", False),
    ('[system]\nhost = "x"', "system.host", True),
    ("[encryption]\nenabled = \"yes\"", "encryption.enabled", True),
    ("[encryption]\npassphrase = \"hunter2\"", "encryption.passphrase", True),
    ("[encryption]\npassphrase_file = 5", "encryption.passphrase_file", True),
    ('[[users]]\nname = "Alice"', "users[0].name", False),
    ('[[users]]\nname = "alice"\nadmin = "yes"', "users[0].admin", True),
    ('[[users]]\nname = "alice"\nssh_keys = "ssh-ed25519 AAAA"', "users[0].ssh_keys", True),
    ('[[users]]\nname = "alice"\nssh_keys = [1]', "users[0].ssh_keys[0]", False),
    ('[[users]]\nname = "alice"\nshell = "zsh"', "users[0].shell", True),
    ('[[users]]\nname = "alice"\n[[users]]\ndescription = "no name"', "users[1].name", False),
    ('[[users]]\nname = "alice"\npassword = "a"\npassword_hash = "$y$x"', "users[0].password", True),
    ('[[users]]\nname = "alice"\npassword_hash = "plain"', "users[0].password_hash", True),
    ('[[users]]\nname = "alice"\npassword_confirm = "a"', "users[0].password_confirm", True),
    ("[root]\ndisabled = 0", "root.disabled", True),
    ('[root]\npassword_hash = "nope"', "root.password_hash", True),
    ('[software]\ndesktop = "kde"', "software.desktop", True),
    ('[software]\npackages = "git"', "software.packages", True),
    ('[software]\npackages = ["git", "rm -rf"]', "software.packages[1]", False),
    ('[softwares]\ndesktop = "gnome"', "softwares", True),
    ("users = 3", "users", True),
    ('system = "laptop"', "system", True),
]


@pytest.mark.parametrize("text, key, loader_too", BAD, ids=[b[1] + ":" + b[0].split("\n")[-1] for b in BAD])
def test_bad_file_is_rejected_naming_the_key(text, key, loader_too, tmp_path):
    data = tomllib.loads(text)
    problems = validate_with_schema(data)
    named = [p.field for p in problems]
    assert key in named, f"expected {key} in {named}"
    for p in problems:
        assert p.message and "Traceback" not in p.message
    if loader_too:
        # The schema and the loader agree: the same key is named by both.
        path = tmp_path / "answers.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ProblemsError) as err:
            answers.load(path, hash_passwords=False)
        assert key in [p.field for p in err.value.problems]


def test_good_variants_pass():
    for text in [
        "",
        '[disk]\ndevice = "/dev/disk/by-id/nvme-Samsung_SSD_980"\n[disk.match]\nlargest = true',
        '[disk.match]\nssd = false\nmodel = "WDC"\nsize_min_gib = 100\nsize_max_gib = 4000',
        '[[users]]\nname = "bob"\npassword = "secret"',
        '[root]\ndisabled = false\npassword_hash = "$6$salt$hash"',
        '[encryption]\nenabled = true\npassphrase_file = "/root/luks.txt"',
        '[software]\npackages = ["python3Packages.requests", "git"]',
    ]:
        assert validate_with_schema(tomllib.loads(text)) == [], text


def test_reference_markdown_covers_every_key():
    table = reference_markdown()
    lines = table.splitlines()
    assert lines[0] == "| key | type | default | meaning |"
    for line in lines[2:]:
        cells = re.split(r"(?<!\\)\|", line)  # a `\|` inside a cell is not a column
        assert line.startswith("| `") and len(cells) == 6 and cells[0] == cells[-1] == "", line
    for key in ["system.hostname", "disk.match.ssd", "users[].password_hash", "encryption.passphrase_file",
                "software.packages"]:
        assert f"| `{key}` |" in table
    assert '| `disk.filesystem` | `"ext4"` \\| `"btrfs"` \\| `"xfs"` | `"ext4"` |' in table
    assert "| `system.state_version` | string | the ISO's release |" in table
    keys = [line.split("`")[1] for line in lines[2:]]
    assert len(keys) == len(set(keys))


def test_check_file(tmp_path):
    from installer.answers.schema import check_file

    assert check_file(ROOT / "examples" / "answers.toml") == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[disk]\nfilesystem = "zfs"\n', encoding="utf-8")
    assert [p.field for p in check_file(bad)] == ["disk.filesystem"]
    bad.write_text("[disk\n", encoding="utf-8")
    assert [p.field for p in check_file(bad)] == ["answers"]
    assert [p.field for p in check_file(tmp_path / "missing.toml")] == ["answers"]


def test_with_reference_replaces_only_between_the_markers():
    from installer.answers.schema import README_END, README_START, with_reference

    text = f"# Title\n\nbefore\n{README_START}\n| old | table |\n{README_END}\n\nafter\n"
    new = with_reference(text)
    assert new.startswith("# Title\n\nbefore\n" + README_START + "\n| key | type | default | meaning |")
    assert new.endswith(README_END + "\n\nafter\n")
    assert "| old | table |" not in new
    assert with_reference(new) == new
