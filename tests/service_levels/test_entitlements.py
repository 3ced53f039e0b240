"""Service entitlements: validation (ranges, overlap, tier order, contracts), history, pages, API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment
from tierline.segmentation.runs.service import run_scheme
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.service_levels.contracts import ContractInput, save_contract
from tierline.service_levels.entitlements import (
    DeliveryWindow,
    EntitlementInput,
    EntitlementInvalid,
    entitlement_at,
    entitlement_public_dict,
    entitlements_for_customer,
    save_entitlement_version,
)
from tierline.service_levels.models import EntitlementVersion

ACTOR = Actor("planner@example.com")
TODAY = datetime.now(UTC).date()
START = date(2020, 1, 1)
LEVELS = {
    "PLAT": (0.98, 0.97, 0.95, 0.99, 2, 1),
    "GOLD": (0.96, 0.95, 0.93, 0.97, 3, 2),
    "SILV": (0.93, 0.92, 0.90, 0.95, 5, 3),
    "BRNZ": (0.90, 0.88, 0.85, 0.90, 7, 4),
}


def entitlement(segment: str, **changes: Any) -> EntitlementInput:
    fill, otif, perfect, csl, lead, priority = LEVELS[segment]
    values: dict[str, Any] = {
        "effective_from": START,
        "fill_rate_target": fill,
        "otif_target": otif,
        "perfect_order_target": perfect,
        "cycle_service_level": csl,
        "quoted_lead_time_days": lead,
        "allocation_priority": priority,
        "picking_priority": priority,
        "delivery_windows": [DeliveryWindow(["mon", "tue"], "08:00", "16:00")],
        "taxonomy_code": f"{segment}-STD",
        "note": "internal: negotiated with sales",
    }
    values.update(changes)
    return EntitlementInput(**values)


async def publish_customer_scheme(runtime: Runtime, tenant: TenantRef, prefix: str) -> str:
    code = f"{prefix}_{uuid.uuid4().hex[:8]}"
    async with tenant_session(tenant, runtime.databases) as s:
        parsed = await create_scheme(
            s, load_template("customer_service").replace("cust_service", code), ACTOR
        )
        await publish(s, parsed.scheme.code, ACTOR)
    return code


async def save(
    runtime: Runtime, tenant: TenantRef, code: str, segment: str, data: EntitlementInput
) -> EntitlementVersion:
    async with tenant_session(tenant, runtime.databases) as s:
        return await save_entitlement_version(s, code, segment, data, ACTOR)


async def _counts(runtime: Runtime, tenant: TenantRef, code: str) -> tuple[int, int]:
    async with tenant_session(tenant, runtime.databases) as s:
        versions = await s.scalar(
            select(func.count()).where(EntitlementVersion.scheme_code == code)
        )
        audit = await s.scalar(
            select(func.count()).where(
                AuditLog.action.like("entitlements.%"),
                AuditLog.object_id.like(f"{code}/%"),
            )
        )
    return int(versions or 0), int(audit or 0)


async def refused(
    runtime: Runtime, tenant: TenantRef, code: str, segment: str, data: EntitlementInput
) -> dict[str, str]:
    """The field errors of a refused save, after checking nothing was written."""
    before = await _counts(runtime, tenant, code)
    with pytest.raises(EntitlementInvalid) as caught:
        await save(runtime, tenant, code, segment, data)
    assert await _counts(runtime, tenant, code) == before
    return {e.field: e.message for e in caught.value.errors}


async def seed_tiers(runtime: Runtime, tenant: TenantRef, code: str) -> None:
    for segment in LEVELS:
        await save(runtime, tenant, code, segment, entitlement(segment))


async def test_versions_history_and_lookup(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_hist")
    first = await save(
        runtime, seeded_tenant, code, "PLAT", entitlement("PLAT", effective_to=date(2024, 1, 1))
    )
    second = await save(
        runtime, seeded_tenant, code, "PLAT", entitlement("PLAT", effective_from=date(2024, 1, 1))
    )
    assert (first.version, second.version) == (1, 2)
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        old = await entitlement_at(s, code, "PLAT", date(2023, 12, 31))
        new = await entitlement_at(s, code, "PLAT", date(2024, 1, 1))
        none = await entitlement_at(s, code, "PLAT", date(2019, 12, 31))
        audit = await s.scalar(
            select(func.count()).where(
                AuditLog.action == "entitlements.create",
                AuditLog.object_id.like(f"{code}/PLAT/%"),
            )
        )
    assert old is not None and old.version == 1
    assert new is not None and new.version == 2 and none is None
    assert audit == 2
    public = entitlement_public_dict(new)
    assert public["fill_rate"] == 98.0 and public["quoted_lead_time_days"] == 2
    assert public["delivery_windows"] == [{"days": ["mon", "tue"], "from": "08:00", "to": "16:00"}]
    assert public["effective_from"] == "2024-01-01"
    # only the customer-facing entitlements: no internal setting reaches a customer
    assert set(public) == {
        "segment",
        "version",
        "effective_from",
        "effective_to",
        "fill_rate",
        "otif",
        "perfect_order",
        "quoted_lead_time_days",
        "delivery_windows",
    }


async def test_close_open_version_supersedes(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_close")
    await save(runtime, seeded_tenant, code, "GOLD", entitlement("GOLD"))
    later = entitlement("GOLD", effective_from=date(2025, 1, 1), close_open_version=True)
    await save(runtime, seeded_tenant, code, "GOLD", later)
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        rows = (
            await s.execute(
                select(EntitlementVersion.version, EntitlementVersion.effective_to)
                .where(EntitlementVersion.scheme_code == code)
                .order_by(EntitlementVersion.version)
            )
        ).all()
    assert rows == [(1, date(2025, 1, 1)), (2, None)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fill_rate_target": 1.2}, "fill_rate_target"),
        ({"otif_target": -0.01}, "otif_target"),
        ({"perfect_order_target": 101.0}, "perfect_order_target"),
        ({"cycle_service_level": 1.5}, "cycle_service_level"),
        ({"allocation_min_share": 2.0}, "allocation_min_share"),
        ({"quoted_lead_time_days": -1}, "quoted_lead_time_days"),
        ({"allocation_priority": 0}, "allocation_priority"),
        ({"effective_to": START}, "effective_to"),
        (
            {"delivery_windows": [DeliveryWindow(["mon"], "17:00", "09:00")]},
            "delivery_windows[0]",
        ),
        (
            {"delivery_windows": [DeliveryWindow(["funday"], "08:00", "09:00")]},
            "delivery_windows[0]",
        ),
    ],
)
async def test_out_of_range_values_are_refused(
    runtime: Runtime, seeded_tenant: TenantRef, changes: dict[str, Any], field: str
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_range")
    errors = await refused(runtime, seeded_tenant, code, "PLAT", entitlement("PLAT", **changes))
    assert field in errors
    if "target" in field:
        assert "between 0 and 100 %" in errors[field]


async def test_unknown_segment_is_refused(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_unknown")
    errors = await refused(runtime, seeded_tenant, code, "NOPE", entitlement("PLAT"))
    assert "segment_code" in errors


async def test_overlapping_periods_are_refused(runtime: Runtime, seeded_tenant: TenantRef) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_overlap")
    await save(
        runtime, seeded_tenant, code, "SILV", entitlement("SILV", effective_to=date(2025, 1, 1))
    )
    clash = entitlement("SILV", effective_from=date(2024, 6, 1))
    errors = await refused(runtime, seeded_tenant, code, "SILV", clash)
    assert "overlaps version 1" in errors["effective_from"]
    # The database refuses an overlap written past the validation as well.
    with pytest.raises(Exception, match=r"no_overlap|overlapping|exclusion"):
        async with tenant_session(seeded_tenant, runtime.databases) as s:
            await s.execute(
                text(
                    "INSERT INTO entitlement_versions (scheme_code, segment_code, version, "
                    "effective_from, fill_rate_target, otif_target, perfect_order_target, "
                    "cycle_service_level, quoted_lead_time_days, allocation_priority, "
                    "picking_priority) VALUES (:c, 'SILV', 9, '2024-03-01', .9, .9, .9, .9, 1, 1, 1)"
                ),
                {"c": code},
            )


async def test_tier_order_is_enforced_unless_allowed(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_order")
    await seed_tiers(runtime, seeded_tenant, code)
    # Gold below Silver on fill rate: refused naming both segments and the field.
    worse_gold = entitlement("GOLD", effective_from=date(2030, 1, 1), fill_rate_target=0.91)
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await s.execute(
            text(
                "UPDATE entitlement_versions SET effective_to = '2030-01-01' "
                "WHERE scheme_code = :c AND segment_code = 'GOLD'"
            ),
            {"c": code},
        )
    errors = await refused(runtime, seeded_tenant, code, "GOLD", worse_gold)
    assert "GOLD (rank 2)" in errors["fill_rate_target"] and "SILV" in errors["fill_rate_target"]
    # A worse tier may not promise more than a better one either (longer lead time for PLAT).
    slow = entitlement("BRNZ", effective_from=date(2030, 1, 1), quoted_lead_time_days=1)
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await s.execute(
            text(
                "UPDATE entitlement_versions SET effective_to = '2030-01-01' "
                "WHERE scheme_code = :c AND segment_code = 'BRNZ'"
            ),
            {"c": code},
        )
    errors = await refused(runtime, seeded_tenant, code, "BRNZ", slow)
    assert "quoted_lead_time_days" in errors
    # With the explicit exception the same Gold version is accepted.
    allowed = entitlement(
        "GOLD", effective_from=date(2030, 1, 1), fill_rate_target=0.91, allow_below_lower_tier=True
    )
    saved = await save(runtime, seeded_tenant, code, "GOLD", allowed)
    assert saved.version == 2 and saved.allow_below_lower_tier


async def assigned_customers(runtime: Runtime, tenant: TenantRef, code: str) -> dict[str, str]:
    async with tenant_session(tenant, runtime.databases) as s:
        rows = await s.execute(
            select(SegmentAssignment.customer_code, SegmentAssignment.segment).where(
                SegmentAssignment.scheme_code == code, SegmentAssignment.valid_to.is_(None)
            )
        )
        return {str(c): str(seg) for c, seg in rows.all()}


async def test_version_below_a_contract_is_refused(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    code = await publish_customer_scheme(runtime, seeded_tenant, "ent_contract")
    outcome = await run_scheme(runtime, seeded_tenant, code, actor=ACTOR)
    assert outcome.status == "succeeded"
    assigned = await assigned_customers(runtime, seeded_tenant, code)
    customer, segment = sorted(assigned.items())[0]
    await save(
        runtime, seeded_tenant, code, segment, entitlement(segment, effective_to=date(2030, 1, 1))
    )
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await save_contract(
            s,
            ContractInput(
                customer_code=customer,
                reference=f"K-{uuid.uuid4().hex[:8]}",
                valid_from=START,
                otif_min=LEVELS[segment][1],
                max_lead_time_days=LEVELS[segment][4],
            ),
            ACTOR,
        )
    lower = entitlement(
        segment,
        effective_from=date(2030, 1, 1),
        otif_target=0.5,
        allow_below_lower_tier=True,
    )
    errors = await refused(runtime, seeded_tenant, code, segment, lower)
    assert customer in errors["contract"] and "OTIF" in errors["contract"]
    # The customer portal view: scheme, segment name and colour, the version in force.
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        found = await entitlements_for_customer(s, customer, TODAY)
    mine = [f for f in found if f.scheme_code == code]
    assert len(mine) == 1 and mine[0].segment_code == segment
    assert mine[0].segment_colour and mine[0].version is not None
    assert entitlement_public_dict(mine[0])["otif"] == LEVELS[segment][1] * 100


async def test_demo_seed_is_idempotent(runtime: Runtime, tenant: TenantRef) -> None:
    from tierline.demo.service_levels import seed_entitlements

    code = await publish_customer_scheme(runtime, tenant, "demo")
    await seed_entitlements(runtime, tenant)
    first = await _counts(runtime, tenant, code)
    await seed_entitlements(runtime, tenant)
    assert await _counts(runtime, tenant, code) == first and first[0] == len(LEVELS)
