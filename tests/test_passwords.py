"""Password hashing through libxcrypt, and setting passwords through nixos-enter's stdin."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from installer.base import hashing as passwords
from installer.run import passwords as run_passwords
from installer.answers.model import InstallModel, Root, User
from installer.base.hashing import hash_password, sha512_crypt, verify_password
from installer.run.passwords import PasswordError, set_passwords

ROOT = Path(__file__).resolve().parent.parent
NIXOS_ENTER = str(ROOT / "tests" / "standins" / "nixos-enter")


def test_yescrypt_hash_verifies():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$y$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct hors", hashed)
    assert not verify_password("", hashed)


def test_each_hash_has_its_own_salt():
    assert hash_password("same") != hash_password("same")


def test_unicode_and_long_passwords():
    for pw in ("päss wörd ✓", "x" * 300, " leading and trailing "):
        assert verify_password(pw, hash_password(pw))


@pytest.mark.skipif(not passwords.yescrypt_available(), reason="needs libxcrypt")
def test_a_password_libcrypt_refuses_is_never_hashed_another_way():
    """libxcrypt refuses 512 bytes or more; a SHA-512 hash of our own would lock the
    account, as PAM on the installed system uses the same libxcrypt."""
    assert hash_password("x" * 511).startswith("$y$")
    for refused in ("x" * 512, "x" * 600):
        with pytest.raises(ValueError, match="at most 511 bytes"):
            hash_password(refused)


@pytest.mark.skipif(not passwords.yescrypt_available(), reason="needs libxcrypt")
def test_when_libcrypt_refuses_a_password_there_is_no_fallback(monkeypatch):
    """Whatever libcrypt's reason (here a limit lowered below ours), no hash of our own."""
    real = passwords._lib_crypt
    monkeypatch.setattr(passwords, "_lib_crypt", lambda pw, setting: None if len(pw) > 8 else real(pw, setting))
    assert hash_password("short").startswith("$y$")
    with pytest.raises(ValueError, match="libcrypt refused"):
        hash_password("longer than eight")


def test_nul_in_password_is_refused():
    with pytest.raises(ValueError):
        hash_password("a\0b")


@pytest.mark.parametrize("pw", ["", "hunter2", "päss", "x" * 100, "y" * 64])
@pytest.mark.parametrize("salt,rounds", [("saltsaltsalt1234", 5000), ("ab", 1000), ("/./", 12000)])
def test_pure_python_sha512_crypt_matches_libcrypt(pw, salt, rounds):
    ours = sha512_crypt(pw, salt, rounds)
    assert ours.startswith("$6$")
    # libxcrypt, computing from our hash's setting, must produce the same hash.
    assert passwords._lib_crypt(pw, ours) == ours


def test_without_libcrypt_falls_back_to_sha512(monkeypatch):
    monkeypatch.setattr(passwords, "_LIB", None)
    hashed = hash_password("fallback")
    assert hashed.startswith("$6$")
    assert verify_password("fallback", hashed)
    assert not verify_password("fallbacK", hashed)
    monkeypatch.undo()
    assert verify_password("fallback", hashed)  # and libxcrypt agrees


def test_no_crypt_module_is_used():
    code = "import sys, installer.run.passwords as p; p.hash_password('x'); print('crypt' in sys.modules)"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert "import crypt" not in (ROOT / "installer" / "base" / "hashing.py").read_text()


# -- set_passwords with the nixos-enter stand-in ------------------------------
@pytest.fixture
def target():
    path = tempfile.mkdtemp(prefix="pw-target-")
    os.chmod(path, 0o755)
    (Path(path) / "etc").mkdir()
    (Path(path) / "etc" / "NIXOS").touch()
    yield Path(path)
    shutil.rmtree(path)


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv("STANDIN_RECORD", str(path))
    return path


def shadow(target: Path) -> dict[str, str]:
    lines = (target / "etc" / "shadow").read_text().splitlines()
    return {line.split(":")[0]: line.split(":")[1] for line in lines}


def model(root_disabled: bool) -> InstallModel:
    m = InstallModel()
    alice = User(name="alice")
    alice.password = "alice-Pa55"
    bob = User(name="bob", password_hash=hash_password("bob-Pa55"))
    carol = User(name="carol")  # no password: left alone (SSH key only, say)
    m.users = [alice, bob, carol]
    m.root = Root(disabled=root_disabled)
    if not root_disabled:
        m.root.password = "root-Pa55"
    return m


def test_set_passwords_writes_hashes_that_verify(target, record):
    m = model(root_disabled=False)
    logged: list[str] = []
    names = set_passwords(m, str(target), nixos_enter=NIXOS_ENTER, log=logged.append)
    assert names == ["alice", "bob", "root"]
    found = shadow(target)
    assert verify_password("alice-Pa55", found["alice"])
    assert verify_password("bob-Pa55", found["bob"])
    assert verify_password("root-Pa55", found["root"])
    assert found["alice"].startswith("$y$")
    assert "carol" not in found
    assert stat.S_IMODE((target / "etc" / "shadow").stat().st_mode) == 0o640

    # The hashes went on stdin: the stand-in saw the names there...
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert entries[0]["stdin_accounts"] == ["alice", "bob", "root"]
    assert entries[0]["argv"][1:] == ["--root", str(target), "-c", "chpasswd -e"]
    # ...and no password or hash reached argv, environment, record or log.
    text = record.read_text() + "\n".join(logged)
    for secret in ["alice-Pa55", "bob-Pa55", "root-Pa55", *found.values()]:
        assert secret not in text
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_disabled_root_is_locked(target, record):
    (target / "etc" / "shadow").write_text("root:$6$old$hash:1::::::\n")
    set_passwords(model(root_disabled=True), str(target), nixos_enter=NIXOS_ENTER)
    found = shadow(target)
    assert found["root"] == "!$6$old$hash"
    assert verify_password("alice-Pa55", found["alice"])
    commands = [json.loads(line)["argv"][-1] for line in record.read_text().splitlines()]
    assert commands == ["chpasswd -e && passwd -l root"]  # one nixos-enter: one activation


def test_only_root_locked_when_nobody_has_a_password(target, record):
    set_passwords(InstallModel(), str(target), nixos_enter=NIXOS_ENTER)
    assert shadow(target)["root"].startswith("!")
    commands = [json.loads(line)["argv"][-1] for line in record.read_text().splitlines()]
    assert commands == ["passwd -l root"]


def test_not_an_installed_system_is_a_clear_error(tmp_path):
    with pytest.raises(PasswordError) as err:
        set_passwords(model(root_disabled=False), str(tmp_path), nixos_enter=NIXOS_ENTER)
    assert "exit code 126" in str(err.value)
    assert "is not a NixOS installation" in str(err.value)
    assert "alice-Pa55" not in str(err.value)


def test_unknown_user_is_reported_by_chpasswd(target):
    (target / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n")
    with pytest.raises(PasswordError) as err:
        set_passwords(model(root_disabled=False), str(target), nixos_enter=NIXOS_ENTER)
    assert "changes ignored" in str(err.value)


def test_a_failed_chpasswd_leaves_root_as_it_was(target):
    # `chpasswd -e && passwd -l root` in one nixos-enter: the lock runs only after the hashes went in.
    (target / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n")
    (target / "etc" / "shadow").write_text("root:$6$old$hash:1::::::\n")
    with pytest.raises(PasswordError, match="changes ignored"):
        set_passwords(model(root_disabled=True), str(target), nixos_enter=NIXOS_ENTER)
    assert shadow(target)["root"] == "$6$old$hash"


def test_a_colon_in_a_name_cannot_forge_a_line(target):
    m = InstallModel(users=[User(name="eve:0", password_hash=hash_password("x"))])
    with pytest.raises(PasswordError):
        set_passwords(m, str(target), nixos_enter=NIXOS_ENTER)
    assert not (target / "etc" / "shadow").exists()


def test_missing_nixos_enter_is_a_clear_error(target):
    with pytest.raises(PasswordError, match="could not run"):
        set_passwords(model(root_disabled=False), str(target), nixos_enter="/nonexistent/nixos-enter")


def test_secrets_in_our_environment_do_not_reach_the_child(target, record, monkeypatch):
    m = model(root_disabled=False)
    monkeypatch.setenv("INSTALLER_ROOT_PASSWORD", "root-Pa55")
    monkeypatch.setenv("INNOCENT_LOOKING", "prefix-alice-Pa55")
    set_passwords(m, str(target), nixos_enter=NIXOS_ENTER)
    env = json.loads(record.read_text().splitlines()[0])["env"]
    assert "INSTALLER_ROOT_PASSWORD" not in env and "INNOCENT_LOOKING" not in env
    assert env["STANDIN_RECORD"] == str(record)


# -- the whole path: install, passwords, log copy; then look for leaks ---------------
async def test_install_then_passwords_leave_hashes_only_in_shadow(target, record, tmp_path):
    from installer.run.runner import InstallRunner

    (target / "etc" / "NIXOS").unlink()  # a fresh target: nixos-install makes it NixOS
    (target / "etc" / "nixos").mkdir()
    (target / "etc" / "nixos" / "configuration.nix").write_text("{ ... }: { }\n")
    m = model(root_disabled=False)
    m.encryption.enabled = True
    m.encryption.passphrase = "luks-Pass phrase"
    for account in [*m.users, m.root]:  # as the Session does before the run
        if account.password and not account.password_hash:
            account.password_hash = hash_password(account.password)
    echo = tmp_path / "echo.txt"  # a tool that echoes the passphrase back
    echo.write_text(f"unlocking with {m.encryption.passphrase}\n")
    log = tmp_path / "install.log"
    env = {**os.environ, "STANDIN_PATHS": "40", "STANDIN_ECHO_FILE": str(echo)}
    runner = InstallRunner.for_target(str(target), command=str(ROOT / "tests" / "standins" / "nixos-install"),
                                      log=log, secrets=m.secrets(), env=env)
    assert await runner.wait() == 0
    set_passwords(m, str(target), nixos_enter=NIXOS_ENTER, log=runner.log.line)
    runner.log.copy_to(target)

    plain = ["alice-Pa55", "bob-Pa55", "root-Pa55", "luks-Pass phrase"]
    hashes = [h for h in m.secrets() if h.startswith("$")]
    assert len(hashes) == 3
    found = shadow(target)
    assert verify_password("root-Pa55", found["root"]) and verify_password("alice-Pa55", found["alice"])
    places = {"log": log.read_text(), "record": record.read_text()}
    for path in target.rglob("*"):
        if path.is_file() and not path.is_symlink():
            places[str(path.relative_to(target))] = path.read_text(errors="replace")
    assert "var/log/nixos-tui-installer.log" in places
    assert "<redacted>" in places["log"]
    for where, text in places.items():
        for secret in plain:
            assert secret not in text, f"{secret!r} leaked into {where}"
        for secret in hashes:
            assert where == "etc/shadow" or secret not in text, f"a hash leaked into {where}"


def test_a_hanging_nixos_enter_is_a_clear_error(target, monkeypatch, tmp_path):
    hang = tmp_path / "nixos-enter"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    monkeypatch.setattr(run_passwords, "TIMEOUT", 0.5)
    with pytest.raises(PasswordError, match="did not finish"):
        set_passwords(model(root_disabled=True), str(target), nixos_enter=str(hang))


# -- the nixos-enter stand-in is faithful to nixos-enter.sh -------------------------
def test_standin_enter_takes_a_command_after_double_dash(target):
    done = subprocess.run([NIXOS_ENTER, "--root", str(target), "--", "chpasswd", "-e"],
                          input="dave:$6$x$y\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert shadow(target)["dave"] == "$6$x$y"
    assert done.stderr == "setting up /etc...\n"  # the activation script's output goes to stderr


def test_standin_enter_silent_and_unknown_options(target):
    done = subprocess.run([NIXOS_ENTER, "--root", str(target), "--silent", "-c", "true"], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    done = subprocess.run([NIXOS_ENTER, "--bogus"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (1, f"{NIXOS_ENTER}: unknown option `--bogus'\n")


def test_standin_enter_refuses_plain_chpasswd(target):
    done = subprocess.run([NIXOS_ENTER, "--root", str(target), "-c", "chpasswd"], input="u:plain\n",
                          capture_output=True, text=True)
    assert done.returncode == 2 and not (target / "etc" / "shadow").exists()
