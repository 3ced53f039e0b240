"""Publishing under a simulated shortfall over HTTP: the policy page shows the shortfall and
takes an acknowledgement with a reason, the API takes the same typed fields; without them
publishing is refused (409), with them it is accepted and audited with the reason."""

from __future__ import annotations

import json
from datetime import date

import httpx
from sqlalchemy import text

from tests.conftest import StaffFactory
from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.segmentation_builders import bearer
from tests.support.web import csrf_of, sign_in
from tierline.inventory import service as inventory
from tierline.inventory.simulations.models import InventorySimulation
from tierline.inventory.store import get_policy
from tierline.platform.tenancy import TenantRef, tenant_session

SHORTFALL = {"segment": "GOLD", "measure": "fill_rate", "target": 0.98, "simulated": 0.94}


async def short_of_gold(tenant: TenantRef, threshold: float) -> dict[str, object]:
    """A published policy, a simulation that found GOLD short, and a changed draft."""
    await publish_policy(tenant)
    async with tenant_session(tenant) as s:
        s.add(
            InventorySimulation(
                policy_code="main", as_of=date(2026, 12, 1), days=364, seed=7,
                sku_locations=10, candidates=10, shortfalls=[SHORTFALL], created_by=ACTOR.name,
            )
        )  # fmt: skip
        draft = dict((await get_policy(s, "main")).draft or {})
        draft["change_threshold"] = threshold
        await inventory.save_draft(s, "main", draft, ACTOR)
    return draft


async def acknowledgements(tenant: TenantRef) -> list[str | None]:
    async with tenant_session(tenant) as s:
        rows = await s.scalars(
            text(
                "SELECT reason FROM audit_log WHERE object_id = 'main' AND action = "
                "'inventory.policy_shortfall_acknowledged' ORDER BY seq"
            )
        )
        return list(rows)


async def test_api_publish_needs_the_acknowledgement(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    await short_of_gold(tenant, 0.2)
    headers = await bearer(client, tenant, ["inventory:read", "inventory:write"])
    url = "/api/v1/inventory/policies/main/publish"
    refused = await client.post(url, json={"note": "second"}, headers=headers)
    assert refused.status_code == 409, refused.text
    assert "GOLD: fill rate 94.0% against 98.0%" in refused.json()["detail"]
    no_reason = await client.post(url, json={"acknowledge_shortfall": True}, headers=headers)
    assert no_reason.status_code == 409 and "needs a reason" in no_reason.text
    typed = await client.post(url, json={"acknowledge_shortfall": "yes"}, headers=headers)
    assert typed.status_code == 422  # a typed field: a string is not a yes
    assert await acknowledgements(tenant) == []
    accepted = await client.post(
        url,
        json={"note": "second", "acknowledge_shortfall": True, "shortfall_reason": "promo ends"},
        headers=headers,
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["version"] == 2
    assert await acknowledgements(tenant) == ["promo ends"]


async def test_page_shows_the_shortfall_and_takes_the_acknowledgement(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    draft = await short_of_gold(tenant, 0.3)
    await sign_in(client, await make_staff(tenant, "planner"))
    url = f"/t/{tenant.slug}/inventory/policies/main"
    page = await client.get(url)
    assert "GOLD: fill rate 94.0% against 98.0%" in page.text
    assert 'name="acknowledge_shortfall"' in page.text and 'name="shortfall_reason"' in page.text
    form = {"_csrf": csrf_of(page.text), "document": json.dumps(draft), "action": "publish"}
    refused = await client.post(url, data=form)
    assert refused.status_code == 409 and "acknowledge the shortfall to publish" in refused.text
    blank = await client.post(url, data={**form, "acknowledge_shortfall": "yes"})
    assert blank.status_code == 409 and "needs a reason" in blank.text
    assert await acknowledgements(tenant) == []
    accepted = await client.post(
        url, data={**form, "acknowledge_shortfall": "yes", "shortfall_reason": "new supplier"}
    )
    assert accepted.status_code == 303, accepted.text
    assert "Published%20version%202" in accepted.headers["location"]
    assert await acknowledgements(tenant) == ["new supplier"]
