"""The data steward's queue over the JSON API: open reviews with their candidates, merge and keep
apart with the pages' checks (permission, scope, 409 once decided) and audit; another tenant's
reviews do not exist (404)."""

from __future__ import annotations

import httpx

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.masterdata.golden.test_golden import audit, goldens, links, review_id, reviews, seed
from tests.masterdata.importing.test_import_api import bearer
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

REVIEWS = "/api/v1/steward/reviews"


async def test_the_queue_lists_open_reviews_with_their_candidates_page_by_page(
    client: httpx.AsyncClient, runtime: Runtime, tenant: TenantRef
) -> None:
    await seed(runtime, tenant)
    headers = await bearer(client, tenant, ["steward:resolve"])
    everything = await client.get(REVIEWS, headers=headers)
    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert [(r["source_key"], r["candidate_code"]) for r in items] == [
        ("S2", "C300"),
        ("S5", "C400"),
        ("S6", "C500"),
        ("S6", "C501"),
    ]
    nordic = items[0]
    assert (nordic["entity"], nordic["source_system"], nordic["score"]) == (
        "customer",
        "sales",
        0.7,
    )
    assert nordic["reasons"] == ["same name", "same country", "postal code differs"]
    postal = next(f for f in nordic["fields"] if f["name"] == "postal_code")
    assert postal == {"name": "postal_code", "source": "99999", "golden": "11122", "differs": True}
    assert nordic["candidate_missing"] is False and everything.json()["next_cursor"] is None

    first = (await client.get(REVIEWS, params={"limit": 3}, headers=headers)).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = await client.get(
        REVIEWS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
    )
    assert [r["candidate_code"] for r in rest.json()["items"]] == ["C501"]
    assert rest.json()["next_cursor"] is None
    products = await client.get(REVIEWS, params={"entity": "product"}, headers=headers)
    assert products.json()["items"] == []
    for bad, field, status in (
        ({"entity": "planet"}, "entity", 422),
        ({"cursor": "x"}, "cursor", 400),  # not a cursor this API issued
        ({"limit": 0}, "limit", 400),  # out of the declared range
    ):
        refused = await client.get(REVIEWS, params=bad, headers=headers)
        assert refused.status_code == status and refused.json()["detail"].startswith(field)


async def test_merge_and_keep_apart_decide_audit_and_refuse_a_settled_review(
    client: httpx.AsyncClient, runtime: Runtime, tenant: TenantRef
) -> None:
    await seed(runtime, tenant)
    headers = await bearer(client, tenant, ["steward:resolve"])
    merge_id = await review_id(tenant, "S2", "C300")
    merged = await client.post(
        f"{REVIEWS}/{merge_id}/merge", json={"reason": "same VAT on the invoice"}, headers=headers
    )
    assert merged.status_code == 200, merged.text
    assert merged.json() == {
        "review_id": merge_id,
        "status": "merged",
        "entity": "customer",
        "source_system": "sales",
        "source_key": "S2",
        "code": "C300",
        "other_candidates_closed": 0,
    }
    assert (await links(tenant, "sales"))["S2"] == "C300"
    assert (await goldens(tenant))["C300"].crm_tier == "gold"  # survivorship ran
    [entry] = await audit(tenant, "golden.merge")
    assert (entry.actor_kind, entry.object_id, entry.reason) == (
        "client",
        "C300",
        "same VAT on the invoice",
    )
    assert entry.after["review_id"] == merge_id and entry.before["golden"]["crm_tier"] is None

    # Settled meanwhile: 409 with the reason, nothing changes.
    again = await client.post(f"{REVIEWS}/{merge_id}/keep-apart", headers=headers)
    assert again.status_code == 409 and "already decided" in again.json()["detail"]
    assert await audit(tenant, "golden.keep_apart") == []

    apart_id = await review_id(tenant, "S5", "C400")
    kept = await client.post(f"{REVIEWS}/{apart_id}/keep-apart", headers=headers)
    assert kept.status_code == 200 and kept.json()["code"] == "S5"
    assert (await goldens(tenant))["S5"].name == "Globex Corp."
    [entry] = await audit(tenant, "golden.keep_apart")
    assert (entry.object_id, entry.reason, entry.before) == ("S5", None, {"golden": None})

    sibling = await review_id(tenant, "S6", "C501")
    both = await client.post(f"{REVIEWS}/{sibling}/merge", json={}, headers=headers)
    assert both.json()["other_candidates_closed"] == 1
    assert (await client.get(REVIEWS, headers=headers)).json()["items"] == []

    # A body the API cannot read is refused before anything is decided.
    fresh = await client.post(
        f"{REVIEWS}/{merge_id}/merge",
        content=b'{"reason": "a\\u0000b"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert fresh.status_code == 422 and "NUL" in fresh.json()["detail"]
    unknown = await client.post(
        f"{REVIEWS}/{apart_id}/merge", json={"reason": "x" * 501}, headers=headers
    )
    assert unknown.status_code == 422 and "reason" in unknown.json()["detail"]


async def test_another_tenants_reviews_are_404_and_other_roles_are_refused(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: TenantRef,
    make_tenant: TenantFactory,
) -> None:
    await seed(runtime, tenant)
    target = await review_id(tenant, "S2", "C300")
    other = await make_tenant()
    outsider = await bearer(client, other, ["steward:resolve"])
    assert (await client.get(REVIEWS, headers=outsider)).json()["items"] == []
    for decision in ("merge", "keep-apart"):
        response = await client.post(f"{REVIEWS}/{target}/{decision}", headers=outsider)
        assert response.status_code == 404
    reader = await bearer(client, tenant, ["masterdata:read"])
    assert (await client.get(REVIEWS, headers=reader)).status_code == 403
    assert (await client.post(f"{REVIEWS}/{target}/merge", headers=reader)).status_code == 403
    assert all(r.status == "open" for r in await reviews(tenant))
    assert (await links(tenant, "sales"))["S2"] is None


async def test_a_regional_steward_sees_and_decides_only_reviews_in_scope(
    client: httpx.AsyncClient, runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await seed(runtime, tenant)
    await sign_in(client, await make_staff(tenant, "data_steward", scope="emea"))
    token = {"X-CSRF-Token": csrf_of((await client.get(f"/t/{tenant.slug}/steward")).text)}
    listed = await client.get(REVIEWS)
    assert [r["candidate_code"] for r in listed.json()["items"]] == ["C300"]
    outside = await review_id(tenant, "S6", "C500")
    assert (await client.post(f"{REVIEWS}/{outside}/merge", headers=token)).status_code == 404
    inside = await review_id(tenant, "S2", "C300")
    decided = await client.post(f"{REVIEWS}/{inside}/merge", headers=token)
    assert decided.status_code == 200, decided.text
