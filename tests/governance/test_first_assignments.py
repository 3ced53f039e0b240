"""A contracted customer's first assignment is checked like a move: a run that would put a new
customer with a 95 % fill-rate contract into a segment promising 85 % holds the assignment for
a decision (reason ``contract``, from no segment), the approval queue shows the conflict, and
only the governance board, acknowledging it, applies it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import select

from tests.governance.test_overrides import PLANNER, publish_scheme
from tierline.governance.checks import ApproverRights
from tierline.governance.models import CustomerNotice
from tierline.governance.moves import MovesRefused, decide_moves
from tierline.governance.queue import QueueFilter, approval_queue
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import PendingMove, SegmentAssignment
from tierline.segmentation.runs.service import load_and_classify, run_scheme
from tierline.segmentation.schemes.store import published
from tierline.service_levels.contracts import ContractInput, save_contract
from tierline.service_levels.entitlements import EntitlementInput, save_entitlement_version

TODAY = datetime.now(UTC).date()
BOARD = Actor("board.first@example.com")


async def _entitlements(tenant: TenantRef, code: str) -> None:
    async with tenant_session(tenant) as s:
        for rank, (segment, fill) in enumerate((("A", 0.98), ("B", 0.95), ("C", 0.85)), 1):
            await save_entitlement_version(
                s,
                code,
                segment,
                EntitlementInput(
                    effective_from=TODAY - timedelta(days=30),
                    fill_rate_target=fill,
                    otif_target=fill - 0.02,
                    perfect_order_target=fill - 0.05,
                    cycle_service_level=fill,
                    quoted_lead_time_days=rank * 2,
                    allocation_priority=rank,
                    picking_priority=rank,
                ),
                PLANNER,
            )


async def test_a_new_customers_first_assignment_below_its_contract_waits_for_the_board(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    code = f"gov_{uuid.uuid4().hex[:10]}"
    await publish_scheme(seeded_tenant, code)
    await _entitlements(seeded_tenant, code)
    async with tenant_session(seeded_tenant) as s:
        scheme = (await published(s, code)).scheme
    # which customers the run will put in C (classification is deterministic)
    classified = await load_and_classify(runtime, seeded_tenant, scheme, TODAY)
    in_c = classified.results.filter(pl.col("segment") == "C")["entity_key"].sort().to_list()
    contracted, free = in_c[0], in_c[1]
    async with tenant_session(seeded_tenant) as s:
        await save_contract(
            s,
            ContractInput(
                customer_code=contracted,
                reference=f"K-{uuid.uuid4().hex[:8]}",
                valid_from=TODAY - timedelta(days=10),
                fill_rate_min=0.95,
            ),
            PLANNER,
        )

    outcome = await run_scheme(runtime, seeded_tenant, code, actor=PLANNER, as_of=TODAY)
    assert outcome.status == "succeeded"
    assert outcome.counts["outcomes"]["pending"] == 1
    async with tenant_session(seeded_tenant) as s:
        assigned = dict(
            (
                await s.execute(
                    select(SegmentAssignment.entity_key, SegmentAssignment.segment).where(
                        SegmentAssignment.scheme_code == code,
                        SegmentAssignment.valid_to.is_(None),
                    )
                )
            ).all()
        )
        (held,) = (
            (await s.execute(select(PendingMove).where(PendingMove.scheme_code == code)))
            .scalars()
            .all()
        )
    assert contracted not in assigned and assigned[free] == "C"  # only the contracted one waits
    assert (held.entity_key, held.from_segment, held.to_segment) == (contracted, None, "C")
    assert held.reasons == ["contract"]

    async with tenant_session(seeded_tenant) as s:
        items = await approval_queue(
            s,
            QueueFilter(kind="move", scheme=code),
            visible=None,
            rights=ApproverRights(None, frozenset()),
            actor=PLANNER.name,
            today=TODAY,
        )
    (item,) = items
    assert item.entity_key == contracted and item.from_segment is None
    assert item.conflicts and "requires fill rate ≥ 95 %" in item.conflicts[0]

    board = ApproverRights.everywhere()
    try:
        async with tenant_session(seeded_tenant) as s:
            await decide_moves(s, [held.id], "apply", BOARD, "first order", rights=board)
        raise AssertionError("a conflict must be acknowledged")
    except MovesRefused as refused:
        assert "contract" in str(refused)
    async with tenant_session(seeded_tenant) as s:
        await decide_moves(
            s,
            [held.id],
            "apply",
            BOARD,
            "contract renegotiated",
            rights=board,
            acknowledge_conflicts=True,
        )
    async with tenant_session(seeded_tenant) as s:
        segment = (
            await s.execute(
                select(SegmentAssignment.segment).where(
                    SegmentAssignment.scheme_code == code,
                    SegmentAssignment.entity_key == contracted,
                    SegmentAssignment.valid_to.is_(None),
                )
            )
        ).scalar_one()
        notice = (
            await s.execute(
                select(CustomerNotice).where(
                    CustomerNotice.scheme_code == code, CustomerNotice.customer_code == contracted
                )
            )
        ).scalar_one()
    assert segment == "C"
    assert (notice.old_segment, notice.new_segment) == (None, "C")
