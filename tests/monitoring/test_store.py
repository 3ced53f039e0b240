"""The stored KPI counts against the pure engine: a full computation, an incremental one after
new lines, the segment and target in force, and the update queued after an import."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from sqlalchemy import insert, select

from tierline.masterdata.models import OrderLine
from tierline.masterdata.service import generic_profile, run_import
from tierline.monitoring.definitions import DEFAULT
from tierline.monitoring.engine import cell_counts
from tierline.monitoring.figures import Filters, summed, target_versions, with_attainment
from tierline.monitoring.store import compute, read_assignments, read_lines, stored_cells
from tierline.platform.identity.users import Actor
from tierline.platform.jobs.models import TenantJob
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

from .builders import SCHEME, build_world, order_line


async def engine_cells(tenant: TenantRef, grain: str, as_of) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    async with tenant_session(tenant) as s:
        conn = await s.connection()
        lines = await read_lines(conn)
        spans = await read_assignments(conn, SCHEME)
    return cell_counts(lines, spans, DEFAULT, grain, as_of)  # type: ignore[arg-type]


async def stored(tenant: TenantRef, grain: str) -> pl.DataFrame:
    async with tenant_session(tenant) as s:
        frame = await stored_cells(await s.connection(), grain)  # type: ignore[arg-type]
    return frame.sort(frame.columns[:5])


async def test_full_then_incremental_equal_the_engine_on_all_lines(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    first = await compute(runtime, tenant, as_of=world.today)
    assert first.full and first.lines == 8 * 4 * 2 * 2 and first.scheme_code == SCHEME
    for grain in ("week", "month"):
        expected = await engine_cells(tenant, grain, world.today)
        assert (await stored(tenant, grain)).equals(expected.sort(expected.columns[:5]))

    # a late line added to an order five weeks back, and a new order this week
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(OrderLine),
            [
                order_line("C3-W5-1", 3, "C3", "P1", world.week(5) + timedelta(days=1), True),
                order_line("NEW-1", 1, "C4", "P2", world.today, False),
            ],
        )
    second = await compute(runtime, tenant, as_of=world.today)
    assert not second.full
    assert second.periods == 4  # two weeks and (at most) two months, not all of them
    for grain in ("week", "month"):
        expected = await engine_cells(tenant, grain, world.today)
        assert (await stored(tenant, grain)).equals(expected.sort(expected.columns[:5]))


async def test_attainment_uses_the_segment_and_the_target_in_force(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    await compute(runtime, tenant, as_of=world.today)
    async with tenant_session(tenant) as s:
        sums = await summed(await s.connection(), "week", ["segment", "period_start"], Filters())
        frame = with_attainment(sums, await target_versions(s, SCHEME), DEFAULT, "week")
    rows = {(r["segment"], r["period_start"]): r for r in frame.iter_rows(named=True)}
    # C2 counts under B until 30 days ago, under A since: B had 2 customers 8 weeks back
    assert rows[("B", world.week(8))]["lines"] == 8  # 4 lines a week each
    assert rows[("A", world.week(1))]["lines"] == 8
    assert rows[("unclassified", world.week(1))]["lines"] == 4  # C4, never classified
    # A's target moved from 90 % to 95 % 45 days ago: the period's own target applies
    assert rows[("A", world.week(8))]["otif_target"] == pytest.approx(0.90)
    assert rows[("A", world.week(1))]["otif_target"] == pytest.approx(0.95)
    assert rows[("A", world.week(1))]["otif"] == pytest.approx(0.5)
    assert rows[("A", world.week(1))]["otif_met"] is False
    assert rows[("A", world.week(6))]["otif_met"] is True


async def test_an_import_of_order_lines_queues_the_kpi_update(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    frame = pl.DataFrame(
        [
            {
                "order_no": "IMP-1",
                "line_no": 1,
                "customer_code": "C1",
                "sku": "P1",
                "order_date": world.today.isoformat(),
                "quantity": "5",
                "uom": "EA",
            }
        ]
    )
    result = await run_import(
        runtime, tenant, "order_lines", frame, generic_profile("order_lines"), Actor("t@x.com")
    )
    assert result.status == "applied", result
    async with tenant_session(tenant) as s:
        kinds = (await s.scalars(select(TenantJob.kind))).all()
    assert "monitoring.kpis" in kinds


async def test_the_dashboards_roll_up_equals_the_cells_after_full_and_incremental_updates(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    await compute(runtime, tenant, as_of=world.today)
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(OrderLine),
            [order_line("NEW-2", 1, "C2", "P1", world.today - timedelta(days=9), True)],
        )
    await compute(runtime, tenant, as_of=world.today)
    by = ["segment", "region", "product_line", "period_start"]
    everyone = Filters(within={"customer_code": ["C1", "C2", "C3", "C4"]})  # forces the cells
    async with tenant_session(tenant) as s:
        conn = await s.connection()
        for grain in ("week", "month"):
            rolled = (await summed(conn, grain, by, Filters())).sort(by)
            cells = (await summed(conn, grain, by, everyone)).sort(by)
            assert rolled.height > 0 and rolled.equals(cells)
