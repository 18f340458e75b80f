"""Drive nixos-install under a pty and stream its output in batches.

Under a pty nixos-install behaves as on the console, and the runner can
answer a prompt. The child is started on the pty by
installer.run.ptyspawn (subprocess, not pexpect's fork: see there); the
output is read straight from the pty's fd on the event loop
(`loop.add_reader` + big `os.read`s), split into lines once per chunk and
handed to the UI as batches at most ~30 times a second: measured, a
readline per line is 2-3x slower and a widget update per line is 100x
slower.

Every line goes, redacted, to the 0600 log file and through `Progress`
before any UI sees it, so the log and the counts are complete even if
nobody consumes the batches.

The child runs in its own session and process group, the pty its
controlling terminal. `stop()` signals the whole group, and every descendant
seen, escalating SIGINT -> SIGTERM -> SIGKILL: nothing is orphaned.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import errno
import os
import shlex
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from installer.base.logfile import DEFAULT_LOG, LogFile, Redactor
from installer.base.processes import alive, child_env, exited, family, signal_all
from installer.run.command import PLAIN_NIX_ENV, RunOptions, build_argv
from installer.run.ptyspawn import PtyChild, spawn_on_pty
from installer.run.progress import Progress
from installer.run.termtext import clean_lines, rewrite

READ_SIZE = 65536
# Bytes read per wake-up. A key travels through several loop turns (app,
# screen, widget), each waiting for this callback: measured under a flood,
# 256 KiB per wake-up gave key p99 ~60-90 ms, 16 KiB ~10-25 ms, at the same
# lines/s (the pty hands out at most ~4 KiB per read anyway).
DRAIN_LIMIT = 1 << 14
BATCH_INTERVAL = 1 / 30
# Lines held for a consumer that wants every line (the CLI's echo) before
# reading pauses: the child then waits on the full pty, nothing is lost.
MAX_PENDING = 20_000
TAIL_LINES = 200
PARTIAL_LIMIT = 1 << 16
# Output after the last newline that stays unchanged this long, with nothing
# else arriving, is a question waiting for an answer (Nix's simple logger
# and nixos-install's echos only ever write whole lines).
PROMPT_QUIET = 0.5

class RunnerError(Exception):
    """The install command could not be started; the message is for the screen."""


class InstallRunner:
    """One run of nixos-install. `retry()` gives the next run of the same argv."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        target: str | None = None,
        log: LogFile | str | os.PathLike[str] | None = None,
        secrets: Iterable[str | None] = (),
        env: Mapping[str, str] | None = None,
        batch_interval: float = BATCH_INTERVAL,
        run_number: int = 1,
        earlier: Sequence[Progress] = (),
        expected: tuple[int, int, float, float] | None = None,  # the dry run's counts: Progress.expect
    ) -> None:
        self.argv = list(argv)
        self.expected = expected
        self.target = target
        self.secrets = [s for s in secrets if s]
        if isinstance(log, LogFile):
            self.log = log
            self.log.redactor.add(*self.secrets)
        else:
            self.log = LogFile(log or DEFAULT_LOG, redactor=Redactor(self.secrets))
        self.batch_interval = batch_interval
        self.run_number = run_number
        self._base_env = env
        self.env = child_env(self.secrets, extra=PLAIN_NIX_ENV, base=env)
        self.progress = Progress()
        self.earlier = list(earlier)  # the Progress of each earlier run (retries)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.returncode: int | None = None
        self.log_copy: Path | None = None
        self.child: PtyChild | None = None
        self._fd = -1
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._partial_at = 0.0  # loop time the partial line last changed
        self._chunks = 0  # output chunks read so far
        self._answered = -1  # _chunks when send() last answered: that prompt is not asked again
        # Lines the consumer has not taken yet; bounded (maxlen) for a consumer
        # that only shows its last N lines, unbounded (reading pauses) otherwise.
        self._pending: deque[str] = deque()
        self._consumers = 0
        self._reading = False
        self._paused = False
        self._data = asyncio.Event()
        self._eof = asyncio.Event()
        self._done = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._victims: dict[int, int] = {}
        self._stopping: asyncio.Task[int | None] | None = None
        self.timed_out = False  # run_printing's timeout stopped it

    @classmethod
    def for_target(
        cls, target: str, options: RunOptions = RunOptions(), *, command: str | Sequence[str] = "nixos-install",
        **kw: Any,
    ) -> InstallRunner:
        return cls(build_argv(target, options, command), target=target, **kw)

    # -- state ----------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    @property
    def running(self) -> bool:
        return self.child is not None and not self._done.is_set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def runs(self) -> list[Progress]:
        """Every run's progress, this one last: what a summary after retries adds up."""
        return [*self.earlier, self.progress]

    @property
    def log_path(self) -> Path:
        return self.log.path

    @property
    def prompt(self) -> str:
        """Output after the last newline (a prompt waits there), cleaned and redacted."""
        return clean_lines(self._partial, self.log.redactor)[-1] if self._partial else ""

    def waiting_prompt(self, quiet: float = PROMPT_QUIET) -> str:
        """The prompt when the child has printed nothing else for `quiet` seconds: it waits
        for an answer (send() it). "" while output flows or none is pending."""
        if not self._partial or not self.running or self._loop is None or self._answered == self._chunks:
            return ""
        if self._loop.time() - self._partial_at < quiet:
            return ""
        prompt = self.prompt
        return prompt if prompt.strip() else ""

    # -- starting ---------------------------------------------------------------
    async def start(self) -> None:
        if self.child is not None:
            raise RuntimeError("a runner runs once; use retry() for another run")
        self._loop = asyncio.get_running_loop()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.log.line(f"=== {stamp} run {self.run_number}: {shlex.join(self.argv)}")
        try:
            self.child = spawn_on_pty(self.argv, self.env)
        except OSError as exc:
            self.log.line(f"=== could not start {self.argv[0]}: {exc}")
            raise RunnerError(f"cannot run {self.argv[0]}: {exc}") from None
        self.progress = Progress(run_number=self.run_number)  # elapsed counts from the spawn
        if self.expected is not None:
            self.progress.expect(*self.expected)
        self._fd = self.child.child_fd
        os.set_blocking(self._fd, False)
        self._resume()
        self._watcher = self._loop.create_task(self._watch())

    def _started(self) -> tuple[PtyChild, int, asyncio.AbstractEventLoop]:
        """The child, its pid and the loop it runs on: set by start(), which every caller follows."""
        if self.child is None or self.child.pid is None or self._loop is None:
            raise RuntimeError("the run has not started")
        return self.child, self.child.pid, self._loop

    def _resume(self) -> None:
        if not self._reading and not self._eof.is_set():
            self._started()[2].add_reader(self._fd, self._on_readable)
            self._reading = True
        self._paused = False

    def _pause(self) -> None:
        if self._reading:
            self._started()[2].remove_reader(self._fd)
            self._reading = False
        self._paused = True

    # -- reading ----------------------------------------------------------------
    def _on_readable(self) -> None:
        chunks, size, eof = [], 0, False
        while size < DRAIN_LIMIT:
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                # EIO: every writer closed the pty's other side.
                if exc.errno != errno.EIO:
                    self.log.line(f"=== reading the output failed: {exc}")
                eof = True
                break
            if not data:
                eof = True
                break
            chunks.append(data)
            size += len(data)
        if chunks:
            self._consume(self._decoder.decode(b"".join(chunks)))
        if eof:
            self._end_of_output()

    def _consume(self, text: str) -> None:
        text = self._partial + text
        self._partial_at = self._started()[2].time()
        self._chunks += 1
        cut = text.rfind("\n")
        if cut < 0:
            self._partial = text if len(text) < PARTIAL_LIMIT else rewrite(text)[-PARTIAL_LIMIT:]
            return
        self._partial = text[cut + 1 :]
        self._emit(clean_lines(text[:cut], self.log.redactor))

    def _emit(self, lines: list[str]) -> None:
        self.log.write_text("\n".join(lines) + "\n", redacted=True)
        self.progress.feed_lines(lines)
        self.tail.extend(lines)
        if self._consumers:
            # The log file and Progress have every line by now; a bounded
            # deque drops what its consumer would never show.
            self._pending.extend(lines)
            if self._pending.maxlen is None and len(self._pending) > MAX_PENDING:
                self._pause()
        self._data.set()

    def _end_of_output(self) -> None:
        if self._eof.is_set():
            return
        if self._reading:
            self._started()[2].remove_reader(self._fd)
            self._reading = False
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self._emit(clean_lines(rest, self.log.redactor))
        self._eof.set()
        self._data.set()

    def _drain_now(self) -> None:
        # Whatever is still buffered, up to a bound: a leftover writer could go on forever.
        for _ in range(16):
            if self._eof.is_set():
                return
            self._on_readable()

    async def _watch(self) -> None:
        child, pid, loop = self._started()
        await exited(pid, child.isalive, loop)
        code = child.exitstatus if child.signalstatus is None else -child.signalstatus
        assert code is not None, "PtyChild sets exitstatus or signalstatus once the child is reaped"
        # What the child wrote before exiting is still in the pty: read on
        # until end of output. A paused reader resumes when the consumer
        # takes its lines; only a quiet, still-open pty times out.
        while not self._eof.is_set():
            if self._paused:
                self._data.clear()
                await self._data.wait()
                continue
            seen = self.progress.lines
            try:
                await asyncio.wait_for(self._eof.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                if self._paused or self.progress.lines != seen:
                    continue
                # A descendant that ignored the hangup still holds the pty:
                # the install is over, so it is an orphan of ours. End it.
                self._drain_now()
                self._end_of_output()
                leftovers = family(pid)
                leftovers.pop(pid, None)
                if leftovers:
                    self.log.line(f"=== killing leftover processes {sorted(leftovers)}")
                    signal_all(pid, leftovers, signal.SIGKILL)
        self.returncode = self.progress.returncode = code
        self.log.line(f"=== run {self.run_number} exited with code {code} after {self.progress.elapsed:.1f} s")
        try:
            child.close(force=False)
        except Exception:  # noqa: BLE001 - the fd may already be gone
            pass
        if self.target and os.path.isdir(self.target):
            try:
                self.log_copy = self.log.copy_to(self.target)
            except OSError as exc:
                self.log.line(f"=== could not copy the log to the target: {exc}")
        self._done.set()
        self._data.set()

    # -- what the UI calls ----------------------------------------------------
    async def batches(self, keep: int | None = None) -> AsyncGenerator[list[str], None]:
        """Yield lists of new lines, at most once per batch_interval, until the run ends.

        Starts the run if needed. A slow consumer gets bigger batches; one
        that passes `keep` (a widget that shows only its last `keep` lines)
        gets at most the last `keep` lines of each batch and never holds up
        the child; without it, reading pauses while MAX_PENDING lines wait.
        """
        if keep is not None and keep < 1:
            raise ValueError("keep is a number of lines (>= 1)")
        self._consumers += 1
        self._pending = deque(self._pending, maxlen=keep)
        try:
            if self.child is None:
                await self.start()
            loop, last = self._started()[2], 0.0
            while True:
                if not self._pending:
                    if self._eof.is_set():
                        break
                    self._data.clear()
                    await self._data.wait()
                    continue
                wait = last + self.batch_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                batch = list(self._pending)
                self._pending.clear()
                if self._paused:
                    self._resume()
                last = loop.time()
                yield batch
            await self.wait()
        finally:
            self._consumers -= 1
            if not self._consumers:
                # A consumer that stopped early must not leave the child
                # blocked on a full pty: read on, for the log and Progress.
                self._pending = deque()
                if self._paused and self._loop is not None:
                    self._resume()

    lines = batches  # the name the install pane uses

    async def wait(self) -> int:
        """Wait for the run to end; its exit code (negative: killed by that signal)."""
        if self.child is None:
            await self.start()
        if not self._consumers:
            self._pending.clear()
            if self._paused:
                self._resume()
        await self._done.wait()
        assert self.returncode is not None, "_watch sets it before _done"
        return self.returncode

    def send(self, text: str) -> None:
        """Type into the pty (an answer to a prompt)."""
        if self.running:
            self._answered = self._chunks
            os.write(self._fd, text.encode("utf-8"))

    def stop(self, grace: float = 3.0) -> Awaitable[int | None] | concurrent.futures.Future[int | None]:
        """Ctrl+C: SIGINT, then SIGTERM, then SIGKILL to the group and every descendant.

        Starts the stop at once and returns something to await for the exit
        code: an asyncio Task on the runner's loop, or, called from another
        thread, a concurrent Future. A UI callback may call it and not wait.
        """
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if self._loop is None or self.child is None:  # never started: nothing to stop
            done: concurrent.futures.Future[int | None] = concurrent.futures.Future()
            done.set_result(self.returncode)
            return asyncio.wrap_future(done) if current is not None else done
        if current is self._loop:
            return self._stop_task(grace)
        return asyncio.run_coroutine_threadsafe(self._stop_from_thread(grace), self._loop)

    def _stop_task(self, grace: float) -> asyncio.Task[int | None]:
        if self._stopping is None:  # one stop at a time: a second Ctrl+C waits for the first
            self._stopping = self._started()[2].create_task(self._stop(grace))
        return self._stopping

    async def _stop_from_thread(self, grace: float) -> int | None:
        return await self._stop_task(grace)

    async def _stop(self, grace: float) -> int | None:
        if self._done.is_set():
            return self.returncode
        leader = self._started()[1]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self._victims.update(family(leader))
            self.log.line(f"=== sending {sig.name} to process group {leader}")
            signal_all(leader, self._victims, sig)
            if await self._gone(grace if sig != signal.SIGKILL else 5.0):
                break
        return await self.wait()

    async def _gone(self, timeout: float) -> bool:
        child, _, loop = self._started()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            leader_done = not child.isalive()
            if leader_done and not any(alive(p, s) for p, s in self._victims.items()):
                return True
            await asyncio.sleep(0.02)
        return False

    def kill_now(self) -> None:
        """SIGKILL everything at once, without waiting (for an exiting program)."""
        if self.child is not None and self.child.pid is not None and not self._done.is_set():
            self._victims.update(family(self.child.pid))
            signal_all(self.child.pid, self._victims, signal.SIGKILL)

    def retry(self) -> InstallRunner:
        """A new run of the same command; nixos-install is idempotent."""
        if self.running:
            raise RuntimeError("the run is still going; stop() it first")
        return InstallRunner(
            self.argv, target=self.target, log=self.log, secrets=self.secrets, env=self._base_env,
            batch_interval=self.batch_interval, run_number=self.run_number + 1,
            earlier=[*self.earlier, self.progress], expected=self.expected,
        )

    # -- the unattended CLI -------------------------------------------------
    def run_sync(self, out: TextIO | None = None, *, echo: bool = False, every: float = 2.0,
                 timeout: float | None = None) -> int:
        """Run to the end, printing plain progress lines (all output with echo).
        After `timeout` seconds the run is stopped like Ctrl+C (`timed_out` says so)."""
        from installer.run.printing import run_printing

        return asyncio.run(run_printing(self, out or sys.stdout, echo=echo, every=every, timeout=timeout))
