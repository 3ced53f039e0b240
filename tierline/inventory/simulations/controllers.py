"""Simulation before deployment: the page (per segment, ERP against proposed, with intervals,
a chart and the calibration report), running one, a CSV export, and the JSON twins under
``/api/v1/inventory/simulations``. Reading needs ``inventory:read``, running
``inventory:run``; another tenant's simulation is 404. No money on these pages."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.inventory.simulations import service
from tierline.inventory.simulations.chart import fill_rate_chart
from tierline.inventory.simulations.models import InventorySimulation
from tierline.inventory.simulations.schemas import SimulateIn, SimulationOut
from tierline.platform.access import requires
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.downloads import csv_download, with_bom
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pages import EMPTY, fmt_number, fmt_time
from tierline.platform.pagination import PAGED, InvalidCursor, Page, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session

READ, RUN = "inventory:read", "inventory:run"
TAGS = ["inventory"]
METRICS = (
    ("fill_rate", "Unit fill rate", "share"),
    ("cycle_service_level", "Cycle service level", "share"),
    ("average_on_hand", "Average on hand per SKU-location", "units"),
    ("stockout_days_per_year", "Stock-out days per SKU-location and year", "units"),
    ("orders_per_year", "Orders per SKU-location and year", "units"),
)


class InvalidQuery(DomainError):
    status_code = 422
    title = "Invalid query"


def _today() -> date:
    return datetime.now(UTC).date()


def _out(r: InventorySimulation) -> SimulationOut:
    return SimulationOut(
        id=r.id,
        policy_run_id=str(r.policy_run_id) if r.policy_run_id else None,
        policy_code=r.policy_code,
        as_of=r.as_of,
        days=r.days,
        seed=r.seed,
        sku_locations=r.sku_locations,
        candidates=r.candidates,
        sampled=r.sampled,
        comparison=r.comparison,
        calibration=r.calibration,
        shortfalls=r.shortfalls,
        flags=r.flags,
        created_at=r.created_at,
        created_by=r.created_by,
    )


def _fill_rate_targets(calibration: list[dict[str, Any]]) -> dict[str, float | None]:
    return {
        str(c["segment"]): c.get("target")
        for c in calibration
        if c.get("demand_class") == "*" and c.get("measure") == "fill_rate"
    }


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return EMPTY
    return f"{float(value):.1%}" if kind == "share" else fmt_number(float(value), 1)


async def _chosen(principal: Principal, raw: Any) -> InventorySimulation | None:
    async with tenant_session(principal.tenant) as s:
        if raw in (None, ""):
            found = await service.history(s, 1)
            return found[0] if found else None
        try:
            wanted = int(str(raw))
        except ValueError:
            raise InvalidQuery("id: a whole number") from None
        return await service.find(s, wanted)


@get("/inventory/simulation", guards=[requires(READ)], operation_id="simulationPage")
async def simulation_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """The latest simulation (or ``?id=``): per segment ERP against proposed."""
    chosen = await _chosen(principal, request.query_params.get("id"))
    async with tenant_session(principal.tenant) as s:
        past = await service.history(s)
    chart = (
        fill_rate_chart(chosen.comparison, _fill_rate_targets(chosen.calibration))
        if chosen is not None and chosen.comparison
        else None
    )
    context = {
        "tenant": principal.tenant,
        "principal": principal,
        "chosen": chosen,
        "past": past,
        "chart": chart,
        "metrics": METRICS,
        "shown": _shown,
        "shortfall_text": service.shortfall_text,
        "can_run": RUN in principal.permissions,
        "queued": request.query_params.get("queued"),
        "fmt_number": fmt_number,
        "fmt_time": fmt_time,
    }
    return Template("inventory/simulation.html", context=context)


@post("/inventory/simulation", guards=[requires(RUN)], operation_id="runSimulationPage")
async def run_page(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> Response[Any]:
    """Queue a replay of the demand history under the ERP's parameters and the run in force."""
    job = await service.submit_simulation(
        state.runtime, principal.tenant, actor_of(request, principal),
        days=service.HISTORY_DAYS, seed=7,
    )  # fmt: skip
    target = f"/t/{principal.tenant.slug}/inventory/simulation?queued={quote(str(job['id']))}"
    return Redirect(target, status_code=303)


@get(
    "/inventory/simulation/{simulation_id:int}/export.csv",
    guards=[requires(READ)],
    operation_id="simulationExport",
)
async def export_csv(
    principal: NamedDependency[Principal], simulation_id: FromPath[int]
) -> Response[bytes]:
    """The per-segment comparison as spreadsheet CSV."""
    async with tenant_session(principal.tenant) as s:
        found = await service.find(s, simulation_id)
    out = io.StringIO()
    writer = csv.writer(out)
    head = list(found.comparison[0]) if found.comparison else ["segment"]
    writer.writerow(head)
    for row in found.comparison:
        writer.writerow(safe_csv_row(row.get(c) for c in head))
    filename = f"simulation-{principal.tenant.slug}-{simulation_id}.csv"
    return csv_download(with_bom(out.getvalue()), filename)


@get(
    "/inventory/simulations",
    guards=[requires(READ)],
    operation_id="listSimulations",
    tags=TAGS,
    dependencies=PAGED,
)
async def api_list(principal: NamedDependency[Principal], page: PageRequest) -> Page[SimulationOut]:
    """Simulations, newest first (cursor pages)."""
    position = page.position()
    if position is not None and (len(position) != 1 or not isinstance(position[0], int)):
        raise InvalidCursor("cursor: not a cursor of this list (pass next_cursor as is)")
    before = int(position[0]) if position is not None else None
    async with tenant_session(principal.tenant) as s:
        rows = await service.history(s, page.limit + 1, before)
    return page.of([_out(r) for r in rows], lambda r: (r.id,))


class SimulationQueued(msgspec.Struct):
    job: dict[str, Any]
    status_url: str


@post(
    "/inventory/simulations",
    guards=[requires(RUN)],
    operation_id="runSimulation",
    tags=TAGS,
    status_code=202,
)
async def api_run(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    data: SimulateIn,
) -> SimulationQueued:
    """Queue a replay of the demand history under the ERP's parameters and the run in force;
    poll the job, whose result names the simulation (409 without a run in force; 422 for
    days outside 56..730)."""
    if not 56 <= data.days <= 730:
        raise InvalidQuery("days: between 56 and 730")
    job = await service.submit_simulation(
        state.runtime, principal.tenant, actor_of(request, principal),
        days=data.days, seed=data.seed,
    )  # fmt: skip
    return SimulationQueued(job=job, status_url=f"/api/v1/jobs/{job['id']}")


@get(
    "/inventory/simulations/{simulation_id:int}",
    guards=[requires(READ)],
    operation_id="getSimulation",
    tags=TAGS,
)
async def api_get(
    principal: NamedDependency[Principal], simulation_id: FromPath[int]
) -> SimulationOut:
    """One simulation with its comparison, calibration report and shortfalls."""
    async with tenant_session(principal.tenant) as s:
        return _out(await service.find(s, simulation_id))


ROUTES = [
    StaffPages(simulation_page, run_page, export_csv),
    Api(api_list, api_run, api_get),
]
