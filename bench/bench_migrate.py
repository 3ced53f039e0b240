"""``tierline migrate`` over 1,000 tenant schemas that are all current (target <= 10 s).

Baseline, same run: the naive orchestrator that opens a connection and an Alembic
``MigrationContext`` per schema to read its revision (what schema-per-tenant tools commonly do).
"""

from __future__ import annotations

import asyncio
import time

from bench._harness import fresh_runtime, write_result

SCHEMAS = 1000


async def naive_check(runtime) -> float:  # type: ignore[no-untyped-def]
    from alembic.runtime.migration import MigrationContext

    from tierline.platform.tenant_directory import list_tenants

    tenants = await list_tenants(runtime.databases)
    started = time.perf_counter()
    for t in tenants:
        engine = runtime.databases.region(t.region)
        async with engine.connect() as conn:

            def current(sync_conn, schema=t.schema) -> str | None:  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"version_table_schema": schema})
                return ctx.get_current_revision()

            await conn.run_sync(current)
    return time.perf_counter() - started


async def main() -> None:
    from tierline.tenants.migrate import migrate_all
    from tierline.tenants.service import provision_tenant

    async with fresh_runtime() as runtime:
        started = time.perf_counter()
        for i in range(SCHEMAS):
            await provision_tenant(runtime.databases, f"m{i:05d}", f"M {i}", ("eu", "us")[i % 2])
        setup = time.perf_counter() - started
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            report = await migrate_all(runtime.databases)
            timings.append(time.perf_counter() - started)
            assert report.count("current") == SCHEMAS and not report.failed
        naive = await naive_check(runtime)
    best = min(timings)
    write_result(
        "migrate",
        {
            "schemas": SCHEMAS,
            "setup_seconds": setup,
            "migrate_all_current_seconds": best,
            "naive_per_schema_check_seconds": naive,
            "ratio_vs_naive": best / naive,
            "target_seconds": 10,
            "meets_target": best <= 10,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
