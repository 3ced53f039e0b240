"""Import 1M order lines from CSV (validation, unit conversion, encryption of revenue and margin,
upsert) against a bare ``COPY`` of the same file into an unindexed table with the same columns,
in the same run. Targets: ratio <= 3, peak memory <= 1.5 GB.

Rounds (``TIERLINE_BENCH_IMPORT_ROUNDS``, 3): a bare ``COPY``, then a first load into the emptied
order-line table, each after a checkpoint; the figures are the medians, each round's are kept.

The data is generated in a child process, so this process's peak RSS is the import's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import DatabaseCpu, fresh_runtime, write_result

LINES = int(os.environ.get("TIERLINE_BENCH_IMPORT_LINES", "1000000"))
ROUNDS = int(os.environ.get("TIERLINE_BENCH_IMPORT_ROUNDS", "3"))
GENERATE = """
import sys
from pathlib import Path
from tierline.demo.synthetic import generate
d = generate("large")
out = Path(sys.argv[1])
for name in ("customers", "products", "uom_conversions", "locations"):
    getattr(d, name).write_csv(out / f"{name}.csv")
d.order_lines.head(int(sys.argv[2])).write_csv(out / "order_lines.csv")
"""

BARE_TABLE = """CREATE TABLE bare_order_lines (
    order_no text, line_no int, customer_code text, sku text, location_code text,
    order_date date, requested_date date, quantity numeric, uom text, revenue numeric,
    margin numeric, margin_estimated boolean, currency text, promised_date date,
    shipped_date date, delivered_date date, delivered_quantity numeric, damaged boolean,
    documentation_ok boolean, source_updated_at timestamptz)"""


async def bare_copy(runtime, tenant, path: Path) -> float:  # type: ignore[no-untyped-def]
    from tierline.platform.tenancy import tenant_connection

    async with tenant_connection(tenant, runtime.databases) as conn:
        await conn.exec_driver_sql(BARE_TABLE)
        raw = (await conn.get_raw_connection()).driver_connection
        started = time.perf_counter()
        with path.open("rb") as handle:
            await raw.copy_to_table("bare_order_lines", source=handle, format="csv", header=True)
        elapsed = time.perf_counter() - started
        await conn.exec_driver_sql("DROP TABLE bare_order_lines")
    return elapsed


async def _backend_pid(runtime, tenant) -> int:  # type: ignore[no-untyped-def]
    from tierline.platform.tenancy import tenant_connection

    async with tenant_connection(tenant, runtime.databases) as conn:
        return int((await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())


def _helper_usage() -> tuple[float, int]:
    """CPU seconds and peak RSS (MB) of the sealing helper process, if one ran."""
    import psutil

    from tierline.platform.encryption import sealer

    helper = sealer._helper
    if helper is None:
        return 0.0, 0
    process = psutil.Process(helper._process.pid)
    times = process.cpu_times()
    status = Path(f"/proc/{process.pid}/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return round(times.user + times.system, 2), round(peak_kb / 1024)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main() -> None:
    # The import logs its phase timings (validate, hash, encrypt+serialise, lookup, copy, apply).
    timings = logging.getLogger("tierline.masterdata.importing.service")
    timings.setLevel(logging.INFO)
    timings.addHandler(logging.StreamHandler(sys.stdout))
    folder = Path(tempfile.mkdtemp(prefix="tl-bench-import-"))
    try:
        await _run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclasses.dataclass
class Round:
    """One bare COPY and one first load of the same file into the emptied table."""

    bare_copy: float
    bare_copy_database_cpu: float
    import_seconds: float
    import_cpu: float
    import_database_cpu: float
    helper_cpu: float

    @property
    def ratio(self) -> float:
        return self.import_seconds / self.bare_copy


def _figures(one: Round) -> dict[str, float]:
    return {k: round(v, 2) for k, v in {**dataclasses.asdict(one), "ratio": one.ratio}.items()}


async def _sql(runtime, tenant, statement: str) -> None:  # type: ignore[no-untyped-def]
    from tierline.platform.tenancy import tenant_connection

    async with tenant_connection(tenant, runtime.databases) as conn:
        await conn.exec_driver_sql(statement)


async def _round(runtime, tenant, path: Path, database: DatabaseCpu) -> Round:  # type: ignore[no-untyped-def]
    from tierline.masterdata.importing.service import run_import
    from tierline.masterdata.profiles.presets import presets
    from tierline.platform.identity.users import SYSTEM

    # Each timed step starts after a checkpoint, so that neither pays for the other's WAL.
    await _sql(runtime, tenant, "CHECKPOINT")
    db_cpu = database.seconds()
    bare = await bare_copy(runtime, tenant, path)
    bare_db_cpu = database.seconds() - db_cpu
    await _sql(runtime, tenant, "CHECKPOINT")
    profile = dataclasses.replace(presets()["generic_order_lines"])
    helper_before = _helper_usage()[0]
    started, cpu, db_cpu = time.perf_counter(), _cpu_seconds(), database.seconds()
    result = await run_import(runtime, tenant, "order_lines", path, profile, SYSTEM)
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    assert result.status == "applied", result.errors[:3]
    return Round(
        bare,
        bare_db_cpu,
        elapsed,
        cpu,
        database.seconds() - db_cpu,
        _helper_usage()[0] - helper_before,
    )


async def _run(folder: Path) -> None:
    from tierline.masterdata.importing.service import run_import
    from tierline.masterdata.profiles.presets import presets
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.platform.identity.users import SYSTEM
    from tierline.tenants.service import provision_tenant

    generate = [sys.executable, "-c", GENERATE, str(folder), str(LINES)]
    await asyncio.to_thread(subprocess.run, generate, check=True)
    async with fresh_runtime() as runtime:
        kms = kms_from_settings(runtime.settings)
        tenant = await provision_tenant(runtime.databases, "bench_import", "Bench", "eu", kms=kms)
        for name in ("customers", "products", "uom_conversions", "locations"):
            result = await run_import(
                runtime, tenant, name, folder / f"{name}.csv", presets()[f"generic_{name}"], SYSTEM
            )
            assert result.status == "applied", result.errors[:3]
        path = folder / "order_lines.csv"
        database = DatabaseCpu(await _backend_pid(runtime, tenant))
        rounds = []
        for number in range(ROUNDS):
            if number:
                await _sql(runtime, tenant, "TRUNCATE order_lines")
            rounds.append(await _round(runtime, tenant, path, database))
            print(f"round {number + 1}: {_figures(rounds[-1])}", flush=True)
        profile = dataclasses.replace(presets()["generic_order_lines"])
        started = time.perf_counter()
        again = await run_import(runtime, tenant, "order_lines", path, profile, SYSTEM)
        reimport = time.perf_counter() - started
        helper_peak_mb = _helper_usage()[1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def median(name: str) -> float:
        return round(statistics.median(getattr(r, name) for r in rounds), 2)

    write_result(
        "import" if LINES == 1_000_000 else f"import_{LINES}",
        {
            "order_lines": LINES,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            # Medians over the rounds; each round's own figures below. The first round runs
            # on a brand-new cluster (no WAL segments to recycle yet) and is the slowest.
            "rounds": ROUNDS,
            "bare_copy_seconds": median("bare_copy"),
            "import_seconds": median("import_seconds"),
            # the median of each round's ratio (bare COPY and import measured back to back)
            "ratio_vs_bare_copy": median("ratio"),
            # the importing process's own CPU (all threads; the database's is not included):
            # timings on a shared 2-core machine are noisy, this much less so
            "import_cpu_seconds": median("import_cpu"),
            # the helper process that seals money (started by the first import)
            "helper_cpu_seconds": median("helper_cpu"),
            "helper_peak_rss_mb": helper_peak_mb,
            # the database server's CPU during the bare COPY and during the import
            "bare_copy_database_cpu_seconds": median("bare_copy_database_cpu"),
            "import_database_cpu_seconds": median("import_database_cpu"),
            "each_round": [_figures(r) for r in rounds],
            "reimport_unchanged_seconds": round(reimport, 2),
            "reimport_unchanged_rows": again.unchanged,
            "peak_rss_mb": round(peak_mb),
            "targets": {"ratio": 3, "peak_rss_mb": 1536},
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
