"""Shared benchmark plumbing: a fresh embedded deployment and result files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@asynccontextmanager
async def fresh_runtime() -> AsyncIterator[Any]:
    """A runtime on brand-new embedded servers in a temporary data directory."""
    data_dir = Path(tempfile.mkdtemp(prefix="tl-bench-", dir="/tmp"))
    os.environ["TIERLINE_DATA_DIR"] = str(data_dir)
    from tierline.platform.embedded import stop_embedded
    from tierline.platform.runtime import open_runtime
    from tierline.platform.settings import Settings
    from tierline.tenants.migrate import migrate_all

    settings = Settings.from_env({"TIERLINE_DATA_DIR": str(data_dir)}, env_file=data_dir / "x")
    try:
        async with open_runtime(settings) as runtime:
            await migrate_all(runtime.databases)
            yield runtime
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


class DatabaseCpu:
    """CPU seconds used by the embedded PostgreSQL server: the postmaster, its live
    children (backends) and the children it has reaped (parallel workers that finished)."""

    def __init__(self, backend_pid: int) -> None:
        import psutil

        self._postmaster = psutil.Process(backend_pid).parent()

    def seconds(self) -> float:
        import psutil

        times = self._postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self._postmaster.children():
            try:
                own = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += own.user + own.system
        return float(total)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "mean": statistics.fmean(values),
    }


def write_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    result = {**result, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
