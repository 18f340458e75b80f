"""Shared fixtures: a valid model, the fixture machines, the repository root."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import settings

from fullsuite import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 (hooks, registered here)
from installer.answers.model import DiskChoice, InstallModel, Software, System, User
from nixroot import on_path

ROOT = Path(__file__).resolve().parent.parent
# A real yescrypt hash (mkpasswd -m yescrypt) for answers and models that need a valid one.
YESCRYPT_HASH = "$y$j9T$adRGRQYJHEV9CAs89LbJU/$gDvIDSJ2V/7SfEYoI7JDPiZPxPX/jC7egPkieq3x0pC"
MACHINES = ROOT / "tests" / "fixtures" / "machines"


def recorded_machines() -> list[Path]:
    """The recorded machine files, for tests that run over all of them. None found fails the
    module that asks (at collection): an empty parameter list would skip its tests, and a test
    suite without its fixtures has checked nothing."""
    found = sorted(MACHINES.glob("*.json"))
    if not found:
        raise FileNotFoundError(f"no recorded machines in {MACHINES}: the fixtures are part of the checkout")
    return found

# Every Nix the tests start, directly or through the installer (nixcheck finds
# nix-instantiate on PATH), is the 2.26 of tests/newnix, never the host's 2.8.
os.environ["PATH"] = on_path(os.environ.get("PATH"))


def in_ci() -> bool:
    """CI=true (or 1, yes), as CI services set it; CI=false or unset is a developer's run."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


# CI runs the property tests at full strength; a developer's loop stays quick.
# xdist workers inherit CI from `make test` and load this file themselves.
CI_EXAMPLES = 2000
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile("ci" if in_ci() else "dev")


def ssh_key(kind: str = "ssh-ed25519", comment: str = "alice@laptop") -> str:
    """A well-formed public key line (random-looking bytes, the right framing)."""
    name = kind.encode()
    blob = len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + bytes(range(32))
    return f"{kind} {base64.b64encode(blob).decode()} {comment}".strip()


def valid_model() -> InstallModel:
    return InstallModel(
        system=System(hostname="laptop", timezone="Europe/Berlin", locale="de_DE.UTF-8", keymap="de-latin1",
                      xkb_layout="de", xkb_variant="nodeadkeys"),
        disk=DiskChoice(device="/dev/sda", filesystem="ext4", swap="zram"),
        users=[User(name="alice", description="Alice Liddell", admin=True, password="correct horse",
                    password_confirm="correct horse", ssh_keys=[ssh_key()])],
        software=Software(packages=["git", "python3Packages.requests"], ssh_server=True),
    )


@pytest.fixture
def model() -> InstallModel:
    return valid_model()


@pytest.fixture(autouse=True)
def local_binary_cache():
    """The connectivity check of a Session built with the default nix.conf asks a cache on
    127.0.0.1 (tests/localnet.py), never this host's nix.conf and the internet: a wizard in a
    test is online, and its Network step skipped, whatever this host's network. Its own
    MonkeyPatch, not the `monkeypatch` fixture: an autouse fixture taking that one would set
    it up first and so undo it last, after the tests' own fixtures were torn down with their
    monkeypatched PATH still in place (a loop device's teardown then finds no losetup)."""
    import localnet

    from installer.run import connectivity

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connectivity, "NIX_CONF", localnet.nix_conf(online=True))
        yield
