"""Inventory policy's JSON API: the calculator, policy documents, runs and their results.

Reading needs ``inventory:read``; editing and publishing documents ``inventory:write``;
starting runs ``inventory:run``; deciding a run that waits ``inventory:approve``. Bodies and
responses are typed (msgspec), refusals are RFC 9457 problem details (a refused document
lists its ``issues`` with their paths).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
import polars as pl
from litestar import Request, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from tierline.inventory import service as inventory
from tierline.inventory.models import InventoryPolicy, InventoryPolicyRun
from tierline.inventory.runs import get_run, list_runs
from tierline.inventory.store import get_policy, list_policies, versions
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import Api
from tierline.platform.tenancy import tenant_session

READ, WRITE, RUN, APPROVE = (
    "inventory:read",
    "inventory:write",
    "inventory:run",
    "inventory:approve",
)
PAGE_LIMIT = 500


class PolicyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new policy: its code, a name and its first draft document."""

    code: str
    name: str
    document: dict[str, Any]


class DraftBody(msgspec.Struct, forbid_unknown_fields=True):
    document: dict[str, Any]


class PublishBody(msgspec.Struct, forbid_unknown_fields=True):
    """``acknowledge_shortfall`` with a ``shortfall_reason`` is needed when the latest simulation
    of the policy found segments below their entitlement (audited with the reason)."""

    note: str | None = None
    acknowledge_shortfall: bool = False
    shortfall_reason: str | None = None


class RunRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Queue a run of the policy's published version, as of a day (default today)."""

    policy: str
    as_of: date | None = None


class Decision(msgspec.Struct, forbid_unknown_fields=True):
    approve: bool
    reason: str


class PolicyOut(msgspec.Struct):
    code: str
    name: str
    published_version: int | None
    draft: dict[str, Any] | None
    versions: list[dict[str, Any]]


class PolicyRunOut(msgspec.Struct):
    id: str
    policy_code: str
    version: int
    content_hash: str
    engine_version: str
    as_of: date
    status: str
    trigger: str
    requested_by: str | None
    started_at: str
    finished_at: str | None
    in_force_from: str | None
    counts: dict[str, Any]
    message: str | None


class JobAccepted(msgspec.Struct):
    job: dict[str, Any]
    status_url: str


class Published(msgspec.Struct):
    version: int
    content_hash: str


class ResultOut(msgspec.Struct):
    """One SKU-location's policy numbers (units of ``base_uom``; demand per period, lead time
    and review period in periods) and the flags that explain any rule applied."""

    sku: str
    location_code: str
    segment_code: str | None
    target_rule: str
    policy_type: str
    service_measure: str
    service_target: float | None
    base_uom: str | None
    demand_class: str
    distribution: str
    periods: int
    zero_periods: int
    demand_mean: float
    demand_sd: float
    lead_time_mean: float | None
    lead_time_sd: float | None
    lead_time_source: str
    lead_time_observations: int
    review_period: float
    order_quantity: float | None
    sigma: float | None
    k: float | None
    safety_stock: float | None
    reorder_point: float | None
    order_up_to: float | None
    expected_fill_rate: float | None
    expected_cycle_service_level: float | None
    expected_on_hand: float | None
    demand_share: float | None
    lead_time_share: float | None
    flag_names: list[str]


class ResultsPage(msgspec.Struct):
    """Results in key order; ``next_cursor`` continues after the last row (null at the end);
    ``run_id`` is the run they come from (null when no run is in force)."""

    items: list[ResultOut]
    next_cursor: str | None = None
    run_id: str | None = None


def run_out(row: InventoryPolicyRun) -> PolicyRunOut:
    return PolicyRunOut(
        id=str(row.id),
        policy_code=row.policy_code,
        version=row.version,
        content_hash=row.content_hash,
        engine_version=row.engine_version,
        as_of=row.as_of,
        status=row.status,
        trigger=row.trigger,
        requested_by=row.requested_by,
        started_at=row.started_at.isoformat(),
        finished_at=row.finished_at.isoformat() if row.finished_at else None,
        in_force_from=row.in_force_from.isoformat() if row.in_force_from else None,
        counts=dict(row.counts or {}),
        message=row.message,
    )


def _invalid(exc: inventory.PolicyInvalid) -> ValidationException:
    """A refused document as the API's 422: every issue in ``errors``, its field the path
    inside the body's ``document``."""
    errors = [
        {"field": f"document.{i.path}", "message": i.message, "source": "body"} for i in exc.issues
    ]
    return ValidationException(detail=str(exc), extra=errors)


def _run_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundException() from None


async def _policy_out(session: Any, row: InventoryPolicy) -> PolicyOut:
    return PolicyOut(
        code=row.code,
        name=row.name,
        published_version=row.published_version,
        draft=row.draft,
        versions=[
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "published_at": v.published_at.isoformat(),
                "published_by": v.published_by,
                "note": v.note,
                "document": v.document,
            }
            for v in await versions(session, row.code)
        ],
    )


# --- the calculator ----------------------------------------------------------------------


@post(
    "/inventory/policy:calculate",
    guards=[requires(READ)],
    operation_id="calculateInventoryPolicy",
    status_code=200,
)
async def api_calculate(data: inventory.CalculatorInput) -> inventory.CalculatorResult:
    """k, safety stock, reorder point / order-up-to level and expected service for one
    SKU-location, computed exactly as a policy run computes it. Demand per period; lead time
    and review period in the same periods. A 100 % or unattainable target is capped at k_max
    and named in ``flags`` with its reason."""
    return inventory.calculate(data)


# --- policy documents --------------------------------------------------------------------


@get(
    "/inventory/policies",
    guards=[requires(READ)],
    operation_id="listInventoryPolicies",
    dependencies=PAGED,
)
async def api_list_policies(
    principal: NamedDependency[Principal], page: PageRequest
) -> Page[PolicyOut]:
    """Inventory policies by code, each with its draft and published versions."""
    async with tenant_session(principal.tenant) as s:
        rows = [await _policy_out(s, row) for row in await list_policies(s)]
    return page.slice(rows, lambda p: (p.code,))


@post(
    "/inventory/policies",
    guards=[requires(WRITE)],
    operation_id="createInventoryPolicy",
    status_code=HTTP_201_CREATED,
)
async def api_create_policy(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: PolicyCreate
) -> PolicyOut:
    """Create a policy with its first draft; 422 naming every field when the document is
    refused, nothing written."""
    try:
        async with tenant_session(principal.tenant) as s:
            row = await inventory.create_policy(
                s, data.code, data.name, data.document, actor_of(request, principal)
            )
            return await _policy_out(s, row)
    except inventory.PolicyInvalid as exc:
        raise _invalid(exc) from None


@get("/inventory/policies/{code:str}", guards=[requires(READ)], operation_id="getInventoryPolicy")
async def api_get_policy(principal: NamedDependency[Principal], code: FromPath[str]) -> PolicyOut:
    """One policy, its draft and its versions."""
    async with tenant_session(principal.tenant) as s:
        return await _policy_out(s, await get_policy(s, code))


@put(
    "/inventory/policies/{code:str}/draft",
    guards=[requires(WRITE)],
    operation_id="saveInventoryPolicyDraft",
)
async def api_save_draft(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
    data: DraftBody,
) -> PolicyOut:
    """Replace the draft (validated); 422 naming every field when refused, nothing saved."""
    try:
        async with tenant_session(principal.tenant) as s:
            await inventory.save_draft(s, code, data.document, actor_of(request, principal))
            return await _policy_out(s, await get_policy(s, code))
    except inventory.PolicyInvalid as exc:
        raise _invalid(exc) from None


@post(
    "/inventory/policies/{code:str}/publish",
    guards=[requires(WRITE)],
    operation_id="publishInventoryPolicy",
    status_code=HTTP_201_CREATED,
)
async def api_publish(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
    data: PublishBody,
) -> Published:
    """Publish the draft as the next immutable version (409 when nothing changed, and when
    the latest simulation found a segment below its entitlement and the shortfall is not
    acknowledged with a reason)."""
    async with tenant_session(principal.tenant) as s:
        version = await inventory.publish(
            s,
            code,
            actor_of(request, principal),
            data.note,
            acknowledge_shortfall=data.acknowledge_shortfall,
            shortfall_reason=data.shortfall_reason,
        )
        return Published(version=version.version, content_hash=version.content_hash)


# --- runs --------------------------------------------------------------------------------


@post(
    "/inventory/runs",
    guards=[requires(RUN)],
    operation_id="startInventoryPolicyRun",
    status_code=HTTP_202_ACCEPTED,
)
async def api_start_run(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    data: RunRequest,
) -> JobAccepted:
    """Queue a run of the policy's published version; poll the job."""
    job = await inventory.submit_run(
        state.runtime,
        principal.tenant,
        data.policy,
        actor_of(request, principal),
        as_of=data.as_of,
        trigger="api",
    )
    return JobAccepted(job=job, status_url=f"/api/v1/jobs/{job['id']}")


@get(
    "/inventory/runs",
    guards=[requires(READ)],
    operation_id="listInventoryPolicyRuns",
    dependencies=PAGED,
)
async def api_list_runs(
    principal: NamedDependency[Principal], page: PageRequest
) -> Page[PolicyRunOut]:
    """Policy runs, newest first (the latest 1,000)."""
    async with tenant_session(principal.tenant) as s:
        rows = [run_out(r) for r in await list_runs(s, 1000)]
    return page.slice(rows, lambda r: (r.started_at, r.id), descending=True)


@get("/inventory/runs/{run_id:str}", guards=[requires(READ)], operation_id="getInventoryPolicyRun")
async def api_get_run(principal: NamedDependency[Principal], run_id: FromPath[str]) -> PolicyRunOut:
    """One run: status, counts per flag, the policy version it used."""
    async with tenant_session(principal.tenant) as s:
        return run_out(await get_run(s, _run_id(run_id)))


@post(
    "/inventory/runs/{run_id:str}/decision",
    guards=[requires(APPROVE)],
    operation_id="decideInventoryPolicyRun",
    status_code=200,
)
async def api_decide_run(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    run_id: FromPath[str],
    data: Decision,
) -> PolicyRunOut:
    """Approve (the run takes force) or reject a run waiting for approval; a reason is due."""
    async with tenant_session(principal.tenant) as s:
        row = await inventory.decide_run(
            s, _run_id(run_id), data.approve, actor_of(request, principal), data.reason
        )
        return run_out(row)


async def results_frame(
    principal: Principal, run_id: str | None
) -> tuple[uuid.UUID | None, pl.DataFrame]:
    """A run's results (or the run in force), with flag names."""
    async with tenant_session(principal.tenant) as s:
        if run_id is None:
            return await inventory.latest_policy_results(s)
        ident = _run_id(run_id)
        await get_run(s, ident)
        frame = await inventory.run_results(s, ident)
    return ident, inventory.with_flag_names(frame)


@get(
    "/inventory/results",
    guards=[requires(READ)],
    operation_id="listInventoryPolicyResults",
    dependencies=PAGED,
)
async def api_results(
    principal: NamedDependency[Principal],
    page: PageRequest,
    run: FromQuery[str | None] = None,
    segment: FromQuery[str | None] = None,
    flag: FromQuery[str | None] = None,
) -> ResultsPage:
    """Results of the run in force (or ``run``), filtered by ``segment`` or ``flag``, in key
    order (sku, location_code)."""
    ident, frame = await results_frame(principal, run)
    if segment:
        frame = frame.filter(pl.col("segment_code") == segment)
    if flag:
        frame = frame.filter(pl.col("flag_names").list.contains(flag))
    position = page.position()
    if position is not None and len(position) == 2:
        sku, location = str(position[0]), str(position[1])
        frame = frame.filter(
            (pl.col("sku") > sku) | ((pl.col("sku") == sku) & (pl.col("location_code") > location))
        )
    rows = msgspec.convert(frame.head(page.limit + 1).drop("flags").to_dicts(), list[ResultOut])
    found = page.of(rows, lambda r: (r.sku, r.location_code))
    return ResultsPage(
        items=found.items, next_cursor=found.next_cursor, run_id=str(ident) if ident else None
    )


ROUTES = [
    Api(
        api_calculate,
        api_list_policies,
        api_create_policy,
        api_get_policy,
        api_save_draft,
        api_publish,
        api_start_run,
        api_list_runs,
        api_get_run,
        api_decide_run,
        api_results,
    )
]
