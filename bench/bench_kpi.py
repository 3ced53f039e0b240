"""The KPI engine on the ``large`` demo data (2M order lines, customers classified by the
``customer_service`` scheme): full computation (target <= 10 s), the incremental update after a
10k-line import (target <= 1 s), and the dashboard's figures (target p95 <= 200 ms).

Seeding goes through the real import pipeline and a classification run (minutes); only the KPI
work is timed. Baselines measured in the same run: reading the 2M lines with ``COPY`` into
polars alone (what any computation must pay), and a bare polars ``group_by`` summing the same
order lines per week x customer x product x location without judging anything.
Set ``TIERLINE_BENCH_KPI_SCALE=medium`` for a quicker look.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import text

from bench._harness import fresh_runtime, summary, write_result

SCALE = os.environ.get("TIERLINE_BENCH_KPI_SCALE", "large")
IMPORT_LINES = 10_000
DASHBOARD_ROUNDS = 40


def new_lines(today: Any, customers: list[str], skus: list[tuple[str, str]]) -> pl.DataFrame:
    """10k new order lines of the last three weeks, as an ERP batch would send them."""
    n = IMPORT_LINES
    days = [today - timedelta(days=i % 21) for i in range(n)]
    return pl.DataFrame(
        {
            "order_no": [f"BENCH-{i // 4}" for i in range(n)],
            "line_no": [i % 4 + 1 for i in range(n)],
            "customer_code": [customers[i % len(customers)] for i in range(n)],
            "sku": [skus[i % len(skus)][0] for i in range(n)],
            "order_date": [d.isoformat() for d in days],
            "promised_date": [(d + timedelta(days=3)).isoformat() for d in days],
            "delivered_date": [
                (d + timedelta(days=2 + i % 3)).isoformat() for i, d in enumerate(days)
            ],
            "quantity": ["10"] * n,
            "delivered_quantity": [str(10 - (i % 7 == 0)) for i in range(n)],
            "uom": [skus[i % len(skus)][1] for i in range(n)],  # each product's base unit
        }
    )


async def main() -> None:
    from tierline.demo.seeding import seed_tenant
    from tierline.masterdata.service import generic_profile, run_import
    from tierline.monitoring.dashboard import build_dashboard
    from tierline.monitoring.store import compute, read_lines
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.platform.identity.users import Actor
    from tierline.platform.tenancy import tenant_session
    from tierline.segmentation.runs.service import run_scheme
    from tierline.segmentation.schemes.document import load_template
    from tierline.segmentation.schemes.store import create_scheme, publish
    from tierline.tenants.service import provision_tenant

    actor = Actor("bench")
    today = datetime.now(UTC).date()
    async with fresh_runtime() as runtime:
        tenant = await provision_tenant(
            runtime.databases, "bench_kpi", "Bench", "eu", kms=kms_from_settings(runtime.settings)
        )
        started = time.perf_counter()
        await seed_tenant(runtime, tenant, SCALE)
        async with tenant_session(tenant, runtime.databases) as session:
            parsed = await create_scheme(session, load_template("customer_service"), actor)
            await publish(session, parsed.scheme.code, actor)
        await run_scheme(runtime, tenant, parsed.scheme.code, actor=actor)
        print(f"seeded {SCALE} and classified in {time.perf_counter() - started:.1f} s", flush=True)

        # baselines: reading the lines alone, and a bare group_by over them
        reads, groups = [], []
        for _ in range(2):
            async with tenant_session(tenant, runtime.databases) as session:
                t0 = time.perf_counter()
                lines = await read_lines(await session.connection())
                reads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lines.with_columns(pl.col("order_date").dt.truncate("1w").alias("w")).group_by(
                "w", "customer_code", "sku", "location_code"
            ).agg(pl.len(), pl.col("quantity").sum(), pl.col("delivered_quantity").sum())
            groups.append(time.perf_counter() - t0)
        line_count = lines.height
        customers = lines["customer_code"].unique().head(500).to_list()
        async with tenant_session(tenant, runtime.databases) as session:
            found = await session.execute(text("SELECT sku, base_uom FROM products LIMIT 500"))
            skus = [(str(a), str(b)) for a, b in found.all()]
        del lines

        fulls = []
        for _ in range(2):
            outcome = await compute(runtime, tenant, full=True, as_of=today)
            fulls.append(outcome.seconds)
            print(f"full: {outcome.seconds:.2f} s, {outcome.cells:,} cells", outcome.phases)
            phases_full = outcome.phases

        incrementals = []
        for round_no in range(2):
            batch = new_lines(today, customers, skus).with_columns(
                pl.col("order_no") + f"-{round_no}"
            )
            result = await run_import(
                runtime, tenant, "order_lines", batch, generic_profile("order_lines"), actor
            )
            assert result.status == "applied", result.errors
            outcome = await compute(runtime, tenant, as_of=today)
            incrementals.append(outcome.seconds)
            print(
                f"incremental: {outcome.seconds:.2f} s, {outcome.periods} periods, "
                f"{outcome.lines:,} lines read",
                outcome.phases,
                flush=True,
            )
            phases_incremental = outcome.phases

        timings = []
        for _ in range(DASHBOARD_ROUNDS):
            async with tenant_session(tenant, runtime.databases) as session:
                t0 = time.perf_counter()
                await build_dashboard(session, tenant.slug, "week", "otif", None, today)
                timings.append((time.perf_counter() - t0) * 1000)
        dash = summary(timings)
        print(f"dashboard: p50 {dash['median']:.0f} ms, p95 {dash['p95']:.0f} ms", flush=True)

        read_s, group_s = min(reads), min(groups)
        write_result(
            "bench_kpi",
            {
                "scale": SCALE,
                "order_lines": line_count,
                "full_seconds": fulls,
                "full_phases": phases_full,
                "incremental_phases": phases_incremental,
                "full_target_seconds": 10,
                "baseline_read_lines_seconds": read_s,
                "baseline_bare_group_by_seconds": group_s,
                "full_vs_read_alone": min(fulls) / read_s,
                "full_vs_read_plus_group_by": min(fulls) / (read_s + group_s),
                "incremental_seconds": incrementals,
                "incremental_target_seconds": 1,
                "incremental_vs_full": min(incrementals) / min(fulls),
                "dashboard_ms": dash,
                "dashboard_target_p95_ms": 200,
            },
        )


if __name__ == "__main__":
    asyncio.run(main())
