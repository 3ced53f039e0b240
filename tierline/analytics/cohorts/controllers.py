"""Cohorts after a reclassification: the staff page and ``/api/v1/analytics/cohorts``.
No money is involved (orders, units, mix, churn), so nothing is masked; ``analytics:read``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from tierline.analytics.charts import interval_rows
from tierline.analytics.cohorts.figures import CohortRefused, cohort_analysis
from tierline.analytics.schemas import CohortReport, cohort_report
from tierline.analytics.web import READ, page_context, parse_month
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.routing import Api, StaffPages


def _months(raw: str | int | None) -> int:
    try:
        return int(raw) if raw not in (None, "") else 3
    except (TypeError, ValueError):
        raise CohortRefused("months: a whole number of months, 1 to 12") from None


async def _analysis(
    request: Request[Any, Any, Any], principal: Principal, month: str | None, months: Any
) -> CohortReport:
    span = _months(months)
    chosen = parse_month(month, "month")
    result = await cohort_analysis(request.app.state.runtime, principal.tenant, chosen, span)
    return cohort_report(result)


@get("/analytics/cohorts", guards=[requires(READ)], operation_id="cohortsPage")
async def cohorts_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    month: FromQuery[str | None] = None,
    months: FromQuery[str | None] = None,
) -> Template:
    """Movers of a month against matched stayers, with the difference in differences."""
    report = await _analysis(request, principal, month, months)
    context = page_context(
        request,
        principal,
        report=report,
        intervals=dict(
            zip(
                [e.metric for e in report.estimates],
                interval_rows(report.estimates),
                strict=True,
            )
        ),
    )
    return Template("analytics/cohorts.html", context=context)


@get("/analytics/cohorts", guards=[requires(READ)], operation_id="getCohorts")
async def api_cohorts(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    month: Annotated[
        str | None,
        QueryParameter(
            description="The reclassification month, YYYY-MM (default: the latest with a "
            "full after window)"
        ),
    ] = None,
    months: Annotated[int, QueryParameter(ge=1, le=12, description="Months before and after")] = 3,
) -> CohortReport:
    """Customers who moved segment in ``month`` against matched customers who stayed (same
    starting segment, similar volume): orders, units, mix and churn before and after, the
    difference in differences with its 95% interval and the cohort sizes. A cohort too small
    gives no estimate (``effect`` null, ``note`` says why). 422 problem details for a bad
    month or window."""
    return await _analysis(request, principal, month, months)


ROUTES = [StaffPages(cohorts_page), Api(api_cohorts)]
