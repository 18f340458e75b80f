"""The answers file's JSON Schema and README reference, both made from the model.

The schema is not written by hand: it walks the model's dataclasses the way
`installer.answers.file` reads them (same sections, same secret keys) and takes
each key's description, default, pattern and secrecy from its field's metadata
(installer/answers/model.py), so a field added to the model shows up here, and
the test that compares the checked-in `answers.schema.json` with `schema()`
fails until the file is regenerated:

    .venv/bin/python -m installer.answers.schema > answers.schema.json
    .venv/bin/python -m installer.answers.schema --readme README.md   (the reference table)

Editors (taplo, VS Code's Even Better TOML) validate an answers file against
it when the file starts with `#:schema ./answers.schema.json`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, is_dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from installer.answers import fields as paths
from installer.answers import file as answers
from installer.answers.model import InstallModel
from installer.base.problems import Problem, shown

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    from jsonschema import ValidationError

DRAFT = "https://json-schema.org/draft/2020-12/schema"

CRYPT_HASH = r"^\$"

# The JSON types of the keys that bring a secret in (each secret field's
# `file_key` in installer.answers.model); the loader reads them in answers._secrets.
SECRET_SCHEMAS: dict[str, dict[str, Any]] = {
    "password_hash": {"type": "string", "pattern": CRYPT_HASH},
    "password": {"type": "string"},
    "passphrase_file": {"type": "string", "minLength": 1},
    "wifi_password": {"type": "string"},
    "wifi_password_file": {"type": "string", "minLength": 1},
}


# -- the model's metadata, by key ------------------------------------------------------
# Every function here takes the model class (`root`) it reads, so a test can
# show that a field added to a model is described, defaulted and kept secret
# by its metadata alone.


def _at(name: str, root: type) -> str:
    """Where a section's keys are, as descriptions are filed: "system", or "users[]" for a list of tables."""
    return f"{name}[]" if get_origin(paths.hints(root)[name]) is list else name


def _docs(cls: type, at: str) -> dict[str, str]:
    """The description of each key of one table: its own fields, and the keys
    that bring its secrets in (`file_key`, e.g. encryption.passphrase_file)."""
    out = {}
    for f in dataclasses.fields(cls):
        if "doc" not in f.metadata:
            raise KeyError(f"{at}.{f.name} has no doc; declare it with answer(doc=...) in installer/answers/model.py")
        if not f.metadata.get("secret"):
            out[f"{at}.{f.name}"] = f.metadata["doc"]
        elif "file_key" in f.metadata:
            out[f"{at}.{f.metadata['file_key']}"] = f.metadata["file_doc"]
            if "also_key" in f.metadata:
                out[f"{at}.{f.metadata['also_key']}"] = f.metadata["also_doc"]
    return out


def descriptions(root: type = InstallModel) -> dict[str, str]:
    """What each key means, by generic path: a section ("system"), one entry of a
    list of tables ("users[]"), a nested table ("disk.match."), a key."""
    out = {}
    for f in dataclasses.fields(root):
        out[f.name] = f.metadata["doc"]
        if _at(f.name, root) != f.name:
            out[_at(f.name, root)] = f.metadata["table_doc"]
    for name, cls in paths.sections(root).items():
        out.update(_docs(cls, _at(name, root)))
    for at, (cls, holder) in paths.tables(root).items():
        out[f"{at}."] = holder.metadata["table_doc"]
        out.update(_docs(cls, at))
    return out


def default_words(root: type = InstallModel) -> dict[str, str]:
    """The README's default of each key whose model default is not the value
    used: the machine's ("detected"), or none ("") where nothing is given."""
    tables = [(_at(name, root), cls) for name, cls in paths.sections(root).items()]
    tables += [(at, cls) for at, (cls, _holder) in paths.tables(root).items()]
    return {f"{at}.{f.name}": f.metadata["default_words"]
            for at, cls in tables for f in dataclasses.fields(cls) if "default_words" in f.metadata}


# What each key means, for the schema's descriptions and the README table
# (each model field's `doc`; a model field without one fails at import).
DESCRIPTIONS: dict[str, str] = descriptions()
# Defaults that come from the machine, not from the model's field default
# ("" where the README shows none); the schema states no default for them.
DEFAULT_WORDS: dict[str, str] = default_words()


# -- the schema --------------------------------------------------------------------


def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any, Any]]:
    """(field, type hint, default) of the fields an answers file may hold."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("secret"):
            continue
        out.append((f, hints[f.name], answers.field_default(f)))
    return out


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


def _type_schema(hint: Any, at: str, pattern: str | None = None) -> dict[str, Any]:
    """The JSON type of a field's hint; pattern: the form a string (or each string of a list) must have."""
    hint = _without_none(hint)  # TOML has no null: an absent key is the None
    if get_origin(hint) is Literal:
        return {"enum": list(get_args(hint))}
    if isinstance(hint, type) and is_dataclass(hint):  # a hint is a class, never an instance
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        return {"type": "array", "items": _type_schema(item, at, pattern)}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer", "minimum": 0}
    if hint is str:
        out: dict[str, Any] = {"type": "string"}
        if pattern is not None:
            # validate uses fullmatch; JSON Schema patterns search, hence ^...$.
            out["pattern"] = f"^(?:{pattern})$"
        return out
    raise TypeError(f"{at}: no JSON Schema for {hint!r}; teach installer/answers/schema.py this type")


def _object(cls: type, at: str, docs: dict[str, str]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for f, hint, default in _fields(cls):
        key = f"{at}.{f.name}"
        prop = _type_schema(hint, key, f.metadata.get("pattern"))
        if "$ref" not in prop:
            prop["description"] = _describe(key, docs)
            if default is not None and "default_words" not in f.metadata:
                prop["default"] = default
        props[f.name] = prop
        if f.metadata.get("required"):
            required.append(f.name)
    for f in dataclasses.fields(cls):
        for key in ("file_key", "also_key"):
            if key in f.metadata:
                name = f.metadata[key]
                props[name] = {**SECRET_SCHEMAS[name], "description": _describe(f"{at}.{name}", docs)}
    out: dict[str, Any] = {"type": "object", "description": _describe(at, docs), "properties": props}
    out["additionalProperties"] = False
    if required:
        out["required"] = required
    if {"password", "password_hash"} <= set(props):
        out["not"] = {"required": ["password", "password_hash"]}  # answers.py: one or the other
    if {"wifi_password", "wifi_password_file"} <= set(props):
        out["not"] = {"required": ["wifi_password", "wifi_password_file"]}
    return out


def _describe(key: str, docs: dict[str, str]) -> str:
    try:
        return docs[key]
    except KeyError:
        raise KeyError(f"{key} has no description; give its field a doc in installer/answers/model.py") from None


def schema(root: type = InstallModel) -> dict[str, Any]:
    """The answers file's JSON Schema (draft 2020-12), from the model's dataclasses."""
    docs = DESCRIPTIONS if root is InstallModel else descriptions(root)
    props: dict[str, Any] = {}
    for name, cls in paths.sections(root).items():  # in the order a person fills them (and the wizard asks)
        if _at(name, root) != name:
            props[name] = {
                "type": "array",
                "description": _describe(name, docs),
                "items": _object(cls, _at(name, root), docs),
            }
        else:
            props[name] = _object(cls, name, docs)
    defs = {}
    for at, (cls, _holder) in paths.tables(root).items():
        defs[cls.__name__] = _object(cls, at, docs)
        defs[cls.__name__]["description"] = _describe(f"{at}.", docs)
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
    # types-jsonschema leaves validators.extend unannotated (it builds the class at run time).
    strict = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, type_checker=checker)
    validator = strict(schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.extend(_problems(error))
    return problems


def _key_path(parts: Iterable[str | int]) -> str:
    return paths.format(part if isinstance(part, int) else _key(str(part)) for part in parts) or "answers"


def _problems(error: ValidationError) -> list[Problem]:
    at = _key_path(error.absolute_path)
    # iter_errors sets all four on every error it yields (jsonschema's Unset is a hand-made
    # error's); each keyword below applies to the JSON type narrowed to, as our schema writes it.
    kind, instance, rule, value = str(error.validator), error.instance, error.schema, error.validator_value
    if kind == "additionalProperties" and isinstance(instance, dict) and isinstance(rule, Mapping):
        known = set(rule.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        where = f"{at}." if at != "answers" else ""
        return [Problem(f"{where}{_key(key)}", f"unknown key; expected one of {', '.join(sorted(known))}")
                for key in extra]
    if kind == "not" and isinstance(instance, dict) and {"password", "password_hash"} <= set(instance):
        return [Problem(f"{at}.password", "give either password or password_hash, not both")]
    if kind == "required" and isinstance(instance, dict) and isinstance(value, list):
        missing = [k for k in value if k not in instance]
        return [Problem(f"{at}.{k}", "is required") for k in missing]
    if _secret(error.absolute_path):
        return [Problem(at, _message(kind, error, at))]  # never the secret itself
    return [Problem(at, f"{_message(kind, error, at)} (got {shown(instance)})")]


def _secret(parts: Iterable[str | int]) -> bool:
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


def _message(kind: str, error: ValidationError, at: str) -> str:
    if kind == "type":
        return _TYPE_WORDS.get(str(error.validator_value), f"must be of type {error.validator_value}")
    if kind == "enum" and isinstance(error.validator_value, list):
        return "must be one of " + ", ".join(repr(v) for v in error.validator_value)
    if kind == "pattern":
        key = paths.generic(at)
        words = DESCRIPTIONS.get(key) or DESCRIPTIONS.get(key.rsplit("[", 1)[0], "")
        return f"does not have the right form: {words}" if words else f"must match {error.validator_value}"
    if kind == "minimum":
        return f"must be at least {error.validator_value}"
    if kind == "minLength":
        return "must not be empty"
    return error.message


def check_file(path: str | os.PathLike[str]) -> list[Problem]:
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


def _type_words(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "table"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = str(prop.get("type"))  # "None" when absent, as the fallback below words it
    if kind == "array":
        return "list of " + {"string": "strings"}.get(prop["items"].get("type"), "values")
    return {"string": "string", "boolean": "boolean", "integer": "integer"}.get(kind, kind)


def _default_words(key: str, prop: dict[str, Any], words: dict[str, str]) -> str:
    if key in words:
        return words[key]
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"


def _rows(obj: dict[str, Any], at: str, defs: dict[str, Any], docs: dict[str, str], words: dict[str, str]) -> list[str]:
    rows = []
    for name, prop in obj["properties"].items():
        key = f"{at}.{name}"
        # A table's own row ($ref: no description in the schema) takes its field's doc.
        meaning = prop.get("description") or docs[key]
        cells = [f"`{key}`", _type_words(prop, defs), _default_words(key, prop, words), meaning]
        rows.append("| " + " | ".join(c or " " for c in cells).replace("|   |", "| |") + " |")
        if "$ref" in prop:
            rows += _rows(defs[prop["$ref"].rsplit("/", 1)[-1]], key, defs, docs, words)
    return rows


def reference_markdown(root: type = InstallModel) -> str:
    """The README's answers-file reference table, from the same source as the schema."""
    doc, docs, words = schema(root), descriptions(root), default_words(root)
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in doc["properties"].items():
        obj = prop["items"] if prop.get("type") == "array" else prop
        lines += _rows(obj, f"{name}[]" if prop.get("type") == "array" else name, doc["$defs"], docs, words)
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
