#!/usr/bin/env python3
"""Figure 4, render and plan: validate the model, build the plan and render
both files for the largest recorded machine, in-process. Median of many
warm runs (the goal); the first, cold run (Jinja loads and compiles the
templates) is in the note. No floor: the goal is absolute.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, args, emit, largest_machine, median  # noqa: E402

GOAL_MS = 20.0


def model_for(machine):
    from installer.answers.model import DiskChoice, InstallModel, Software, System, User

    disk = max((d for d in machine.disks if not d.refused), key=lambda d: d.size)
    return InstallModel(
        system=System(hostname="bench", timezone="Europe/Berlin", locale="de_DE.UTF-8", keymap="de-latin1",
                      xkb_layout="de"),
        disk=DiskChoice(device=disk.path, filesystem="btrfs", swap="partition"),
        users=[User(name="alice", description="Alice", admin=True, password="correct horse battery",
                    password_confirm="correct horse battery")],
        software=Software(desktop="plasma", ssh_server=True, packages=["git", "htop", "python3Packages.requests"]),
    )


def once(model, machine, identity) -> tuple[float, dict[str, str]]:
    from installer.plan.erase import build_plan
    from installer.base.problems import errors
    from installer.nixos.render import render
    from installer.answers.validate import validate

    start = time.perf_counter()
    found = errors(validate(model, machine))
    plan = build_plan(model, machine, identity)
    files = render(model, machine, plan)
    took = time.perf_counter() - start
    if found:
        raise SystemExit(f"the benchmark's model has errors: {found}")
    return took, files


def measure(runs: int) -> list[Row]:
    from installer.plan.identity import Identity
    from installer.machine.probe import probe

    path = largest_machine()
    machine = probe(path)
    model = model_for(machine)
    identity = Identity.generate(7)
    cold, files = once(model, machine, identity)
    assert set(files) == {"configuration.nix", "hardware-configuration.nix"}, files.keys()
    warm = [once(model, machine, identity)[0] for _ in range(runs)]
    ms = median(warm) * 1000
    return [Row("4. validate+plan+render", ms, None, "ms", f"<= {GOAL_MS:.0f} ms", ms <= GOAL_MS,
                note=f"{path.name}, median of {runs} warm runs; first (cold) run {cold*1000:.1f} ms")]


def main() -> None:
    a = args(__doc__)
    emit(measure(1 if a.tiny else 200), a.json)


if __name__ == "__main__":
    main()
