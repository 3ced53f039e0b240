"""Inventory policy over HTTP: the calculator, documents, runs, results, pages, isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import StaffFactory, TenantFactory
from tests.support.inventory_builders import POLICY, InventoryHistory, build_inventory_history
from tests.support.segmentation_builders import bearer
from tests.support.web import csrf_of, sign_in
from tierline.inventory import controllers as api
from tierline.inventory import service as inventory
from tierline.inventory.pages import controllers as pages
from tierline.platform import access
from tierline.platform.identity.users import Actor
from tierline.platform.routing import declared_paths
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

ACTOR = Actor("planner@example.com", "user")
SCOPES = ["inventory:read", "inventory:write", "inventory:run", "inventory:approve"]


@pytest.fixture
async def history(runtime: Runtime, tenant: TenantRef) -> tuple[InventoryHistory, str]:
    built = await build_inventory_history(tenant)
    async with tenant_session(tenant) as s:
        await inventory.create_policy(s, "main", "Main policy", POLICY, ACTOR)
        await inventory.publish(s, "main", ACTOR, "first")
    outcome = await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=built.as_of)
    return built, str(outcome.run_id)


def routes() -> list[tuple[str, str, str]]:
    found = []
    for path, handler in declared_paths([*api.ROUTES, *pages.ROUTES]):
        permission = access.declared_permission(handler)
        assert permission, handler
        for method in handler.http_methods:
            found.append((str(method), path, permission))
    return found


def concrete(path: str, slug: str, run_id: str) -> str:
    return (
        path.replace("{tenant:str}", slug)
        .replace("{code:str}", "main")
        .replace("{run_id:str}", run_id)
        .replace("{sku:str}", "S1")
        .replace("{location:str}", "DC1")
    )


async def test_calculator_endpoint(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    headers = await bearer(client, tenant, ["inventory:read"])
    body = {
        "demand_mean": 2500, "demand_sd": 500, "lead_time_mean": 2, "lead_time_sd": 0,
        "review_period": 4, "policy_type": "r_s", "target": 0.9,
    }  # fmt: skip
    resp = await client.post("/api/v1/inventory/policy:calculate", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert round(out["safety_stock"]) == 1570 and round(out["order_up_to"]) == 16570  # C&M 12-8
    full = await client.post(
        "/api/v1/inventory/policy:calculate", json={**body, "target": 1.0}, headers=headers
    )
    assert full.json()["flags"] == ["target_100_capped"]
    bad = await client.post(
        "/api/v1/inventory/policy:calculate", json={"demand_mean": "lots"}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in bad.text


async def test_documents_runs_and_results_over_the_api(
    client: httpx.AsyncClient, history: tuple[InventoryHistory, str], tenant: TenantRef
) -> None:
    _, run_id = history
    headers = await bearer(client, tenant, SCOPES)
    bad = {**POLICY, "segments": [{"segment": "GOLD", "target": 1.0}]}
    refused = await client.put(
        "/api/v1/inventory/policies/main/draft", json={"document": bad}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "document.segments[0].target"
    same = await client.post("/api/v1/inventory/policies/main/publish", json={}, headers=headers)
    assert same.status_code == 409
    listed = (await client.get("/api/v1/inventory/runs", headers=headers)).json()["items"]
    assert [r["id"] for r in listed] == [run_id]
    first = await client.get("/api/v1/inventory/results", params={"limit": 2}, headers=headers)
    page = first.json()
    assert [r["sku"] for r in page["items"]] == ["S1", "S2"] and page["next_cursor"]
    rest = await client.get(
        "/api/v1/inventory/results", params={"cursor": page["next_cursor"]}, headers=headers
    )
    assert [r["sku"] for r in rest.json()["items"]] == ["S3", "S4"]
    assert rest.json()["next_cursor"] is None
    flagged = await client.get(
        "/api/v1/inventory/results", params={"flag": "lead_time_missing"}, headers=headers
    )
    assert {r["sku"] for r in flagged.json()["items"]} == {"S2"}
    not_waiting = await client.post(
        f"/api/v1/inventory/runs/{run_id}/decision",
        json={"approve": True, "reason": "ok"},
        headers=headers,
    )
    assert not_waiting.status_code == 409
    started = await client.post("/api/v1/inventory/runs", json={"policy": "main"}, headers=headers)
    assert started.status_code == 202 and started.json()["status_url"].startswith("/api/v1/jobs/")


async def test_pages_render_and_export(
    client: httpx.AsyncClient, history: tuple[InventoryHistory, str], make_staff: StaffFactory,
    tenant: TenantRef,
) -> None:  # fmt: skip
    _, run_id = history
    await sign_in(client, await make_staff(tenant, "planner"))
    base = f"/t/{tenant.slug}/inventory"
    for url in (
        base,
        f"{base}/policies/main",
        f"{base}/runs/{run_id}",
        f"{base}/results",
        f"{base}/results?flag=no_demand",
        f"{base}/results/S1/DC1",
        f"{base}/calculator",
        f"{base}/calculator?demand_mean=20&demand_sd=5&lead_time_mean=5&order_quantity=100&target=100",
    ):
        resp = await client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    sku = (await client.get(f"{base}/results/S1/DC1")).text
    assert "<svg" in sku and "Reorder point" in sku and "Share of σ² from lead time" in sku
    capped = (await client.get(f"{base}/calculator?demand_mean=20&demand_sd=5&lead_time_mean=5"
                               "&order_quantity=100&target=100")).text  # fmt: skip
    assert "100 % target needs unbounded stock" in capped
    csv = await client.get(f"{base}/results.csv", params={"segment": "GOLD"})
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("sku,location_code")
    assert "S1,DC1,GOLD" in csv.text
    xlsx = await client.get(f"{base}/results.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    page = await client.get(f"{base}/policies/main")
    bad = await client.post(
        f"{base}/policies/main",
        data={"_csrf": csrf_of(page.text), "document": "{not json", "action": "save"},
    )
    assert bad.status_code == 422 and "not JSON" in bad.text


async def test_permissions_and_other_tenants(
    client: httpx.AsyncClient,
    history: tuple[InventoryHistory, str],
    tenant: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    _, run_id = history
    for method, path, _permission in routes():  # signed out
        url = concrete(path, tenant.slug, run_id)
        resp = await _call(client, method, url)
        expected = 401 if url.startswith("/api/") else 303
        assert resp.status_code == expected, (method, url, resp.status_code)
    headers = await bearer(client, tenant, ["masterdata:read"])
    for method, path, _permission in routes():  # a machine client without inventory scopes
        if path.startswith("/api/"):
            url = concrete(path, tenant.slug, run_id)
            resp = await _call(client, method, url, headers)
            assert resp.status_code == 403, (method, url, resp.status_code)
    await sign_in(client, await make_staff(tenant, "data_steward"))  # no inventory:* at all
    csrf = csrf_of((await client.get(f"/t/{tenant.slug}/segments")).text)
    for method, path, _permission in routes():
        if not path.startswith("/api/"):
            url = concrete(path, tenant.slug, run_id)
            resp = await _call(client, method, url, {"X-CSRF-Token": csrf})
            assert resp.status_code == 403, (method, url, resp.status_code)
    await sign_in(client, await make_staff(tenant, "analyst"))  # reads, may not change
    csrf = csrf_of((await client.get(f"/t/{tenant.slug}/segments")).text)
    for method, path, permission in routes():
        if not path.startswith("/api/") and permission != "inventory:read":
            url = concrete(path, tenant.slug, run_id)
            resp = await _call(client, method, url, {"X-CSRF-Token": csrf})
            assert resp.status_code == 403, (method, url, resp.status_code)
    client.cookies.clear()
    other = await make_tenant()
    await sign_in(client, await make_staff(other, "admin"))
    csrf = csrf_of((await client.get(f"/t/{other.slug}/inventory")).text)
    for method, path, _permission in routes():  # another tenant's admin on our pages
        if path.startswith("/api/"):
            continue
        url = concrete(path, tenant.slug, run_id)
        resp = await _call(client, method, url, {"X-CSRF-Token": csrf})
        assert resp.status_code == 404, (method, url, resp.status_code)
    client.cookies.clear()
    theirs = await bearer(client, other, SCOPES)
    for url in (
        f"/api/v1/inventory/runs/{run_id}",
        "/api/v1/inventory/policies/main",
        f"/api/v1/inventory/results?run={run_id}",
    ):
        resp = await client.get(url, headers=theirs)
        assert resp.status_code == 404, (url, resp.status_code)
    decided = await client.post(
        f"/api/v1/inventory/runs/{run_id}/decision",
        json={"approve": True, "reason": "mine"},
        headers=theirs,
    )
    assert decided.status_code == 404
    assert (await client.get("/api/v1/inventory/runs", headers=theirs)).json()["items"] == []
    empty = (await client.get("/api/v1/inventory/results", headers=theirs)).json()
    assert empty == {"run_id": None, "items": [], "next_cursor": None}


async def _call(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    if method in ("GET", "HEAD"):
        return await client.request(method, url, headers=headers)
    body: Any = {"policy": "main", "approve": True, "reason": "x", "document": {}}
    if url.endswith("policy:calculate"):
        body = {"demand_mean": 1, "demand_sd": 1, "lead_time_mean": 1, "order_quantity": 1}
    return await client.request(method, url, json=body, headers=headers)
