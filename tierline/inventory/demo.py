"""Demo inventory policy: one published policy over the customer segments, run at three as-of
dates a month apart, so the demo shows a run history (and, when demand moved, an approval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tierline.inventory.document import (
    OrderQuantity,
    PolicyDocument,
    SegmentPolicy,
    document_dict,
)
from tierline.inventory.runs import decide_run, run_policy
from tierline.inventory.store import create_policy, publish
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import published_segments

DEMO_ACTOR = Actor("demo-seed", "system")
CODE = "standard"
SCHEME = "cust_service"
RUNS = 3


def demo_document(segments: list[str]) -> PolicyDocument:
    """The top segment on fill rate with (s, Q), the middle ones on cycle service level, the
    bottom one on a weekly min/max; targets from the entitlements; demand-weighted targets."""
    rows = []
    for i, code in enumerate(segments):
        last = i == len(segments) - 1
        rows.append(
            SegmentPolicy(
                segment=code,
                policy_type="min_max" if last else "s_q",
                service_measure="fill_rate" if i == 0 else "cycle_service_level",
                review_period_days=7.0 if last else 0.0,
                order_quantity=OrderQuantity(rule="days_of_demand", days=7.0 + 7.0 * i),
                cap_days=60.0,
            )
        )
    default = SegmentPolicy(
        segment="*",
        policy_type="min_max",
        target=0.9,
        review_period_days=7.0,
        order_quantity=OrderQuantity(rule="days_of_demand", days=28.0),
    )
    return PolicyDocument(
        scheme=SCHEME,
        target_rule="demand_weighted",
        period_days=7,  # the demo's history is sparse per day: weekly buckets
        min_lead_time_observations=3,
        default_lead_time_days=14.0,
        change_threshold=0.25,
        segments=rows,
        default=default,
    )


async def seed_policy(runtime: Runtime, tenant: TenantRef) -> list[str]:
    """Publish and run the demo policy if the tenant has none yet; lines to print."""
    async with tenant_session(tenant, runtime.databases) as session:
        segments = await published_segments(session, SCHEME)
        if segments is None:
            return []
        from tierline.inventory.models import InventoryPolicy

        if await session.get(InventoryPolicy, CODE) is not None:
            return []
        doc = demo_document([s.code for s in segments])
        await create_policy(session, CODE, "Standard policy", document_dict(doc), DEMO_ACTOR)
        await publish(session, CODE, DEMO_ACTOR, "demo policy")
    today = datetime.now(UTC).date()
    last = None
    for step in range(RUNS - 1, -1, -1):
        as_of = today - timedelta(days=30 * step)
        last = await run_policy(
            runtime, tenant, CODE, actor=DEMO_ACTOR, as_of=as_of, trigger="demo"
        )
        if last.status == "pending_approval" and step > 0:
            async with tenant_session(tenant, runtime.databases) as session:
                await decide_run(session, last.run_id, True, DEMO_ACTOR, "demo: reviewed")
    if last is None:
        return []
    return [f"inventory policy: {last.counts.get('sku_locations', 0):,} SKU-locations"]


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: a published inventory policy with a short run history; the latest
    run is left waiting for approval when it moves safety stocks beyond the threshold."""
    return await seed_policy(runtime, tenant)
