"""Facts about the running system: nixos-version is asked once per process."""

from __future__ import annotations

import subprocess

import pytest

from installer.nixos import facts


@pytest.fixture
def counted_nixos_version(monkeypatch):
    """subprocess.run as facts sees it, answering nixos-version and counting the starts."""
    starts = []

    def run(argv, **kw):
        starts.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, "26.05.20260601.1234567 (Yarara)\n", "")

    facts._running_nixos_version.cache_clear()
    monkeypatch.setattr(subprocess, "run", run)
    yield starts
    facts._running_nixos_version.cache_clear()  # later tests ask the real system


def test_the_running_version_is_asked_once_for_both_facts(counted_nixos_version):
    assert facts.state_version() == "26.05"
    assert facts.nixpkgs_branch() == "nixos-26.05"
    assert facts.state_version() == "26.05"
    assert counted_nixos_version == [["nixos-version"]]


def test_a_given_runner_is_always_asked(counted_nixos_version):
    def other(argv, **kw):
        return subprocess.CompletedProcess(argv, 0, "24.11.1.abc (Vicuna)\n", "")

    assert facts.state_version(other) == "24.11"
    assert facts.nixpkgs_branch(other) == "nixos-24.11"
    assert counted_nixos_version == []
