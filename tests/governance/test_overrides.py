"""Overrides end to end on real PostgreSQL: request, maker-checker, scope, tier jumps, expiry,
contract conflicts, customer notices and notifications; every refusal changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tierline.governance import overrides
from tierline.governance.jobs import expire_tenant
from tierline.governance.models import CustomerNotice, OverrideRequest
from tierline.governance.notices import (
    notices_for,
    render_notice,
)
from tierline.governance.overrides import (
    ApproverRights,
    OverrideForbidden,
    OverrideInvalid,
    OverrideNotFound,
    OverrideRefused,
)
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import SYSTEM, Actor
from tierline.platform.notifications.models import Notification
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment
from tierline.segmentation.runs.service import run_scheme
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.service_levels.contracts import ContractInput, save_contract
from tierline.service_levels.customer_safe import customer_safe
from tierline.service_levels.entitlements import EntitlementInput, save_entitlement_version

TODAY = datetime.now(UTC).date()
REQUESTER = Actor("requester.gov@example.com")
PLANNER = Actor("planner.gov@example.com")
BOARD = Actor("board.gov@example.com")
PLANNER_RIGHTS = ApproverRights(None, frozenset())  # approve everywhere, no major
BOARD_RIGHTS = ApproverRights.everywhere()


@dataclass(frozen=True)
class Setup:
    tenant: TenantRef
    code: str
    customers: list[str]  # [0..]: assigned B; used one per test
    manager: dict[str, str]
    scope: dict[str, str]


def scheme_text(code: str) -> str:
    return load_template("lightweight").replace("lightweight_abc", code)


async def publish_scheme(tenant: TenantRef, code: str) -> None:
    async with tenant_session(tenant) as s:
        parsed = await create_scheme(s, scheme_text(code), PLANNER)
        await publish(s, parsed.scheme.code, PLANNER)


async def assign(tenant: TenantRef, code: str, customers: dict[str, str]) -> None:
    """Open rule assignments without a run (fast): customer -> segment."""
    now = datetime.now(UTC) - timedelta(days=1)
    async with tenant_session(tenant) as s:
        s.add_all(
            [
                SegmentAssignment(
                    scheme_code=code,
                    entity_key=c,
                    customer_code=c,
                    segment=seg,
                    valid_from=now,
                    source="rule",
                )
                for c, seg in customers.items()
            ]
        )


async def setup_scheme(tenant: TenantRef, count: int = 8, *, last: bool = False) -> Setup:
    """A published scheme of our own, with rule assignments for ``count`` customers (the
    first by code, or the ``last``: tests that leave a contract behind use those)."""
    code = f"gov_{uuid.uuid4().hex[:10]}"
    await publish_scheme(tenant, code)
    async with tenant_session(tenant) as s:
        rows = (
            await s.execute(
                text(
                    "SELECT code, lower(account_manager_email), scope FROM customers "
                    "WHERE account_manager_email IS NOT NULL ORDER BY code "
                    + ("DESC" if last else "ASC")
                    + " LIMIT :n"
                ),
                {"n": count},
            )
        ).all()
    customers = [str(r[0]) for r in rows]
    await assign(tenant, code, {c: "B" if i % 2 == 0 else "C" for i, c in enumerate(customers)})
    return Setup(
        tenant,
        code,
        customers,
        {str(r[0]): str(r[1]) for r in rows},
        {str(r[0]): str(r[2]) for r in rows},
    )


@pytest.fixture
async def gov(seeded_tenant: TenantRef) -> Setup:
    return await setup_scheme(seeded_tenant)


async def file_request(
    setup: Setup, customer: str, to: str, *, expires: date | None = None, actor: Actor = REQUESTER
) -> int:
    async with tenant_session(setup.tenant) as s:
        made = await overrides.request_override(
            s,
            actor,
            setup.code,
            customer,
            to,
            "key account, strategic launch",
            ["https://crm.example.com/opp/1", "board minutes 2026-11"],
            expires or TODAY + timedelta(days=30),
            today=TODAY,  # the module's TODAY, also when the run crosses midnight
        )
        return made.id


async def state(setup: Setup, request_id: int, customer: str) -> dict[str, Any]:
    """Everything a decision could change."""
    async with tenant_session(setup.tenant) as s:
        request = await s.get(OverrideRequest, request_id)
        assert request is not None
        assignments = (
            await s.execute(
                select(
                    SegmentAssignment.id,
                    SegmentAssignment.segment,
                    SegmentAssignment.valid_to,
                    SegmentAssignment.source,
                ).where(
                    SegmentAssignment.scheme_code == setup.code,
                    SegmentAssignment.entity_key == customer,
                )
            )
        ).all()
        audit = (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one()
        notices = (
            await s.execute(select(func.count()).where(CustomerNotice.customer_code == customer))
        ).scalar_one()
        return {
            "status": request.status,
            "decided_by": request.decided_by,
            "assignments": sorted(assignments),
            "audit": audit,
            "notices": notices,
        }


async def decide(
    setup: Setup,
    request_id: int,
    approver: Actor,
    rights: ApproverRights,
    decision: str = "approve",
    **kw: Any,
) -> OverrideRequest:
    async with tenant_session(setup.tenant) as s:
        return await overrides.decide_override(
            s,
            request_id,
            decision,  # type: ignore[arg-type]
            approver,
            "checked the evidence",
            rights=rights,
            tenant_slug=setup.tenant.slug,
            **kw,
        )


async def refused(
    setup: Setup,
    request_id: int,
    customer: str,
    error: type[Exception],
    match: str,
    approver: Actor,
    rights: ApproverRights,
    **kw: Any,
) -> None:
    before = await state(setup, request_id, customer)
    with pytest.raises(error, match=match):
        await decide(setup, request_id, approver, rights, **kw)
    assert await state(setup, request_id, customer) == before


# ---------------------------------------------------------------------------------------------
# Pure parts


def test_tier_jump_counts_positions_and_treats_no_segment_as_lowest() -> None:
    from tierline.segmentation.schemes.document import parse_scheme

    scheme = parse_scheme(scheme_text("gov_pure")).scheme
    assert overrides.tier_jump(scheme, "B", "A") == 1
    assert overrides.tier_jump(scheme, "C", "A") == 2
    assert overrides.tier_jump(scheme, "A", "C") == 2
    assert overrides.tier_jump(scheme, None, "A") == 2
    assert overrides.tier_jump(scheme, None, "C") == 0


def test_notices_render_and_drop_internal_values() -> None:
    title, body = render_notice(
        "override", customer="C1", effective="2027-01-01", old="B", new="A", until="2027-03-01"
    )
    assert "A" in title and "until 2027-03-01" in body and "until now: B" in body
    assert customer_safe(
        {"fill_rate_pct": 98, "margin": 1, "internal_note": "x", "unit_cost": 2}
    ) == {"fill_rate_pct": 98}
    with pytest.raises(ValueError):
        render_notice("nope")


# ---------------------------------------------------------------------------------------------
# Requests


async def test_request_validation(gov: Setup) -> None:
    customer = gov.customers[0]  # in B
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"reason": "  "}, OverrideInvalid, "reason"),
        ({"expires_on": TODAY}, OverrideInvalid, "expires_on"),
        ({"expires_on": TODAY + timedelta(days=400)}, OverrideInvalid, "expires_on"),
        ({"expires_on": None}, OverrideInvalid, "expires_on"),
        ({"to_segment": "B"}, OverrideInvalid, "already"),
        ({"to_segment": "Z"}, OverrideInvalid, "not a segment"),
        ({"entity": "NO_SUCH_CUSTOMER"}, OverrideNotFound, "no customer"),
        ({"scheme": "gov_missing"}, OverrideNotFound, "no scheme"),
        ({"scopes": frozenset({"zz_elsewhere"})}, OverrideNotFound, "no customer"),
    ]
    for change, error, match in cases:
        args: dict[str, Any] = {
            "scheme": gov.code,
            "entity": customer,
            "to_segment": "A",
            "reason": "why",
            "expires_on": TODAY + timedelta(days=10),
            "scopes": None,
            **change,
        }
        with pytest.raises(error, match=match):
            async with tenant_session(gov.tenant) as s:
                await overrides.request_override(
                    s,
                    REQUESTER,
                    args["scheme"],
                    args["entity"],
                    args["to_segment"],
                    args["reason"],
                    [],
                    args["expires_on"],
                    scopes=args["scopes"],
                )
    async with tenant_session(gov.tenant) as s:
        count = await s.execute(select(func.count()).where(OverrideRequest.scheme_code == gov.code))
        assert count.scalar_one() == 0


async def test_one_pending_request_per_entity(gov: Setup) -> None:
    customer = gov.customers[0]
    first = await file_request(gov, customer, "A")
    with pytest.raises(OverrideRefused, match="pending override request"):
        await file_request(gov, customer, "C")
    async with tenant_session(gov.tenant) as s:
        row = await s.get(OverrideRequest, first)
        assert row is not None
        assert (row.from_segment, row.to_segment, row.tier_jump) == ("B", "A", 1)
        assert row.scope == gov.scope[customer]
        assert row.evidence == ["https://crm.example.com/opp/1", "board minutes 2026-11"]


# ---------------------------------------------------------------------------------------------
# Refusals: nothing changes


async def test_self_approval_is_refused(gov: Setup) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A")
    # the requester may hold approve rights everywhere: still refused (case-insensitive too)
    same = Actor(REQUESTER.name.upper())
    await refused(gov, request_id, customer, OverrideForbidden, "your own", same, BOARD_RIGHTS)


async def test_approval_outside_the_approvers_scope_is_refused(gov: Setup) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A")
    elsewhere = ApproverRights(frozenset({"zz_elsewhere"}), frozenset({"zz_elsewhere"}))
    await refused(gov, request_id, customer, OverrideForbidden, "scope", PLANNER, elsewhere)
    inside = ApproverRights(frozenset({gov.scope[customer]}), frozenset())
    decided = await decide(gov, request_id, PLANNER, inside)
    assert decided.status == "approved"


async def test_tier_jump_above_one_needs_the_governance_board(gov: Setup) -> None:
    customer = gov.customers[1]  # in C
    request_id = await file_request(gov, customer, "A")
    await refused(
        gov, request_id, customer, OverrideForbidden, "governance board", PLANNER, PLANNER_RIGHTS
    )
    decided = await decide(gov, request_id, BOARD, BOARD_RIGHTS)
    assert decided.status == "approved" and decided.tier_jump == 2


async def test_expired_request_is_refused(gov: Setup) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A", expires=TODAY + timedelta(days=1))
    await refused(
        gov,
        request_id,
        customer,
        OverrideRefused,
        "expired",
        PLANNER,
        PLANNER_RIGHTS,
        today=TODAY + timedelta(days=1),
    )


async def test_already_decided_request_is_refused(gov: Setup) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A")
    await decide(gov, request_id, PLANNER, PLANNER_RIGHTS, "reject")
    await refused(
        gov, request_id, customer, OverrideRefused, "rejected already", BOARD, BOARD_RIGHTS
    )


async def test_reason_is_required_to_decide(gov: Setup) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A")
    before = await state(gov, request_id, customer)
    with pytest.raises(OverrideInvalid, match="reason"):
        async with tenant_session(gov.tenant) as s:
            await overrides.decide_override(
                s, request_id, "approve", PLANNER, "  ", rights=PLANNER_RIGHTS
            )
    assert await state(gov, request_id, customer) == before


# ---------------------------------------------------------------------------------------------
# Approval and expiry


async def _notifications(tenant: TenantRef, key_prefix: str) -> list[tuple[str, str]]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(Notification.recipient_email, Notification.kind).where(
                Notification.dedupe_key.like(f"{key_prefix}%")
            )
        )
        return sorted((str(a), str(b)) for a, b in rows.all())


async def test_approval_applies_an_override_assignment_with_notice_and_notifications(
    gov: Setup,
) -> None:
    customer = gov.customers[0]
    request_id = await file_request(gov, customer, "A")
    decided = await decide(gov, request_id, PLANNER, PLANNER_RIGHTS)
    assert decided.status == "approved" and decided.decided_by == PLANNER.name
    async with tenant_session(gov.tenant) as s:
        current = await overrides.open_assignment(s, gov.code, customer)
        assert current is not None
        assert (current.segment, current.source, current.created_by) == (
            "A",
            "override",
            PLANNER.name,
        )
        assert current.id == decided.assignment_id
        closed = (
            (
                await s.execute(
                    select(SegmentAssignment.segment).where(
                        SegmentAssignment.entity_key == customer,
                        SegmentAssignment.scheme_code == gov.code,
                        SegmentAssignment.valid_to.is_not(None),
                    )
                )
            )
            .scalars()
            .all()
        )
        assert list(closed) == ["B"]
        notices = await notices_for(s, customer)
        mine = [n for n in notices if n.scheme_code == gov.code]
        assert len(mine) == 1 and mine[0].kind == "override"
        assert (mine[0].old_segment, mine[0].new_segment) == ("B", "A")
        audit = await s.execute(
            select(AuditLog.action).where(AuditLog.object_id == str(request_id))
        )
        assert set(audit.scalars()) >= {"overrides.request", "overrides.approve"}
    sent = await _notifications(gov.tenant, f"override:{request_id}:approved")
    assert sorted(r for r, _ in sent) == sorted({REQUESTER.name, gov.manager[customer]})


async def test_expiry_job_reverts_to_the_rule_result_and_notifies(gov: Setup) -> None:
    customer = gov.customers[2]  # in B
    request_id = await file_request(gov, customer, "A", expires=TODAY + timedelta(days=3))
    await decide(gov, request_id, PLANNER, PLANNER_RIGHTS)
    # before its day nothing happens
    outcome = await expire_tenant_at(gov.tenant, TODAY + timedelta(days=2))
    assert request_id not in outcome.reverted
    outcome = await expire_tenant_at(gov.tenant, TODAY + timedelta(days=3))
    assert request_id in outcome.reverted
    again = await expire_tenant_at(gov.tenant, TODAY + timedelta(days=3))
    assert request_id not in again.reverted  # idempotent
    async with tenant_session(gov.tenant) as s:
        row = await s.get(OverrideRequest, request_id)
        assert row is not None and row.status == "reverted"
        current = await overrides.open_assignment(s, gov.code, customer)
        assert current is not None and (current.segment, current.source) == ("B", "rule")
        kinds = [n.kind for n in await notices_for(s, customer) if n.scheme_code == gov.code]
        assert kinds == ["override_expired", "override"]
    sent = await _notifications(gov.tenant, f"override:{request_id}:reverted")
    assert {r for r, _ in sent} == {REQUESTER.name, gov.manager[customer]}


async def expire_tenant_at(tenant: TenantRef, day: date) -> overrides.ExpiryOutcome:
    async with tenant_session(tenant) as s:
        return await overrides.expire_overrides(s, day, SYSTEM, tenant_slug=tenant.slug)


async def test_pending_requests_past_expiry_are_marked_expired(gov: Setup) -> None:
    customer = gov.customers[4]
    request_id = await file_request(gov, customer, "A", expires=TODAY + timedelta(days=1))
    outcome = await expire_tenant_at(gov.tenant, TODAY + timedelta(days=1))
    assert request_id in outcome.expired
    async with tenant_session(gov.tenant) as s:
        row = await s.get(OverrideRequest, request_id)
        assert row is not None and row.status == "expired"
        current = await overrides.open_assignment(s, gov.code, customer)
        assert current is not None and current.segment == "B"


async def test_expiry_restores_the_latest_run_result(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    code = f"gov_{uuid.uuid4().hex[:10]}"
    await publish_scheme(seeded_tenant, code)
    outcome = await run_scheme(runtime, seeded_tenant, code, actor=PLANNER)
    assert outcome.status == "succeeded"
    async with tenant_session(seeded_tenant) as s:
        customer, segment = (
            await s.execute(
                select(SegmentAssignment.entity_key, SegmentAssignment.segment)
                .where(SegmentAssignment.scheme_code == code, SegmentAssignment.valid_to.is_(None))
                .order_by(SegmentAssignment.entity_key)
                .limit(1)
            )
        ).one()
    target = "A" if segment != "A" else "B"
    setup = Setup(seeded_tenant, code, [customer], {}, {})
    request_id = await file_request(setup, customer, target, expires=TODAY + timedelta(days=1))
    await decide(setup, request_id, BOARD, BOARD_RIGHTS)
    # a rule run leaves the overridden entity alone
    second = await run_scheme(runtime, seeded_tenant, code, actor=PLANNER)
    assert second.counts["outcomes"].get("overridden", 0) >= 1
    result = await expire_tenant(runtime, seeded_tenant, TODAY + timedelta(days=1))
    assert request_id in result.reverted
    async with tenant_session(seeded_tenant) as s:
        current = await overrides.open_assignment(s, code, customer)
        assert current is not None
        assert (current.segment, current.source) == (segment, "rule")
        assert current.run_id == second.run_id


# ---------------------------------------------------------------------------------------------
# Contracts


async def test_contract_conflict_refused_unless_the_board_acknowledges(
    seeded_tenant: TenantRef,
) -> None:
    gov = await setup_scheme(seeded_tenant, last=True)  # the contract outlives the test
    customer = gov.customers[0]  # B -> C would fall below the contract
    async with tenant_session(gov.tenant) as s:
        for segment, fill in (("A", 0.98), ("B", 0.95), ("C", 0.90)):
            await save_entitlement_version(
                s,
                gov.code,
                segment,
                EntitlementInput(
                    effective_from=TODAY - timedelta(days=30),
                    fill_rate_target=fill,
                    otif_target=fill - 0.05,
                    perfect_order_target=fill - 0.1,
                    cycle_service_level=fill,
                    quoted_lead_time_days=2 if segment == "A" else 5,
                    allocation_priority={"A": 1, "B": 2, "C": 3}[segment],
                    picking_priority={"A": 1, "B": 2, "C": 3}[segment],
                ),
                PLANNER,
            )
        await save_contract(
            s,
            ContractInput(
                customer_code=customer,
                reference=f"K-{uuid.uuid4().hex[:8]}",
                valid_from=TODAY - timedelta(days=10),
                fill_rate_min=0.94,
            ),
            PLANNER,
        )
    request_id = await file_request(gov, customer, "C")
    await refused(gov, request_id, customer, OverrideRefused, "contract", PLANNER, PLANNER_RIGHTS)
    await refused(
        gov,
        request_id,
        customer,
        OverrideForbidden,
        "governance board",
        PLANNER,
        PLANNER_RIGHTS,
        acknowledge_conflicts=True,
    )
    await refused(gov, request_id, customer, OverrideRefused, "contract", BOARD, BOARD_RIGHTS)
    decided = await decide(gov, request_id, BOARD, BOARD_RIGHTS, acknowledge_conflicts=True)
    assert decided.status == "approved" and decided.conflicts_acknowledged
    async with tenant_session(gov.tenant) as s:
        notice = next(n for n in await notices_for(s, customer) if n.scheme_code == gov.code)
        assert notice.old_entitlements and notice.new_entitlements
        assert notice.old_entitlements["fill_rate"] == pytest.approx(95)
        assert notice.new_entitlements["fill_rate"] == pytest.approx(90)
        assert "Fill rate: 95% → 90%" in notice.body
        for values in (notice.old_entitlements, notice.new_entitlements):
            assert not any("note" in k or "margin" in k or "cost" in k for k in values)
            assert set(values) <= {
                "fill_rate",
                "otif",
                "perfect_order",
                "quoted_lead_time_days",
                "delivery_windows",
            }
