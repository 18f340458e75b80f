"""The unattended CLI's view of a run: plain progress lines on a terminal or a pipe.

One more consumer of `InstallRunner.batches()`, as the Install screen is: a
summary line when the phase changes or every few seconds (every line with
echo), each new error once, and the exit code with the log's path at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from installer.run.runner import InstallRunner


async def run_printing(runner: InstallRunner, out: TextIO, *, echo: bool = False, every: float = 2.0,
                       timeout: float | None = None) -> int:
    """Run `runner` to the end, writing its progress to `out`; its exit code. See run_sync."""
    phase, error, printed = None, None, 0.0
    batches = runner.batches()
    try:
        async with asyncio.timeout(timeout):
            async for batch in batches:
                if echo:
                    out.write("\n".join(batch) + "\n")
                progress = runner.progress
                now = time.monotonic()
                if not echo and (progress.phase != phase or now - printed >= every):
                    out.write(progress.summary() + "\n")
                    phase, printed = progress.phase, now
                if progress.last_error != error:
                    error = progress.last_error
                    if not echo:
                        out.write(f"  {error}\n")
                out.flush()
    except TimeoutError:
        runner.timed_out = True
        runner.log.line(f"=== still running after the timeout of {timeout:g} s: stopping it")
    finally:
        await batches.aclose()  # no consumer left: the reader never pauses for one
        if runner.running:
            stopping = runner.stop()
            # Called on the runner's own loop: stop() hands back its asyncio Task.
            assert not isinstance(stopping, concurrent.futures.Future)
            await stopping
    code = await runner.wait()
    out.write(f"{runner.progress.summary()}; nixos-install exited with code {code}; log: {runner.log.path}\n")
    out.flush()
    return code
