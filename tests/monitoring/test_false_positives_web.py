"""Review of false positives over HTTP: the API's cursor pages and one move's review, the staff
page linked from the dashboard, and isolation (another tenant's move is 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
from sqlalchemy import update

from tests.conftest import StaffFactory, TenantFactory
from tests.support.segmentation_builders import bearer
from tests.support.web import sign_in
from tierline.monitoring import service
from tierline.monitoring.refresh import refresh
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation import service as segmentation
from tierline.segmentation.models import SegmentAssignment

from .builders import SCHEME, build_world, spike_moves


async def test_the_api_pages_spike_moves_with_their_verdicts_and_isolates_tenants(
    runtime: Runtime, tenant: TenantRef, make_tenant: TenantFactory, client: httpx.AsyncClient
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    ids = await spike_moves(runtime, world)
    headers = await bearer(client, tenant, ["kpi:read"])
    first = await client.get("/api/v1/kpis/false-positives?limit=1", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [m["move_id"] for m in body["items"]] == [ids["C2"]] and body["next_cursor"]
    c2 = body["items"][0]
    # applied; its later assignment is the move itself (A from the decision on): kept
    assert (c2["effect"], c2["verdict"], c2["later_segments"]) == ("applied", "kept", [])
    assert c2["kpi"] == "otif" and c2["lines_before"] > 0 and c2["lines_after"] > 0
    assert c2["kpi_before"] is not None and c2["kpi_after"] is not None
    # A promises OTIF 95 %, B 90 %: each side has segment-periods judged against a target
    assert c2["measured_before"] > 0 and c2["measured_after"] > 0
    assert 0 <= c2["met_after"] <= c2["measured_after"]
    second = await client.get(
        "/api/v1/kpis/false-positives",
        params={"limit": 1, "cursor": body["next_cursor"]},
        headers=headers,
    )
    rest = second.json()
    assert [m["move_id"] for m in rest["items"]] == [ids["C3"]] and rest["next_cursor"] is None
    assert (rest["items"][0]["effect"], rest["items"][0]["verdict"]) == ("held", "stayed")
    one = await client.get(
        f"/api/v1/kpis/false-positives/{ids['C3']}?grain=month&kpi=unit_fill_rate",
        headers=headers,
    )
    assert one.status_code == 200 and one.json()["grain"] == "month", one.text
    not_spike = await client.get(f"/api/v1/kpis/false-positives/{ids['C1']}", headers=headers)
    assert not_spike.status_code == 404
    bad = await client.get("/api/v1/kpis/false-positives?kpi=colour", headers=headers)
    assert bad.status_code == 400
    forged = await client.get(
        "/api/v1/kpis/false-positives", params={"cursor": "not-ours"}, headers=headers
    )
    assert forged.status_code == 400 and "cursor" in forged.text

    other = await make_tenant()
    theirs = await bearer(client, other, ["kpi:read"])
    answer = await client.get(f"/api/v1/kpis/false-positives/{ids['C2']}", headers=theirs)
    assert answer.status_code == 404, answer.text
    assert (await client.get("/api/v1/kpis/false-positives", headers=theirs)).json()["items"] == []


async def test_the_staff_page_is_linked_from_the_dashboard_and_shows_each_verdict(
    runtime: Runtime, tenant: TenantRef, browser: httpx.AsyncClient, make_staff: StaffFactory
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    await spike_moves(runtime, world)
    await sign_in(browser, await make_staff(tenant, "planner", email="planner@example.com"))
    board = await browser.get(f"/t/{tenant.slug}/performance")
    assert f"/t/{tenant.slug}/performance/false-positives" in board.text
    page = await browser.get(f"/t/{tenant.slug}/performance/false-positives")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Review of false positives" in html and "Moves driven by a spike" in html
    assert "B → A" in html and "kept" in html and "stayed" in html and "on target" in html
    assert "C2</a>" in html and "C3</a>" in html
    assert "C1</a>" not in html  # the tier-jump move is left out
    monthly = await browser.get(
        f"/t/{tenant.slug}/performance/false-positives", params={"grain": "month", "kpi": "x"}
    )
    assert monthly.status_code == 200 and "On time in full" in monthly.text
    # a planner of the north sees C3's move (north), not C2's (south)
    await sign_in(browser, await make_staff(tenant, "planner", scope="north"))
    north = await browser.get(f"/t/{tenant.slug}/performance/false-positives")
    assert "C3</a>" in north.text and "C2</a>" not in north.text


async def test_a_move_undone_by_a_later_assignment_is_reverted(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    ids = await spike_moves(runtime, world)
    back = datetime.now(UTC) - timedelta(days=10)
    async with tenant_session(tenant, runtime.databases) as s:
        await s.execute(
            update(SegmentAssignment)
            .where(SegmentAssignment.entity_key == "C2", SegmentAssignment.valid_to.is_(None))
            .values(valid_to=back)
        )
        s.add(
            SegmentAssignment(
                scheme_code=SCHEME, entity_key="C2", customer_code="C2", segment="B",
                valid_from=back, source="rule",
            )
        )  # fmt: skip
    async with tenant_session(tenant, runtime.databases) as s:
        history = await segmentation.entity_histories(s, [(SCHEME, "C2"), (SCHEME, "C2")])
        assert history["segment"].to_list() == ["B", "A", "B"]
        found = await service.spike_move_review(s, grain="month", periods=2, kpi="otif")
    c2 = found.rows.filter(pl.col("move_id") == ids["C2"]).row(0, named=True)
    assert (c2["verdict"], c2["later_segments"]) == ("reverted", ["B"])
    assert found.next_after_id is None and found.rows.height == 2
