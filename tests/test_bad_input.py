"""Bad input through the real CLI: exit 2, the key named, no traceback, no secret, short output.

Each case is one answers file (or one argument) a person or an attacker
could hand the installer. Every run goes through `python -m installer`, as
a person runs it, with --plan or --yes on a recorded machine (nothing is
written to a disk either way).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import MACHINES
from test_cli import cli

WIN11 = MACHINES / "win11-along-ubuntu.json"
PASSWORD = "a good long secret"
PASSPHRASE = "the luks words"
MAX_OUTPUT = 2000  # characters of stderr+stdout any of these cases may print

MINIMAL = f"""\
[system]
hostname = "box"
[disk]
device = "/dev/sda"
[encryption]
enabled = true
passphrase_file = "pass.txt"
[root]
disabled = true
[[users]]
name = "alice"
admin = true
password = "{PASSWORD}"
"""


def answers(tmp_path, text: str = MINIMAL) -> str:
    (tmp_path / "pass.txt").write_text(PASSPHRASE + "\n")
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return str(path)


def refused(done, key: str, *secrets: str) -> str:
    """The checks every case shares; returns what was printed."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[:MAX_OUTPUT]
    assert "Traceback" not in output, output[-MAX_OUTPUT:]
    assert key in done.stderr, done.stderr[:MAX_OUTPUT]
    for secret in (PASSWORD, PASSPHRASE, *secrets):
        assert secret not in output
    assert len(output) < MAX_OUTPUT, f"{len(output)} characters printed"
    return output


def plan(path: str, *args: str):
    return cli("--answers", path, "--machine", str(WIN11), "--plan", *args)


def test_the_minimal_answers_are_good(tmp_path):
    """The cases below differ from this file in one place: it passes."""
    done = plan(answers(tmp_path))
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr and PASSPHRASE not in done.stdout + done.stderr


def test_a_user_that_is_not_a_table(tmp_path):
    text = "users = [1]\n" + MINIMAL.split("[[users]]")[0]  # top level, before any table
    out = refused(plan(answers(tmp_path, text)), "users[0]")
    assert "must be a table" in out


@pytest.mark.parametrize("nesting", [
    "x = " + "[" * 5000 + "]" * 5000,                       # tomllib recursion
    "[software]\npackages = " + "[" * 5000 + "]" * 5000,   # in a known key
    "x = " + "{a = " * 5000 + "1" + "}" * 5000,            # inline tables
], ids=["arrays", "arrays-in-a-known-key", "inline-tables"])
def test_5000_deep_nesting(tmp_path, nesting):
    out = refused(plan(answers(tmp_path, MINIMAL.replace("[system]", nesting + "\n[system]"))), "answers")
    assert "too deeply" in out


def test_nesting_the_toml_parser_takes_is_quoted_cut(tmp_path):
    # 400 levels parse; the message quoting the value shows two of them, not all.
    nested = "[" * 400 + "]" * 400
    out = refused(plan(answers(tmp_path, MINIMAL.replace('device = "/dev/sda"', f"device = {nested}"))),
                  "disk.device")
    assert "must be a string" in out
    assert "[[...]]" in out and "[" * 4 not in out


def test_a_machine_file_nested_too_deeply(tmp_path):
    machine = tmp_path / "machine.json"
    machine.write_text("[" * 100_000 + "]" * 100_000)  # json's own recursion
    done = cli("--answers", answers(tmp_path), "--machine", str(machine), "--plan")
    out = refused(done, "machine")
    assert "too deeply" in out


def test_a_nul_in_a_password(tmp_path):
    text = MINIMAL.replace(f'password = "{PASSWORD}"', 'password = "a good\\u0000 secret"')
    out = refused(plan(answers(tmp_path, text)), "users[0].password", "a good\x00 secret", "a good")
    assert "NUL" in out


def test_a_nul_in_the_passphrase_file_name(tmp_path):
    text = MINIMAL.replace('"pass.txt"', '"pass\\u0000.txt"')
    out = refused(plan(answers(tmp_path, text)), "encryption.passphrase_file")
    assert "NUL" in out


def test_a_nul_in_the_passphrase(tmp_path):
    path = answers(tmp_path)
    (tmp_path / "pass.txt").write_bytes(b"the luks\x00words\n")
    out = refused(plan(path), "encryption.passphrase_file", "the luks\x00words", "luks")
    assert "NUL" in out


def test_a_passphrase_file_that_is_a_fifo(tmp_path):
    path = answers(tmp_path, MINIMAL.replace('"pass.txt"', '"fifo"'))
    os.mkfifo(tmp_path / "fifo")  # nobody writes: reading it would wait for ever
    out = refused(plan(path), "encryption.passphrase_file")
    assert "FIFO" in out


def test_a_passphrase_file_that_never_ends(tmp_path):
    out = refused(plan(answers(tmp_path, MINIMAL.replace('"pass.txt"', '"/dev/zero"'))), "encryption.passphrase_file")
    assert "not a regular file" in out


def test_a_passphrase_file_that_is_not_utf8(tmp_path):
    path = answers(tmp_path)
    (tmp_path / "pass.txt").write_bytes(b"caf\xe9 secret\n")
    out = refused(plan(path), "encryption.passphrase_file", "caf")
    assert "UTF-8" in out


def test_a_passphrase_file_larger_than_4_kib(tmp_path):
    path = answers(tmp_path)
    secret = "s3cr3t-" * 600  # 4200 bytes
    (tmp_path / "pass.txt").write_text(secret)
    out = refused(plan(path), "encryption.passphrase_file", "s3cr3t-")
    assert "larger than 4096 bytes" in out


def test_a_passphrase_file_of_exactly_4_kib_is_taken(tmp_path):
    """Taken whole: the passphrase the install will feed cryptsetup is every byte of the file but
    the editor's newline. tests/test_unattended.py (root) unlocks the LUKS container it made with
    such a file, which proves the rest of the way to cryptsetup."""
    import tomllib

    from installer.answers.file import from_dict

    path = answers(tmp_path)
    long = "".join(f"{i:04d}-" for i in range(819))[:4094] + "!"  # no repeats: a cut anywhere shows
    (tmp_path / "pass.txt").write_text(long + "\n")
    assert (tmp_path / "pass.txt").stat().st_size == 4096
    done = plan(path)
    assert done.returncode == 0, done.stderr
    assert long not in done.stdout + done.stderr and long[:40] not in done.stdout + done.stderr
    model = from_dict(tomllib.loads(Path(path).read_text()), base=tmp_path, hash_passwords=False)
    assert model.encryption.passphrase == model.encryption.passphrase_confirm == long


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom", "directory"])
def test_answers_that_are_not_a_regular_file(tmp_path, special):
    if special == "fifo":
        os.mkfifo(path := str(tmp_path / "answers.toml"))
    elif special == "directory":
        path = str(tmp_path)
    else:
        path = special
    out = refused(plan(path), "answers")
    assert "not a regular file" in out


def test_answers_larger_than_the_cap(tmp_path):
    path = answers(tmp_path, MINIMAL + "# " + "x" * (3 * 1024 * 1024) + "\n")
    out = refused(plan(path), "answers")
    assert "larger than" in out


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_log_that_is_a_fifo_or_a_directory(tmp_path, kind):
    log = tmp_path / "log"
    if kind == "fifo":
        os.mkfifo(log)
    else:
        log.mkdir()
    done = cli("--answers", answers(tmp_path), "--machine", str(WIN11), "--yes", "--log", str(log))
    out = refused(done, "--log")
    assert "not a regular file" in out or "is a directory" in out
    assert "== [1/5]" not in out  # refused before the first phase


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_the_wizard_with_a_log_that_is_a_fifo_or_a_directory(tmp_path, kind):
    log = tmp_path / "log"
    os.mkfifo(log) if kind == "fifo" else log.mkdir()
    out = refused(cli("--dry-run", "--machine", str(WIN11), "--log", str(log)), "--log")
    assert ("a FIFO" if kind == "fifo" else "a directory") in out


@pytest.mark.parametrize("key, line", [
    ("system.hostname", 'hostname = "{}"'),
    ("system.timezone", 'timezone = "{}"'),
    ("system.keymap", 'keymap = "{}"'),
    ("disk.device", 'device = "{}"'),
])
def test_a_one_megabyte_value_is_cut_in_the_message(tmp_path, key, line):
    huge = "a" * 1024 * 1024
    section, name = key.split(".")
    text = MINIMAL.replace(f"[{section}]", f"[{section}]\n{line.format(huge)}", 1)
    if name in ("hostname", "device"):  # replace the existing key instead of repeating it
        text = MINIMAL.replace('hostname = "box"' if name == "hostname" else 'device = "/dev/sda"',
                               line.format(huge))
    out = refused(plan(answers(tmp_path, text)), key)
    assert "a" * 41 not in out
    assert "(1048576 characters)" in out


def test_a_one_megabyte_key_is_cut_in_the_message(tmp_path):
    text = MINIMAL.replace("[system]", "[system]\n" + "k" * 1024 * 1024 + " = 1", 1)
    out = refused(plan(answers(tmp_path, text)), "system.")
    assert "k" * 65 not in out and "unknown key" in out


@pytest.mark.parametrize("value", ['["a good long secret"]', "12345", "{ secret = \"a good long secret\" }"])
def test_a_password_of_the_wrong_type_is_not_repeated(tmp_path, value):
    text = MINIMAL.replace(f'password = "{PASSWORD}"', f"password = {value}")
    out = refused(plan(answers(tmp_path, text)), "users[0].password", "12345")
    assert "must be a string" in out


def test_a_malformed_hash_is_not_repeated(tmp_path):
    text = MINIMAL.replace(f'password = "{PASSWORD}"', 'password_hash = "not-a-hash-but-secret"')
    refused(plan(answers(tmp_path, text)), "users[0].password_hash", "not-a-hash-but-secret")


# -- random answers-like data never gives a traceback ------------------------------

KEYS = ["system", "disk", "users", "root", "encryption", "software", "boot", "hostname", "device", "name",
        "password", "password_hash", "passphrase_file", "match", "packages", "ssh_keys", "layout", "x"]
SCALARS = st.one_of(
    st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=20),
    st.text(string.printable, max_size=3000),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=20,
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)


# As many examples as the loaded profile says (conftest: 2,000 in CI); no count of its own.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DOCUMENTS)
@example(data={"users": [1]})
@example(data={"users": [[]], "root": {"password": "x\x00"}})
@example(data={"system": {"hostname": "a" * 100_000}, "disk": {"device": "b" * 100_000}})
@example(data={"encryption": {"passphrase_file": "pass\x00.txt"}})
def test_random_answers_data_never_raises_anything_but_problems(tmp_path, data):
    """from_dict is what the CLI calls on a parsed file: only ProblemsError may leave it."""
    from installer.answers.file import from_dict
    from installer.base.problems import ProblemsError
    from installer.answers.validate import validate

    (tmp_path / "pass.txt").write_text(PASSPHRASE)
    try:
        problems = validate(from_dict(data, base=tmp_path, hash_passwords=False))
    except ProblemsError as err:
        problems = err.problems
    for problem in problems:
        assert len(str(problem)) < 1000, str(problem)[:200]


def test_every_property_test_runs_the_profiles_examples():
    """No @settings of a test lowers (or raises) the count CI asks for: every @given test in the
    suite runs settings.default.max_examples, the profile conftest loaded."""
    import ast
    import importlib

    tests = Path(__file__).resolve().parent
    given_tests = []
    for path in sorted(tests.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "id", "") == "given" for d in node.decorator_list):
                given_tests.append((path.stem, node.name))
    assert ("test_bad_input", "test_random_answers_data_never_raises_anything_but_problems") in given_tests
    for module, name in given_tests:
        test = getattr(importlib.import_module(module), name)
        assert test._hypothesis_internal_use_settings.max_examples == settings.default.max_examples, (module, name)
