"""The answers file's JSON Schema and README reference, both made from the model.

The schema is not written by hand: it walks the model's dataclasses the way
`installer.answers.file` reads them (same sections, same secret keys), so a field
added to the model shows up here, and the test that compares the checked-in
`answers.schema.json` with `schema()` fails until the file is regenerated:

    .venv/bin/python -m installer.answers.schema > answers.schema.json
    .venv/bin/python -m installer.answers.schema --readme README.md   (the reference table)

Editors (taplo, VS Code's Even Better TOML) validate an answers file against
it when the file starts with `#:schema ./answers.schema.json`.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, get_args, get_origin

from installer.answers import file as answers

from installer.answers import validate
from installer.answers.model import User
from installer.base.problems import Problem, shown

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Sections in the order a person fills them (and the wizard asks).
ORDER = ("system", "boot", "disk", "encryption", "users", "root", "software")

# What each key means, for the schema's descriptions and the README table.
# A model field missing here fails tests/test_schema.py.
DESCRIPTIONS: dict[str, str] = {
    "system": "The new system's name, clock, language and keyboard.",
    "system.hostname": "RFC 1123 label: a-z, 0-9, '-', 1-63 characters",
    "system.timezone": "a tz database name, e.g. `Europe/Berlin`",
    "system.locale": "a glibc UTF-8 locale",
    "system.keymap": "console keymap; also used for the LUKS passphrase prompt",
    "system.xkb_layout": "keyboard layout of a desktop session; left out, the one `system.keymap` types (de-latin1: de)",
    "system.xkb_variant": "variant of that layout",
    "system.state_version": "`system.stateVersion`; never change it later",
    "boot": "How the machine starts.",
    "boot.firmware": "how the machine boots",
    "boot.loader": "systemd-boot needs UEFI",
    "disk": "The disk to install on and its layout.",
    "disk.device": "the disk to erase: `/dev/sda`, a `/dev/disk/by-id/` link or `sda`",
    "disk.match": "instead of `device`: a rule exactly one disk must match",
    "disk.match.": "A rule picking the install disk on machines whose device names differ.",
    "disk.match.largest": "of the disks the other keys leave, the largest",
    "disk.match.ssd": "`true`: solid-state disks only; `false`: spinning disks only; a disk of unknown rotation matches neither",
    "disk.match.model": "part of the disk's model name (case does not matter)",
    "disk.match.size_min_gib": "at least this many GiB",
    "disk.match.size_max_gib": "at most this many GiB (0: no limit)",
    "disk.match.removable": "`true`: USB and other removable disks may match too; left out otherwise, "
                            "so a plugged-in backup drive is never picked",
    "disk.layout": "erase the disk, or use what is mounted at the target",
    "disk.filesystem": "root filesystem (btrfs: subvolumes `@`, `@home`, `@nix`)",
    "disk.swap": "swap kind",
    "disk.swap_size_mib": "swap partition size",
    "disk.esp_size_mib": f"EFI system partition size (at least {validate.MIN_ESP_MIB})",
    "encryption": "LUKS2 full-disk encryption.",
    "encryption.enabled": "LUKS2 around the root filesystem",
    "encryption.passphrase_file": "file holding the passphrase typed at every boot (relative to the answers file)",
    "users": "The people who log in.",
    "users[]": "One account ([[users]]).",
    "users[].name": "`^[a-z_][a-z0-9_-]{0,31}$`, not a system account",
    "users[].description": "full name; no `:`",
    "users[].admin": "member of `wheel` (may use sudo)",
    "users[].ssh_keys": "OpenSSH public keys allowed to log in",
    "users[].password_hash": "the password as a crypt hash (`mkpasswd -m yescrypt`)",
    "users[].password": "the password in plain text, hashed when the file is read",
    "root": "The root account.",
    "root.disabled": "no root password; administrators use sudo",
    "root.password_hash": "root's password as a crypt hash, when not disabled",
    "root.password": "root's password in plain text, when not disabled",
    "software": "What the new system runs.",
    "software.desktop": "desktop environment",
    "software.ssh_server": "OpenSSH server",
    "software.networkmanager": "NetworkManager",
    "software.flakes": "enable `nix-command` and `flakes`",
    "software.allow_unfree": "allow unfree packages",
    "software.packages": "nixpkgs attribute paths, e.g. `python3Packages.requests`",
}

# Defaults that come from the machine, not from the model's field default.
DEFAULT_WORDS = {
    "boot.firmware": "detected",
    "boot.loader": "by firmware",
    "system.state_version": "the ISO's release",
}

# Checks the engine applies whatever else the file says (installer.answers.validate
# uses the same expressions with fullmatch; JSON Schema patterns search, hence ^...$).
PATTERNS = {
    "system.hostname": validate.HOSTNAME.pattern,
    "system.state_version": validate.STATE_VERSION.pattern,
    "users[].name": validate.USERNAME.pattern,
}
ITEM_PATTERNS = {"software.packages": validate.ATTR_PATH.pattern}
CRYPT_HASH = r"^\$"

# The secret keys answers.py accepts (SECRET_KEYS), with their JSON types.
SECRET_SCHEMAS = {
    "password_hash": {"type": "string", "pattern": CRYPT_HASH},
    "password": {"type": "string"},
    "passphrase_file": {"type": "string", "minLength": 1},
}
REQUIRED = {"users": ["name"]}
# Keys whose model default means "not given" rather than a value to write down.
NO_DEFAULT = {"users[].name", "disk.device"}


# -- the schema --------------------------------------------------------------------


def _fields(cls: type) -> list[tuple[str, Any, Any]]:
    """(name, type hint, default) of the fields an answers file may hold."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        if f.name in answers.SECRET_FIELDS:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out.append((f.name, hints[f.name], default))
    return out


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


def _type_schema(hint: Any, at: str) -> dict:
    hint = _without_none(hint)  # TOML has no null: an absent key is the None
    if get_origin(hint) is Literal:
        return {"enum": list(get_args(hint))}
    if is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        items = _type_schema(item, at)
        if at in ITEM_PATTERNS:
            items["pattern"] = f"^(?:{ITEM_PATTERNS[at]})$"
        return {"type": "array", "items": items}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer", "minimum": 0}
    if hint is str:
        out: dict[str, Any] = {"type": "string"}
        if at in PATTERNS:
            out["pattern"] = f"^(?:{PATTERNS[at]})$"
        return out
    raise TypeError(f"{at}: no JSON Schema for {hint!r}; teach installer/answers/schema.py this type")


def _object(cls: type, at: str, section: str) -> dict:
    props: dict[str, Any] = {}
    for name, hint, default in _fields(cls):
        key = f"{at}.{name}"
        prop = _type_schema(hint, key)
        if "$ref" not in prop:
            prop["description"] = _describe(key)
            if default is not None and key not in NO_DEFAULT and key not in DEFAULT_WORDS:
                prop["default"] = default
        props[name] = prop
    for name in sorted(answers.SECRET_KEYS.get(section, ()), key=list(SECRET_SCHEMAS).index):
        props[name] = {**SECRET_SCHEMAS[name], "description": _describe(f"{at}.{name}")}
    out: dict[str, Any] = {"type": "object", "description": _describe(at), "properties": props}
    out["additionalProperties"] = False
    if section in REQUIRED:
        out["required"] = REQUIRED[section]
    if {"password", "password_hash"} <= set(props):
        out["not"] = {"required": ["password", "password_hash"]}  # answers.py: one or the other
    return out


def _describe(key: str) -> str:
    try:
        return DESCRIPTIONS[key]
    except KeyError:
        raise KeyError(f"{key} has no description; add one to installer/answers/schema.py DESCRIPTIONS") from None


def _sections() -> dict[str, type]:
    classes = {**answers.SECTIONS, "users": User}
    missing = set(classes) - set(ORDER)
    if missing:
        raise KeyError(f"sections {sorted(missing)} are not in installer/answers/schema.py ORDER")
    return {name: classes[name] for name in ORDER}


def schema() -> dict:
    """The answers file's JSON Schema (draft 2020-12), from the model's dataclasses."""
    props: dict[str, Any] = {}
    for name, cls in _sections().items():
        if name == "users":
            props[name] = {
                "type": "array",
                "description": _describe("users"),
                "items": _object(cls, "users[]", "users"),
            }
        else:
            props[name] = _object(cls, name, name)
    defs = {}
    for cls in answers.NESTED:
        defs[cls.__name__] = _object(cls, "disk.match", "disk.match")
        defs[cls.__name__]["description"] = _describe("disk.match.")
    return {
        "$schema": DRAFT,
        "title": "nixos-tui-installer answers file",
        "description": "Every answer the wizard asks for, for an unattended install (TOML). "
        "Every key is optional; an absent key takes its default.",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as `--answers-schema` prints it and answers.schema.json holds it."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


# -- validating with it ------------------------------------------------------------


def validate_with_schema(data: Any) -> list[Problem]:
    """Every place `data` (a parsed answers file) breaks the schema, by key path."""
    import jsonschema

    # TOML tells 4096 from 4096.0 and the loader accepts only the first;
    # JSON Schema's "integer" would take both.
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    validator = strict(schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.extend(_problems(error))
    return problems


def _key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{_key(part)}" if out else _key(str(part)))
    return out or "answers"


def _problems(error) -> list[Problem]:
    at = _key_path(error.absolute_path)
    kind, instance = error.validator, error.instance
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        where = f"{at}." if at != "answers" else ""
        return [Problem(f"{where}{_key(key)}", f"unknown key; expected one of {', '.join(sorted(known))}")
                for key in extra]
    if kind == "not" and isinstance(instance, dict) and {"password", "password_hash"} <= set(instance):
        return [Problem(f"{at}.password", "give either password or password_hash, not both")]
    if kind == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return [Problem(f"{at}.{k}", "is required") for k in missing]
    if _secret(error.absolute_path):
        return [Problem(at, _message(kind, error, at))]  # never the secret itself
    return [Problem(at, f"{_message(kind, error, at)} (got {shown(instance)})")]


def _secret(parts) -> bool:
    """Whether a key path leads into a secret (users[0].password, root.password_hash, ...)."""
    return any(isinstance(part, str) and part in answers.SECRET_FIELDS for part in parts)


def _key(name: str) -> str:
    """A key as a problem's field names it: as written, unless long or odd (then quoted and cut)."""
    return name if len(name) <= 64 and name.isprintable() else shown(name)


_TYPE_WORDS = {
    "boolean": "must be true or false",
    "integer": "must be a whole number",
    "string": "must be a string in quotes",
    "array": "must be a list",
    "object": "must be a table",
}


def _message(kind: str, error, at: str) -> str:
    if kind == "type":
        return _TYPE_WORDS.get(error.validator_value, f"must be of type {error.validator_value}")
    if kind == "enum":
        return "must be one of " + ", ".join(repr(v) for v in error.validator_value)
    if kind == "pattern":
        key = re.sub(r"\[\d+\]", "[]", at)
        words = DESCRIPTIONS.get(key) or DESCRIPTIONS.get(key.rsplit("[", 1)[0], "")
        return f"does not have the right form: {words}" if words else f"must match {error.validator_value}"
    if kind == "minimum":
        return f"must be at least {error.validator_value}"
    if kind == "minLength":
        return "must not be empty"
    return error.message


def check_file(path) -> list[Problem]:
    """An answers file checked against the schema alone (no secrets read, nothing hashed)."""
    import tomllib
    from pathlib import Path

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        return [Problem("answers", f"cannot read {path}: {err.strerror}")]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        return [Problem("answers", f"{path} is not a valid UTF-8 TOML file: {err}")]
    return validate_with_schema(data)


# -- the README reference ------------------------------------------------------------

README_START = "<!-- answers-reference:start -->"
README_END = "<!-- answers-reference:end -->"


def _type_words(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return "table"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return "list of " + {"string": "strings"}.get(prop["items"].get("type"), "values")
    return {"string": "string", "boolean": "boolean", "integer": "integer"}.get(kind, str(kind))


def _default_words(key: str, prop: dict) -> str:
    if key in DEFAULT_WORDS:
        return DEFAULT_WORDS[key]
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"


def _rows(obj: dict, at: str, defs: dict) -> list[str]:
    rows = []
    for name, prop in obj["properties"].items():
        key = f"{at}.{name}"
        meaning = prop.get("description") or DESCRIPTIONS[key]
        cells = [f"`{key}`", _type_words(prop, defs), _default_words(key, prop), meaning]
        rows.append("| " + " | ".join(c or " " for c in cells).replace("|   |", "| |") + " |")
        if "$ref" in prop:
            rows += _rows(defs[prop["$ref"].rsplit("/", 1)[-1]], key, defs)
    return rows


def reference_markdown() -> str:
    """The README's answers-file reference table, from the same source as the schema."""
    doc = schema()
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in doc["properties"].items():
        obj = prop["items"] if prop.get("type") == "array" else prop
        lines += _rows(obj, f"{name}[]" if prop.get("type") == "array" else name, doc["$defs"])
    return "\n".join(lines) + "\n"


def with_reference(readme: str) -> str:
    """The README text with the table between the reference markers regenerated."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + "\n" + reference_markdown() + readme[end:]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(reference_markdown())
    elif sys.argv[1:2] == ["--readme"] and len(sys.argv) == 3:
        readme = Path(sys.argv[2])
        readme.write_text(with_reference(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(schema_text())
