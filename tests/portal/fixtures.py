"""A tiny portal tenant, built with direct inserts in well under a second:

    P1 (sold-to) ── S1, S2 (ship-tos)        Q1 (sold-to) ── Q1S (ship-to)

a published customer scheme ``portal_abc`` (segments A > B > C) with entitlements (A delivers
Mon-Fri 08:00-18:00 and Sat 08:00-12:00, B and C Mon-Fri 08:00-16:00; the internal settings
differ per segment), open assignments P1=A, S1=B, S2=B, Q1=C, Q1S=C, order lines for S1 and
Q1S over the last weeks (with encrypted-looking revenue/margin bytes that must never surface),
and one notice each for P1 and Q1 (stored with the entitlement names of earlier releases)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tierline.governance.notices import create_customer_notice
from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.service_levels.entitlements import (
    DeliveryWindow,
    EntitlementInput,
    save_entitlement_version,
)

ACTOR = Actor("planner@example.com")
SCHEME = "portal_abc"
SECRET_MARKER = "SECRET-MARGIN-4242"


@dataclass(frozen=True)
class PortalData:
    tenant: TenantRef
    today: date


TARGETS = {"A": (98, 97, 95, 2), "B": (95, 92, 90, 4), "C": (90, 85, 80, 7)}
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
WINDOW_END = {"A": "18:00", "B": "16:00", "C": "16:00"}


async def build_portal_tenant(tenant: TenantRef) -> PortalData:
    today = datetime.now(UTC).date()
    source = (
        load_template("lightweight")
        .replace("lightweight_abc", SCHEME)
        .replace("name: Revenue ABC", "name: Service tier")
    )
    async with tenant_session(tenant) as s:
        parsed = await create_scheme(s, source, ACTOR)
        await publish(s, parsed.scheme.code, ACTOR)
    async with tenant_session(tenant) as s:
        s.add(Product(sku="SKU1", description="Widget", base_uom="EA"))
        for code, name, kind, parent in (
            ("P1", "Pella Holdings", "sold_to", None),
            ("S1", "Pella North", "ship_to", "P1"),
            ("S2", "Pella South", "ship_to", "P1"),
            ("Q1", "Quarto Trading", "sold_to", None),
            ("Q1S", "Quarto Depot", "ship_to", "Q1"),
        ):
            s.add(
                Customer(
                    code=code,
                    name=name,
                    account_type=kind,
                    parent_code=parent,
                    attributes={"internal_note": SECRET_MARKER},
                )
            )
        await s.flush()
        start = datetime.now(UTC) - timedelta(days=30)
        for code, segment in (("P1", "A"), ("S1", "B"), ("S2", "B"), ("Q1", "C"), ("Q1S", "C")):
            s.add(
                SegmentAssignment(
                    scheme_code=SCHEME,
                    entity_key=code,
                    customer_code=code,
                    segment=segment,
                    valid_from=start,
                    source="manual",
                    reason=f"internal reason {SECRET_MARKER}",
                )
            )
        for i in range(40):
            customer = "S1" if i % 2 == 0 else "Q1S"
            ordered = today - timedelta(days=3 + i * 2)
            s.add(
                OrderLine(
                    order_no=f"O{i}",
                    line_no=1,
                    customer_code=customer,
                    sku="SKU1",
                    order_date=ordered,
                    requested_date=ordered + timedelta(days=5),
                    promised_date=ordered + timedelta(days=4),
                    delivered_date=ordered + timedelta(days=3 if i % 3 else 6),
                    quantity=Decimal(10),
                    ordered_quantity=Decimal(10),
                    ordered_uom="EA",
                    delivered_quantity=Decimal(10 if i % 4 else 8),
                    damaged=i % 5 == 0,
                    documentation_ok=True,
                    revenue_enc=SECRET_MARKER.encode(),
                    margin_enc=SECRET_MARKER.encode(),
                )
            )
    async with tenant_session(tenant) as s:
        for segment, (fill, otif, perfect, lead) in TARGETS.items():
            await save_entitlement_version(
                s,
                SCHEME,
                segment,
                EntitlementInput(
                    effective_from=today - timedelta(days=60),
                    fill_rate_target=fill / 100,
                    otif_target=otif / 100,
                    perfect_order_target=perfect / 100,
                    cycle_service_level=0.95,
                    quoted_lead_time_days=lead,
                    delivery_windows=[
                        DeliveryWindow(list(WORKDAYS), "08:00", WINDOW_END[segment]),
                        *([DeliveryWindow(["sat"], "08:00", "12:00")] if segment == "A" else []),
                    ],
                    allocation_priority={"A": 1, "B": 2, "C": 3}[segment],
                    allocation_min_share={"A": 0.2, "B": 0.1, "C": 0.0}[segment],
                    picking_priority={"A": 1, "B": 2, "C": 3}[segment],
                    transport_rules="Dedicated carrier" if segment == "A" else "Consolidated LTL",
                    taxonomy_code=f"GLOBAL-{segment}",
                    note=f"internal {SECRET_MARKER}",
                ),
                ACTOR,
            )
        for code, old, new in (("P1", "B", "A"), ("Q1", "B", "C")):
            await create_customer_notice(
                s,
                customer_code=code,
                kind="segment_change",
                effective_date=today - timedelta(days=30),
                old_segment=old,
                new_segment=new,
                old_entitlements={"fill_rate_pct": 95.0, "margin_pct": SECRET_MARKER},
                new_entitlements={"fill_rate_pct": 98.0, "internal_note": SECRET_MARKER},
                dedupe_key=f"test:{code}",
                scheme_code=SCHEME,
            )
    return PortalData(tenant, today)
