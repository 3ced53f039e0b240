"""Analytics pages, API and exports over HTTP: figures for a planner, masking for an analyst
(page, API, CSV, XLSX), audited exports, settings, permissions and cross-tenant 404s."""

from __future__ import annotations

import io
import re

import httpx
import openpyxl
from sqlalchemy import select

from tests.conftest import StaffFactory, TenantFactory
from tests.support.web import csrf_of, sign_in
from tierline.platform.audit.models import AuditLog
from tierline.platform.tenancy import TenantRef, tenant_session

WINDOW = {"first": "2026-01", "last": "2026-03"}
# Money a page or file would show for the hand-made history (major units).
MONEY_TEXTS = ("150", "14.5", "25.5", "280", "72", "98.5")


async def _as(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, role: str
) -> None:
    response = await sign_in(client, await make_staff(tenant, role))
    assert response.status_code == 303, response.text


async def _exports(tenant: TenantRef) -> list[dict[str, object]]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(AuditLog.after)
            .where(AuditLog.action == "analytics.export")
            .order_by(AuditLog.seq)
        )
        return [r for (r,) in rows]


async def test_planner_sees_cost_to_serve_in_page_api_and_files(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _as(client, commercial, make_staff, "planner")
    base = f"/t/{commercial.slug}/analytics"
    page = await client.get(f"{base}/cost-to-serve", params=WINDOW)
    assert page.status_code == 200, page.text
    assert "Whale curve" in page.text and "<desc" in page.text
    assert "2,550" not in page.text and "25.50" in page.text  # A's margin after CTS, in units
    api = (await client.get("/api/v1/analytics/cost-to-serve", params=WINDOW)).json()
    assert api["masked"] is False
    segments = {r["segment"]: r for r in api["segments"]}
    assert segments["A"]["margin_after_cts_minor"] == 2_550
    assert api["whale"]["total_profit_minor"] == 9_850
    assert [r["reason"][:14] for r in api["refused"]] == ["no order lines"]
    csv = await client.get(f"{base}/cost-to-serve.csv", params=WINDOW)
    assert (
        csv.status_code == 200
        and "A,EU,2026-01-01,1,2,150.00,40.00,10.00,3.00,1.50,14.50,25.50" in csv.text
    )
    xlsx = await client.get("/api/v1/analytics/cost-to-serve.xlsx", params=WINDOW)
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["by segment, region, month", "by segment", "by customer"]
    assert [e["format"] for e in await _exports(commercial)] == ["csv", "xlsx"]
    assert all(e["masked"] is False for e in await _exports(commercial))


async def test_analyst_sees_no_money_anywhere(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _as(client, commercial, make_staff, "analyst")
    base = f"/t/{commercial.slug}/analytics"
    page = await client.get(f"{base}/cost-to-serve", params=WINDOW)
    assert page.status_code == 200 and "Money figures are masked" in page.text
    assert "Whale curve" not in page.text
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.text)
    assert len(cells) > 20
    assert not any(re.search(r"\d\.\d\d", c) for c in cells), cells
    api = (await client.get("/api/v1/analytics/cost-to-serve", params=WINDOW)).json()
    assert api["masked"] is True and api["whale"] is None
    for row in api["rows"] + api["segments"]:
        assert {k: v for k, v in row.items() if k.endswith("_minor") or k == "cts_share"} == {
            k: None for k in row if k.endswith("_minor") or k == "cts_share"
        }
        assert row["lines"] > 0
    assert all(r["amount_minor"] is None for r in api["refused"])
    csv = (await client.get(f"{base}/cost-to-serve.csv", params=WINDOW)).text
    assert "A,EU,2026-01-01,1,2,,,,,,,,,yes" in csv
    xlsx = await client.get(f"{base}/cost-to-serve.xlsx", params=WINDOW)
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        money = [header.index(h) for h in ("revenue", "margin", "cost_to_serve")]
        for row in sheet.iter_rows(min_row=2, values_only=True):
            assert all(row[i] is None for i in money), row
    assert [e["masked"] for e in await _exports(commercial)] == [True, True]


async def test_bad_windows_are_problems_not_errors(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _as(client, commercial, make_staff, "planner")
    for params, text in (
        ({"first": "2026-03", "last": "2026-01"}, "ends before it starts"),
        ({"first": "March"}, "first: write a month as YYYY-MM"),
        ({"first": "2020-01", "last": "2026-01"}, "at most 36 months"),
    ):
        response = await client.get("/api/v1/analytics/cost-to-serve", params=params)
        assert response.status_code == 422, response.text
        assert text in response.json()["detail"]
    cohorts = await client.get(
        "/api/v1/analytics/cohorts", params={"month": "2026-02", "months": 2}
    )
    assert cohorts.status_code == 422 and "churn counts 3 months" in cohorts.json()["detail"]
    page = await client.get(f"/t/{commercial.slug}/analytics/cost-to-serve", params={"first": "x"})
    assert page.status_code == 422 and "Traceback" not in page.text


async def test_cohorts_page_and_api(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _as(client, commercial, make_staff, "analyst")
    api = await client.get("/api/v1/analytics/cohorts", params={"month": "2026-02"})
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["movers"] == 1 and body["unmatched"] == ["C1"]
    assert all(e["effect"] is None and "too small" in e["note"] for e in body["estimates"])
    page = await client.get(f"/t/{commercial.slug}/analytics/cohorts", params={"month": "2026-02"})
    assert page.status_code == 200 and "cohort too small to estimate" in page.text


async def test_settings_need_analytics_write_and_are_audited(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _as(client, commercial, make_staff, "analyst")
    refused = await client.put("/api/v1/analytics/settings", json={"freight_driver": "lines"})
    assert refused.status_code == 403
    await _as(client, commercial, make_staff, "planner")
    page = await client.get(f"/t/{commercial.slug}/analytics/settings")
    assert page.status_code == 200
    bad = await client.post(
        f"/t/{commercial.slug}/analytics/settings",
        data={"_csrf": csrf_of(page.text), "freight_driver": "pallets", "churn_months": "3"},
    )
    assert bad.status_code == 422 and "unknown driver" in bad.text
    put = await client.put(
        "/api/v1/analytics/settings",
        json={"freight_driver": "lines", "churn_months": 2},
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
    assert put.status_code == 200, put.text
    assert put.json()["freight_driver"] == "lines"
    assert (await client.get("/api/v1/analytics/settings")).json()["churn_months"] == 2
    async with tenant_session(commercial) as s:
        actions = (await s.execute(select(AuditLog.action))).scalars().all()
    assert "analytics.settings" in actions


async def test_another_tenants_analytics_answer_404(
    client: httpx.AsyncClient,
    commercial: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    other = await make_tenant()
    await _as(client, other, make_staff, "admin")
    base = f"/t/{commercial.slug}/analytics"
    for path in (
        "cost-to-serve", "cost-to-serve.csv", "cost-to-serve.xlsx", "cohorts", "settings",
        "impact", "pricing",
    ):  # fmt: skip
        assert (await client.get(f"{base}/{path}")).status_code == 404, path
    # The API answers for the caller's own tenant only: none of the other's figures.
    own = (await client.get("/api/v1/analytics/cost-to-serve", params=WINDOW)).json()
    assert own["lines"] == 0 and own["segments"] == []
    assert (await client.get("/api/v1/analytics/price-clauses")).json()["items"] == []
    assert await _exports(commercial) == []
