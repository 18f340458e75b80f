"""The answers file's keep layouts: [disk] layout = "free-space" | "alongside" | "replace" with
shrink, shrink_to_gib, replace and size_gib, checked at each key; `--plan` saying what is
kept, shrunk and deleted; `--export-flake` refusing them with the reason."""

from __future__ import annotations

import jsonschema
import pytest
from test_cli import WIN11, cli

from conftest import MACHINES, valid_model
from installer.answers import file as answers
from installer.answers.schema import schema
from installer.answers.validate import validate
from installer.base.problems import ProblemsError
from installer.machine.probe import probe
from installer.nixos.export import export_problems
from installer.plan.erase import build_plan
from installer.plan.identity import Identity

HASH = "$6$saltsalt$" + "x" * 86


def text(disk: str) -> str:
    return f'[system]\nhostname = "dual"\n[disk]\ndevice = "/dev/sda"\n{disk}\n' \
           f'[[users]]\nname = "alice"\npassword_hash = "{HASH}"\n'


def problems_of(disk: dict[str, object], machine_name: str = "win11-along-ubuntu") -> dict[str, str]:
    model = valid_model()
    for key, value in disk.items():
        setattr(model.disk, key, value)
    return {p.field: p.message for p in validate(model, probe(MACHINES / f"{machine_name}.json"))
            if p.field.startswith("disk.")}


def test_the_keys_load_and_the_schema_takes_them(tmp_path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text('layout = "alongside"\nshrink = "/dev/sda5"\nshrink_to_gib = 40\nsize_gib = 20'))
    model = answers.load(path)
    assert (model.disk.layout, model.disk.shrink, model.disk.shrink_to_gib, model.disk.size_gib) == \
        ("alongside", "/dev/sda5", 40, 20)
    doc = {"disk": {"layout": "replace", "replace": "PARTUUID=abc", "size_gib": 0}}
    jsonschema.validate(doc, schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"disk": {"layout": "beside"}}, schema())
    with pytest.raises(ProblemsError):  # a size is a whole number
        path.write_text(text('layout = "alongside"\nshrink = "/dev/sda5"\nshrink_to_gib = "forty"'))
        answers.load(path)


def test_each_key_is_checked_at_itself() -> None:
    assert problems_of({"layout": "alongside"})["disk.shrink"].startswith("name the partition to shrink")
    assert problems_of({"layout": "replace"})["disk.replace"].startswith("name the partition to replace")
    assert problems_of({"layout": "erase", "shrink": "sda5"})["disk.shrink"] == \
        'is used only with layout = "alongside"; remove it or change the layout'
    assert problems_of({"layout": "erase", "size_gib": 20})["disk.size_gib"].startswith(
        'is used only with layout = "free-space" or "alongside" or "replace"')
    assert problems_of({"layout": "replace", "replace": "sda9"})["disk.replace"] == \
        "'sda9' names no one partition of /dev/sda (by path, PARTUUID or label)"
    assert problems_of({"layout": "free-space", "size_gib": -1})["disk.size_gib"] == \
        "must be a whole number of GiB, 0 or more"
    # what only the plan knows comes at the key too (Session.validate adds the plan's refusals)
    assert "disk.replace" not in problems_of({"layout": "replace", "replace": "/dev/sda5"})


def test_unattended_plan_prints_what_is_kept_and_deleted(tmp_path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text('layout = "replace"\nreplace = "sda5"'))
    done = cli("--answers", str(path), "--machine", str(WIN11), "--plan")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Delete /dev/sda5 (Ubuntu Plucky Puffin (ext4, 65 GiB)), 65 GiB: what it holds will be lost"
    assert "  Keep /dev/sda3: Windows (BitLocker-encrypted, 62 GiB), 62 GiB" in lines
    assert any(line.startswith("  1. Delete /dev/sda5") for line in lines)
    assert "wipefs -a /dev/sda\n" not in done.stdout  # the disk itself is never wiped
    refused = cli("--answers", str(path), "--machine", str(WIN11), "--export-flake", str(tmp_path / "flake"))
    assert refused.returncode != 0
    assert 'layout "replace" keeps what is on the disk, and disko formats whole disks' in refused.stderr + refused.stdout
    assert not (tmp_path / "flake").exists()


def test_export_refuses_every_keep_layout() -> None:
    machine = probe(WIN11)
    model = valid_model()
    model.disk.layout, model.disk.replace = "replace", "/dev/sda5"
    plan = build_plan(model, machine, Identity.generate(1))
    assert [p.field for p in export_problems(model, plan, include_password_hashes=True)] == ["disk.layout"]


def test_an_unattended_dry_run_runs_the_same_keep_plan(tmp_path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text('layout = "replace"\nreplace = "sda5"'))
    done = cli("--answers", str(path), "--machine", str(WIN11), "--yes", "--dry-run", "--log", str(tmp_path / "log"))
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stdout.splitlines() if line.startswith("[dry-run] ") and ". " in line[:14]]
    session_plan = build_plan(_model_of(path), probe(WIN11), Identity.generate(1))
    assert [line.split(". ", 1)[1].split(": ")[0] for line in steps[:3]] == \
        [s.describe.split(": ")[0] for s in session_plan.steps[:3]]
    assert "[dry-run] 1. Delete /dev/sda5" in done.stdout


def _model_of(path) -> object:  # type: ignore[no-untyped-def]
    return answers.load(path)
