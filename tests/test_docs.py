"""The README and the example answers say what the program does: every option, the fleet commands."""

from __future__ import annotations

import dataclasses
import re
import tomllib

from conftest import ROOT
from installer.cli import parser
from installer.answers.model import DiskMatch
from installer.answers.schema import validate_with_schema

README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "examples" / "answers.toml").read_text(encoding="utf-8")
# Options for the test suite only, not for people.
UNDOCUMENTED = {"-h", "--help", "--seed"}


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start: end if end > 0 else None]


def test_the_command_line_table_names_every_option():
    table = section("Command line")
    # The options each row documents are in its first cell.
    documented = {opt for row in table.splitlines() if row.startswith("|")
                  for opt in re.findall(r"`(--[a-z-]+)", row.split("|")[1])}
    options = {opt for action in parser()._actions for opt in action.option_strings} - UNDOCUMENTED
    assert options - documented == set()
    assert {"--export-flake", "--nixos-install", "--nixos-enter", "--max-jobs", "--offline"} <= documented


def test_the_readme_starts_with_what_it_is_then_the_two_commands():
    assert README.startswith("# nixos-tui-installer\n\nA keyboard-driven NixOS installer")
    first_section = README.index("\n## ")
    assert README[first_section:].startswith("\n## The two commands\n")
    commands = section("The two commands")
    assert "make run" in commands and "make test" in commands


def test_fleet_installs_gives_the_commands():
    fleet = section("Fleet installs")
    assert "--answers answers.toml --yes" in fleet
    assert "--export-flake" in fleet and "[disk.match]" in fleet
    command = re.search(r"nixos-anywhere --flake \.#HOST.*?--target-host root@IP", fleet, re.S)
    assert command, fleet
    words = command.group(0).replace("\\\n", " ").split()
    assert words[words.index("--disk-encryption-keys") + 1:][:2] == ["/tmp/secret.key", "./secret.key"]
    assert "--generate-hardware-config" in words


def test_the_example_shows_a_disk_match_rule_that_validates():
    lines = EXAMPLE.splitlines()
    start = lines.index("# [disk.match]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    rule = tomllib.loads("\n".join(block))["disk"]["match"]
    # Every key a rule can have is shown (the example is the complete one).
    assert set(rule) == {f.name for f in dataclasses.fields(DiskMatch)}
    answers = tomllib.loads(EXAMPLE)
    assert validate_with_schema(answers) == []
    # As the comment says: the rule instead of the device.
    del answers["disk"]["device"]
    answers["disk"]["match"] = rule
    assert validate_with_schema(answers) == []


def test_the_nix_run_line_is_next_to_the_two_commands():
    commands = section("The two commands")
    assert "sudo nix --extra-experimental-features 'nix-command flakes' run github:OWNER/nixos-tui-installer" in commands
    assert "OWNER" in commands.replace("github:OWNER", "")  # and what OWNER stands for
    flake = section("The flake and the ISO")
    assert "nix build .#iso" in flake
    assert "exercised on the ISO" in flake
