"""``tierline demo``: commercial analytics for each demo tenant. Figures are computed on
demand, so the step makes the tenant's choices (the customer service scheme, churn after one
month: the demo history holds four monthly runs) and says where to look.

The demo runs move nobody (hysteresis and the peak-season freeze hold every move), so a
cohort analysis would have no cohort: the step records one past reclassification, a manual
account review a month after the first run that moves every fifth Gold customer to Silver and
every fifth Silver customer to Gold (source ``manual``, the reason says it is demo data)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.cohorts.figures import CohortRefused, cohort_analysis
from tierline.analytics.cohorts.panel import move_months
from tierline.analytics.models import AnalyticsSettings
from tierline.analytics.settings_store import read_choices, save_choices
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import (
    NewAssignment,
    customer_segment_history,
    scheme_exists,
    start_assignments,
)

DEMO_SCHEME = "cust_service"  # the code of the demo's customer_service template
DEMO_MONTHS = 1
REVIEW_MOVES = (("GOLD", "SILV"), ("SILV", "GOLD"))
REVIEW_EVERY = 5
REVIEW_REASON = "demo data: quarterly account review (manual reclassification)"


async def _record_a_review(session: AsyncSession) -> int:
    """The manual review described above, once (only while nobody has moved); moves made."""
    conn = await session.connection()
    history = await customer_segment_history(conn, DEMO_SCHEME)
    if history.is_empty() or move_months(history):
        return 0
    first = history["valid_from"].min()
    assert isinstance(first, datetime)
    at = datetime.combine(first.date() + timedelta(days=30), time(), tzinfo=UTC)
    open_rows = history.filter(pl.col("valid_to").is_null()).sort("customer_code")
    changes = []
    for source, target in REVIEW_MOVES:
        codes = open_rows.filter(pl.col("segment") == source)["customer_code"].to_list()
        changes += [
            NewAssignment(
                DEMO_SCHEME, code, code, None, target, "manual", REVIEW_REASON, "demo-seed"
            )
            for code in codes[::REVIEW_EVERY]
        ]
    await start_assignments(session, changes, at)
    return len(changes)


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """Choose the demo scheme once (a tenant's later choices stay) and point at the pages."""
    async with tenant_session(tenant, runtime.databases) as session:
        if await session.get(AnalyticsSettings, 1) is None and await scheme_exists(
            session, DEMO_SCHEME
        ):
            await _record_a_review(session)
            choices = await read_choices(session)
            await save_choices(
                session,
                scheme_code=DEMO_SCHEME,
                drivers=choices.drivers,
                churn_periods=DEMO_MONTHS,
                actor="demo-seed",
            )
    base = f"{demo.base_url}/t/{tenant.slug}/analytics"
    lines = [f"      cost to serve: {base}/cost-to-serve"]
    try:
        cohort = await cohort_analysis(runtime, tenant, None, DEMO_MONTHS)
    except CohortRefused:
        return lines
    month = f"{cohort.windows.month:%Y-%m}"
    lines.append(
        f"      cohorts of {month} ({cohort.movers} movers): "
        f"{base}/cohorts?month={month}&months={DEMO_MONTHS}"
    )
    return lines
