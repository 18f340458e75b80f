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
from typing import Any, Literal, get_args, get_origin

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
    problems: list[Problem] = []
    model = InstallModel()
    for key in data:
        if key not in SECTIONS and key != "users":
            problems.append(Problem(key, f"unknown section; expected one of {', '.join([*SECTIONS, 'users'])}"))
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(Problem(name, f"must be a table ([{name}])"))
            continue
        setattr(model, name, _fill(cls, table, name, problems))
    users = data.get("users", [])
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        problems.append(Problem("users", "must be a list of tables ([[users]])"))
        users = []
    model.users = [_fill(User, table, f"users[{i}]", problems) for i, table in enumerate(users)]
    _secrets(model, users, data, base, problems, hash_passwords)
    if problems:
        raise ProblemsError(problems)
    return model


def _fill(cls: type, table: dict, at: str, problems: list[Problem]):
    hints = typing.get_type_hints(cls)
    allowed = {f.name for f in fields(cls) if f.name not in SECRET_FIELDS}
    section = at.split("[")[0]
    values = {}
    for key, value in table.items():
        if key in SECRET_KEYS.get(section, set()):
            continue
        if key not in allowed:
            near = _closest(key, allowed)
            hint = f" (did you mean {near}?)" if near else ""
            problems.append(Problem(f"{at}.{key}", f"unknown key{hint}"))
            continue
        nested = _nested(hints[key])
        if nested is not None:
            if isinstance(value, dict):
                values[key] = _fill(nested, value, f"{at}.{key}", problems)
            else:
                problems.append(Problem(f"{at}.{key}", f"must be a table ([{at}.{key}])"))
            continue
        message = _type_problem(value, hints[key])
        if message:
            problems.append(Problem(f"{at}.{key}", f"{message} (got {value!r})"))
        else:
            values[key] = value
    return cls(**values)


def _nested(hint: Any) -> type | None:
    """The dataclass a field holds, when it holds one (e.g. disk.match)."""
    for candidate in (hint, *get_args(hint)):
        if isinstance(candidate, type) and candidate in NESTED:
            return candidate
    return None


NESTED = (DiskMatch,)


def _type_problem(value: Any, hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "" if value in args else "must be one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return ""
        inner = [a for a in args if a is not type(None)]
        return _type_problem(value, inner[0])
    if origin is list:
        if not isinstance(value, list):
            return "must be a list"
        for item in value:
            problem = _type_problem(item, args[0])
            if problem:
                return "every item " + problem
        return ""
    if hint is bool:
        return "" if isinstance(value, bool) else "must be true or false"
    if hint is int:
        return "" if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"
    if hint is str:
        return "" if isinstance(value, str) else "must be a string in quotes"
    return ""


def _closest(key: str, allowed: set[str]) -> str:
    import difflib

    found = difflib.get_close_matches(key, sorted(allowed), n=1)
    return found[0] if found else ""


def _secrets(
    model: InstallModel, users: list[dict], data: dict, base: Path, problems: list[Problem], hash_passwords: bool
) -> None:
    for i, (table, account) in enumerate(zip(users, model.users, strict=True)):
        _password(table, account, f"users[{i}]", problems, hash_passwords)
    _password(data.get("root", {}) or {}, model.root, "root", problems, hash_passwords)
    enc = data.get("encryption", {}) or {}
    if "passphrase_file" in enc:
        name = enc["passphrase_file"]
        if not isinstance(name, str):
            problems.append(Problem("encryption.passphrase_file", "must be a path in quotes"))
            return
        path = base / name if not os.path.isabs(name) else Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            problems.append(Problem("encryption.passphrase_file", f"cannot read {path}: {err.strerror}"))
            return
        # The file holds the passphrase as typed at boot; a final newline is the editor's.
        passphrase = text[:-1] if text.endswith("\n") else text
        model.encryption.passphrase = model.encryption.passphrase_confirm = passphrase


def _password(table: dict, account: User | Root, at: str, problems: list[Problem], hash_passwords: bool) -> None:
    if not isinstance(table, dict):
        return
    hashed, plain = table.get("password_hash"), table.get("password")
    if hashed is not None and plain is not None:
        problems.append(Problem(f"{at}.password", "give either password or password_hash, not both"))
        return
    if hashed is not None:
        if not isinstance(hashed, str) or not hashed.startswith("$"):
            problems.append(
                Problem(f"{at}.password_hash", "must be a crypt hash like '$y$...' (make one with mkpasswd)")
            )
            return
        account.password_hash = hashed
    elif plain is not None:
        if not isinstance(plain, str):
            problems.append(Problem(f"{at}.password", "must be a string in quotes"))
            return
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
