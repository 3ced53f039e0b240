"""Deciding pending moves: the moves page and its API (all or nothing, a mandatory reason, tier
jumps only with overrides:approve_major), signed in through the real login form or with a
machine credential."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.conftest import StaffFactory, csrf_of, sign_in
from tests.support.segmentation_builders import (
    bearer,
    build_history,
    move_status,
    open_segment,
    signed_in,
)
from tierline.platform.audit.models import AuditLog
from tierline.platform.notifications.models import Notification
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment


async def test_moves_page_applies_and_rejects_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    m = history.moves
    await signed_in(client, tenant, make_staff, "approver")
    url = f"/t/{tenant.slug}/segments/moves"
    page = await client.get(url)
    assert page.status_code == 200 and f'value="{m["C1"]}"' in page.text
    csrf = csrf_of(page.text)
    no_reason = await client.post(
        url, data={"move": [str(m["C1"])], "decision": "apply", "reason": "", "_csrf": csrf}
    )
    assert no_reason.status_code == 409 and "reason" in no_reason.text
    assert await move_status(tenant, m["C1"]) == "pending"
    applied = await client.post(
        url,
        data={
            "move": [str(m["C1"]), str(m["C3"])],
            "decision": "apply",
            "reason": "reviewed",
            "_csrf": csrf,
        },
    )
    assert applied.status_code == 303 and "2%20applied" in applied.headers["location"]
    assert await open_segment(tenant, "C1") == "A" and await open_segment(tenant, "C3") == "A"
    stale = await client.post(
        url, data={"move": [str(m["C1"])], "decision": "reject", "reason": "no", "_csrf": csrf}
    )
    assert stale.status_code == 409 and "already decided" in stale.text
    rejected = await client.post(
        url, data={"move": [str(m["C5"])], "decision": "reject", "reason": "no", "_csrf": csrf}
    )
    assert rejected.status_code == 303
    assert await move_status(tenant, m["C5"]) == "rejected"
    history_page = await client.get(url, params={"status": "applied"})
    assert "reviewed" in history_page.text


async def test_planner_cannot_approve_tier_jumps(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    await signed_in(client, tenant, make_staff, "planner")
    url = f"/t/{tenant.slug}/segments/moves"
    page = await client.get(url)
    assert "only the governance board (overrides:approve_major)" in page.text
    refused = await client.post(
        url,
        data={
            "move": [str(history.moves["C3"])],
            "decision": "apply",
            "reason": "r",
            "_csrf": csrf_of(page.text),
        },
    )
    assert refused.status_code == 403
    assert await move_status(tenant, history.moves["C3"]) == "pending"


async def test_decide_moves_over_the_api(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    m = history.moves
    headers = await bearer(client, tenant, ["segments:read", "overrides:approve"])
    url = "/api/v1/segments/moves:decide"
    listed = (await client.get("/api/v1/segments/moves", headers=headers)).json()["items"]
    assert [i["entity_key"] for i in listed] == ["C1", "C3", "C5"]
    empty = await client.post(
        url, json={"ids": [m["C1"]], "decision": "apply", "reason": " "}, headers=headers
    )
    assert empty.status_code == 409 and "reason" in empty.json()["detail"]
    assert await move_status(tenant, m["C1"]) == "pending"
    # A machine client without overrides:approve_major cannot approve a tier jump.
    major = await client.post(
        url, json={"ids": [m["C1"], m["C3"]], "decision": "apply", "reason": "ok"}, headers=headers
    )
    assert major.status_code == 403
    assert await move_status(tenant, m["C1"]) == "pending"

    # C1 moves C -> A: two tiers, a major move even though the run held it for a spike (the
    # rule overrides follow, and the approval queue applied already)
    two_tiers = await client.post(
        url, json={"ids": [m["C1"]], "decision": "apply", "reason": "ok"}, headers=headers
    )
    assert two_tiers.status_code == 403 and "governance board" in two_tiers.json()["detail"]
    assert await move_status(tenant, m["C1"]) == "pending"
    board = await bearer(
        client, tenant, ["segments:read", "overrides:approve", "overrides:approve_major"]
    )
    applied = await client.post(
        url,
        json={"ids": [m["C1"]], "decision": "apply", "reason": "customer review"},
        headers=board,
    )
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"decided": 1, "status": "applied"}
    assert await open_segment(tenant, "C1") == "A"
    twice = await client.post(
        url, json={"ids": [m["C1"], m["C5"]], "decision": "reject", "reason": "x"}, headers=headers
    )
    assert twice.status_code == 409 and "already decided" in twice.json()["detail"]
    assert await move_status(tenant, m["C5"]) == "pending"  # all or nothing
    missing = await client.post(
        url, json={"ids": [999999], "decision": "reject", "reason": "x"}, headers=headers
    )
    assert missing.status_code == 404
    rejected = await client.post(
        url, json={"ids": [m["C5"]], "decision": "reject", "reason": "keep C"}, headers=headers
    )
    assert rejected.json()["status"] == "rejected"
    assert await open_segment(tenant, "C5") == "C"

    async with tenant_session(tenant) as s:
        c1 = (
            (
                await s.execute(
                    select(SegmentAssignment)
                    .where(SegmentAssignment.entity_key == "C1")
                    .order_by(SegmentAssignment.valid_from)
                )
            )
            .scalars()
            .all()
        )
        audit = (
            (await s.execute(select(AuditLog).where(AuditLog.action.like("segments.move.%"))))
            .scalars()
            .all()
        )
        notes = (
            (await s.execute(select(Notification).where(Notification.kind == "segment_move")))
            .scalars()
            .all()
        )
    assert [(a.segment, a.valid_to is None) for a in c1] == [("C", False), ("A", True)]
    assert c1[1].reason == "approved: customer review" and c1[1].run_id == history.run_id
    assert sorted(a.action for a in audit) == ["segments.move.apply", "segments.move.reject"]
    assert [n.recipient_email for n in notes] == ["am1@example.com"]

    approver = await make_staff(tenant, "approver")
    await sign_in(client, approver)
    page = await client.get(f"/t/{tenant.slug}/segments/moves")
    csrf = page.text.split('name="_csrf" value="')[1].split('"')[0]
    jump = await client.post(
        url,
        json={"ids": [m["C3"]], "decision": "apply", "reason": "board approved"},
        headers={"X-CSRF-Token": csrf},
    )
    assert jump.status_code == 200, jump.text
    assert await open_segment(tenant, "C3") == "A"
