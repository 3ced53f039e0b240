"""The demo step on a demo-like tenant (the ``small`` data set, the customer service scheme run
monthly): cost-to-serve per real segment and a cohort of a past reclassification."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from tierline.analytics.cohorts.figures import cohort_analysis
from tierline.analytics.cost_to_serve.figures import Window, cost_to_serve
from tierline.analytics.demo import DEMO_SCHEME, demo_step
from tierline.demo.seeding import seed_tenant
from tierline.demo.segmentation import DEMO_ACTOR, history_dates
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import create_scheme, load_template, publish, run_scheme


async def test_demo_tenant_has_cost_to_serve_and_a_cohort(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await seed_tenant(runtime, tenant, "small")
    async with tenant_session(tenant, runtime.databases) as s:
        await create_scheme(s, load_template("customer_service"), DEMO_ACTOR)
        await publish(s, DEMO_SCHEME, DEMO_ACTOR, "demo template")
    dates = history_dates(datetime.now(UTC).date())
    for as_of in dates:
        await run_scheme(
            runtime, tenant, DEMO_SCHEME, actor=DEMO_ACTOR, as_of=as_of, trigger="demo"
        )
    lines = await demo_step(runtime, tenant, SimpleNamespace(base_url="http://demo"))
    assert lines[0].endswith("/analytics/cost-to-serve")
    assert len(lines) == 2 and "movers" in lines[1], lines
    month = lines[1].split("month=")[1][:7]
    report = await cost_to_serve(runtime, tenant, Window.of(dates[1], dates[-1]))
    segments = set(report.by_segment["segment"].to_list())
    assert len(segments - {"(unassigned)"}) >= 3, segments
    assert report.by_segment["cost_to_serve"].sum() > 0
    assert report.whale.customers > 100
    cohort = await cohort_analysis(runtime, tenant, date.fromisoformat(month + "-01"), 1)
    assert cohort.movers >= 20 and cohort.matched >= 10
    assert [e.metric for e in cohort.estimates if e.effect is not None] == [
        "orders",
        "volume",
        "mix",
        "churned",
    ]
    # Run again: nothing more is recorded.
    assert await demo_step(runtime, tenant, SimpleNamespace(base_url="http://demo")) == lines
