"""The demo step: a published policy over the demo's customer segments with a run history."""

from __future__ import annotations

import polars as pl
from sqlalchemy import func, select

from tests.support.builders import new_tenant
from tierline.demo.seeding import seed_tenant
from tierline.demo.segmentation import seed_segmentation
from tierline.demo.service_levels import demo_step as seed_service_levels
from tierline.inventory import service as inventory
from tierline.inventory.demo import seed_policy
from tierline.inventory.models import InventoryPolicyRun
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import tenant_session


async def test_demo_policy_has_a_history_and_explained_results(runtime: Runtime) -> None:
    # A tenant of its own: the demo's contracts would hold first assignments in the session's
    # shared seeded tenant, which other tests classify afresh.
    seeded_tenant = await new_tenant(runtime, "eu", "Inventory Demo", "invdemo")
    await seed_tenant(runtime, seeded_tenant, "small")
    await seed_segmentation(runtime, seeded_tenant)
    await seed_service_levels(runtime, seeded_tenant, None)
    lines = await seed_policy(runtime, seeded_tenant)
    assert lines and "SKU-locations" in lines[0]
    # a second demo adds nothing (no new run) and says the same
    async with tenant_session(seeded_tenant) as s:
        runs = await s.scalar(select(func.count()).select_from(InventoryPolicyRun))
    assert await seed_policy(runtime, seeded_tenant) == lines
    async with tenant_session(seeded_tenant) as s:
        assert await s.scalar(select(func.count()).select_from(InventoryPolicyRun)) == runs
    async with tenant_session(seeded_tenant) as s:
        run_id, results = await inventory.latest_policy_results(s)
        runs = (await s.execute(inventory.runs_query())).scalars().all()
    assert len(runs) == 3 and run_id is not None
    computed = results.filter(pl.col("safety_stock").is_not_null())
    assert computed.height > results.height * 0.9
    sources = set(results["lead_time_source"])
    assert {"observed", "planned"} <= sources
    segments = set(computed["segment_code"].drop_nulls())
    assert {"PLAT", "GOLD"} <= segments
    top = computed.filter(pl.col("segment_code") == "PLAT")
    assert (top["service_measure"] == "fill_rate").all()
