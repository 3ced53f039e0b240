"""The lists of reconciliations and simulations page by cursor like every other list: newest
first, ``limit`` and ``next_cursor``, a foreign cursor is a 400 problem, another tenant sees
none."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tests.conftest import TenantFactory
from tests.support.segmentation_builders import bearer
from tierline.inventory.reconciliation.models import ErpReconciliation
from tierline.inventory.simulations.models import InventorySimulation
from tierline.platform.pagination import encode_cursor
from tierline.platform.tenancy import tenant_session


@pytest.mark.parametrize("kind", ["reconciliations", "simulations"])
async def test_lists_page_by_cursor(
    client: httpx.AsyncClient, make_tenant: TenantFactory, kind: str
) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with tenant_session(a) as s:
        for n in range(3):
            if kind == "simulations":
                s.add(
                    InventorySimulation(
                        policy_code="main", as_of=date(2026, 12, 1), days=364, seed=n,
                        sku_locations=1, candidates=1, shortfalls=[], created_by="p@example.com",
                    )
                )  # fmt: skip
            else:
                s.add(ErpReconciliation(as_of=date(2026, 12, 1), created_by="p@example.com"))
            await s.flush()
    url = f"/api/v1/inventory/{kind}"
    headers = await bearer(client, a, ["inventory:read"])
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        page = (await client.get(url, params=params, headers=headers)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert len(seen) == 3 and seen == sorted(seen, reverse=True)
    foreign = await client.get(url, params={"cursor": encode_cursor(("x", 1))}, headers=headers)
    assert foreign.status_code == 400 and "cursor" in foreign.json()["detail"]
    other = await bearer(client, b, ["inventory:read"])
    assert (await client.get(url, headers=other)).json() == {"items": [], "next_cursor": None}
