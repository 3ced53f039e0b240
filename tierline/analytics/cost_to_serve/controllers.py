"""Cost-to-serve: the staff page (charts, tables, refused cost records), its CSV and XLSX
files, and the API under ``/api/v1/analytics/cost-to-serve``. Reading needs
``analytics:read``; money shows only with ``margin:read`` over the scopes covered (else every
money figure, aggregates and the whale curve included, is masked). Every export is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from tierline.analytics.charts import segment_chart, whale_chart
from tierline.analytics.cost_to_serve.figures import cost_to_serve
from tierline.analytics.exports import (
    COST_HEADER,
    CUSTOMER_HEADER,
    cost_values,
    csv_file,
    xlsx_file,
)
from tierline.analytics.schemas import CostToServeReport, cost_rows, cost_to_serve_report
from tierline.analytics.web import (
    READ,
    audit_export,
    page_context,
    sees_money,
    visible_scopes,
    window_of,
)
from tierline.platform.access import requires
from tierline.platform.downloads import XLSX, csv_download, file_download
from tierline.platform.encryption import MASKED
from tierline.platform.identity.principal import Principal
from tierline.platform.routing import Api, StaffPages

Month = Annotated[
    str | None,
    QueryParameter(
        description="A month, YYYY-MM (default: the twelve months up to the newest order)"
    ),
]


async def _report(
    request: Request[Any, Any, Any], principal: Principal, first: str | None, last: str | None
) -> tuple[Any, bool]:
    window = await window_of(principal.tenant, first, last)
    report = await cost_to_serve(
        request.app.state.runtime, principal.tenant, window, visible_scopes(request, principal)
    )
    return report, not sees_money(request, principal)


@get(
    "/analytics/cost-to-serve",
    guards=[requires(READ)],
    operation_id="costToServePage",
)
async def cost_to_serve_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
) -> Template:
    """Revenue, margin and cost-to-serve per segment, region and month; the whale curve."""
    report, masked = await _report(request, principal, first, last)
    out = cost_to_serve_report(report, masked)
    customers = cost_rows(
        report.by_customer.sort("margin_after_cts", descending=True, nulls_last=True).head(25)
        if not masked
        else report.by_customer.sort("customer_code").head(25),
        masked,
    )
    query = f"first={out.first_month:%Y-%m}&last={out.last_month:%Y-%m}"
    context = page_context(
        request,
        principal,
        report=out,
        customers=customers,
        masked=masked,
        MASKED=MASKED,
        bars=segment_chart(out.segments),
        whale=whale_chart(out.whale),
        query=query,
    )
    return Template("analytics/cost_to_serve.html", context=context)


def _sheets(report: Any, masked: bool) -> list[tuple[str, Any, list[list[Any]]]]:
    out = cost_to_serve_report(report, masked)
    customers = cost_rows(report.by_customer.sort("customer_code"), masked)
    return [
        (
            "by segment, region, month",
            COST_HEADER,
            [cost_values(r, as_text=False) for r in out.rows],
        ),
        ("by segment", COST_HEADER, [cost_values(r, as_text=False) for r in out.segments]),
        (
            "by customer",
            CUSTOMER_HEADER,
            [cost_values(r, with_customer=True, as_text=False) for r in customers],
        ),
    ]


def _filename(report: Any, suffix: str) -> str:
    w = report.window
    return f"cost-to-serve-{w.first:%Y%m}-{w.last:%Y%m}-{datetime.now(UTC):%Y%m%d}.{suffix}"


async def _csv(
    request: Request[Any, Any, Any], principal: Principal, first: str | None, last: str | None
) -> Response[bytes]:
    report, masked = await _report(request, principal, first, last)
    out = cost_to_serve_report(report, masked)
    await audit_export(request, principal, "cost_to_serve", "csv", _params(report), masked)
    body = csv_file(COST_HEADER, [cost_values(r) for r in out.rows])
    return csv_download(body, _filename(report, "csv"))


async def _xlsx(
    request: Request[Any, Any, Any], principal: Principal, first: str | None, last: str | None
) -> Response[bytes]:
    report, masked = await _report(request, principal, first, last)
    await audit_export(request, principal, "cost_to_serve", "xlsx", _params(report), masked)
    response: Response[bytes] = file_download(
        xlsx_file(_sheets(report, masked)), _filename(report, "xlsx"), XLSX
    )
    return response


def _params(report: Any) -> dict[str, Any]:
    return {"first": f"{report.window.first:%Y-%m}", "last": f"{report.window.last:%Y-%m}"}


@get("/analytics/cost-to-serve.csv", guards=[requires(READ)], operation_id="costToServeCsvPage")
async def cost_to_serve_csv_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
) -> Response[bytes]:
    return await _csv(request, principal, first, last)


@get("/analytics/cost-to-serve.xlsx", guards=[requires(READ)], operation_id="costToServeXlsxPage")
async def cost_to_serve_xlsx_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
) -> Response[bytes]:
    return await _xlsx(request, principal, first, last)


@get(
    "/analytics/cost-to-serve",
    guards=[requires(READ)],
    operation_id="getCostToServe",
)
async def api_cost_to_serve(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: Month = None,
    last: Month = None,
) -> CostToServeReport:
    """Cost-to-serve per segment x region x month and per segment, the whale curve and the
    cost records that could not be allocated (with reasons). Money in cents; null with
    ``masked: true`` without ``margin:read``. 422 (problem details) for a bad window."""
    report, masked = await _report(request, principal, first, last)
    return cost_to_serve_report(report, masked)


@get(
    "/analytics/cost-to-serve.csv",
    guards=[requires(READ)],
    operation_id="exportCostToServeCsv",
    media_type="text/csv",
)
async def api_cost_to_serve_csv(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: Month = None,
    last: Month = None,
) -> Response[bytes]:
    """The per segment x region x month table as CSV (money in major units); audited."""
    return await _csv(request, principal, first, last)


@get(
    "/analytics/cost-to-serve.xlsx",
    guards=[requires(READ)],
    operation_id="exportCostToServeXlsx",
    media_type=XLSX,
)
async def api_cost_to_serve_xlsx(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    first: Month = None,
    last: Month = None,
) -> Response[bytes]:
    """Three sheets (segment x region x month, segment, customer); audited."""
    return await _xlsx(request, principal, first, last)


ROUTES = [
    StaffPages(cost_to_serve_page, cost_to_serve_csv_page, cost_to_serve_xlsx_page),
    Api(api_cost_to_serve, api_cost_to_serve_csv, api_cost_to_serve_xlsx),
]
