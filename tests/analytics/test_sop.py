"""The S&OP pack: its sheets and PDF, masked for an analyst (workbook, PDF and e-mail), kept
sealed, made once per month by the schedule with its subscribers e-mailed, and its API."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import httpx
import openpyxl
import polars as pl
import pypdf
from sqlalchemy import select

from tests.analytics.conftest import JAN
from tests.conftest import StaffFactory
from tests.support.web import csrf_of, sign_in
from tierline.analytics.jobs import scheduled_packs
from tierline.analytics.models import ReportRun
from tierline.analytics.sop.pack import build_pack, inventory_view
from tierline.analytics.sop.runs import subscribe
from tierline.platform.audit.models import AuditLog
from tierline.platform.notifications.models import EmailOutbox
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

SHEETS = ["segment mix and moves", "KPI attainment", "cost to serve", "inventory", "open alerts"]


def _money_cells(xlsx: bytes) -> list[object]:
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["cost to serve"]
    header = [c.value for c in sheet[1]]
    columns = [header.index(h) for h in ("revenue", "margin", "cost_to_serve", "margin_after_cts")]
    return [row[i] for row in sheet.iter_rows(min_row=2, values_only=True) for i in columns]


def _pdf_text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def test_pack_sheets_and_pdf_for_a_planner_and_masked_for_an_analyst(
    runtime: Runtime, commercial: TenantRef
) -> None:
    full = await build_pack(runtime, commercial, JAN, None, masked=False)
    book = openpyxl.load_workbook(io.BytesIO(full.xlsx))
    assert book.sheetnames == SHEETS
    mix = {
        r[0]: r[1:] for r in book["segment mix and moves"].iter_rows(min_row=2, values_only=True)
    }
    assert mix["A"] == (1, 0, 0) and mix["B"] == (1, 0, 0)  # C1 in A, C2 in B at January's end
    assert 150.0 in _money_cells(full.xlsx)  # segment A's revenue, 150.00
    assert full.pdf.startswith(b"%PDF") and "Margin after cost to serve" in _pdf_text(full.pdf)
    masked = await build_pack(runtime, commercial, JAN, None, masked=True)
    assert all(v is None for v in _money_cells(masked.xlsx))
    text = _pdf_text(masked.pdf)
    assert "masked" in text and "Margin after cost to serve" not in text
    assert not re.search(r"\d\.\d\d", text)


async def test_the_schedule_makes_the_pack_once_and_mails_a_link_without_money(
    runtime: Runtime, commercial: TenantRef
) -> None:
    async with tenant_session(commercial, runtime.databases) as s:
        await subscribe(s, "analyst@example.com", True)
    february = datetime(2026, 2, 3, tzinfo=UTC)  # the month just ended: January
    assert await scheduled_packs(runtime, february) >= 1
    await scheduled_packs(runtime, february)
    async with tenant_session(commercial, runtime.databases) as s:
        runs = (await s.execute(select(ReportRun))).scalars().all()
        mails = (await s.execute(select(EmailOutbox))).scalars().all()
    assert [(r.month, r.trigger) for r in runs] == [(JAN, "schedule")]
    assert not runs[0].xlsx_enc.startswith(b"PK")  # sealed, not a readable workbook
    assert [m.to_address for m in mails] == ["analyst@example.com"]
    assert "/analytics/reports/" in mails[0].body and not re.search(r"\d\.\d\d", mails[0].body)


async def test_api_makes_lists_and_serves_packs_masked_for_an_analyst(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    assert (await sign_in(client, await make_staff(commercial, "planner"))).status_code == 303
    page = await client.get(f"/t/{commercial.slug}/analytics/reports")
    assert page.status_code == 200
    made = await client.post(
        "/api/v1/analytics/sop-packs",
        json={"month": "2026-01-01"},
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
    assert made.status_code == 201, made.text
    run = made.json()
    listed = (await client.get("/api/v1/analytics/sop-packs")).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    kept = await client.get(run["xlsx_url"])
    assert kept.status_code == 200 and 150.0 in _money_cells(kept.content)
    assert (await sign_in(client, await make_staff(commercial, "analyst"))).status_code == 303
    xlsx = await client.get(f"/t/{commercial.slug}/analytics/reports/{run['id']}/workbook.xlsx")
    assert xlsx.status_code == 200 and all(v is None for v in _money_cells(xlsx.content))
    pdf = await client.get(run["pdf_url"])
    assert pdf.status_code == 200 and not re.search(r"\d\.\d\d", _pdf_text(pdf.content))
    assert (
        await client.get("/api/v1/analytics/sop-packs/not-a-run/workbook.xlsx")
    ).status_code == 404
    async with tenant_session(commercial) as s:
        exports = (
            (await s.execute(select(AuditLog.after).where(AuditLog.object_type == "sop_pack")))
            .scalars()
            .all()
        )
    assert [e["masked"] for e in exports] == [False, True, True]


def test_inventory_view_counts_sku_locations_against_their_targets() -> None:
    results = pl.DataFrame(
        {"sku": ["P1", "P2", "P3", "P4"], "location_code": ["L"] * 4,
         "segment_code": ["AX", "AX", "CZ", None],
         "safety_stock": [10.0, 10.0, 5.0, 1.0], "reorder_point": [20.0, 20.0, 8.0, 2.0],
         "order_up_to": [50.0, 50.0, 20.0, 4.0]}
    )  # fmt: skip
    positions = pl.DataFrame(
        {"sku": ["P1", "P2", "P3"], "location_code": ["L"] * 3, "on_hand": [5.0, 60.0, 7.0]}
    )
    view = {r["segment"]: r for r in inventory_view(results, positions).iter_rows(named=True)}
    # P1 below safety stock (5 < 10) and reorder point; P2 above order-up-to; P3 below its
    # reorder point only; P4 has no position.
    assert (view["AX"]["below_safety_stock"], view["AX"]["above_order_up_to"]) == (1, 1)
    assert (view["CZ"]["below_safety_stock"], view["CZ"]["below_reorder_point"]) == (0, 1)
    assert (view["(none)"]["sku_locations"], view["(none)"]["with_position"]) == (1, 0)
