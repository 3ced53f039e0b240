"""The impact of a reclassification before it is applied: tables by hand, the API with and
without money, and the panel the governance board sees on the approval page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import polars as pl

from tests.analytics.conftest import SCHEME
from tests.conftest import StaffFactory
from tests.support.web import sign_in
from tierline.analytics.impact.report import impact_tables, service_changes
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import PendingMove, SegmentationRun

RANKS = {(SCHEME, "A"): 1, (SCHEME, "B"): 2, (SCHEME, "C"): 3}


def test_impact_per_account_manager_and_region_by_hand() -> None:
    changes = pl.DataFrame(
        {"ref": ["move:1", "move:2", "move:3", "override:4"],
         "customer_code": ["C1", "C2", "C3", "C4"], "scheme_code": [SCHEME] * 4,
         "from_segment": ["A", "B", None, "C"], "to_segment": ["B", "A", "B", "A"]}
    )  # fmt: skip
    customers = pl.DataFrame(
        {"customer_code": ["C1", "C2", "C3", "C4"], "name": ["a", "b", "c", "d"],
         "region": ["EU", "US", None, "EU"],
         "account_manager_email": ["am1@x", "am2@x", None, "am1@x"]}
    )  # fmt: skip
    revenue = pl.DataFrame({"customer_code": ["C1", "C2", "C4"], "revenue": [15_000, 20_000, 500]})
    tables = impact_tables(changes, customers, revenue, RANKS)
    managers = {r["account_manager"]: r for r in tables.by_manager.iter_rows(named=True)}
    # am1: C1 down A -> B, C4 up C -> A; 150.00 + 5.00.
    assert (managers["am1@x"]["accounts"], managers["am1@x"]["upgrades"]) == (2, 1)
    assert (managers["am1@x"]["downgrades"], managers["am1@x"]["revenue"]) == (1, 15_500)
    assert managers["(no account manager)"]["revenue"] == 0  # a first assignment, no orders
    regions = {r["region"]: r for r in tables.by_region.iter_rows(named=True)}
    assert regions["EU"]["customers"] == ["C1", "C4"] and regions["US"]["upgrades"] == 1
    assert tables.by_region["region"].to_list()[0] == "US"  # the largest revenue first


def test_service_changes_list_what_a_customer_would_see() -> None:
    before = {"otif_target": "95%", "lead_time_days": 2, "windows": ["mon 08-12"]}
    after = {"otif_target": "90%", "lead_time_days": 2}
    assert service_changes(before, after) == ["otif target: 95% → 90%", "windows: mon 08-12 → none"]
    assert service_changes(None, None) == []


async def _held_moves(runtime: Runtime, tenant: TenantRef) -> None:
    """A run holds C1 B -> A (up) and C2 B -> C (down)."""
    run = uuid.uuid4()
    now = datetime.now(UTC)
    async with tenant_session(tenant, runtime.databases) as s:
        s.add(
            SegmentationRun(
                id=run, scheme_code=SCHEME, version=1, content_hash="x", engine_version="t",
                as_of=now.date(), status="succeeded", trigger="manual", started_at=now,
            )
        )  # fmt: skip
        await s.flush()
        s.add_all(
            PendingMove(
                run_id=run, scheme_code=SCHEME, entity_key=c, customer_code=c,
                from_segment=f, to_segment=t, reasons=["tier_jump"], source="rule",
            )
            for c, f, t in (("C1", "B", "A"), ("C2", "B", "C"))
        )  # fmt: skip


async def test_api_and_approval_page_show_the_impact_money_only_with_margin_read(
    client: httpx.AsyncClient, runtime: Runtime, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _held_moves(runtime, commercial)
    assert (await sign_in(client, await make_staff(commercial, "approver"))).status_code == 303
    body = (await client.get("/api/v1/analytics/reclassification-impact")).json()
    managers = {g["key"]: g for g in body["by_account_manager"]}
    # C1's revenue of the last twelve months is its February line only (80.00) when the test
    # runs within a year of it; C2's January line likewise: compare with what is in range.
    assert managers["am1@example.com"]["upgrades"] == 1
    assert managers["am2@example.com"]["downgrades"] == 1
    assert body["masked"] is False and managers["am1@example.com"]["revenue_minor"] is not None
    assert {(s["from_segment"], s["to_segment"]) for s in body["service_changes"]} == {
        ("B", "A"),
        ("B", "C"),
    }
    page = await client.get(f"/t/{commercial.slug}/approvals")
    assert page.status_code == 200 and "Impact on accounts and sales" in page.text
    assert "am1@example.com" in page.text
    assert (await sign_in(client, await make_staff(commercial, "analyst"))).status_code == 303
    masked = (await client.get("/api/v1/analytics/reclassification-impact")).json()
    assert masked["masked"] is True
    assert all(g["revenue_minor"] is None for g in masked["by_account_manager"])
    page = await client.get(f"/t/{commercial.slug}/analytics/impact")
    assert page.status_code == 200 and "•••" in page.text


async def test_impact_page_without_held_moves(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    assert (await sign_in(client, await make_staff(commercial, "planner"))).status_code == 303
    page = await client.get(f"/t/{commercial.slug}/analytics/impact")
    assert page.status_code == 200 and "No run holds a move" in page.text
