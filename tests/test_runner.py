"""The nixos-install runner, end to end against the faithful stand-in."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import pytest
from procstat import gone

from installer.base.logfile import LogFile, Redactor
from installer.run.progress import BOOTLOADER, BUILD, CHANNEL, ETC, FINISHED, STARTING
from installer.base.processes import child_env
from installer.run.command import RunOptions, build_argv
from installer.run.runner import InstallRunner, RunnerError
from installer.run.termtext import clean_lines

ROOT = Path(__file__).resolve().parent.parent
NIXOS_INSTALL = str(ROOT / "tests" / "standins" / "nixos-install")


@pytest.fixture
def target():
    """An empty install root nixos-install accepts: 0755, root-owned, with a configuration."""
    path = Path(tempfile.mkdtemp(prefix="runner-target-"))
    path.chmod(0o755)
    (path / "etc" / "nixos").mkdir(parents=True)
    (path / "etc" / "nixos" / "configuration.nix").write_text("{ ... }: { }\n")
    yield path
    shutil.rmtree(path)


@pytest.fixture
def log(tmp_path):
    return tmp_path / "install.log"


@pytest.fixture
def record(tmp_path):
    return tmp_path / "record.jsonl"


def env(**standin: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    base.update({f"STANDIN_{k}": str(v) for k, v in standin.items()})
    return base


def runner(target, log, options=RunOptions(), **standin) -> InstallRunner:
    return InstallRunner.for_target(str(target), options, command=NIXOS_INSTALL, log=log, env=env(**standin))


async def collect(r: InstallRunner) -> list[str]:
    lines: list[str] = []
    async for batch in r.batches():
        lines.extend(batch)
    return lines


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the command line ----------------------------------------------------------
def test_argv_for_a_channel_install():
    assert build_argv("/mnt") == ["nixos-install", "--root", "/mnt", "--no-root-passwd"]


def test_argv_for_a_flake_install_with_every_option():
    options = RunOptions(flake_host="box", max_jobs=4, cores=2, keep_going=True, show_trace=True, offline=True)
    assert build_argv("/mnt", options, "sudo nixos-install") == [
        "sudo", "nixos-install", "--root", "/mnt", "--no-root-passwd",
        "--no-channel-copy", "--flake", "/mnt/etc/nixos#box",
        "--max-jobs", "4", "--cores", "2", "--keep-going", "--show-trace",
        "--option", "substituters", "",
    ]


@pytest.mark.parametrize(
    "options", [RunOptions(flake_host="a#b"), RunOptions(flake_host='a"b'), RunOptions(max_jobs=-1),
                RunOptions(max_jobs="many"), RunOptions(cores=-2)]
)
def test_argv_refuses_what_nixos_install_would_misread(options):
    with pytest.raises(ValueError):
        build_argv("/mnt", options)


async def test_the_standin_accepts_every_option_we_pass(target, log, record):
    (target / "etc" / "nixos" / "flake.nix").write_text("{ }\n")
    options = RunOptions(flake_host="box", max_jobs="auto", cores=0, keep_going=True, show_trace=True, offline=True)
    r = runner(target, log, options, RECORD=record, PATHS=3, DRVS=1)
    lines = await collect(r)
    assert r.returncode == 0, lines
    assert records(record)[0]["argv"][1:] == r.argv[1:]
    assert f"building the flake in path:{target}/etc/nixos..." in lines
    assert any("from 'auto?trusted=1'" in line for line in lines)  # no substituters: the host store only


# -- progress, phases, exit codes ------------------------------------------------
async def test_progress_totals_equal_the_standins_counts_and_phases_in_order(target, log):
    r = runner(target, log, PATHS=500, DRVS=7, CHANNEL="/nix/store/x-nixos-25.11")
    lines = await collect(r)
    p = r.progress
    assert r.returncode == 0
    assert (p.fetch_total, p.fetch_done, p.build_total, p.build_done) == (500, 500, 7, 7)
    assert p.fraction == 1.0
    assert p.phases == [STARTING, CHANNEL, BUILD, BOOTLOADER, ETC, FINISHED]
    announced = next(line for line in lines if line.startswith("these 500 paths will be fetched"))
    assert f"({p.download_mib:.1f} MiB download" in announced
    assert p.current and "/" not in p.current and not p.current.endswith(".drv")
    assert lines[-1] == "installation finished!"


async def test_failure_surfaces_exit_code_error_and_phase_then_retry_resumes(target, log):
    first = runner(target, log, PATHS=120, DRVS=2, FAIL_AT="copying:50", EXIT=3, FAIL_ONCE=1)
    await collect(first)
    assert first.returncode == 3
    assert first.progress.fetch_done == 49
    assert first.progress.last_error.startswith("error: unable to download 'https://cache.nixos.org/nar/")
    assert first.progress.error_phase == BUILD
    assert first.tail[-1] == first.progress.last_error

    second = first.retry()
    assert second.argv == first.argv and second.run_number == 2
    await collect(second)
    assert second.returncode == 0
    # Like Nix's store: the 49 paths copied before the failure are not fetched again.
    assert (second.progress.fetch_total, second.progress.fetch_done) == (71, 71)
    assert second.progress.phase == FINISHED
    assert second.runs == [first.progress, second.progress]
    assert sum(run.fetch_done for run in second.runs) == 120
    text = log.read_text()
    assert "run 1 exited with code 3" in text and "run 2 exited with code 0" in text
    assert text.count("copying path '") == 120


async def test_a_refusal_is_surfaced(tmp_path, log):
    # pytest's tmp_path is 0700: the permission check nixos-install makes.
    (tmp_path / "etc" / "nixos").mkdir(parents=True)
    (tmp_path / "etc" / "nixos" / "configuration.nix").write_text("{ }\n")
    r = runner(tmp_path, log)
    await collect(r)
    assert r.returncode == 1
    assert "should have permissions 755" in r.progress.last_error


async def test_missing_configuration_is_surfaced(target, log):
    (target / "etc" / "nixos" / "configuration.nix").unlink()
    r = runner(target, log)
    lines = await collect(r)
    assert r.returncode == 1
    assert lines[-1] == f"configuration file {target}/etc/nixos/configuration.nix doesn't exist"
    assert r.progress.last_error == lines[-1]


async def test_missing_command_is_a_runner_error(target, log):
    r = InstallRunner.for_target(str(target), command="/nonexistent/nixos-install", log=log)
    with pytest.raises(RunnerError, match="cannot run /nonexistent/nixos-install"):
        await r.start()


# -- output cleaning ---------------------------------------------------------------
def test_clean_lines_strips_ansi_controls_and_keeps_the_last_rewrite():
    text = "\x1b[1mcopying\x1b[0m path\r\n[1/3 built] 10%\r[2/3 built] 60%\r\x1b]0;title\x07done\x07\n\ttab"
    assert clean_lines(text) == ["copying path", "done", "\ttab"]


async def test_ansi_and_carriage_returns_from_the_child_are_gone(target, log):
    r = runner(target, log, PATHS=5, DRVS=2, ANSI=1)
    lines = await collect(r)
    assert r.returncode == 0
    assert not any("\x1b" in line or "\r" in line for line in lines)
    assert r.progress.fetch_done == 5 and r.progress.build_done == 2
    assert any(line.endswith("> building") for line in lines)
    assert not any("configuring" in line for line in lines)  # rewritten by \r


# -- the log file and secrets ------------------------------------------------------
async def test_log_is_0600_complete_and_copied_to_the_target(target, log):
    r = runner(target, log, PATHS=50, DRVS=1)
    lines = await collect(r)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    logged = log.read_text().splitlines()
    assert logged[1:-1] == lines  # a header and an exit line around every output line
    copy = target / "var" / "log" / "nixos-tui-installer.log"
    assert r.log_copy == copy
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert copy.read_text() == log.read_text()


def test_log_file_refuses_a_planted_symlink(tmp_path):
    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "install.log").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        LogFile(tmp_path / "install.log")


def test_saving_a_copy_of_the_log_is_private_and_refuses_links_and_fifos(tmp_path):
    with LogFile(tmp_path / "install.log", redactor=Redactor(["s3cret"])) as f:
        f.line("the s3cret stays out")
        # Into a directory: the log's own name, 0600 from the start.
        (tmp_path / "usb").mkdir()
        saved = f.save_copy(tmp_path / "usb")
        assert saved == tmp_path / "usb" / "install.log"
        assert saved.read_text() == "the <redacted> stays out\n"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        # Over an older, looser copy: replaced, tightened.
        older = tmp_path / "old.log"
        older.write_text("older and longer text\n" * 10)
        older.chmod(0o644)
        assert f.save_copy(older) == older
        assert older.read_text() == "the <redacted> stays out\n"
        assert stat.S_IMODE(older.stat().st_mode) == 0o600
        # A planted symlink is not followed; a FIFO does not hang the save.
        (tmp_path / "elsewhere").write_text("untouched")
        (tmp_path / "link.log").symlink_to(tmp_path / "elsewhere")
        with pytest.raises(OSError, match="symbolic link"):
            f.save_copy(tmp_path / "link.log")
        assert (tmp_path / "elsewhere").read_text() == "untouched"
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(OSError, match="not a regular file"):
            f.save_copy(tmp_path / "fifo")
        with pytest.raises(OSError):
            f.save_copy(tmp_path / "missing-dir" / "x.log")


def test_log_file_tightens_an_existing_loose_file(tmp_path):
    path = tmp_path / "install.log"
    path.write_text("old\n")
    path.chmod(0o644)
    with LogFile(path, redactor=Redactor(["s3cret"])) as f:
        f.line("the s3cret is out")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "old\nthe <redacted> is out\n"


async def test_a_secret_in_the_output_is_redacted_in_log_and_lines(target, log, tmp_path):
    echo = tmp_path / "echo.txt"
    echo.write_text("passphrase is Tr0ub4dor&3 and the hash $y$j9T$abc$def\n")
    r = InstallRunner.for_target(
        str(target), command=NIXOS_INSTALL, log=log, secrets=["Tr0ub4dor&3", "$y$j9T$abc$def", None],
        env=env(ECHO_FILE=echo, PATHS=3),
    )
    lines = await collect(r)
    assert "passphrase is <redacted> and the hash <redacted>" in lines
    for where in (log.read_text(), "\n".join(lines), "\n".join(r.tail)):
        assert "Tr0ub4dor&3" not in where and "$y$j9T$abc$def" not in where


async def test_argv_and_environment_never_hold_a_secret(target, log, record, monkeypatch):
    # Our own environment, as the installer inherits it (env=None).
    monkeypatch.setenv("LUKS_PASSPHRASE", "Tr0ub4dor&3")
    monkeypatch.setenv("SOMETHING", "x-Tr0ub4dor&3-x")
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    r = InstallRunner.for_target(str(target), command=NIXOS_INSTALL, log=log, secrets=["Tr0ub4dor&3"])
    await collect(r)
    assert r.returncode == 0
    text = record.read_text()
    assert "Tr0ub4dor&3" not in text
    entry = records(record)[0]
    assert "LUKS_PASSPHRASE" not in entry["env"] and "SOMETHING" not in entry["env"]
    # Nix's plain logger, the one that prints a line per item.
    assert entry["env"]["TERM"] == "dumb" and entry["env"]["NO_COLOR"] == "1"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_child_env_drops_secret_names_and_values():
    got = child_env(["pw1"], extra={"TERM": "dumb"}, base={"PATH": "/bin", "API_TOKEN": "t", "X": "apw1b"})
    assert got == {"PATH": "/bin", "TERM": "dumb"}


# -- the process group --------------------------------------------------------------
async def wait_for_children(record: Path) -> list[int]:
    for _ in range(500):
        if record.exists():
            for entry in records(record):
                if "children" in entry:
                    return entry["children"]
        await asyncio.sleep(0.01)
    raise AssertionError("the stand-in never recorded its children")


@pytest.mark.parametrize(
    "ignore,expected,how", [("", 130, "await"), ("INT,TERM", -9, "await"), ("", 130, "no-wait"), ("", 130, "thread")]
)
async def test_stop_ends_the_whole_process_group_and_escapees(target, log, record, ignore, expected, how):
    r = runner(target, log, RECORD=record, SPAWN=1, HANG=1, IGNORE=ignore, PATHS=10)
    consumer = asyncio.ensure_future(collect(r))
    children = await wait_for_children(record)
    stand_in = records(record)[0]["pid"]
    assert stand_in == r.pid and records(record)[0]["sid"] == r.pid  # its own session and group
    await asyncio.sleep(0.2)
    assert not any(gone(pid) for pid in [stand_in, *children])
    if how == "await":
        code = await r.stop(grace=0.5)
    elif how == "no-wait":
        r.stop(grace=0.5)  # as a UI callback does
        code = await r.wait()
    else:
        code = await asyncio.to_thread(lambda: r.stop(grace=0.5).result(timeout=30))
    await consumer
    assert code == expected == r.returncode
    # One sleep in the group, one that escaped into its own session: none left.
    for pid in [stand_in, *children]:
        for _ in range(100):
            if gone(pid):
                break
            await asyncio.sleep(0.02)
        assert gone(pid), f"process {pid} survived stop()"
    assert f"sending SIGINT to process group {r.pid}" in log.read_text()


async def test_sigpipe_is_default_in_the_child(log):
    r = InstallRunner(["sh", "-c", "yes | head -n 1; echo done"], log=log)
    lines = await collect(r)
    assert lines == ["y", "done"]  # an ignored SIGPIPE makes `yes` print "Broken pipe"


async def test_the_child_has_the_pty_as_its_terminal_its_size_and_its_own_session(log):
    """What nixos-install sees: a terminal it can open as /dev/tty, 50x200, no echo,
    and a session and process group of its own (stop() signals that group)."""
    r = InstallRunner(["sh", "-c", "exec </dev/tty && stty size && stty -a | grep -ow -- '-echo' | head -1;"
                       " ps -o sid=,pgid= -p $$"], log=log)
    lines = await collect(r)
    assert lines[:2] == ["50 200", "-echo"], lines
    assert lines[2].split() == [str(r.pid), str(r.pid)]


async def test_starting_the_child_while_other_threads_run_does_not_fork_the_interpreter(log):
    """The wizard starts the runner while Textual's threads run: a fork() of the
    interpreter then may deadlock the child (Python 3.12+ warns with a
    DeprecationWarning). Meaningful on 3.12+: `make test` runs it under 3.13."""
    import threading
    import warnings

    release = threading.Event()
    busy = threading.Thread(target=release.wait, daemon=True)
    busy.start()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            r = InstallRunner(["sh", "-c", "echo started"], log=log)
            assert await collect(r) == ["started"]
        assert [str(w.message) for w in seen if "fork" in str(w.message)] == []
    finally:
        release.set()
        busy.join()


async def test_a_prompt_without_newline_is_visible_and_can_be_answered(log):
    r = InstallRunner(["sh", "-c", "printf 'Proceed? [y/n] '; read a; echo \"got $a\""], log=log)
    consumer = asyncio.ensure_future(collect(r))
    for _ in range(500):
        if r.prompt:
            break
        await asyncio.sleep(0.01)
    assert r.prompt == "Proceed? [y/n] "
    r.send("y\n")
    assert await consumer == ["Proceed? [y/n] got y"]


async def test_a_prompt_waits_only_once_the_output_is_quiet(log):
    # Lines pour out first (chunks often end mid-line), then a question waits.
    script = "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; printf 'Username: '; read a; sleep 1; echo ok"
    r = InstallRunner(["sh", "-c", script], log=log)
    seen_while_streaming = []
    consumer_lines = []

    async def consume():
        async for batch in r.batches():
            consumer_lines.extend(batch)
            seen_while_streaming.append(r.waiting_prompt())

    consumer = asyncio.ensure_future(consume())
    for _ in range(1000):
        if r.waiting_prompt(quiet=0.3):
            break
        await asyncio.sleep(0.01)
    assert r.waiting_prompt(quiet=0.3) == "Username: "
    assert r.waiting_prompt(quiet=60) == ""  # not quiet for that long yet
    r.send("alice\n")
    await asyncio.sleep(0.4)  # answered: the same question is not asked again meanwhile
    assert r.waiting_prompt(quiet=0.3) == ""
    await consumer
    assert consumer_lines[-1] == "Username: ok"
    assert r.waiting_prompt(quiet=0) == ""  # the run is over
    assert not any(seen_while_streaming[:-1])


async def test_a_descendant_holding_the_pty_does_not_hang_the_run_nor_outlive_it(log):
    r = InstallRunner(["sh", "-c", "trap '' HUP; sleep 30 & echo $!"], log=log)
    lines = await asyncio.wait_for(collect(r), 20)
    assert r.returncode == 0
    pid = int(lines[0])
    for _ in range(100):
        if gone(pid):
            break
        await asyncio.sleep(0.02)
    assert gone(pid), "a sleep ignoring SIGHUP outlived the run"
    assert "killing leftover processes" in log.read_text()


# -- throughput ------------------------------------------------------------------------
async def test_a_consumer_that_leaves_early_does_not_stall_the_install(target, log, monkeypatch):
    from installer.run import runner as runner_module

    monkeypatch.setattr(runner_module, "MAX_PENDING", 100)
    r = runner(target, log, PATHS=3000, DRVS=0)
    async for _batch in r.batches():
        await asyncio.sleep(0.05)
        break  # the pane was closed
    assert await asyncio.wait_for(r.wait(), 60) == 0
    assert r.progress.fetch_done == 3000


async def test_a_slow_consumer_pauses_reading_and_loses_nothing(target, log, monkeypatch):
    from installer.run import runner as runner_module

    monkeypatch.setattr(runner_module, "MAX_PENDING", 500)
    pauses = 0
    original = runner_module.InstallRunner._pause

    def counting_pause(self):
        nonlocal pauses
        pauses += 1
        original(self)

    monkeypatch.setattr(runner_module.InstallRunner, "_pause", counting_pause)
    r = runner(target, log, PATHS=5000, DRVS=0)
    count = 0
    async for batch in r.batches():
        count += len(batch)
        await asyncio.sleep(0.05)  # a UI far slower than the output
    assert pauses > 0
    assert r.returncode == 0 and count == 1 + (1 + 5000) + 5000 + 4
    assert r.progress.fetch_done == 5000


async def test_a_consumer_that_keeps_the_last_lines_never_holds_up_the_child(target, log, monkeypatch):
    """The pane shows only its last lines: it never pauses the reading, never
    holds more than a bounded backlog, and the file and the counts lose nothing."""
    from installer.run import runner as runner_module

    pauses, backlog = 0, 0
    original_pause, original_emit = runner_module.InstallRunner._pause, runner_module.InstallRunner._emit

    def counting_pause(self):
        nonlocal pauses
        pauses += 1
        original_pause(self)

    def measuring_emit(self, lines):
        nonlocal backlog
        original_emit(self, lines)
        backlog = max(backlog, len(self._pending))

    monkeypatch.setattr(runner_module, "MAX_PENDING", 500)
    monkeypatch.setattr(runner_module.InstallRunner, "_pause", counting_pause)
    monkeypatch.setattr(runner_module.InstallRunner, "_emit", measuring_emit)
    r = runner(target, log, PATHS=5000, DRVS=0)
    batches = []
    async for batch in r.batches(keep=50):
        batches.append(batch)
        await asyncio.sleep(0.05)  # a UI far slower than the output
    assert r.returncode == 0
    assert pauses == 0 and 0 < backlog <= 50  # never more than it shows
    assert all(len(batch) <= 50 for batch in batches)
    assert batches[-1][-1] == "installation finished!"
    assert r.progress.fetch_done == r.progress.fetch_total == 5000
    assert log.read_text().count("copying path '") == 5000


@pytest.mark.slow
async def test_200k_lines_stream_through_without_blocking_the_loop(target, log):
    paths = 200_000
    r = runner(target, log, PATHS=paths, DRVS=0)
    ticks, stop = 0, False

    async def ticker():
        nonlocal ticks
        while not stop:
            await asyncio.sleep(0.005)
            ticks += 1

    tick_task = asyncio.ensure_future(ticker())
    count, batches, start = 0, 0, time.perf_counter()
    async for batch in r.batches():
        count += len(batch)
        batches += 1
    took = time.perf_counter() - start
    stop = True
    await tick_task
    print(f"\nrunner: {count:,} lines in {took:.2f} s = {count / took:,.0f} lines/s, "
          f"{batches} batches, the loop ticked {ticks} times meanwhile")
    assert r.returncode == 0
    assert r.progress.fetch_done == r.progress.fetch_total == paths
    # "building the configuration", the announcement listing every path, one
    # copying line each, then the boot loader's four lines.
    assert count == 1 + (1 + paths) + paths + 4
    assert batches >= 2 and ticks >= 10  # the loop kept running while lines streamed
    with open(log) as f:
        assert sum(1 for line in f if line.startswith("copying path '")) == paths


# -- the unattended CLI -------------------------------------------------------------------
def test_run_sync_prints_plain_progress(target, log):
    out = io.StringIO()
    code = runner(target, log, PATHS=30, DRVS=2, RATE=200).run_sync(out, every=0.0)
    text = out.getvalue()
    assert code == 0
    assert "Building the system, fetched" in text
    assert text.splitlines()[-1].startswith("Installation finished, fetched 30/30 paths")
    assert "exited with code 0" in text and str(log) in text


def test_ctrl_c_in_the_unattended_cli_stops_the_group(target, log, record):
    code = (
        "import sys\n"
        "from installer.run.runner import InstallRunner\n"
        f"r = InstallRunner.for_target({str(target)!r}, command={NIXOS_INSTALL!r}, log={str(log)!r})\n"
        "try:\n"
        "    r.run_sync()\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(r.returncode)\n"
    )
    cli = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                           env=env(RECORD=record, SPAWN=1, HANG=1, PATHS=10))
    for _ in range(1000):
        if record.exists() and any("children" in entry for entry in records(record)):
            break
        time.sleep(0.01)
    pids = [records(record)[0]["pid"], *next(e["children"] for e in records(record) if "children" in e)]
    time.sleep(0.3)
    cli.send_signal(2)  # the person presses Ctrl+C: SIGINT reaches the installer, not the pty's group
    assert cli.wait(timeout=30) == 130
    for pid in pids:
        for _ in range(100):
            if gone(pid):
                break
            time.sleep(0.02)
        assert gone(pid), f"process {pid} survived Ctrl+C"


def test_run_sync_echo_prints_every_line(target, log):
    out = io.StringIO()
    assert runner(target, log, PATHS=4, DRVS=0).run_sync(out, echo=True) == 0
    assert out.getvalue().count("copying path '") == 4


# -- the stand-in is faithful about the root password prompt ------------------------------
def test_standin_prompts_for_root_password_only_on_a_tty(target):
    child = pexpect.spawn(NIXOS_INSTALL, ["--root", str(target)], env=env(PATHS=1, DRVS=0),
                          encoding="utf-8", timeout=20)
    child.expect_exact("setting root password...")
    child.expect_exact("New password: ")
    child.sendline("pw")
    child.expect_exact("Retype new password: ")
    child.sendline("pw")
    child.expect_exact("passwd: password updated successfully")
    child.expect_exact("installation finished!")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    done = subprocess.run([NIXOS_INSTALL, "--root", str(target)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env())
    assert done.returncode == 0 and "password" not in done.stdout


def test_standin_rejects_unknown_options_like_the_real_one(target):
    done = subprocess.run([NIXOS_INSTALL, "--root", str(target), "--frobnicate"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout == f"{NIXOS_INSTALL}: unknown option `--frobnicate'\n"


def test_standin_refuses_a_missing_mount_point():
    done = subprocess.run([NIXOS_INSTALL, "--root", "/nonexistent/mnt"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (1, "mount point /nonexistent/mnt doesn't exist\n")


@pytest.mark.parametrize(
    "args", [["--impure", "-I", "nixpkgs=/x"], ["--channel", "/nix/store/c-nixos"], ["--option", "cores", "4"],
             ["-j", "2", "--cores", "1"], ["--no-root-password", "-v"], ["--keep-going", "--show-trace"]]
)
def test_standin_accepts_what_nixos_install_accepts(target, args):
    done = subprocess.run([NIXOS_INSTALL, "--root", str(target), "--no-root-passwd", *args],
                          capture_output=True, text=True, env=env(PATHS=2, DRVS=1), stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout
    assert done.stdout.endswith("installation finished!\n")


def test_standin_no_bootloader_and_system(target):
    done = subprocess.run([NIXOS_INSTALL, "--root", str(target), "--no-root-passwd", "--no-bootloader",
                           "--system", "/nix/store/" + "a" * 32 + "-nixos-system-x"],
                          capture_output=True, text=True, env=env(PATHS=2))
    assert done.returncode == 0
    assert done.stdout == "installation finished!\n"  # nothing to build, no boot loader
    assert (target / "etc" / "NIXOS").exists()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs as the mounted partition")
@pytest.mark.parametrize("unmounted", ["/efi", "/boot"])
def test_standin_boot_files_refuse_an_unmounted_esp_or_xbootldr_like_the_builder(target, unmounted):
    """STANDIN_BOOT_FILES=1: systemd-boot.nix's check-mountpoints runs first (findmnt on each
    mount point), so an ESP or XBOOTLDR partition left unmounted fails the boot loader step
    with its words, before anything is written there (the VM test covers the files written)."""
    (target / "etc" / "nixos" / "configuration.nix").write_text(
        '{ ... }: {\n  boot.loader.systemd-boot.enable = true;\n  boot.loader.efi.efiSysMountPoint = "/efi";\n'
        '  boot.loader.systemd-boot.xbootldrMountPoint = "/boot";\n}\n')
    mounted = {"/efi", "/boot"} - {unmounted}
    for where in mounted:
        (target / where[1:]).mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target / where[1:])], check=True)
    try:
        done = subprocess.run([NIXOS_INSTALL, "--root", str(target), "--no-root-passwd"], capture_output=True,
                              text=True, env=env(PATHS=1, DRVS=0, BOOT_FILES=1), stdin=subprocess.DEVNULL)
    finally:
        for where in mounted:
            subprocess.run(["umount", str(target / where[1:])], check=True)
    option = "efiSysMountPoint" if unmounted == "/efi" else "xbootldrMountPoint"
    assert done.returncode == 1 and done.stdout.endswith("setting up /etc...\nFailed to install bootloader\n"), done
    assert done.stderr == f"{option} = '{unmounted}' is not a mounted partition. Is the path configured correctly?\n"
    assert not (target / "boot" / "loader").exists() and not (target / "efi" / "loader").exists()


def test_standin_max_jobs_zero_cannot_build(target):
    done = subprocess.run([NIXOS_INSTALL, "--root", str(target), "--no-root-passwd", "--max-jobs", "0"],
                          capture_output=True, text=True, env=env(DRVS=1))
    assert done.returncode == 1
    assert "Unable to start any build" in done.stdout


def test_python_is_what_the_standins_run_with():
    # The stand-ins use `#!/usr/bin/env python3`; they must not need our venv.
    for name in ("nixos-install", "nixos-enter"):
        path = ROOT / "tests" / "standins" / name
        assert path.read_text().startswith("#!/usr/bin/env python3\n")
        assert os.access(path, os.X_OK)
    assert sys.version_info >= (3, 11)
