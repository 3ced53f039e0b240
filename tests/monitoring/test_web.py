"""Service performance over HTTP: the dashboard, drill-down and alerts pages by role and
scope, the typed API with its filters, acknowledging through a form, and isolation (404)."""

from __future__ import annotations

import httpx

from tests.conftest import StaffFactory, TenantFactory
from tests.portal.test_portal import portal_sign_in
from tests.support.segmentation_builders import bearer as _bearer
from tests.support.web import csrf_of, sign_in
from tierline.monitoring.alerts import list_alerts
from tierline.monitoring.refresh import refresh
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

from .builders import build_world


async def ready(runtime: Runtime, tenant: TenantRef) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)


async def test_the_dashboard_shows_live_figures_that_drill_down_to_order_lines(
    runtime: Runtime, tenant: TenantRef, browser: httpx.AsyncClient, make_staff: StaffFactory
) -> None:
    await ready(runtime, tenant)
    await sign_in(browser, await make_staff(tenant, "planner", email="planner@example.com"))
    page = await browser.get(f"/t/{tenant.slug}/performance")
    assert page.status_code == 200, page.text
    html = page.text
    assert "On time in full by segment" in html and "<svg" in html and "target in force" in html
    assert "Escalations addressed to you" in html  # planner@example.com is step 1 of A's path
    assert "heat-miss" in html and "Worst breaches" in html
    top = await browser.get(f"/t/{tenant.slug}/performance/drill")  # no filter: by segment
    assert top.status_code == 200 and "By segment" in top.text, top.text
    drill = await browser.get(
        f"/t/{tenant.slug}/performance/drill",
        params={"kpi": "otif", "segment": "A", "region": "north"},
    )
    assert drill.status_code == 200 and "By product line" in drill.text
    lines = await browser.get(
        f"/t/{tenant.slug}/performance/drill",
        params={
            "kpi": "otif",
            "segment": "A",
            "region": "north",
            "product_line": "widgets",
            "sku": "P1",
        },
    )
    assert lines.status_code == 200
    assert "Order lines" in lines.text and "late" in lines.text and "C1-W1-1" in lines.text


async def test_an_analyst_reads_without_acting_and_a_regional_planner_sees_its_region(
    runtime: Runtime,
    tenant: TenantRef,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
) -> None:
    await ready(runtime, tenant)
    await sign_in(browser, await make_staff(tenant, "analyst"))
    page = await browser.get(f"/t/{tenant.slug}/performance/alerts")
    assert page.status_code == 200 and "Acknowledge" not in page.text
    forbidden = await browser.post(
        f"/t/{tenant.slug}/performance/alerts/1/resolve",
        data={"reason": "x", "_csrf": csrf_of(page.text)},
    )
    assert forbidden.status_code == 403

    await sign_in(client, await make_staff(tenant, "planner", scope="south"))
    south = await client.get(
        f"/t/{tenant.slug}/performance/drill", params={"kpi": "otif", "segment": "A"}
    )
    assert south.status_code == 200
    assert "region=south" in south.text and "region=north" not in south.text


async def test_acknowledging_through_the_form_records_who_and_why(
    runtime: Runtime, tenant: TenantRef, browser: httpx.AsyncClient, make_staff: StaffFactory
) -> None:
    await ready(runtime, tenant)
    await sign_in(browser, await make_staff(tenant, "planner", email="lead@example.com"))
    page = await browser.get(f"/t/{tenant.slug}/performance/alerts")
    async with tenant_session(tenant) as s:
        alert = (await list_alerts(s, "open"))[0]
    done = await browser.post(
        f"/t/{tenant.slug}/performance/alerts/{alert.id}/acknowledge",
        data={"reason": "expediting with the carrier", "_csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    after = await browser.get(done.headers["location"])
    assert "Acknowledged by lead@example.com" in after.text
    assert "expediting with the carrier" in after.text


async def test_the_api_serves_typed_series_attainment_and_alerts_and_isolates_tenants(
    runtime: Runtime,
    tenant: TenantRef,
    make_tenant: TenantFactory,
    client: httpx.AsyncClient,
) -> None:
    await ready(runtime, tenant)
    headers = await _bearer(client, tenant, ["kpi:read", "kpi:manage"])
    series = await client.get(
        "/api/v1/kpis/series",
        params={"grain": "month", "by": "segment,region", "segment": "A"},
        headers=headers,
    )
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["by"] == ["segment", "region"] and body["definition_version"] == 1
    assert {r["keys"]["region"] for r in body["rows"]} == {"north", "south"}
    assert all(r["keys"]["segment"] == "A" for r in body["rows"])
    attainment = await client.get("/api/v1/kpis/attainment?grain=week&periods=8", headers=headers)
    rows = attainment.json()["rows"]
    assert any(r["met"] and r["met"]["otif"] is False for r in rows)
    bad = await client.get("/api/v1/kpis/series?by=colour", headers=headers)
    assert bad.status_code == 400
    alerts = (await client.get("/api/v1/kpis/alerts", headers=headers)).json()["items"]
    first = alerts[0]["id"]
    refused = await client.post(
        f"/api/v1/kpis/alerts/{first}/resolve", json={"reason": " "}, headers=headers
    )
    assert refused.status_code == 409
    resolved = await client.post(
        f"/api/v1/kpis/alerts/{first}/resolve", json={"reason": "fixed"}, headers=headers
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    impossible = await client.post(
        "/api/v1/kpis/definition", json={"otif_basis": "shipped"}, headers=headers
    )
    assert impossible.status_code == 422 and "otif_basis" in impossible.text

    other = await make_tenant()
    other_headers = await _bearer(client, other, ["kpi:read", "kpi:manage"])
    for path in (
        f"/api/v1/kpis/alerts/{first}/acknowledge",
        f"/api/v1/kpis/alerts/{first}/resolve",
    ):
        answer = await client.post(path, json={"reason": "not mine"}, headers=other_headers)
        assert answer.status_code == 404, answer.text
    theirs = (await client.get("/api/v1/kpis/series", headers=other_headers)).json()
    assert theirs["rows"] == []


async def test_the_staff_home_is_the_dashboard_for_kpi_readers_only(
    runtime: Runtime, tenant: TenantRef, browser: httpx.AsyncClient, make_staff: StaffFactory
) -> None:
    await ready(runtime, tenant)
    await sign_in(browser, await make_staff(tenant, "analyst"))
    home = await browser.get(f"/t/{tenant.slug}/")
    assert home.status_code == 200
    assert "Service performance" in home.text and "Worst breaches" in home.text
    panel = home.text.split('id="perf-home-h"')[1].split('aria-labelledby="group-1"')[0]
    assert "margin" not in panel.lower() and "revenue" not in panel.lower()  # no money shown


async def test_the_portal_chart_uses_the_target_in_force_in_each_period(
    runtime: Runtime, tenant: TenantRef, client: httpx.AsyncClient, make_staff: StaffFactory
) -> None:
    world = await build_world(tenant)  # C2 moved from B (OTIF 90 %) to A (95 %) 30 days ago
    user = await make_staff(tenant, "customer", customer="C2")
    signed = await portal_sign_in(client, tenant, user.email, user.password)
    assert signed.status_code == 303
    body = (await client.get("/api/v1/portal/performance?account=C2&grain=week")).json()
    by_start = {p["period_start"]: p for p in body["periods"]}
    before = by_start[world.week(8).isoformat()]
    after = by_start[world.week(1).isoformat()]
    assert before["targets"]["otif"] == 0.9 and after["targets"]["otif"] == 0.95
    assert after["otif"] == 0.5  # one of its two orders a week delivered late
    page = await client.get(f"/portal/{tenant.slug}/performance?account=C2&grain=week")
    assert "(target 90%)" in page.text and "(target 95%)" in page.text
