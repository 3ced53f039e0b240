"""What monitoring adds to other domains' work: an applied import of order lines queues the
KPI update of the periods it touched, and the staff home opens on the planner's dashboard
(listed in this package's plugin, so both are registered wherever they can happen)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from tierline.masterdata.service import IMPORT_APPLIED, LinesImported
from tierline.monitoring.jobs import queue_kpi_update
from tierline.platform.home import HOME_PANELS, HomePanel
from tierline.platform.identity.principal import Principal
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


@IMPORT_APPLIED.register
async def update_kpis_after_import(runtime: Runtime, applied: LinesImported) -> None:
    if applied.written:
        await queue_kpi_update(
            runtime, applied.tenant, since=applied.began, key=str(applied.import_id)
        )


@HOME_PANELS.register
async def planners_dashboard(
    request: Request[Any, Any, Any], principal: Principal, tenant: TenantRef
) -> HomePanel | None:
    """The staff home opens on the dashboard for whoever may read KPIs."""
    if "kpi:read" not in principal.permissions:
        return None
    from tierline.monitoring.controllers import dashboard_context

    context = await dashboard_context(request, principal, tenant, "week", "otif")
    return HomePanel("monitoring/home_panel.html", context)
