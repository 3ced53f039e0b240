"""A small fresh tenant where a run held moves for a decision, built with direct inserts:

- scheme ``tiers`` (GOLD > SILV > BRNZ) with entitlements: GOLD 98 % fill rate, SILV 85 %,
  BRNZ 80 %;
- C03 (account manager ``am.c03@example.com``) in GOLD with contract ``K-C03`` (fill rate at
  least 95 %), C04 in BRNZ, C05 in SILV;
- one run that held C03 GOLD -> SILV (reason ``contract``: SILV promises 85 %), C04
  BRNZ -> GOLD (``tier_jump``) and C05 SILV -> GOLD (``spike``, no conflict).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from tierline.governance.models import CustomerNotice
from tierline.masterdata.models import Customer
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import PendingMove, SegmentAssignment, SegmentationRun
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.service_levels.contracts import ContractInput, save_contract
from tierline.service_levels.entitlements import (
    DeliveryWindow,
    EntitlementInput,
    save_entitlement_version,
)

SCHEME = "tiers"
ACTOR = Actor("planner.setup@example.com")
MANAGER = "am.c03@example.com"
SCHEME_TEXT = """
code: tiers
name: Service tiers
entity: customer
segments:
  - {code: GOLD, name: Gold, rank: 1, colour: "#c9a227"}
  - {code: SILV, name: Silver, rank: 2, colour: "#8a8f98"}
  - {code: BRNZ, name: Bronze, rank: 3, colour: "#a0522d"}
classifiers:
  abc: {driver: revenue, thresholds: {A: 0.80, B: 0.95}}
tree:
  - when: {attr: abc, eq: A}
    segment: GOLD
  - when: {attr: abc, eq: B}
    segment: SILV
  - segment: BRNZ
"""
# fill, OTIF, perfect order, cycle service level, lead time, window end
LEVELS = {
    "GOLD": (0.98, 0.97, 0.95, 0.98, 2, "18:00"),
    "SILV": (0.85, 0.84, 0.80, 0.90, 4, "16:00"),
    "BRNZ": (0.80, 0.80, 0.75, 0.85, 6, "16:00"),
}
CONFLICT = "SILV: contract K-C03 requires fill rate ≥ 95 %, the segment promises 85 %"


@dataclass(frozen=True)
class HeldMoves:
    tenant: TenantRef
    today: date
    run_id: uuid.UUID
    contract: int  # C03 GOLD -> SILV, below its contract
    jump: int  # C04 BRNZ -> GOLD
    spike: int  # C05 SILV -> GOLD


def entitlement(segment: str, start: date) -> EntitlementInput:
    fill, otif, perfect, csl, lead, late = LEVELS[segment]
    rank = list(LEVELS).index(segment) + 1
    return EntitlementInput(
        effective_from=start,
        fill_rate_target=fill,
        otif_target=otif,
        perfect_order_target=perfect,
        cycle_service_level=csl,
        quoted_lead_time_days=lead,
        delivery_windows=[DeliveryWindow(["mon", "tue", "wed", "thu", "fri"], "08:00", late)],
        allocation_priority=rank,
        allocation_min_share=0.2 if segment == "GOLD" else 0.0,
        picking_priority=rank,
        transport_rules="Dedicated carrier",
        taxonomy_code=f"TX-{segment}",
        note="internal: reviewed with finance",
    )


async def build_held_moves(tenant: TenantRef) -> HeldMoves:
    today = datetime.now(UTC).date()
    async with tenant_session(tenant) as s:
        parsed = await create_scheme(s, SCHEME_TEXT, ACTOR)
        await publish(s, parsed.scheme.code, ACTOR)
    async with tenant_session(tenant) as s:
        s.add_all(
            Customer(
                code=code,
                name=name,
                account_type="sold_to",
                account_manager_email=MANAGER if code == "C03" else None,
            )
            for code, name in (("C03", "Corvo Foods"), ("C04", "Delta Mills"), ("C05", "Eta"))
        )
        await s.flush()
        for segment in LEVELS:
            await save_entitlement_version(
                s, SCHEME, segment, entitlement(segment, today - timedelta(days=60)), ACTOR
            )
        await save_contract(
            s,
            ContractInput(
                customer_code="C03",
                reference="K-C03",
                valid_from=today - timedelta(days=30),
                fill_rate_min=0.95,
            ),
            ACTOR,
        )
        since = datetime.now(UTC) - timedelta(days=20)
        s.add_all(
            SegmentAssignment(
                scheme_code=SCHEME,
                entity_key=code,
                customer_code=code,
                segment=segment,
                valid_from=since,
                source="rule",
            )
            for code, segment in (("C03", "GOLD"), ("C04", "BRNZ"), ("C05", "SILV"))
        )
        run_id = uuid.uuid4()
        s.add(
            SegmentationRun(
                id=run_id,
                scheme_code=SCHEME,
                version=1,
                content_hash="sha256:test",
                engine_version="test",
                as_of=today,
                status="succeeded",
                trigger="manual",
            )
        )
        await s.flush()
        moves = {}
        for code, start, to, reason in (
            ("C03", "GOLD", "SILV", "contract"),
            ("C04", "BRNZ", "GOLD", "tier_jump"),
            ("C05", "SILV", "GOLD", "spike"),
        ):
            move = PendingMove(
                run_id=run_id,
                scheme_code=SCHEME,
                entity_key=code,
                customer_code=code,
                from_segment=start,
                to_segment=to,
                reasons=[reason],
                source="rule",
            )
            s.add(move)
            await s.flush()
            moves[code] = move.id
    return HeldMoves(tenant, today, run_id, moves["C03"], moves["C04"], moves["C05"])


async def segment_of(tenant: TenantRef, code: str) -> str | None:
    async with tenant_session(tenant) as s:
        return (
            await s.execute(
                select(SegmentAssignment.segment).where(
                    SegmentAssignment.scheme_code == SCHEME,
                    SegmentAssignment.entity_key == code,
                    SegmentAssignment.valid_to.is_(None),
                )
            )
        ).scalar_one_or_none()


async def move_status(tenant: TenantRef, move_id: int) -> str:
    async with tenant_session(tenant) as s:
        move = await s.get(PendingMove, move_id)
        assert move is not None
        return move.status


async def notices_of(tenant: TenantRef, code: str) -> list[CustomerNotice]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(CustomerNotice)
            .where(CustomerNotice.customer_code == code)
            .order_by(CustomerNotice.id)
        )
        return list(rows.scalars())


async def move_audit(tenant: TenantRef, code: str) -> list[AuditLog]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(AuditLog)
            .where(
                AuditLog.action.like("segments.move.%"),
                AuditLog.object_id == f"{SCHEME}:{code}",
            )
            .order_by(AuditLog.seq)
        )
        return list(rows.scalars())
