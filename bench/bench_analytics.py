"""Commercial analytics on the ``large`` demo data (2M order lines): cost-to-serve and margin by
segment over the whole history (decrypting revenue, margin and the cost records, allocating,
adding up) and the cohorts of one reclassification month. Targets: cost-to-serve <= 15 s,
cohorts <= 5 s.

Each figure comes with a baseline measured in the same run, so the ratio says what the
analysis adds to the floor it cannot avoid: for cost-to-serve, reading and decrypting the same
order lines and cost records (master data's ``*_with_money`` readers, nothing else); for
cohorts, reading the order lines of the windows. Peak memory is this process's RSS.

Seeding goes through the real import pipeline (minutes) and one classification run gives
the segments; a manual review (as the demo step records) a month before the newest order
gives the movers. ``TIERLINE_BENCH_ANALYTICS_SCALE=medium`` for a quicker look.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from typing import Any

from bench._harness import fresh_runtime, write_result
from bench.bench_segment_run import PeakRss

SCALE = os.environ.get("TIERLINE_BENCH_ANALYTICS_SCALE", "large")
ROUNDS = 3


async def _timed(step: Any) -> tuple[float, int, Any]:
    with PeakRss() as rss:
        started = time.perf_counter()
        result = await step()
        elapsed = time.perf_counter() - started
    return elapsed, rss.peak, result


async def main() -> None:
    from tierline.analytics.cohorts.figures import cohort_analysis
    from tierline.analytics.cohorts.panel import Windows, add_months
    from tierline.analytics.cost_to_serve.figures import Window, cost_to_serve
    from tierline.analytics.demo import DEMO_SCHEME, _record_a_review
    from tierline.analytics.settings_store import save_choices
    from tierline.demo.seeding import seed_tenant
    from tierline.masterdata.service import (
        cost_records_with_money,
        latest_order_date,
        order_lines_plain,
        order_lines_with_money,
    )
    from tierline.platform.encryption.store import kms_from_settings, load_codec
    from tierline.platform.identity.users import Actor
    from tierline.platform.tenancy import tenant_session
    from tierline.segmentation.service import create_scheme, load_template, publish, run_scheme
    from tierline.tenants.service import provision_tenant

    actor = Actor("bench")
    async with fresh_runtime() as runtime:
        tenant = await provision_tenant(
            runtime.databases, "bench_ana", "Bench", "eu", kms=kms_from_settings(runtime.settings)
        )
        started = time.perf_counter()
        await seed_tenant(runtime, tenant, SCALE)
        seeded = time.perf_counter() - started
        print(f"seeded {SCALE} in {seeded:.1f} s", flush=True)
        async with tenant_session(tenant, runtime.databases) as s:
            await create_scheme(s, load_template("customer_service"), actor)
            await publish(s, DEMO_SCHEME, actor)
            newest = await latest_order_date(await s.connection())
        assert newest is not None
        first_run = newest.replace(day=1) - timedelta(days=70)
        await run_scheme(runtime, tenant, DEMO_SCHEME, actor=actor, as_of=first_run)
        async with tenant_session(tenant, runtime.databases) as s:
            moved = await _record_a_review(s)
            await save_choices(
                s, scheme_code=DEMO_SCHEME, drivers={}, churn_periods=1, actor="bench"
            )
        window = Window.of(newest.replace(day=1) - timedelta(days=700), newest)
        codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)

        async def floor() -> int:
            async with tenant_session(tenant, runtime.databases) as s:
                conn = await s.connection()
                lines = await order_lines_with_money(conn, codec, window.first, window.end)
                costs = await cost_records_with_money(conn, codec, window.first, window.last)
            return lines.frame.height + costs.frame.height

        async def analysis() -> Any:
            return await cost_to_serve(runtime, tenant, window)

        month = add_months(newest.replace(day=1), -2)
        windows = Windows(month, 1)

        async def lines_of_windows() -> int:
            async with tenant_session(tenant, runtime.databases) as s:
                frame = await order_lines_plain(
                    await s.connection(), windows.before[0], add_months(windows.after[1], 1)
                )
            return frame.height

        async def cohorts() -> Any:
            return await cohort_analysis(runtime, tenant, month, 1)

        rounds: list[dict[str, Any]] = []
        for n in range(ROUNDS):
            base_s, base_rss, rows = await _timed(floor)
            cts_s, cts_rss, report = await _timed(analysis)
            read_s, _, window_lines = await _timed(lines_of_windows)
            co_s, co_rss, cohort = await _timed(cohorts)
            rounds.append(
                {
                    "round": n + 1,
                    "decrypt_floor_seconds": round(base_s, 2),
                    "cost_to_serve_seconds": round(cts_s, 2),
                    "cost_to_serve_vs_floor": round(cts_s / base_s, 2),
                    "cost_to_serve_peak_rss_mb": round(max(base_rss, cts_rss) / 2**20),
                    "cohort_read_seconds": round(read_s, 2),
                    "cohort_seconds": round(co_s, 2),
                    "cohort_vs_read": round(co_s / read_s, 2) if read_s else None,
                    "cohort_peak_rss_mb": round(co_rss / 2**20),
                }
            )
            print(rounds[-1], flush=True)
        write_result(
            "analytics",
            {
                "scale": SCALE,
                "seed_seconds": round(seeded, 1),
                "order_lines": report.lines,
                "rows_decrypted": rows,
                "refused_cost_records": len(report.refused),
                "window_lines": window_lines,
                "movers": cohort.movers,
                "matched": cohort.matched,
                "review_moves": moved,
                "rounds": rounds,
                "targets_seconds": {"cost_to_serve": 15, "cohorts": 5},
            },
        )


if __name__ == "__main__":
    asyncio.run(main())
