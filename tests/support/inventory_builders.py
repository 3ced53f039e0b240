"""A small inventory history for policy tests: one DC, four SKUs, two customer segments.

- S1: daily demand ~ N(20, 5²) from C1 (GOLD, 70 %) and C2 (BRONZE, 30 %), 8 lead-time
  observations from SUP1 (mean 5 days);
- S2: the same demand but bought from SUP2, a lane with only 2 lead-time observations and no
  planned lead time (refused: ``lead_time_missing``);
- S3: order lines in ``CS`` without a conversion (refused: ``unit_without_conversion``);
- S4: a stock position and no demand (``no_demand``: safety stock 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import text

from tests.support.builders import add_customers, add_order_lines, add_products
from tierline.platform.tenancy import TenantRef, tenant_session

SCHEME = "CUSTSEG"
GOLD_FILL, GOLD_CSL, BRONZE_FILL, BRONZE_CSL = 0.98, 0.95, 0.90, 0.85

POLICY: dict[str, Any] = {
    "scheme": SCHEME,
    "target_rule": "demand_weighted",
    "history_days": 120,
    "min_lead_time_observations": 5,
    "change_threshold": 0.10,
    "segments": [
        {
            "segment": "GOLD",
            "service_measure": "fill_rate",
            "order_quantity": {"rule": "days_of_demand", "days": 7},
        },
        {
            "segment": "BRONZE",
            "policy_type": "min_max",
            "review_period_days": 7,
            "order_quantity": {"rule": "days_of_demand", "days": 14},
        },
    ],
}


@dataclass(frozen=True)
class InventoryHistory:
    as_of: date
    s1_daily: list[float]


async def build_inventory_history(tenant: TenantRef, seed: int = 3) -> InventoryHistory:
    rng = np.random.default_rng(seed)
    as_of = datetime.now(UTC).date()
    await add_customers(tenant, "C1", "C2")
    await add_products(tenant, "S1", "S2", "S3", "S4")
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "INSERT INTO locations (code, name, kind, echelon, scope, created_at, updated_at) "
                "VALUES ('DC1', 'DC 1', 'dc', 1, '*', now(), now())"
            )
        )
        await s.execute(
            text(
                "INSERT INTO suppliers (code, name, attributes, created_at, updated_at) "
                "VALUES ('SUP1', 'Supplier 1', '{}', now(), now()), "
                "('SUP2', 'Supplier 2', '{}', now(), now())"
            )
        )
    daily = np.maximum(np.round(rng.normal(20, 5, 120)), 0).tolist()
    lines: list[dict[str, Any]] = []
    for day_back, qty in enumerate(daily, start=1):
        day = as_of - timedelta(days=day_back)
        gold = round(qty * 0.7)
        for sku in ("S1", "S2"):
            for customer, q in (("C1", gold), ("C2", qty - gold)):
                if q > 0:
                    lines.append(_line(customer, sku, day, q))
        if day_back % 10 == 0:
            lines.append({**_line("C2", "S3", day, 2), "ordered_uom": "CS"})
    await add_order_lines(tenant, lines)
    lead = [5, 4, 6, 5, 7, 3, 5, 6]
    async with tenant_session(tenant) as s:
        for i, days in enumerate(lead):
            received = as_of - timedelta(days=3 + 10 * i)
            await s.execute(
                text(
                    "INSERT INTO lead_times (sku, location_code, supplier_code, ordered_on, "
                    "received_on, lead_time_days) VALUES ('S1', 'DC1', 'SUP1', :o, :r, :d)"
                ),
                {"o": received - timedelta(days=days), "r": received, "d": Decimal(days)},
            )
        for i in range(2):
            received = as_of - timedelta(days=5 + 10 * i)
            await s.execute(
                text(
                    "INSERT INTO lead_times (sku, location_code, supplier_code, ordered_on, "
                    "received_on, lead_time_days) VALUES ('S2', 'DC1', 'SUP2', :o, :r, 5)"
                ),
                {"o": received - timedelta(days=5), "r": received},
            )
        await s.execute(
            text(
                "INSERT INTO inventory_positions (sku, location_code, as_of, on_hand, on_order) "
                "VALUES ('S4', 'DC1', :d, 10, 0)"
            ),
            {"d": as_of},
        )
        await _segments(s, as_of)
    return InventoryHistory(as_of, daily)


def _line(customer: str, sku: str, day: date, qty: float) -> dict[str, Any]:
    return {
        "order_no": f"O-{sku}-{customer}-{day.isoformat()}-{qty}",
        "customer_code": customer,
        "sku": sku,
        "location_code": "DC1",
        "order_date": day,
        "quantity": Decimal(int(qty)),
    }


async def _segments(session: Any, as_of: date) -> None:
    """A customer scheme row with two open assignments and their entitlements in force (the
    scheme's rules do not matter here: only assignments and entitlements are read)."""
    now = datetime.now(UTC)
    await session.execute(
        text(
            "INSERT INTO segmentation_schemes (code, entity, name, created_at) "
            "VALUES (:c, 'customer', 'Customer segments', :n)"
        ),
        {"c": SCHEME, "n": now},
    )
    for customer, segment in (("C1", "GOLD"), ("C2", "BRONZE")):
        await session.execute(
            text(
                "INSERT INTO segment_assignments (scheme_code, entity_key, customer_code, "
                "segment, valid_from, source) VALUES (:s, :c, :c, :g, :n, 'manual')"
            ),
            {"s": SCHEME, "c": customer, "g": segment, "n": now},
        )
    for segment, fill, csl in (("GOLD", GOLD_FILL, GOLD_CSL), ("BRONZE", BRONZE_FILL, BRONZE_CSL)):
        await session.execute(
            text(
                "INSERT INTO entitlement_versions (scheme_code, segment_code, version, "
                "effective_from, fill_rate_target, otif_target, perfect_order_target, "
                "cycle_service_level, quoted_lead_time_days, delivery_windows, "
                "allocation_priority, allocation_min_share, picking_priority, "
                "allow_below_lower_tier, created_at) VALUES (:s, :g, 1, :f, :fill, 0.9, 0.9, "
                ":csl, 3, '[]', 1, 0, 1, false, :n)"
            ),
            {
                "s": SCHEME,
                "g": segment,
                "f": as_of - timedelta(days=365),
                "fill": Decimal(str(fill)),
                "csl": Decimal(str(csl)),
                "n": now,
            },
        )
