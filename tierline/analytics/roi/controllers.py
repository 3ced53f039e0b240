"""The programme's ROI: a one-page summary with charts and ``/api/v1/analytics/roi``.
``analytics:read``; cost-to-serve figures only with ``margin:read``. Overlapping periods are a
422 naming both."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from tierline.analytics.charts import paired_chart
from tierline.analytics.cohorts.panel import add_months
from tierline.analytics.cost_to_serve.figures import Window
from tierline.analytics.roi.summary import roi_summary
from tierline.analytics.schemas import RoiReport, roi_report
from tierline.analytics.web import (
    READ,
    page_context,
    parse_month,
    sees_money,
    visible_scopes,
    window_of,
)
from tierline.platform.access import requires
from tierline.platform.encryption import MASKED
from tierline.platform.identity.principal import Principal
from tierline.platform.routing import Api, StaffPages

DEFAULT_SPAN = 3


async def _report(
    request: Request[Any, Any, Any],
    principal: Principal,
    baseline_first: str | None,
    baseline_last: str | None,
    first: str | None,
    last: str | None,
) -> RoiReport:
    comparison_last = (
        parse_month(last, "last") or (await window_of(principal.tenant, None, None)).last
    )
    comparison_first = parse_month(first, "first") or add_months(comparison_last, 1 - DEFAULT_SPAN)
    comparison = Window.of(comparison_first, comparison_last)
    base_last = parse_month(baseline_last, "baseline_last") or add_months(comparison.first, -1)
    base_first = parse_month(baseline_first, "baseline_first") or add_months(
        base_last, 1 - DEFAULT_SPAN
    )
    baseline = Window.of(base_first, base_last)
    roi = await roi_summary(
        request.app.state.runtime,
        principal.tenant,
        baseline,
        comparison,
        visible_scopes(request, principal),
    )
    return roi_report(roi, masked=not sees_money(request, principal))


@get("/analytics/roi", guards=[requires(READ)], operation_id="roiPage")
async def roi_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    baseline_first: FromQuery[str | None] = None,
    baseline_last: FromQuery[str | None] = None,
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
) -> Template:
    """One page: per segment, service attainment and cost-to-serve against the baseline."""
    report = await _report(request, principal, baseline_first, baseline_last, first, last)
    rows = report.segments
    context = page_context(
        request,
        principal,
        report=report,
        MASKED=MASKED,
        attainment_chart=paired_chart(
            [(s.segment, s.attainment_before, s.attainment_after) for s in rows],
            "Segment; share of monthly KPI targets met",
        ),
        cts_chart=None
        if report.masked
        else paired_chart(
            [(s.segment, s.cts_share_before, s.cts_share_after) for s in rows],
            "Segment; cost to serve as a share of revenue",
        ),
    )
    return Template("analytics/roi.html", context=context)


Month = Annotated[str | None, QueryParameter(description="A month, YYYY-MM")]


@get("/analytics/roi", guards=[requires(READ)], operation_id="getRoi")
async def api_roi(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    baseline_first: Month = None,
    baseline_last: Month = None,
    first: Month = None,
    last: Month = None,
) -> RoiReport:
    """Per segment, the comparison period (default: the last three months with orders)
    against the baseline (default: the three months before): the share of monthly KPI targets
    met and the KPI values, cost-to-serve as a share of revenue and margin after it (masked
    without ``margin:read``). 422 when the periods overlap."""
    return await _report(request, principal, baseline_first, baseline_last, first, last)


ROUTES = [StaffPages(roi_page), Api(api_roi)]
