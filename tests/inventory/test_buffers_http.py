"""The multi-echelon buffers page and API: the profile per segment and echelon, a location over
capacity cut from the lowest tier with the service cost shown; 409 without a run in force."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import StaffFactory, TenantFactory, sign_in
from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.inventory_builders import build_inventory_history
from tests.support.segmentation_builders import bearer
from tierline.inventory import service as inventory
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import tenant_session


async def test_profile_and_capacity_cuts(
    client: httpx.AsyncClient,
    runtime: Runtime,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    a, b = await make_tenant(), await make_tenant()
    history = await build_inventory_history(a)
    async with tenant_session(a) as s:  # DC1 holds far less than S1's top level needs
        await s.execute(text("UPDATE locations SET capacity = 150 WHERE code = 'DC1'"))
    await publish_policy(a)
    await inventory.run_policy(runtime, a, "main", actor=ACTOR, as_of=history.as_of)
    headers = await bearer(client, a, ["inventory:read"])
    got = (await client.get("/api/v1/inventory/buffers", headers=headers)).json()
    assert {p["segment"] for p in got["profile"]} >= {"GOLD"}
    [dc1] = [loc for loc in got["locations"] if loc["location"] == "DC1"]
    assert dc1["usage_before"] > dc1["capacity"] == 150 and dc1["freed"] > 0
    cuts = [c for c in got["cuts"] if c["cut_units"] > 0]
    assert cuts and sum(c["cut_units"] for c in cuts) == pytest.approx(dc1["freed"])
    for cut in cuts:  # each cut costs service, and the lowest tier is cut first
        assert cut["fill_rate_after"] <= cut["fill_rate_before"]
    assert max(c["tier"] for c in got["cuts"]) in {c["tier"] for c in cuts}
    assert (await sign_in(client, await make_staff(a, "analyst"))).status_code == 303
    page = await client.get(f"/t/{a.slug}/inventory/buffers")
    assert page.status_code == 200 and "Cuts and their service cost" in page.text
    assert "DC1" in page.text
    other = await bearer(client, b, ["inventory:read"])
    refused = await client.get("/api/v1/inventory/buffers", headers=other)
    assert refused.status_code == 409
