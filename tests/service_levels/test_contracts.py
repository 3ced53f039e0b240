"""Contracts, contract conflicts, escalation paths, and the pages and API around entitlements."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.service_levels.test_entitlements import (
    ACTOR,
    LEVELS,
    assigned_customers,
    entitlement,
    publish_customer_scheme,
    save,
)
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.runs.service import run_scheme
from tierline.service_levels.contracts import (
    ContractInput,
    ContractInvalid,
    active_contract,
    contract_conflicts,
    save_contract,
)
from tierline.service_levels.escalation import EscalationInvalid, StepInput, save_escalation
from tierline.service_levels.models import Contract, EntitlementVersion

TODAY = datetime.now(UTC).date()


def contract(customer: str, **changes: object) -> ContractInput:
    values: dict[str, object] = {
        "customer_code": customer,
        "reference": f"K-{uuid.uuid4().hex[:8]}",
        "valid_from": date(2020, 1, 1),
        "fill_rate_min": 0.95,
        "max_lead_time_days": 5,
    }
    values.update(changes)
    return ContractInput(**values)  # type: ignore[arg-type]


async def run_customer_scheme(runtime: Runtime, tenant: TenantRef, prefix: str) -> str:
    code = await publish_customer_scheme(runtime, tenant, prefix)
    assert (await run_scheme(runtime, tenant, code, actor=ACTOR)).status == "succeeded"
    for segment in LEVELS:
        await save(runtime, tenant, code, segment, entitlement(segment))
    return code


async def test_contract_conflicts_for_a_move(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await run_customer_scheme(runtime, seeded_tenant, "con_move")
    customer = None
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        # Other tests put contracts on some customers of the shared tenant: take a free one.
        for candidate in sorted(await assigned_customers(runtime, seeded_tenant, code)):
            if await active_contract(s, candidate, TODAY) is None:
                customer = candidate
                break
    assert customer is not None
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        saved = await save_contract(s, contract(customer), ACTOR)
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        assert (await active_contract(s, customer, TODAY)) is not None
        plat = await contract_conflicts(s, customer, code, "PLAT", TODAY)
        gold = await contract_conflicts(s, customer, code, "GOLD", TODAY)
        bronze = await contract_conflicts(s, customer, code, "BRNZ", TODAY)
        before_contract = await contract_conflicts(s, customer, code, "BRNZ", date(2019, 1, 1))
    assert plat == [] and gold == [] and before_contract == []
    assert any("fill rate" in line and saved.reference in line for line in bronze)
    assert any("lead time" in line for line in bronze)


async def test_bad_contracts_are_refused(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        with pytest.raises(ContractInvalid) as caught:
            await save_contract(s, contract("NOBODY", fill_rate_min=1.5), ACTOR)
    fields = {e.field for e in caught.value.errors}
    assert "fill_rate_min" in fields
    async with tenant_session(tenant, runtime.databases) as s:
        with pytest.raises(ContractInvalid) as caught:
            await save_contract(s, contract("NOBODY"), ACTOR)
        assert await s.scalar(select(func.count()).select_from(Contract)) == 0
    assert {e.field for e in caught.value.errors} == {"customer_code"}


async def test_overlapping_contracts_are_refused(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "con_overlap")
    assert (await run_scheme(runtime, seeded_tenant, code, actor=ACTOR)).status == "succeeded"
    customer = sorted(await assigned_customers(runtime, seeded_tenant, code))[-1]
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await save_contract(
            s, contract(customer, valid_from=date(1990, 1, 1), valid_to=date(1991, 1, 1)), ACTOR
        )
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        with pytest.raises(ContractInvalid) as caught:
            await save_contract(
                s, contract(customer, valid_from=date(1990, 6, 1), valid_to=date(1990, 9, 1)), ACTOR
            )
    assert any("overlaps contract" in e.message for e in caught.value.errors)


async def test_escalation_validation(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "esc_val")
    good = [
        StepInput(step=1, notify="role:account_manager", after_periods=1),
        StepInput(step=2, notify="Boss@Example.com", after_periods=2, channel="email"),
    ]
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        rows = await save_escalation(s, code, "GOLD", good, ACTOR)
    assert [r.notify for r in rows] == ["role:account_manager", "boss@example.com"]
    bad = [
        StepInput(step=1, notify="role:wizard", after_periods=3),
        StepInput(step=3, notify="not an address", after_periods=2, period="year"),
    ]
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        with pytest.raises(EscalationInvalid) as caught:
            await save_escalation(s, code, "GOLD", bad, ACTOR)
    fields = {e.field for e in caught.value.errors}
    assert {"steps[1].notify", "steps[2]", "steps[2].notify", "steps[2].after_periods"} <= fields
    assert "steps[2].period" in fields


# ---------------------------------------------------------------------------------------------
# Pages and API


async def as_user(client: httpx.AsyncClient, staff: object) -> None:
    response = await sign_in(client, staff)  # type: ignore[arg-type]
    assert response.status_code == 303, response.text


async def test_pages_and_forms(
    client: httpx.AsyncClient, runtime: Runtime, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_page")
    await as_user(client, await make_staff(seeded_tenant, "planner"))
    url = f"/t/{seeded_tenant.slug}/segments/entitlements"
    page = await client.get(url, params={"scheme": code})
    assert page.status_code == 200 and "Add a version" in page.text and "PLAT" in page.text
    form = {
        "_csrf": csrf_of(page.text),
        "scheme_code": code,
        "segment_code": "PLAT",
        "effective_from": "2020-01-01",
        "fill_rate_target": "120",
        "otif_target": "97",
        "perfect_order_target": "95",
        "cycle_service_level": "99",
        "quoted_lead_time_days": "2",
        "allocation_priority": "1",
        "allocation_min_share": "0",
        "picking_priority": "1",
        "delivery_windows": "mon,tue 08:00-16:00",
    }
    bad = await client.post(url, data=form)
    assert bad.status_code == 422 and "between 0 and 100 %" in bad.text
    assert 'value="120"' in bad.text
    ok = await client.post(url, data={**form, "fill_rate_target": "98"})
    assert ok.status_code == 303
    after = await client.get(ok.headers["location"])
    assert "Saved a new version for PLAT" in after.text and "98" in after.text
    esc_url = f"/t/{seeded_tenant.slug}/segments/escalations/{code}/PLAT"
    esc = await client.get(esc_url)
    assert esc.status_code == 200
    saved = await client.post(
        esc_url,
        data={
            "_csrf": csrf_of(esc.text),
            "notify_1": "role:planner",
            "after_periods_1": "2",
            "period_1": "week",
            "channel_1": "in_app",
        },
    )
    assert saved.status_code == 303
    assert "role:planner" in (await client.get(saved.headers["location"])).text
    contracts = await client.get(f"/t/{seeded_tenant.slug}/segments/contracts")
    assert contracts.status_code == 200 and "Add a contract" in contracts.text
    refused = await client.post(
        f"/t/{seeded_tenant.slug}/segments/contracts",
        data={
            "_csrf": csrf_of(contracts.text),
            "customer_code": "NOBODY",
            "reference": "X",
            "valid_from": "2020-01-01",
        },
    )
    assert refused.status_code == 422 and "no customer" in refused.text
    no_csrf = await client.post(url, data={k: v for k, v in form.items() if k != "_csrf"})
    assert no_csrf.status_code == 403


async def test_api(
    client: httpx.AsyncClient, runtime: Runtime, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_api")
    assert (await client.get("/api/v1/entitlements", params={"scheme": code})).status_code == 401
    await as_user(client, await make_staff(seeded_tenant, "planner"))
    home = await client.get(f"/t/{seeded_tenant.slug}/segments/entitlements")
    headers = {"X-CSRF-Token": csrf_of(home.text)}
    body = {
        "scheme_code": code,
        "segment_code": "GOLD",
        "effective_from": "2020-01-01",
        "fill_rate_target": 0.96,
        "otif_target": 0.95,
        "perfect_order_target": 0.93,
        "cycle_service_level": 0.97,
        "quoted_lead_time_days": 3,
        "allocation_priority": 2,
        "picking_priority": 2,
        "delivery_windows": [{"days": ["mon"], "from": "08:00", "to": "12:00"}],
    }
    created = await client.post("/api/v1/entitlements", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["fill_rate_target"] == 0.96
    overlap = await client.post("/api/v1/entitlements", json=body, headers=headers)
    assert overlap.status_code == 422
    assert any(e["field"] == "effective_from" for e in overlap.json()["errors"])
    listed = await client.get("/api/v1/entitlements", params={"scheme": code})
    gold = next(s for s in listed.json()["segments"] if s["code"] == "GOLD")
    assert listed.status_code == 200 and len(gold["versions"]) == 1
    assert (await client.get("/api/v1/entitlements", params={"scheme": "nope"})).status_code == 404
    steps = {"steps": [{"step": 1, "notify": "role:approver", "after_periods": 1}]}
    put = await client.put(f"/api/v1/escalations/{code}/GOLD", json=steps, headers=headers)
    assert put.status_code == 200 and put.json()["steps"][0]["notify"] == "role:approver"
    got = await client.get(f"/api/v1/escalations/{code}/GOLD")
    assert got.json()["steps"][0]["after_periods"] == 1
    bad = await client.put(
        f"/api/v1/escalations/{code}/GOLD",
        json={"steps": [{"step": 2, "notify": "x", "after_periods": 0}]},
        headers=headers,
    )
    assert bad.status_code == 422
    contracts = await client.get("/api/v1/contracts")
    assert contracts.status_code == 200 and isinstance(contracts.json()["items"], list)
    refused = await client.post(
        "/api/v1/contracts",
        json={"customer_code": "NOBODY", "reference": "R", "valid_from": "2020-01-01"},
        headers=headers,
    )
    assert refused.status_code == 422


async def test_isolation_and_permissions(
    client: httpx.AsyncClient,
    runtime: Runtime,
    seeded_tenant: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_iso")
    await save(runtime, seeded_tenant, code, "PLAT", entitlement("PLAT"))
    other = await make_tenant()
    await as_user(client, await make_staff(other, "admin"))
    own = await client.get(f"/t/{other.slug}/segments/entitlements")
    assert own.status_code == 200
    headers = {"X-CSRF-Token": csrf_of(own.text)}
    base = f"/t/{seeded_tenant.slug}/segments"
    for path in (
        f"{base}/entitlements",
        f"{base}/contracts",
        f"{base}/escalations/{code}/PLAT",
    ):
        assert (await client.get(path)).status_code == 404, path
        posted = await client.post(path, data={"_csrf": headers["X-CSRF-Token"]})
        assert posted.status_code == 404, path
    # The API takes the tenant from the credential: the other tenant's scheme does not exist.
    assert (await client.get("/api/v1/entitlements", params={"scheme": code})).status_code == 404
    assert (await client.get(f"/api/v1/escalations/{code}/PLAT")).status_code == 404
    steps = {"steps": []}
    assert (
        await client.put(f"/api/v1/escalations/{code}/PLAT", json=steps, headers=headers)
    ).status_code == 404
    assert (await client.get("/api/v1/contracts")).json() == {"items": [], "next_cursor": None}
    posted = await client.post(
        "/api/v1/entitlements",
        json={"scheme_code": code, "segment_code": "PLAT"},
        headers=headers,
    )
    assert posted.status_code == 422
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        count = await s.scalar(select(func.count()).where(EntitlementVersion.scheme_code == code))
    assert count == 1

    # Missing permission: data stewards may not read, analysts may not write.
    client.cookies.clear()
    await as_user(client, await make_staff(seeded_tenant, "data_steward"))
    assert (await client.get(f"{base}/entitlements")).status_code == 403
    assert (await client.get("/api/v1/entitlements", params={"scheme": code})).status_code == 403
    assert (await client.get("/api/v1/contracts")).status_code == 403
    client.cookies.clear()
    await as_user(client, await make_staff(seeded_tenant, "analyst"))
    page = await client.get(f"{base}/entitlements", params={"scheme": code})
    assert page.status_code == 200 and "Add a version" not in page.text
    headers = {"X-CSRF-Token": csrf_of(page.text)}
    for method, path in (
        ("POST", f"{base}/entitlements"),
        ("POST", f"{base}/contracts"),
        ("POST", f"{base}/escalations/{code}/PLAT"),
        ("POST", "/api/v1/entitlements"),
        ("POST", "/api/v1/contracts"),
        ("PUT", f"/api/v1/escalations/{code}/PLAT"),
    ):
        response = await client.request(method, path, json={}, headers=headers)
        assert response.status_code == 403, (method, path)
