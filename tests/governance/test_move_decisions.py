"""A pending move passes the checks an override passes, whichever page or API decides it: the
approval queue, the pending-moves page and ``moves:decide``. A move below a customer's
contract is refused to a planner and to a board member who does not acknowledge the conflict;
acknowledged by the board it applies, the audit entry records the conflict, and the customer is
told exactly as when the queue decides it (same notice, same dedupe key)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import StaffFactory, csrf_of, sign_in
from tests.governance.contract_moves import (
    CONFLICT,
    MANAGER,
    SCHEME,
    HeldMoves,
    build_held_moves,
    move_audit,
    move_status,
    notices_of,
    segment_of,
)
from tierline.platform.notifications.models import EmailOutbox
from tierline.platform.tenancy import TenantRef, tenant_session

ENTRY_POINTS = ("queue", "moves_page", "api")


@pytest.fixture
async def held(tenant: TenantRef) -> HeldMoves:
    return await build_held_moves(tenant)


async def _decide(
    client: httpx.AsyncClient,
    slug: str,
    entry: str,
    move_id: int,
    *,
    acknowledge: bool,
    reason: str = "reviewed with the account",
) -> httpx.Response:
    if entry == "queue":
        page = await client.get(f"/t/{slug}/approvals")
        data: dict[str, Any] = {
            "_csrf": csrf_of(page.text),
            "item": [f"move:{move_id}"],
            "decision": "approve",
            "reason": reason,
        }
        if acknowledge:
            data["acknowledge_conflicts"] = "yes"
        return await client.post(f"/t/{slug}/approvals", data=data)
    page = await client.get(f"/t/{slug}/segments/moves")
    if entry == "moves_page":
        data = {
            "_csrf": csrf_of(page.text),
            "move": [str(move_id)],
            "decision": "apply",
            "reason": reason,
        }
        if acknowledge:
            data["acknowledge_conflicts"] = "yes"
        return await client.post(f"/t/{slug}/segments/moves", data=data)
    return await client.post(
        "/api/v1/segments/moves:decide",
        json={
            "ids": [move_id],
            "decision": "apply",
            "reason": reason,
            "acknowledge_conflicts": acknowledge,
        },
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )


def _succeeded(entry: str, response: httpx.Response) -> bool:
    if entry == "api":
        return response.status_code == 200
    return response.status_code == 303


async def _nothing_applied(held: HeldMoves) -> None:
    assert await move_status(held.tenant, held.contract) == "pending"
    assert await segment_of(held.tenant, "C03") == "GOLD"
    assert await notices_of(held.tenant, "C03") == []
    assert [a.action for a in await move_audit(held.tenant, "C03")] == []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_planner_cannot_apply_a_move_below_a_contract(
    entry: str, client: httpx.AsyncClient, held: HeldMoves, make_staff: StaffFactory
) -> None:
    await sign_in(client, await make_staff(held.tenant, "planner"))
    slug = held.tenant.slug
    plain = await _decide(client, slug, entry, held.contract, acknowledge=False)
    assert plain.status_code == 409, plain.text[:500]
    assert "contract K-C03" in plain.text and "acknowledg" in plain.text
    await _nothing_applied(held)
    # a planner may not acknowledge a contract breach either (a forged form field)
    forged = await _decide(client, slug, entry, held.contract, acknowledge=True)
    assert not _succeeded(entry, forged)
    assert forged.status_code in (403, 409) and "governance board" in forged.text
    if entry == "api":
        assert forged.status_code == 403
    await _nothing_applied(held)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_board_must_acknowledge_then_the_audit_records_the_conflict(
    entry: str, client: httpx.AsyncClient, held: HeldMoves, make_staff: StaffFactory
) -> None:
    portal_user = await make_staff(held.tenant, "customer", customer="C03")
    await sign_in(client, await make_staff(held.tenant, "approver"))
    slug = held.tenant.slug
    refused = await _decide(client, slug, entry, held.contract, acknowledge=False)
    assert refused.status_code == 409 and CONFLICT in refused.text
    await _nothing_applied(held)

    done = await _decide(client, slug, entry, held.contract, acknowledge=True)
    assert _succeeded(entry, done), done.text[:500]
    assert await move_status(held.tenant, held.contract) == "applied"
    assert await segment_of(held.tenant, "C03") == "SILV"
    (entry_row,) = await move_audit(held.tenant, "C03")
    assert entry_row.action == "segments.move.apply"
    assert entry_row.after is not None
    assert entry_row.after["conflicts_acknowledged"] == [CONFLICT]
    assert entry_row.after["segment"] == "SILV"
    # the customer is told, the same way whichever page decided
    (notice,) = await notices_of(held.tenant, "C03")
    assert notice.kind == "segment_change"
    assert (notice.old_segment, notice.new_segment) == ("GOLD", "SILV")
    assert notice.dedupe_key == f"segment_change:{SCHEME}:C03:move{held.contract}:SILV"
    async with tenant_session(held.tenant) as s:
        mailed = set(
            (
                await s.execute(
                    select(EmailOutbox.to_address).where(
                        EmailOutbox.dedupe_key.like(f"customer-notice:{notice.id}:%")
                    )
                )
            ).scalars()
        )
        managers = set(
            (
                await s.execute(
                    select(EmailOutbox.to_address).where(
                        EmailOutbox.dedupe_key.like("segment-decision:%")
                    )
                )
            ).scalars()
        )
    assert mailed == {portal_user.email}
    assert managers == {MANAGER}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_a_move_without_conflict_tells_the_customer_on_every_path(
    entry: str, client: httpx.AsyncClient, held: HeldMoves, make_staff: StaffFactory
) -> None:
    await sign_in(client, await make_staff(held.tenant, "planner"))
    done = await _decide(client, held.tenant.slug, entry, held.spike, acknowledge=False)
    assert _succeeded(entry, done), done.text[:500]
    assert await segment_of(held.tenant, "C05") == "GOLD"
    (notice,) = await notices_of(held.tenant, "C05")
    assert notice.dedupe_key == f"segment_change:{SCHEME}:C05:move{held.spike}:GOLD"
    assert "Gold (GOLD)" in notice.body
    (entry_row,) = await move_audit(held.tenant, "C05")
    assert entry_row.after is not None and entry_row.after["conflicts_acknowledged"] is None


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_planner_cannot_apply_a_tier_jump_on_any_path(
    entry: str, client: httpx.AsyncClient, held: HeldMoves, make_staff: StaffFactory
) -> None:
    await sign_in(client, await make_staff(held.tenant, "planner"))
    refused = await _decide(client, held.tenant.slug, entry, held.jump, acknowledge=False)
    assert refused.status_code in (403, 409) and "governance board" in refused.text
    if entry == "api":
        assert refused.status_code == 403
    assert await move_status(held.tenant, held.jump) == "pending"
    assert await segment_of(held.tenant, "C04") == "BRNZ"


async def test_a_regional_planner_cannot_decide_moves_outside_its_scope(
    client: httpx.AsyncClient, held: HeldMoves, make_staff: StaffFactory
) -> None:
    """The moves page used to check ``overrides:approve`` anywhere, not in the entity's scope."""
    await sign_in(client, await make_staff(held.tenant, "planner", scope="zz_region"))
    for entry in ("moves_page", "api"):
        refused = await _decide(client, held.tenant.slug, entry, held.spike, acknowledge=False)
        assert refused.status_code == 403 and "scope" in refused.text, entry
    assert await move_status(held.tenant, held.spike) == "pending"
