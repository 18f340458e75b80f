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
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import tomli_w

from installer.answers import fields as paths
from installer.answers.model import InstallModel, Root, User
from installer.base.problems import Problem, ProblemsError, named

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A model dataclass (a section or a table in one): what `fields` takes and `_build` makes.
_D = TypeVar("_D", bound="DataclassInstance")

MAX_ANSWERS = 2 * 1024 * 1024  # bytes; a real answers file is a few KiB
MAX_PASSPHRASE = 4096  # bytes of a passphrase file

# All three from the model's field metadata (installer.answers.model).
# The sections written as one table each ([system], ...); [[users]] is a list of them.
SECTIONS: dict[str, type] = {name: cls for name, cls in paths.sections().items() if name != "users"}
# Fields that are never read from or written to a file under their own name.
SECRET_FIELDS = paths.secret_names()
# The keys that bring a secret in, by section (they are read by _secrets below).
SECRET_KEYS = {
    name: {f.metadata[k] for f in fields(cls) for k in ("file_key", "also_key") if k in f.metadata}
    for name, cls in paths.sections().items()
    if any("file_key" in f.metadata for f in fields(cls))
}


def load(path: str | os.PathLike[str], *, hash_passwords: bool = True) -> InstallModel:
    """Read an answers file. Raises ProblemsError listing every bad key.

    Only a regular file is read, and at most MAX_ANSWERS of it: a FIFO, a
    device (/dev/zero) or a huge file is refused instead of hanging."""
    from installer.base.safefs import read_regular

    where = named(os.fspath(path))
    try:
        data = tomllib.loads(read_regular(path, MAX_ANSWERS).decode("utf-8"))
    except OSError as err:
        raise ProblemsError([Problem("answers", f"cannot read {where}: {err.strerror or err}")]) from None
    except tomllib.TOMLDecodeError as err:
        raise ProblemsError([Problem("answers", f"{where} is not valid TOML: {err}")]) from None
    except UnicodeDecodeError:
        raise ProblemsError([Problem("answers", f"{where} is not UTF-8 text")]) from None
    except RecursionError:
        raise ProblemsError([Problem("answers", f"{where} nests arrays or tables too deeply")]) from None
    return from_dict(data, base=Path(path).parent, hash_passwords=hash_passwords)


def from_dict(data: dict[str, Any], *, base: Path = Path("."), hash_passwords: bool = True) -> InstallModel:
    """The model from answers data, or ProblemsError naming every bad key.

    The JSON schema (generated from the model) checks the shape. When it
    finds problems, the rest of the file is still built and checked by the
    model's own rules, so one run lists every problem, not the first kind.
    """
    from installer.answers.schema import validate_with_schema

    try:
        problems = validate_with_schema(data)
    except RecursionError:  # jsonschema descends as deep as the data goes
        raise ProblemsError([Problem("answers", "the file nests arrays or tables too deeply")]) from None
    bad = {p.field for p in problems}
    model = InstallModel()
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        setattr(model, name, _build(cls, table if name not in bad else {}, name, bad))
    _follow_keymap(model, data.get("system", {}))
    users = data.get("users", []) if "users" not in bad else []
    # An entry the schema refused (users = [1]) is built empty; its problem is already listed.
    model.users = [_build(User, table if isinstance(table, dict) else {}, f"users[{i}]", bad)
                   for i, table in enumerate(users)]
    if problems:
        from installer.answers.validate import validate

        more = [p for p in validate(model) if p.severity == "error" and not paths.is_secret(p.field)]
        problems += [p for p in more if not any(paths.within(p.field, field) for field in bad)]
        raise ProblemsError(problems)
    _secrets(model, users, data, base, problems, hash_passwords)
    if problems:
        raise ProblemsError(problems)
    return model


def _follow_keymap(model: InstallModel, system: object) -> None:
    """A file that names a console keymap but no desktop layout gets the layout
    that types the same (de-latin1 -> de), as the wizard's Keyboard step does."""
    if not isinstance(system, dict) or "keymap" not in system:
        return
    if "xkb_layout" in system or "xkb_variant" in system:
        return
    from installer.answers.catalog import xkb_for_keymap

    follow = xkb_for_keymap(model.system.keymap)
    if follow is not None:
        model.system.xkb_layout, model.system.xkb_variant = follow


def _build(cls: type[_D], table: dict[str, Any], at: str, bad: set[str]) -> _D:
    """A dataclass from a table, leaving out keys the schema refused."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        where = f"{at}.{f.name}"
        if f.name not in table or f.metadata.get("secret") or any(paths.within(b, where) for b in bad):
            continue
        nested = _nested(hints[f.name])
        values[f.name] = _build(nested, table[f.name], where, bad) if nested else table[f.name]
    return cls(**values)


def _nested(hint: Any) -> type | None:
    """The dataclass a field holds, when it holds one (e.g. disk.match)."""
    cls = paths.held(hint)
    return cls if cls in NESTED else None


# The tables inside a section (disk.match's DiskMatch).
NESTED: tuple[type[DataclassInstance], ...] = tuple(cls for cls, _field in paths.tables().values())


def _secrets(
    model: InstallModel, users: list[dict[str, Any]], data: dict[str, Any], base: Path, problems: list[Problem],
    hash_passwords: bool,
) -> None:
    from installer.base.safefs import read_regular

    for i, (table, account) in enumerate(zip(users, model.users, strict=True)):
        _password(table, account, hash_passwords, f"users[{i}]", problems)
    _password(data.get("root", {}), model.root, hash_passwords, "root", problems)
    _wifi_password(data.get("network", {}) or {}, model, base, problems)
    enc = data.get("encryption", {}) or {}
    if "passphrase_file" in enc:
        field = "encryption.passphrase_file"
        name = enc["passphrase_file"]
        path = base / name if not os.path.isabs(name) else Path(name)
        where = named(os.fspath(path))
        try:
            raw = read_regular(path, MAX_PASSPHRASE)
        except OSError as err:
            problems.append(Problem(field, f"cannot read {where}: {err.strerror or err}"))
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(field, f"{where} is not UTF-8 text; write the passphrase as typed at boot"))
            return
        # The file holds the passphrase as typed at boot; a final newline is the editor's.
        passphrase = text[:-1] if text.endswith("\n") else text
        if _control(passphrase):
            problems.append(Problem(field, f"the passphrase in {where} contains a {_control(passphrase)}; "
                                           "it must be typable at the boot prompt"))
            return
        model.encryption.passphrase = model.encryption.passphrase_confirm = passphrase


def _wifi_password(net: dict[str, Any], model: InstallModel, base: Path, problems: list[Problem]) -> None:
    """[network] wifi_password, or wifi_password_file (the schema refuses both at once)."""
    from installer.answers.validate import wifi_password_problem
    from installer.base.safefs import read_regular

    if "wifi_password" in net:
        field, password = "network.wifi_password", net["wifi_password"]
    elif "wifi_password_file" in net:
        field = "network.wifi_password_file"
        path = base / net[field.split(".")[1]]
        try:
            raw = read_regular(path, MAX_PASSPHRASE)
        except OSError as err:
            problems.append(Problem(field, f"cannot read {named(os.fspath(path))}: {err.strerror or err}"))
            return
        text = raw.decode("utf-8", "replace")
        password = text[:-1] if text.endswith("\n") else text
    else:
        return
    problem = wifi_password_problem(password)
    if problem:
        problems.append(Problem(field, problem))
        return
    model.network.wifi_password = password


def _control(secret: str) -> str:
    """The kind of control character a secret holds ("" when none), never the secret itself."""
    if "\0" in secret:
        return "NUL character"
    if "\n" in secret or "\r" in secret:
        return "line break"
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in secret):
        return "control character"
    return ""


def _password(table: dict[str, Any], account: User | Root, hash_passwords: bool, at: str, problems: list[Problem]) -> None:
    # The schema has already refused both keys at once and malformed hashes.
    if "password_hash" in table:
        account.password_hash = table["password_hash"]
    elif "password" in table:
        plain = table["password"]
        if _control(plain):
            problems.append(Problem(f"{at}.password", f"contains a {_control(plain)}; a password cannot hold one"))
            return
        from installer.base.hashing import password_problem

        if password_problem(plain):  # hashing it would fail: libxcrypt refuses it
            problems.append(Problem(f"{at}.password", password_problem(plain)))
            return
        account.password = account.password_confirm = plain
        if hash_passwords and plain:
            from installer.base.hashing import hash_password

            account.password_hash = hash_password(plain)


def to_dict(model: InstallModel) -> dict[str, Any]:
    """The model as answers-file data, without any secret."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        out[name] = _plain(getattr(model, name))
    out["users"] = [_plain(user) for user in model.users]
    return out


def _plain(obj: DataclassInstance) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("secret") or value is None:
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


def save(model: InstallModel, path: str | os.PathLike[str]) -> None:
    """Write the answers to path: never through a link, atomically."""
    from installer.base import safefs

    # 0600: the file names users and disks; no reason for others to read it.
    safefs.write_file(path, dump(model), mode=0o600)


def defaults() -> dict[str, dict[str, Any]]:
    """Each section's default values, for the schema and the README reference."""
    out = {}
    for name, cls in {**SECTIONS, "users": User}.items():
        out[name] = {
            f.name: field_default(f)
            for f in fields(cls)
            if not f.metadata.get("secret")
        }
    return out


def field_default(f: Field[Any]) -> Any:
    """A field's default value, a fresh one when it has a factory (every model field has one or the other)."""
    if f.default is not MISSING:
        return f.default
    factory = f.default_factory
    if factory is MISSING:
        raise TypeError(f"{f.name} has no default")
    return factory()
