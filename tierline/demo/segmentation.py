"""Demo schemes with history: the library templates published and run at monthly as-of dates.

Runs at four as-of dates a month apart give each demo tenant a real timeline (the trailing
window slides, so some customers and products move, some are held by hysteresis) instead of
one flat classification.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import (
    create_scheme,
    load_template,
    parse_scheme,
    publish,
    run_scheme,
    scheme_exists,
)

DEMO_SCHEMES = ("customer_service", "product_abc_xyz", "customer_product")
HISTORY_RUNS = 4
DEMO_ACTOR = Actor("demo-seed", "system")


def history_dates(today: date, runs: int = HISTORY_RUNS) -> list[date]:
    return [today - timedelta(days=30 * step) for step in range(runs - 1, -1, -1)]


async def seed_segmentation(runtime: Runtime, tenant: TenantRef) -> list[str]:
    """Publish and run the demo schemes the tenant does not have yet; their codes."""
    seeded = []
    for name in DEMO_SCHEMES:
        source = load_template(name)
        code = parse_scheme(source).scheme.code
        async with tenant_session(tenant, runtime.databases) as session:
            if await scheme_exists(session, code):
                continue
            await create_scheme(session, source, DEMO_ACTOR)
            await publish(session, code, DEMO_ACTOR, "demo template")
        for as_of in history_dates(datetime.now(UTC).date()):
            await run_scheme(runtime, tenant, code, actor=DEMO_ACTOR, as_of=as_of, trigger="demo")
        seeded.append(code)
    return seeded


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: the demo schemes with a few months of history."""
    await seed_segmentation(runtime, tenant)
    return []
