"""The answers file: the whole model as TOML, read for unattended installs.

Keys mirror the model's dataclasses one to one (`[system]`, `[disk]`,
`[[users]]`, ...), so the file, the wizard and the JSON schema cannot drift
apart. Secrets come in as `password_hash` (preferred), `password` (hashed
when loaded) or the LUKS `passphrase_file`; `dump` writes none of them.
"""

from __future__ import annotations

import os
import tomllib
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, get_args

import tomli_w

from installer.model import Boot, DiskChoice, DiskMatch, Encryption, InstallModel, Root, Software, System, User
from installer.problems import Problem, ProblemsError

SECTIONS: dict[str, type] = {
    "system": System,
    "boot": Boot,
    "disk": DiskChoice,
    "encryption": Encryption,
    "root": Root,
    "software": Software,
}

# Fields that are never read from or written to a file under their own name.
SECRET_FIELDS = {"password", "password_confirm", "passphrase", "passphrase_confirm", "password_hash"}
# Keys a file may have that are not model fields: they bring a secret in.
SECRET_KEYS = {
    "users": {"password", "password_hash"},
    "root": {"password", "password_hash"},
    "encryption": {"passphrase_file"},
}


def load(path: str | os.PathLike, *, hash_passwords: bool = True) -> InstallModel:
    """Read an answers file. Raises ProblemsError listing every bad key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ProblemsError([Problem("answers", f"cannot read {path}: {err.strerror}")]) from None
    except tomllib.TOMLDecodeError as err:
        raise ProblemsError([Problem("answers", f"{path} is not valid TOML: {err}")]) from None
    except UnicodeDecodeError:
        raise ProblemsError([Problem("answers", f"{path} is not UTF-8 text")]) from None
    return from_dict(data, base=Path(path).parent, hash_passwords=hash_passwords)


def from_dict(data: dict, *, base: Path = Path("."), hash_passwords: bool = True) -> InstallModel:
    """The model from answers data, or ProblemsError naming every bad key.

    The JSON schema (generated from the model) checks the shape. When it
    finds problems, the rest of the file is still built and checked by the
    model's own rules, so one run lists every problem, not the first kind.
    """
    from installer.schema import validate_with_schema

    problems = validate_with_schema(data)
    bad = {p.field for p in problems}
    model = InstallModel()
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        setattr(model, name, _build(cls, table if name not in bad else {}, name, bad))
    users = data.get("users", []) if "users" not in bad else []
    model.users = [_build(User, table, f"users[{i}]", bad) for i, table in enumerate(users)]
    if problems:
        from installer.validate import validate

        more = [p for p in validate(model) if p.severity == "error" and not _secret_field(p.field)]
        problems += [p for p in more if not any(_within(p.field, field) for field in bad)]
        raise ProblemsError(problems)
    _secrets(model, users, data, base, problems, hash_passwords)
    if problems:
        raise ProblemsError(problems)
    return model


def _within(field: str, prefix: str) -> bool:
    return field == prefix or field.startswith((prefix + ".", prefix + "["))


def _secret_field(field: str) -> bool:
    return field.rsplit(".", 1)[-1] in SECRET_FIELDS


def _build(cls: type, table: dict, at: str, bad: set[str]):
    """A dataclass from a table, leaving out keys the schema refused."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        where = f"{at}.{f.name}"
        if f.name not in table or f.name in SECRET_FIELDS or any(_within(b, where) for b in bad):
            continue
        nested = _nested(hints[f.name])
        values[f.name] = _build(nested, table[f.name], where, bad) if nested else table[f.name]
    return cls(**values)


def _nested(hint: Any) -> type | None:
    """The dataclass a field holds, when it holds one (e.g. disk.match)."""
    for candidate in (hint, *get_args(hint)):
        if isinstance(candidate, type) and candidate in NESTED:
            return candidate
    return None


NESTED = (DiskMatch,)


def _secrets(
    model: InstallModel, users: list[dict], data: dict, base: Path, problems: list[Problem], hash_passwords: bool
) -> None:
    for i, (table, account) in enumerate(zip(users, model.users, strict=True)):
        _password(table, account, hash_passwords)
    _password(data.get("root", {}), model.root, hash_passwords)
    enc = data.get("encryption", {}) or {}
    if "passphrase_file" in enc:
        name = enc["passphrase_file"]
        path = base / name if not os.path.isabs(name) else Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            problems.append(Problem("encryption.passphrase_file", f"cannot read {path}: {err.strerror}"))
            return
        # The file holds the passphrase as typed at boot; a final newline is the editor's.
        passphrase = text[:-1] if text.endswith("\n") else text
        model.encryption.passphrase = model.encryption.passphrase_confirm = passphrase


def _password(table: dict, account: User | Root, hash_passwords: bool) -> None:
    # The schema has already refused both keys at once and malformed hashes.
    if "password_hash" in table:
        account.password_hash = table["password_hash"]
    elif "password" in table:
        plain = table["password"]
        account.password = account.password_confirm = plain
        if hash_passwords and plain:
            from installer.passwords import hash_password

            account.password_hash = hash_password(plain)


def to_dict(model: InstallModel) -> dict:
    """The model as answers-file data, without any secret."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        out[name] = _plain(getattr(model, name))
    out["users"] = [_plain(user) for user in model.users]
    return out


def _plain(obj) -> dict:
    table = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in SECRET_FIELDS or value is None:
            continue
        if isinstance(value, NESTED):
            table[f.name] = _plain(value)
        else:
            table[f.name] = list(value) if isinstance(value, list) else value
    return table


HEADER = """\
# nixos-tui-installer answers file. Replay it with:
#   sudo nixos-tui-installer --answers THIS_FILE          (prints the plan, touches nothing)
#   sudo nixos-tui-installer --answers THIS_FILE --yes    (installs)
# Secrets are never saved here. Before an unattended install add, per account,
#   password_hash = "..."   (make one with: mkpasswd -m yescrypt)
# and, with encryption, in [encryption]: passphrase_file = "/path/to/file".
"""


def dump(model: InstallModel) -> str:
    return HEADER + "\n" + tomli_w.dumps(to_dict(model))


def save(model: InstallModel, path: str | os.PathLike) -> None:
    # 0600: the file names users and disks; no reason for others to read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(dump(model))


def defaults() -> dict:
    """Each section's default values, for the schema and the README reference."""
    out = {}
    for name, cls in {**SECTIONS, "users": User}.items():
        out[name] = {
            f.name: (f.default if f.default is not MISSING else f.default_factory())  # type: ignore[misc]
            for f in fields(cls)
            if f.name not in SECRET_FIELDS
        }
    return out
