"""Dotted field paths, and the field metadata the schema, the README table and the secret lists come from."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import valid_model
from installer.answers import fields
from installer.answers import file as answers
from installer.answers import schema
from installer.answers.model import DiskMatch, Encryption, InstallModel, Root, System, User, answer, secret
from installer.base.logfile import Redactor


@pytest.mark.parametrize("path, parts", [
    ("system", ("system",)),
    ("disk.match.ssd", ("disk", "match", "ssd")),
    ("users[0].password", ("users", 0, "password")),
    ("users[12].ssh_keys[3]", ("users", 12, "ssh_keys", 3)),
    ("software.packages[1]", ("software", "packages", 1)),
    ("users[].name", ("users", None, "name")),
    ("users[0]", ("users", 0)),
])
def test_parse_and_format_are_inverses(path, parts):
    assert fields.parse(path) == parts
    assert fields.format(parts) == path


@pytest.mark.parametrize("bad", ["", ".system", "system.", "a..b", "[0]", "users[x]", "users[0", "users]", "a b",
                                 "users[0]name", "disk.match-ssd", "0abc"])
def test_parse_refuses_what_is_not_a_path(bad):
    with pytest.raises(ValueError, match="not a field path"):
        fields.parse(bad)


NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@given(st.tuples(NAME, st.lists(st.one_of(NAME, st.integers(0, 999), st.none()), max_size=6)))
def test_any_parts_survive_format_then_parse(parts):
    flat = (parts[0], *parts[1])
    assert fields.parse(fields.format(flat)) == flat


@pytest.mark.parametrize("field, prefix, inside", [
    ("users", "users", True),
    ("users[1].name", "users", True),
    ("users[1].name", "users[1]", True),
    ("users[10].name", "users[1]", False),
    ("users_x", "users", False),
    ("disk.match.ssd", "disk.match", True),
    ("disk.match.ssd", "disk", True),
    ("disk.matcher", "disk.match", False),
    ("disk", "disk.match", False),
    ("software.packages[2]", "software.packages", True),
])
def test_within(field, prefix, inside):
    assert fields.within(field, prefix) is inside


def test_generic_leaves_out_the_indexes():
    assert fields.generic("users[0].ssh_keys[12]") == "users[].ssh_keys[]"
    assert fields.generic("system.hostname") == "system.hostname"


def test_field_of_names_the_model_field():
    assert fields.field_of("users[0].ssh_keys[1]").name == "ssh_keys"
    assert fields.field_of("disk.match.ssd") is next(f for f in dataclasses.fields(DiskMatch) if f.name == "ssd")
    assert fields.field_of("users[0]").name == "users"
    for nowhere in ["answers", "system.host", "disk.match.ssd.x", "encryption.passphrase_file", "files.a-b", ""]:
        assert fields.field_of(nowhere) is None, nowhere


def test_is_secret_asks_the_metadata():
    secret_paths = ["users[0].password", "users[3].password_confirm", "users[0].password_hash",
                    "root.password", "root.password_hash", "encryption.passphrase", "encryption.passphrase_confirm",
                    "network.wifi_password"]
    for path in secret_paths:
        assert fields.is_secret(path), path
    for path in ["users[0].name", "users[0].ssh_keys[0]", "encryption.enabled", "encryption.passphrase_file",
                 "answers", "disk", "root.disabled", "softwares.password", "network.wifi_ssid", "network.proxy"]:
        assert not fields.is_secret(path), path
    # The redaction lists are the metadata's, not a list of names kept beside it.
    assert answers.SECRET_FIELDS == {"password", "password_confirm", "passphrase", "passphrase_confirm",
                                     "password_hash", "wifi_password"}
    assert answers.SECRET_KEYS == {"users": {"password", "password_hash"}, "root": {"password", "password_hash"},
                                   "encryption": {"passphrase_file"},
                                   "network": {"wifi_password", "wifi_password_file"}}


def test_every_field_carries_a_doc_and_secrets_hide_from_repr_and_equality():
    for cls in [InstallModel, *fields.sections().values(), DiskMatch]:
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{cls.__name__}.{f.name}"
            if f.metadata.get("secret"):
                assert (f.default, f.repr, f.compare) == (None, False, False), f"{cls.__name__}.{f.name}"
    assert fields.sections() == {"system": System, "boot": fields.sections()["boot"],
                                 "disk": fields.sections()["disk"], "encryption": Encryption, "users": User,
                                 "root": Root, "software": fields.sections()["software"],
                                 "hardware": fields.sections()["hardware"], "network": fields.sections()["network"]}
    assert list(fields.sections()) == ["system", "boot", "disk", "encryption", "users", "root", "software", "hardware",
                                       "network"]


def test_secrets_lists_each_secret_once_and_never_a_typed_again_copy():
    m = valid_model()
    m.encryption.enabled = True
    m.encryption.passphrase, m.encryption.passphrase_confirm = "luks-phrase", "luks-typo"
    m.root.password, m.root.password_confirm, m.root.password_hash = "root-pw", "root-pw", "$y$root"
    m.users[0].password, m.users[0].password_confirm, m.users[0].password_hash = "alice-pw", "alice-pw", "$y$a"
    assert sorted(m.secrets()) == sorted(["luks-phrase", "root-pw", "$y$root", "alice-pw", "$y$a"])
    m.root.password = m.root.password_hash = None
    assert "root-pw" not in m.secrets()


# A section grown by two fields, one secret: the schema, the README table, the
# saved file and the redaction all follow from the metadata alone.
@dataclasses.dataclass
class SystemWithToken(System):
    motto: str = answer("carpe diem", doc="what the machine says at login")
    token: str | None = secret(doc="an API token")  # no file_key: never read from an answers file


@dataclasses.dataclass
class ModelWithToken(InstallModel):
    system: SystemWithToken = answer(doc="The new system, with a token.", factory=SystemWithToken)


def test_a_field_added_with_metadata_is_described_and_a_secret_one_is_kept_out():
    props = schema.schema(ModelWithToken)["properties"]["system"]
    assert props["description"] == "The new system, with a token."
    assert props["properties"]["motto"] == {"type": "string", "description": "what the machine says at login",
                                            "default": "carpe diem"}
    assert set(props["properties"]) == {f.name for f in dataclasses.fields(System)} | {"motto"}  # no token
    table = schema.reference_markdown(ModelWithToken)
    assert '| `system.motto` | string | `"carpe diem"` | what the machine says at login |' in table
    assert "system.token`" not in table
    assert "token" in fields.secret_names(ModelWithToken) and "token" not in fields.secret_names()
    # The real model's schema is untouched by the subclass.
    assert "motto" not in schema.schema()["properties"]["system"]["properties"]

    model = valid_model()
    model.system = SystemWithToken(token="tok-3f9a7c1e")
    assert "tok-3f9a7c1e" in model.secrets()
    assert "tok-3f9a7c1e" not in repr(model)
    assert Redactor(model.secrets())("sent tok-3f9a7c1e") == "sent <redacted>"
    saved = answers.dump(model)
    assert "tok-3f9a7c1e" not in saved and "token" not in saved
    assert tomllib.loads(saved)["system"]["motto"] == "carpe diem"
    assert model == dataclasses.replace(model, system=SystemWithToken(token="another"))  # secrets take no part


@dataclasses.dataclass
class Bare(System):
    silent: str = ""


@dataclasses.dataclass
class ModelWithBare(InstallModel):
    system: Bare = answer(doc="A section with an undocumented key.", factory=Bare)


def test_a_field_without_a_doc_cannot_reach_the_schema():
    with pytest.raises(KeyError, match="system.silent has no doc"):
        schema.schema(ModelWithBare)
