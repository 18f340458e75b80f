#!/usr/bin/env python3
"""Figure 1, start-up: process start -> the first screen mounted and painted.

The child is the real entry path (installer.cli's imports, a Session, the
InstallerApp), headless at 80x25, and exits on the first frame of the
Welcome screen: `_display` is where Textual hands a frame to the driver;
the headless driver drops it, so the child renders the frame's terminal
bytes itself, as a real terminal run would. Each child prints the
wall-clock time of that moment; the parent took the time just before
forking it. The floor is `python -c "import textual.app"` timed the same
way. Median of >= 7 runs each, interleaved so drift hits both alike.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

GOAL = 1.5
FLOOR_CODE = "import time, sys; import textual.app; print('{\"at\": %r}' % time.time())"


def child() -> None:
    """Only what the installer itself imports: not the benchmark's helpers."""
    import json
    import os

    sys.path.insert(0, str(ROOT))

    from installer.cli import parser  # noqa: F401 - the real entry point's imports
    from installer.flow.session import Options, Session
    from screens.app import InstallerApp
    from screens.welcome import WelcomeScreen

    class FirstFrame(InstallerApp):
        CSS_PATH = str(ROOT / "screens" / "wizard.tcss")  # relative paths resolve next to the subclass

        def _display(self, screen, renderable) -> None:
            super()._display(screen, renderable)
            if renderable is not None and isinstance(screen, WelcomeScreen) and not getattr(self, "_seen", False):
                self._seen = True
                if hasattr(renderable, "render_segments"):
                    renderable.render_segments(self.console)  # the bytes a terminal would get
                print(json.dumps({"at": time.time()}), flush=True)
                self.exit(0)

    # Dry run on a recorded machine: the probe worker starts after the first frame either way.
    session = Session(Options(dry_run=True, log_path=os.devnull))
    FirstFrame(session).run(headless=True, size=(80, 25))


def hello() -> None:
    """The smallest Textual app (one Static) to its first frame: what Textual itself costs."""
    import json

    from textual.app import App
    from textual.widgets import Static

    class Hello(App):
        def compose(self):
            yield Static("hello")

        def _display(self, screen, renderable) -> None:
            super()._display(screen, renderable)
            if renderable is not None and not getattr(self, "_seen", False):
                self._seen = True
                renderable.render_segments(self.console)
                print(json.dumps({"at": time.time()}), flush=True)
                self.exit(0)

    Hello().run(headless=True, size=(80, 25))


def measure(runs: int) -> list:
    from common import PY, Row, child_json, median, run_child

    ours, floor, bare = [], [], []
    for _ in range(runs):
        for argv, into in (([PY, __file__, "--child", "app"], ours), ([PY, "-c", FLOOR_CODE], floor),
                           ([PY, __file__, "--child", "hello"], bare)):
            start = time.time()
            result = run_child(argv)
            if result.returncode != 0:
                raise SystemExit(f"{argv} failed: {result.stderr[-2000:]}")
            into.append(child_json(result)["at"] - start)
    o, f, b = median(ours) * 1000, median(floor) * 1000, median(bare) * 1000
    return [Row("1. start-up to first frame", o, f, "ms", f"ratio <= {GOAL}", o / f <= GOAL,
                note=f"median of {runs}; ours min {min(ours)*1000:.0f} ms, floor min {min(floor)*1000:.0f} ms; "
                     f"a one-Static Textual app takes {b:.0f} ms ({b / f:.2f}x the floor): ours is {o / b:.2f}x that")]


def main() -> None:
    if sys.argv[1:3] == ["--child", "app"]:
        child()
        return
    if sys.argv[1:3] == ["--child", "hello"]:
        hello()
        return
    sys.path.insert(0, str(HERE))
    from common import args, emit

    a = args(__doc__)
    emit(measure(1 if a.tiny else 7), a.json)


if __name__ == "__main__":
    main()
