"""The embedded servers: reused by a second process, restartable after a crash, stoppable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tierline.platform.embedded import embedded_status, start_embedded, stop_embedded

SNIPPET = (
    "import sys; from pathlib import Path; from tierline.platform.embedded import start_embedded;"
    "e = start_embedded(Path(sys.argv[1]), ('eu',)); print(e.control_url); print(e.redis_url)"
)


def start_in_other_process(data_dir: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(data_dir)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_second_process_reuses_and_crash_leaves_nothing_blocking(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    data_dir = Path(os.path.realpath(tmp_path_factory.mktemp("emb", numbered=True)))
    try:
        first = start_in_other_process(data_dir)
        ports = embedded_status(data_dir)
        assert ports["postgres"] and ports["redis"]
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
