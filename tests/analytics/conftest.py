"""A small hand-made commercial history for the analytics tests: three customers, a published
customer scheme with a move, sealed order lines and cost records (every figure in the tests is
computed by hand from these rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert

from tests.support.builders import add_order_lines
from tierline.masterdata.models import CostToServe, Customer, Product
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish

SCHEME = "lightweight_abc"
JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def build_commercial(runtime: Runtime, tenant: TenantRef) -> None:
    """C1 (EU, am1) in A until 1 Feb 2026, then B; C2 (US, am2) in B; C3 (no region) never
    assigned. January: C1 O1 2 units 100.00/30.00, O2 3 units 50.00/10.00; C2 O3 5 units
    200.00/60.00; C3 O5 1 unit 10.00/1.00. February: C1 O4 1 unit 80.00/20.00. Costs: C1 Jan
    freight 10.00, handling 3.00, returns 1.50; C2 Jan 4.00/1.00/0.00; C1 Feb 2.00/1.00/-;
    C3 Mar freight 5.00 (no lines in March)."""
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant, runtime.databases) as s:
        await s.execute(
            insert(Customer),
            [
                {"code": "C1", "name": "Acme", "account_type": "sold_to", "region": "EU",
                 "account_manager_email": "am1@example.com"},
                {"code": "C2", "name": "Beta", "account_type": "sold_to", "region": "US",
                 "account_manager_email": "am2@example.com"},
                {"code": "C3", "name": "Gamma", "account_type": "sold_to"},
            ],
        )  # fmt: skip
        await s.execute(insert(Product), [{"sku": "P1", "description": "Widget", "base_uom": "EA"}])
        actor = Actor("planner@example.com")
        parsed = await create_scheme(s, load_template("lightweight"), actor)
        await publish(s, parsed.scheme.code, actor)
        rows = [("C1", "A", at(date(2025, 1, 1)), at(FEB)), ("C1", "B", at(FEB), None),
                ("C2", "B", at(date(2025, 1, 1)), None)]  # fmt: skip
        s.add_all(
            SegmentAssignment(
                scheme_code=SCHEME, entity_key=k, customer_code=k, segment=seg,
                valid_from=start, valid_to=end, source="rule", reason="test",
            )
            for k, seg, start, end in rows
        )  # fmt: skip
        costs = [("C1", JAN, "10.00", "3.00", "1.50"), ("C2", JAN, "4.00", "1.00", "0.00"),
                 ("C1", FEB, "2.00", "1.00", None), ("C3", MAR, "5.00", None, None)]  # fmt: skip
        for code, period, *amounts in costs:
            sealed: dict[str, Any] = {}
            for column, amount in zip(("freight", "handling", "returns"), amounts, strict=True):
                sealed[f"{column}_enc"] = codec.encrypt(
                    None if amount is None else Decimal(amount),
                    table="cost_to_serve",
                    column=column,
                    row_key=f"{code}/{period.isoformat()}",
                )
            s.add(CostToServe(customer_code=code, period_start=period, **sealed))
    lines = [("O1", "C1", JAN, 2, "100.00", "30.00"), ("O2", "C1", date(2026, 1, 20), 3, "50.00", "10.00"),
             ("O3", "C2", date(2026, 1, 5), 5, "200.00", "60.00"), ("O5", "C3", date(2026, 1, 9), 1, "10.00", "1.00"),
             ("O4", "C1", date(2026, 2, 14), 1, "80.00", "20.00")]  # fmt: skip
    await add_order_lines(
        tenant,
        [
            {
                "order_no": o,
                "customer_code": c,
                "sku": "P1",
                "order_date": d,
                "quantity": Decimal(q),
                "revenue": Decimal(r),
                "margin": Decimal(m),
            }
            for o, c, d, q, r, m in lines
        ],
        codec,
    )


@pytest.fixture
async def commercial(runtime: Runtime, tenant: TenantRef) -> TenantRef:
    await build_commercial(runtime, tenant)
    return tenant
