"""Progress from nixos-install's and Nix's own lines (wording from their sources)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from installer.run.progress import (
    BOOTLOADER,
    BUILD,
    CHANNEL,
    ETC,
    FINISHED,
    STARTING,
    Progress,
    format_elapsed,
    store_name,
)

H = "0123456789abcdfghijklmnpqrsvwxyz"  # 32 chars: a store hash


def fed(*lines: str) -> Progress:
    p = Progress()
    for line in lines:
        p.feed(line)
    return p


def test_phases_in_order_from_nixos_install_lines():
    p = fed(
        "copying channel...",
        "building the configuration in /mnt/etc/nixos/configuration.nix...",
        "installing the boot loader...",
        "setting up /etc...",
        "installation finished!",
    )
    assert p.phases == [STARTING, CHANNEL, BUILD, BOOTLOADER, ETC, FINISHED]
    assert p.phase == FINISHED and p.finished_at is not None


def test_flake_build_line_is_the_build_phase():
    assert fed("building the flake in path:/mnt/etc/nixos?lastModified=1&narHash=sha256-x...").phase == BUILD


def test_counts_from_print_missing_plural_and_new_size_format():
    p = fed(
        "these 2 derivations will be built:",
        f"  /nix/store/{H}-foo-1.0.drv",
        f"  /nix/store/{H}-bar-2.0.drv",
        "these 3 paths will be fetched (1.5 GiB download, 512.0 MiB unpacked):",
        f"  /nix/store/{H}-a",
    )
    assert (p.build_total, p.fetch_total) == (2, 3)
    assert p.download_mib == pytest.approx(1536.0)
    assert p.unpacked_mib == pytest.approx(512.0)
    # The indented listing lines are not items being worked on.
    assert (p.fetch_done, p.build_done) == (0, 0)
    assert p.fraction == 0.0


def test_counts_singular_and_old_size_format():
    # Nix before 2.20 printed "%.2f MiB"; the singular forms have no number.
    p = fed(
        "this derivation will be built:",
        "this path will be fetched (0.05 MiB download, 0.20 MiB unpacked):",
    )
    assert (p.build_total, p.fetch_total) == (1, 1)
    assert p.download_mib == pytest.approx(0.05)


def test_kib_sizes_convert():
    p = fed("these 4 paths will be fetched (512.0 KiB download, 2.0 MiB unpacked):")
    assert p.download_mib == pytest.approx(0.5)


def test_items_done_and_current_name_without_hash():
    p = fed(
        "these 2 paths will be fetched (1.0 MiB download, 2.0 MiB unpacked):",
        "this derivation will be built:",
        f"copying path '/nix/store/{H}-glibc-2.40-66' from 'https://cache.nixos.org'...",
    )
    assert p.current == "glibc-2.40-66"
    assert p.fraction == pytest.approx(1 / 3)
    # The form Nix uses when neither store is the local one, and remote builds.
    p.feed(f"copying path '/nix/store/{H}-bash-5.2' from 'https://cache.nixos.org' to 'local?root=/mnt'...")
    p.feed(f"building '/nix/store/{H}-etc.drv' on 'ssh://builder'...")
    assert (p.fetch_done, p.build_done) == (2, 1)
    assert p.current == "etc"
    assert p.fraction == 1.0


def test_no_fraction_without_announcement_and_never_past_full():
    p = Progress()
    assert p.fraction is None
    p.feed(f"copying path '/nix/store/{H}-source' from 'https://cache.nixos.org'...")
    assert p.fraction is None  # counted, but nothing was announced: no made-up bar
    p.feed("this path will be fetched (1.0 MiB download, 1.0 MiB unpacked):")
    p.feed(f"copying path '/nix/store/{H}-x' from 'https://cache.nixos.org'...")
    assert p.fetch_done == 2 and p.fraction == 1.0


def test_announcements_add_up_across_nix_invocations():
    p = fed(
        "these 2 paths will be fetched (1.0 MiB download, 1.0 MiB unpacked):",
        "these 5 paths will be fetched (3.0 MiB download, 9.0 MiB unpacked):",
    )
    assert p.fetch_total == 7 and p.download_mib == pytest.approx(4.0)


def test_error_line_and_the_phase_it_failed_in():
    p = fed(
        "building the configuration in /mnt/etc/nixos/configuration.nix...",
        "error: builder for '/nix/store/x.drv' failed with exit code 2",
        "       last 10 log lines:",
    )
    assert p.last_error == "error: builder for '/nix/store/x.drv' failed with exit code 2"
    assert p.error_phase == BUILD
    p.feed("error: 1 dependencies of derivation '/nix/store/y.drv' failed to build")
    assert p.first_error == "error: builder for '/nix/store/x.drv' failed with exit code 2"
    assert p.last_error.startswith("error: 1 dependencies")
    assert len(p.errors) == 2


@pytest.mark.parametrize(
    "line",
    [
        "mount point /mnt doesn't exist",
        "configuration file /mnt/etc/nixos/configuration.nix doesn't exist",
        "path /tmp/x should have permissions 755, but had permissions 700. Consider running 'chmod o+rx /tmp/x'.",
        "/nix/store/abc-nixos-install/bin/nixos-install: /mnt is not owned by root:root (owned by 1000:100)",
    ],
)
def test_nixos_install_refusals_are_errors(line):
    assert fed(line).last_error == line


@pytest.mark.parametrize(
    "line",
    ["path fragments in a build log", "mount point is fine", "copying channel...", "building the system"],
)
def test_ordinary_lines_are_not_errors(line):
    assert fed(line).last_error is None


def test_build_log_lines_change_nothing():
    p = fed("hello> checking for gcc... gcc", "these are not words Nix prints", "")
    assert (p.total, p.done, p.phase, p.lines) == (0, 0, STARTING, 3)


def test_store_name():
    assert store_name(f"/nix/store/{H}-hello-2.12.drv") == "hello-2.12"
    assert store_name(f"/nix/store/{H}-nixos-system-x-25.11") == "nixos-system-x-25.11"
    assert store_name("/nix/store/short") == "short"


def test_elapsed_and_summary():
    p = fed("these 2 paths will be fetched (3.0 MiB download, 9.0 MiB unpacked):")
    p.started -= 65
    assert p.elapsed >= 65
    assert p.summary().startswith("Starting, fetched 0/2 paths (3.0 MiB), 1:0")
    assert format_elapsed(3725) == "1:02:05"


POOL = [
    f"copying path '/nix/store/{H}-a-1' from 'https://cache.nixos.org'...",
    f"copying path '/nix/store/{H}-b-2' from 'https://cache.nixos.org' to 'local?root=/mnt'...",
    f"building '/nix/store/{H}-c-3.drv'...",
    "these 3 paths will be fetched (1.0 MiB download, 2.0 MiB unpacked):",
    "this derivation will be built:",
    f"  /nix/store/{H}-listed",
    "copying channel...",
    "building the configuration in /mnt/etc/nixos/configuration.nix...",
    "installing the boot loader...",
    "setting up /etc...",
    "installation finished!",
    "error: some failure",
    "mount point /mnt doesn't exist",
    "c> compiling",
    "",
    "copying path",
]


def state(p: Progress) -> dict:
    return {k: v for k, v in vars(p).items() if k not in ("started", "finished_at")}


@given(st.lists(st.sampled_from(POOL), max_size=60), st.lists(st.integers(1, 20), min_size=1, max_size=10))
def test_feed_lines_is_feed_for_every_line(lines, cuts):
    one, bulk = Progress(), Progress()
    for line in lines:
        one.feed(line)
    i = 0
    for n in cuts * (len(lines) + 1):
        if i >= len(lines):
            break
        bulk.feed_lines(lines[i : i + n])
        i += n
    assert state(bulk) == state(one)


def test_feed_lines_is_cheaper_still():
    lines = [f"copying path '/nix/store/{H}-pkg{i}' from 'https://cache.nixos.org'..." for i in range(100_000)]
    lines += [f"pkg{i}> compiling foo.c" for i in range(100_000)]
    p = Progress()
    start = time.perf_counter()
    for i in range(0, len(lines), 2000):
        p.feed_lines(lines[i : i + 2000])
    took = time.perf_counter() - start
    print(f"\nProgress.feed_lines: {len(lines) / took:,.0f} lines/s")
    assert p.fetch_done == 100_000 and p.lines == 200_000
    assert p.current == "pkg99999"


def test_feed_is_cheap_per_line():
    lines = [f"copying path '/nix/store/{H}-pkg{i}' from 'https://cache.nixos.org'..." for i in range(100_000)]
    lines += [f"pkg{i}> compiling foo.c" for i in range(100_000)]
    p = Progress()
    feed = p.feed
    start = time.perf_counter()
    for line in lines:
        feed(line)
    took = time.perf_counter() - start
    print(f"\nProgress.feed: {len(lines) / took:,.0f} lines/s")
    assert p.fetch_done == 100_000 and p.lines == 200_000


def test_the_install_progress_starts_from_the_dry_runs_totals_then_takes_nixs_own():
    """Issue 19 item 3: the pane counts against what the pre-flight's dry run found
    until nixos-install's Nix announces its own totals, which replace them."""
    progress = Progress()
    progress.expect(fetch=10, build=2, download_mib=50.0, unpacked_mib=200.0)
    assert (progress.total, progress.fraction) == (12, 0.0)
    progress.feed("copying path '/nix/store/aaaa-x' from 'https://cache.nixos.org'...")
    assert progress.fraction == 1 / 12
    progress.feed("These 20 paths will be fetched (80.00 MiB download, 300.00 MiB unpacked):")
    progress.feed("this derivation will be built:")
    assert (progress.fetch_total, progress.build_total, progress.download_mib) == (20, 1, 80.0)
