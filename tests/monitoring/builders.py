"""A tenant with service history to measure: a published customer scheme (A > B > C), customers
in two regions, products in two lines, effective-dated entitlements, an escalation path for A,
and eight weeks of order lines in which the A customers' deliveries turn late in the last four.

- C1 (north) in A throughout; C2 (south) in B until 30 days ago, then A; C3 (north) in B;
  C4 (south) never classified.
- A promises OTIF 95 % (90 % before 45 days ago), B 90 %, C 80 %.
- A's path: step 1 tells planner@example.com after 2 weeks below target (in app), step 2
  every admin after 3 weeks (e-mail).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import PendingMove, SegmentAssignment, SegmentationRun
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.service_levels.service import (
    EntitlementInput,
    StepInput,
    save_entitlement_version,
    save_escalation,
)

ACTOR = Actor("planner@example.com")
SCHEME = "lightweight_abc"
WEEKS = 8


@dataclass(frozen=True)
class KpiWorld:
    tenant: TenantRef
    today: date
    monday: date  # of the current week

    def week(self, back: int) -> date:
        return self.monday - timedelta(weeks=back)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _version(
    otif: str, lead: int, start: date, end: date | None = None, **more: Any
) -> EntitlementInput:
    value = float(otif)
    return EntitlementInput(
        effective_from=start,
        effective_to=end,
        fill_rate_target=value,
        otif_target=value,
        perfect_order_target=round(value - 0.05, 2),
        cycle_service_level=value,
        quoted_lead_time_days=lead,
        allocation_priority=more.get("priority", 1),
        picking_priority=more.get("priority", 1),
    )


def order_line(
    order_no: str, line_no: int, customer: str, sku: str, ordered: date, late: bool, **more: Any
) -> dict[str, Any]:
    promised = ordered + timedelta(days=3)
    row = {
        "order_no": order_no,
        "line_no": line_no,
        "customer_code": customer,
        "sku": sku,
        "location_code": "DC1",
        "order_date": ordered,
        "requested_date": promised,
        "promised_date": promised,
        "shipped_date": ordered + timedelta(days=1),
        "delivered_date": promised + timedelta(days=4 if late else -1),
        "quantity": Decimal(10),
        "ordered_quantity": Decimal(10),
        "ordered_uom": "EA",
        "delivered_quantity": Decimal(10),
        "damaged": False,
        "documentation_ok": True,
    }
    row.update(more)
    return row


def history_lines(world: KpiWorld) -> list[dict[str, Any]]:
    """Two orders of two lines per customer and week; A's deliveries late in the last 4 weeks
    (one order of two), so A misses 95 % four weeks running."""
    rows = []
    for back in range(WEEKS, 0, -1):
        ordered = world.week(back) + timedelta(days=1)
        for customer in ("C1", "C2", "C3", "C4"):
            for n in (1, 2):
                late = customer in ("C1", "C2") and back <= 4 and n == 1
                for line, sku in ((1, "P1"), (2, "P2")):
                    rows.append(
                        order_line(f"{customer}-W{back}-{n}", line, customer, sku, ordered, late)
                    )
    return rows


async def build_world(tenant: TenantRef, today: date | None = None) -> KpiWorld:
    today = today or datetime.now(UTC).date()
    world = KpiWorld(tenant, today, today - timedelta(days=today.weekday()))
    long_ago = today - timedelta(days=400)
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(Customer),
            [
                {"code": "C1", "name": "Acme", "account_type": "sold_to", "region": "north",
                 "channel": "retail", "business_unit": "bu1", "scope": "north"},
                {"code": "C2", "name": "Borealis", "account_type": "sold_to", "region": "south",
                 "channel": "retail", "business_unit": "bu1", "scope": "south"},
                {"code": "C3", "name": "Cobalt", "account_type": "sold_to", "region": "north",
                 "channel": "wholesale", "business_unit": "bu2", "scope": "north"},
                {"code": "C4", "name": "Dune", "account_type": "sold_to", "region": "south",
                 "channel": "wholesale", "business_unit": "bu2", "scope": "south"},
            ],
        )  # fmt: skip
        await s.execute(
            insert(Product),
            [
                {"sku": "P1", "description": "Widget", "base_uom": "EA", "product_line": "widgets"},
                {"sku": "P2", "description": "Gadget", "base_uom": "EA", "product_line": "gadgets"},
            ],
        )  # fmt: skip
        parsed = await create_scheme(s, load_template("lightweight"), ACTOR)
        await publish(s, parsed.scheme.code, ACTOR)
        switch = today - timedelta(days=30)
        spans = [("C1", "A", long_ago, None), ("C2", "B", long_ago, switch),
                 ("C2", "A", switch, None), ("C3", "B", long_ago, None)]  # fmt: skip
        s.add_all(
            SegmentAssignment(
                scheme_code=SCHEME, entity_key=c, customer_code=c, segment=seg,
                valid_from=_at(start), valid_to=_at(end) if end else None, source="rule",
            )
            for c, seg, start, end in spans
        )  # fmt: skip
        await s.flush()
        change = today - timedelta(days=45)
        await save_entitlement_version(s, SCHEME, "A", _version("0.90", 3, long_ago, change), ACTOR)
        await save_entitlement_version(s, SCHEME, "A", _version("0.95", 3, change), ACTOR)
        await save_entitlement_version(
            s, SCHEME, "B", _version("0.90", 5, long_ago, priority=2), ACTOR
        )
        await save_entitlement_version(
            s, SCHEME, "C", _version("0.80", 7, long_ago, priority=3), ACTOR
        )
        await save_escalation(
            s,
            SCHEME,
            "A",
            [
                StepInput(step=1, notify="planner@example.com", after_periods=2),
                StepInput(step=2, notify="role:admin", after_periods=3, channel="email"),
            ],
            ACTOR,
        )
        await s.execute(insert(OrderLine), history_lines(world))
    return world


async def spike_moves(runtime: Runtime, world: KpiWorld) -> dict[str, int]:
    """C2 B -> A applied when its assignment changed (30 days ago), C3 B -> A held (rejected),
    and a tier-jump-only move of C1 that the review must leave out."""
    run = uuid.uuid4()
    switch = datetime(world.today.year, world.today.month, world.today.day, tzinfo=UTC)
    switch -= timedelta(days=30)
    async with tenant_session(world.tenant, runtime.databases) as s:
        s.add(
            SegmentationRun(
                id=run, scheme_code=SCHEME, version=1, content_hash="x", engine_version="t",
                as_of=world.today, status="succeeded", trigger="manual", started_at=switch,
            )
        )  # fmt: skip
        await s.flush()
        ids = {}
        for key, dst, reasons, status in (
            ("C2", "A", ["spike"], "applied"),
            ("C1", "B", ["tier_jump"], "rejected"),
            ("C3", "A", ["spike", "tier_jump"], "rejected"),
        ):
            move = PendingMove(
                run_id=run, scheme_code=SCHEME, entity_key=key, customer_code=key,
                from_segment="B" if key != "C1" else "A", to_segment=dst, reasons=reasons,
                source="rule", status=status, created_at=switch - timedelta(days=1),
                decided_by="lead@example.com", decided_at=switch, decision_reason="checked",
            )  # fmt: skip
            s.add(move)
            await s.flush()
            ids[key] = move.id
    return ids
