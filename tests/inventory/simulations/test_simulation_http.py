"""The simulation page and API: chart with axes, legend, targets and a text alternative; a
run refused without its inputs (409); another tenant's simulation is 404."""

from __future__ import annotations

import httpx

from tests.conftest import StaffFactory, TenantFactory, sign_in
from tests.inventory.simulations.test_simulations import with_erp
from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.inventory_builders import build_inventory_history
from tests.support.segmentation_builders import bearer
from tierline.inventory import service as inventory
from tierline.inventory.simulations import service as simulations
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def simulated(runtime: Runtime, tenant: TenantRef) -> int:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    await with_erp(tenant)
    async with tenant_session(tenant) as s:
        return (await simulations.simulate_in_force(s, ACTOR, history.as_of, days=112)).id


async def test_page_chart_and_api(
    client: httpx.AsyncClient,
    runtime: Runtime,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    a, b = await make_tenant(), await make_tenant()
    sid = await simulated(runtime, a)
    assert (await sign_in(client, await make_staff(a, "analyst"))).status_code == 303
    page = await client.get(f"/t/{a.slug}/inventory/simulation")
    assert page.status_code == 200 and f"Simulation #{sid}" in page.text
    assert '<title id="simchart-title">Unit fill rate per segment: GOLD: ERP' in page.text
    assert ">target</text>" in page.text and "Calibration" in page.text
    assert "Simulate the run in force now" not in page.text  # analysts may not run
    export = await client.get(f"/t/{a.slug}/inventory/simulation/{sid}/export.csv")
    assert export.status_code == 200 and "fill_rate_proposed" in export.text
    headers = await bearer(client, a, ["inventory:read", "inventory:run"])
    got = (await client.get(f"/api/v1/inventory/simulations/{sid}", headers=headers)).json()
    assert {c["segment"] for c in got["comparison"]} >= {"GOLD"}
    other = await bearer(client, b, ["inventory:read", "inventory:run"])
    assert (
        await client.get(f"/api/v1/inventory/simulations/{sid}", headers=other)
    ).status_code == 404
    refused = await client.post("/api/v1/inventory/simulations", headers=other, json={})
    assert refused.status_code == 409 and "no policy run is in force" in refused.text
    assert (await client.get("/api/v1/inventory/simulations", headers=other)).json()["items"] == []
    client.cookies.clear()
    assert (await sign_in(client, await make_staff(b, "admin"))).status_code == 303
    assert (await client.get(f"/t/{b.slug}/inventory/simulation?id={sid}")).status_code == 404
    assert (await client.get(f"/t/{b.slug}/inventory/simulation?id=x")).status_code == 422
