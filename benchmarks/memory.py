#!/usr/bin/env python3
"""Figure 6, memory: peak RSS of a whole dry-run wizard session driven by
keystrokes to the review screen (Pilot, headless, 80x25), in a child
process; its own ru_maxrss as wait4 reports it. The keystrokes are the
wizard test's own (tests/test_screens_e2e.py: drive_to_review), on the
recorded machine the wizard tests use. The floor is the peak RSS of
`python -c "import textual.app"`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, ROOT, Row, args, emit, median, run_child  # noqa: E402

GOAL_MIB = 100.0


def child() -> None:
    import asyncio

    sys.path.insert(0, str(ROOT / "tests"))
    import localnet
    from test_screens_e2e import SIZE, drive_to_review
    from test_screens_support import app_for

    from installer.run import connectivity

    # Online as in the wizard's tests (a cache on 127.0.0.1): the walk skips the Network step.
    connectivity.NIX_CONF = localnet.nix_conf(online=True)

    from screens.review import ReviewScreen

    async def drive() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            app = app_for()
            async with app.run_test(size=SIZE) as pilot:
                shown = await drive_to_review(pilot, Path(tmp) / "answers.toml")
                if not isinstance(app.screen, ReviewScreen) or "configuration.nix" not in shown:
                    raise SystemExit("the wizard did not reach the review screen")

    asyncio.run(drive())
    print(json.dumps({"review": True}), flush=True)


def measure(runs: int) -> list[Row]:
    ours, floor = [], []
    for _ in range(runs):
        done = run_child([PY, __file__, "--child", "wizard"])
        if done.returncode != 0 or '"review": true' not in done.stdout:
            raise SystemExit(f"the wizard run failed: {done.stderr[-3000:]}")
        ours.append(done.maxrss_kib / 1024)
        base = run_child([PY, "-c", "import textual.app"])
        floor.append(base.maxrss_kib / 1024)
    o, f = max(ours), median(floor)
    return [Row("6. peak RSS, wizard to review", o, f, "MiB", f"<= {GOAL_MIB:.0f} MB", o * 2**20 <= GOAL_MIB * 1e6,
                note=f"dry run on tests/fixtures/machines/win11-along-ubuntu.json; "
                     f"floor: python -c 'import textual.app'; worst of {runs}")]


def main() -> None:
    a = args(__doc__)
    if a.child:
        child()
        return
    emit(measure(1), a.json)


if __name__ == "__main__":
    main()
