"""Tenant provisioning: create 200 tenants; median ms per tenant (target <= 250 ms).

Baseline, measured in the same run on the same server: the bare DDL of a tenant schema
(``CREATE SCHEMA`` plus the tenant tables from the SQLAlchemy metadata, no control plane, no
Alembic), so the ratio shows what provisioning's bookkeeping costs on top of the DDL itself.
Every domain's models are loaded first, so the baseline creates all the tenant tables (it
still lacks what only the migrations add: their indexes, triggers and functions).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy.schema import CreateIndex, CreateTable

from bench._harness import fresh_runtime, summary, write_result

COUNT = 200


async def bare_ddl(runtime, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    from tierline.platform.assembly import load_models
    from tierline.platform.db import TenantBase

    load_models()

    timings = []
    engine = runtime.databases.region("eu")
    for _ in range(n):
        schema = f"b_{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        async with engine.begin() as conn:
            bound = await conn.execution_options(schema_translate_map={"tenant": schema})
            await bound.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            for table in TenantBase.metadata.sorted_tables:
                await bound.execute(CreateTable(table))
                for index in table.indexes:
                    await bound.execute(CreateIndex(index))
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def provisioning(runtime, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    from tierline.tenants.service import provision_tenant

    timings = []
    for i in range(n):
        started = time.perf_counter()
        await provision_tenant(
            runtime.databases, f"b{uuid.uuid4().hex[:10]}", f"Bench {i}", ("eu", "us")[i % 2]
        )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def main() -> None:
    async with fresh_runtime() as runtime:
        await provisioning(runtime, 5)  # warm up pools and caches
        base = summary(await bare_ddl(runtime, COUNT))
        tier = summary(await provisioning(runtime, COUNT))
    write_result(
        "provisioning",
        {
            "tenants": COUNT,
            "provisioning_ms": tier,
            "bare_ddl_ms": base,
            "ratio_median_vs_bare_ddl": tier["median"] / base["median"],
            "target_median_ms": 250,
            "meets_target": tier["median"] <= 250,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
