"""The distortion page and API on a real tenant: positions against the run in force, the
network-expense finding, root causes, money masked without margin:read, 409 without a run."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from tests.conftest import StaffFactory, TenantFactory, sign_in
from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.inventory_builders import build_inventory_history
from tests.support.segmentation_builders import bearer
from tierline.inventory import service as inventory
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def with_positions(runtime: Runtime, tenant: TenantRef) -> None:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    async with tenant_session(tenant) as s:
        # S1 (GOLD) far above its maximum, S4 a position with no target problems
        await s.execute(
            text(
                "INSERT INTO inventory_positions (sku, location_code, as_of, on_hand, on_order) "
                "VALUES ('S1', 'DC1', :d, 5000, 0), ('S3', 'DC1', :d, 0, 0)"
            ),
            {"d": history.as_of},
        )


async def test_positions_against_targets(
    client: httpx.AsyncClient,
    runtime: Runtime,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    a, b = await make_tenant(), await make_tenant()
    await with_positions(runtime, a)
    assert (await sign_in(client, await make_staff(a, "analyst"))).status_code == 303
    page = await client.get(f"/t/{a.slug}/inventory/distortion")
    assert page.status_code == 200, page.text
    assert '<title id="dist-title">Share of SKU-locations per status, by segment:' in page.text
    assert "above max" in page.text and "(they need margin:read)" in page.text  # analyst
    headers = await bearer(client, a, ["inventory:read"])
    got = (await client.get("/api/v1/inventory/distortion", headers=headers)).json()
    rows = {(r["location"], r["segment"]): r for r in got["by_location_segment"]}
    assert rows[("DC1", "GOLD")]["above_max"] == 1 and got["masked"] is True
    assert got["distorted_sku_locations"] >= 1
    export = await client.get(f"/t/{a.slug}/inventory/distortion/export.csv")
    assert export.status_code == 200 and "S1" in export.text and "new" in export.text
    other = await bearer(client, b, ["inventory:read"])
    refused = await client.get("/api/v1/inventory/distortion", headers=other)
    assert refused.status_code == 409 and "no policy run is in force" in refused.text
