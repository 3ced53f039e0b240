"""Demo entitlements, contracts and escalation paths for every published customer scheme.

Levels step down evenly from the best-ranked segment (98 % fill rate, 97 % OTIF, 2 days) to the
worst (90 %, 88 %, 7 days), so the tier order holds by construction. Two customers of the top
segments get a contract a little below their segment's promise. Re-running changes nothing:
segments that already have a version, customers with a contract and paths already defined are
left alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import (
    Segment,
    customer_codes_in_segment,
    published_segments,
    scheme_infos,
)
from tierline.service_levels.service import (
    ContractInput,
    DeliveryWindow,
    EntitlementInput,
    StepInput,
    entitlement_versions,
    escalation_path,
    has_contract,
    save_contract,
    save_entitlement_version,
    save_escalation,
)

DEMO_ACTOR = Actor("demo-seed", "system")
BEST = (0.98, 0.97, 0.95, 0.99, 2)
WORST = (0.90, 0.88, 0.85, 0.90, 7)
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
CONTRACTS_PER_SCHEME = 2


def demo_levels(position: float) -> tuple[float, float, float, float, int]:
    """Targets at ``position`` (0 = best tier, 1 = worst), rounded to half a percent."""

    def mix(best: float, worst: float) -> float:
        return round((best + (worst - best) * position) * 200) / 200

    fill, otif, perfect, csl = (mix(b, w) for b, w in zip(BEST[:4], WORST[:4], strict=True))
    return fill, otif, perfect, csl, round(BEST[4] + (WORST[4] - BEST[4]) * position)


def demo_entitlement(position: float, priority: int, code: str, start: date) -> EntitlementInput:
    fill, otif, perfect, csl, lead = demo_levels(position)
    late = "18:00" if position < 0.5 else "16:00"
    return EntitlementInput(
        effective_from=start,
        fill_rate_target=fill,
        otif_target=otif,
        perfect_order_target=perfect,
        cycle_service_level=csl,
        quoted_lead_time_days=lead,
        delivery_windows=[DeliveryWindow(WEEKDAYS, "07:00", late)],
        allocation_priority=priority,
        allocation_min_share=round(0.3 * (1 - position), 2),
        picking_priority=priority,
        transport_rules="Dedicated carrier, tracked" if position < 0.5 else "Consolidated LTL",
        taxonomy_code=f"{code}-STD",
        note="demo data",
    )


async def _seed_scheme(runtime: Runtime, tenant: TenantRef, code: str, start: date) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        segments = await published_segments(s, code) or []
        have = {v["segment_code"] for v in await entitlement_versions(s, code)}
        ranks = sorted({seg.rank for seg in segments})
        span = max(len(ranks) - 1, 1)
        for seg in segments:
            index = ranks.index(seg.rank)
            if seg.code not in have:
                data = demo_entitlement(index / span, index + 1, seg.code, start)
                await save_entitlement_version(s, code, seg.code, data, DEMO_ACTOR)
            if not await escalation_path(s, code, seg.code):
                steps = [
                    StepInput(step=1, notify="role:account_manager", after_periods=1),
                    StepInput(step=2, notify="role:planner", after_periods=2),
                    StepInput(step=3, notify="role:approver", after_periods=3, channel="email"),
                ]
                await save_escalation(s, code, seg.code, steps, DEMO_ACTOR)
    await _seed_contracts(runtime, tenant, code, segments[:2], start)


async def _seed_contracts(
    runtime: Runtime, tenant: TenantRef, code: str, top: list[Segment], start: date
) -> None:
    today = datetime.now(UTC).date()
    for segment in top:
        seg_code = segment.code
        async with tenant_session(tenant, runtime.databases) as s:
            first = await customer_codes_in_segment(s, code, seg_code, limit=1)
            customer = first[0] if first else None
            if customer is None or await has_contract(s, customer, today):
                continue
            version = next(
                (v for v in await entitlement_versions(s, code) if v["segment_code"] == seg_code),
                None,
            )
            if version is None:
                continue
            await save_contract(
                s,
                ContractInput(
                    customer_code=customer,
                    reference=f"DEMO-{code.upper()}-{customer}"[:100],
                    valid_from=start,
                    fill_rate_min=version["fill_rate_target"] - 0.01,
                    otif_min=version["otif_target"] - 0.01,
                    max_lead_time_days=version["quoted_lead_time_days"] + 1,
                    note="demo contract",
                ),
                DEMO_ACTOR,
            )


async def seed_entitlements(runtime: Runtime, tenant: TenantRef) -> None:
    """Entitlements, escalation paths and a couple of contracts for each published customer
    scheme of ``tenant``; idempotent."""
    async with tenant_session(tenant, runtime.databases) as s:
        codes = [i.code for i in await scheme_infos(s, entity="customer", published_only=True)]
    start = date(datetime.now(UTC).year - 1, 1, 1)
    for code in sorted(codes):
        await _seed_scheme(runtime, tenant, code, start)


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: entitlements, contracts and escalation paths for the demo schemes."""
    await seed_entitlements(runtime, tenant)
    return []
