"""The reclassification impact: a staff page and ``/api/v1/analytics/reclassification-impact``
for the moves runs hold, and a panel on governance's approval page for everything the board is
about to decide. ``analytics:read``; revenue only with ``margin:read``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from tierline.analytics.impact.figures import pending_run_moves
from tierline.analytics.impact.panel import impact_of
from tierline.analytics.schemas import ImpactReport
from tierline.analytics.web import READ, page_context
from tierline.platform.access import requires
from tierline.platform.encryption import MASKED
from tierline.platform.identity.principal import Principal
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session


async def _held_moves_report(
    request: Request[Any, Any, Any], principal: Principal, scheme: str | None
) -> ImpactReport:
    async with tenant_session(principal.tenant) as s:
        changes = await pending_run_moves(s, scheme or None)
        return await impact_of(request, principal, s, changes)


@get("/analytics/impact", guards=[requires(READ)], operation_id="reclassificationImpactPage")
async def impact_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: FromQuery[str | None] = None,
) -> Template:
    """Accounts, revenue and service changes per account manager and region of held moves."""
    report = await _held_moves_report(request, principal, scheme)
    context = page_context(request, principal, report=report, MASKED=MASKED, in_page=True)
    return Template("analytics/impact.html", context=context)


@get(
    "/analytics/reclassification-impact",
    guards=[requires(READ)],
    operation_id="getReclassificationImpact",
)
async def api_impact(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: Annotated[
        str | None, QueryParameter(description="Only the held moves of this scheme")
    ] = None,
) -> ImpactReport:
    """The moves runs hold for a decision, per account manager and per sales region: accounts
    moving (up and down), their revenue over the last twelve months (cents; null with
    ``masked: true`` without ``margin:read``) and the entitlement changes their customers
    would see."""
    return await _held_moves_report(request, principal, scheme)


ROUTES = [StaffPages(impact_page), Api(api_impact)]
