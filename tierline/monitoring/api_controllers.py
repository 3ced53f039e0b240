"""Service performance on the JSON API: KPI series with filters, attainment per segment and
period, alerts with acknowledge / resolve, the KPI definition, and a refresh.

Reading needs ``kpi:read``, acting ``kpi:manage``. A staff caller limited to some business
scopes reads the figures of the customers in its scopes only; machine clients read all. An
alert of another tenant is 404 like an unknown one (the tenant is the credential's).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, JSONBody

from tierline.monitoring import service
from tierline.monitoring.schemas import (
    AlertDecision,
    AlertOut,
    KpiSeries,
    RefreshQueued,
    RefreshRequest,
    SpikeMoveReviewOut,
    alert_out,
    rows_of,
    spike_reviews_out,
)
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, scopes_with
from tierline.platform.pagination import (
    PAGED,
    InvalidCursor,
    Page,
    PageRequest,
    encode_cursor,
)
from tierline.platform.routing import Api
from tierline.platform.tenancy import TenantRef, tenant_session

READ = "kpi:read"
MANAGE = "kpi:manage"
MAX_BY = 4


def _grain(grain: str) -> service.Grain:
    if grain not in service.GRAINS:
        raise ValidationException(f"grain: one of {', '.join(service.GRAINS)}")
    return grain  # type: ignore[return-value]


def _by(raw: str | None) -> list[str]:
    by = [d.strip() for d in (raw or "segment,period_start").split(",") if d.strip()]
    unknown = [d for d in by if d not in service.DIMENSIONS]
    if unknown or len(by) > MAX_BY:
        raise ValidationException(
            f"by: up to {MAX_BY} of {', '.join(service.DIMENSIONS)} (unknown: {unknown})"
        )
    return by


def _filters(request: Request[Any, Any, Any], principal: Principal, **given: Any) -> Any:
    equal = {k: v for k, v in given.items() if v not in (None, "") and k in service.DIMENSIONS}
    return service.Filters(
        equal=equal,
        since=given.get("since"),
        until=given.get("until"),
        scopes=scopes_with(request, principal, READ),
    )


@get("/kpis/series", guards=[requires(READ)], operation_id="kpiSeries")
async def kpi_series(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    grain: FromQuery[str] = "week",
    by: FromQuery[str | None] = None,
    since: FromQuery[date | None] = None,
    until: FromQuery[date | None] = None,
    segment: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
    product_line: FromQuery[str | None] = None,
    channel: FromQuery[str | None] = None,
    business_unit: FromQuery[str | None] = None,
    customer_code: FromQuery[str | None] = None,
    sku: FromQuery[str | None] = None,
    location_code: FromQuery[str | None] = None,
) -> KpiSeries:
    """KPIs summed by ``by`` (comma-separated dimensions; default ``segment,period_start``),
    filtered by any dimension and a period range. Grouped by segment and period, each row
    carries the targets in force in that period and whether each was met."""
    dims = _by(by)
    filters = _filters(
        request,
        principal,
        since=since,
        until=until,
        segment=segment,
        region=region,
        product_line=product_line,
        channel=channel,
        business_unit=business_unit,
        customer_code=customer_code,
        sku=sku,
        location_code=location_code,
    )
    async with tenant_session(current_tenant) as s:
        frame = await service.kpi_figures(s, _grain(grain), dims, filters)
        definition = await service.current_definition(s)
    return KpiSeries(
        grain=grain, by=dims, definition_version=definition.version, rows=rows_of(frame, dims)
    )


@get("/kpis/attainment", guards=[requires(READ)], operation_id="kpiAttainment")
async def kpi_attainment(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    grain: FromQuery[str] = "month",
    periods: FromQuery[int] = 12,
) -> KpiSeries:
    """Per segment and period (the last ``periods``, up to 52): KPIs against the entitlement
    in force in that period."""
    chosen = _grain(grain)
    if not 1 <= periods <= 52:
        raise ValidationException("periods: 1 to 52")
    starts = service.periods_back(datetime.now(UTC).date(), chosen, periods)
    filters = service.Filters(since=starts[0], scopes=scopes_with(request, principal, READ))
    dims = ["segment", "period_start"]
    async with tenant_session(current_tenant) as s:
        frame = await service.kpi_figures(s, chosen, dims, filters)
        definition = await service.current_definition(s)
    return KpiSeries(
        grain=grain, by=dims, definition_version=definition.version, rows=rows_of(frame, dims)
    )


@get(
    "/kpis/alerts",
    guards=[requires(READ)],
    operation_id="listKpiAlerts",
    dependencies=PAGED,
)
async def list_kpi_alerts(
    current_tenant: NamedDependency[TenantRef],
    page: PageRequest,
    status: FromQuery[str] = "live",
) -> Page[AlertOut]:
    """Alerts newest first, by ``status``: ``live`` (open and acknowledged, the default), ``open``,
    ``acknowledged``, ``resolved`` or ``all``."""
    if status not in ("live", "open", "acknowledged", "resolved", "all"):
        raise ValidationException("status: live, open, acknowledged, resolved or all")
    async with tenant_session(current_tenant) as s:
        rows = await service.list_alerts(s, None if status == "all" else status, limit=None)
        found = [alert_out(service.alert_dict(a)) for a in rows]
    return page.slice(found, lambda a: (a.id,), descending=True)


@post(
    "/kpis/alerts/{alert_id:int}/acknowledge",
    guards=[requires(MANAGE)],
    operation_id="acknowledgeKpiAlert",
    status_code=200,
)
async def acknowledge_kpi_alert(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    alert_id: FromPath[int],
    data: JSONBody[AlertDecision],
) -> AlertOut:
    """Own an open alert (its escalation stops): ``reason`` says what is being done. 409 when
    it is not open, 404 when there is no such alert."""
    async with tenant_session(current_tenant) as s:
        alert = await service.acknowledge(s, alert_id, actor_of(request, principal), data.reason)
        return alert_out(service.alert_dict(alert))


@post(
    "/kpis/alerts/{alert_id:int}/resolve",
    guards=[requires(MANAGE)],
    operation_id="resolveKpiAlert",
    status_code=200,
)
async def resolve_kpi_alert(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    alert_id: FromPath[int],
    data: JSONBody[AlertDecision],
) -> AlertOut:
    """End an alert with a ``reason``; 409 when it is resolved already."""
    async with tenant_session(current_tenant) as s:
        alert = await service.resolve(s, alert_id, actor_of(request, principal), data.reason)
        return alert_out(service.alert_dict(alert))


@get("/kpis/definition", guards=[requires(READ)], operation_id="getKpiDefinition")
async def get_kpi_definition(current_tenant: NamedDependency[TenantRef]) -> service.KpiDefinition:
    """The KPI definition in force (version, OTIF basis, tolerances, levels, alert rule)."""
    async with tenant_session(current_tenant) as s:
        return await service.current_definition(s)


@post(
    "/kpis/definition",
    guards=[requires(MANAGE)],
    operation_id="saveKpiDefinition",
    status_code=201,
)
async def save_kpi_definition(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    data: JSONBody[service.KpiDefinition],
) -> service.KpiDefinition:
    """A new definition version (its ``version`` is the next one, whatever is sent; the next
    computation is a full one under it); 422 with every reason when a choice is impossible
    (unknown basis, a tolerance out of range, k above n)."""
    raw = msgspec.to_builtins(data)
    async with tenant_session(current_tenant) as s:
        return await service.save_definition(s, raw, actor_of(request, principal))


@post(
    "/kpis/refresh",
    guards=[requires(MANAGE)],
    operation_id="refreshKpis",
    status_code=202,
)
async def refresh_kpis(
    state: State, current_tenant: NamedDependency[TenantRef], data: JSONBody[RefreshRequest]
) -> RefreshQueued:
    """Queue a KPI update (the touched periods only, or every period with ``full``) and the
    alert evaluation; the job's id (one job per minute and kind: asking twice queues one)."""
    key = datetime.now(UTC).strftime("%Y%m%dT%H%M") + ("-full" if data.full else "")
    row = await service.queue_kpi_update(
        state.runtime, current_tenant, since=None, key=key, full=data.full
    )
    return RefreshQueued(job_id=str(row["id"]), status=str(row["status"]))


def _review_choice(grain: str, kpi: str, periods: int) -> service.Grain:
    if kpi not in service.KPIS:
        raise ValidationException(f"kpi: one of {', '.join(service.KPIS)}")
    if not 1 <= periods <= 26:
        raise ValidationException("periods: 1 to 26")
    return _grain(grain)


@get(
    "/kpis/false-positives",
    guards=[requires(READ)],
    operation_id="listSpikeMoveReviews",
    dependencies=PAGED,
)
async def list_spike_move_reviews(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    page: PageRequest,
    grain: FromQuery[str] = "week",
    kpi: FromQuery[str] = "otif",
    periods: FromQuery[int] = 4,
) -> Page[SpikeMoveReviewOut]:
    """Review of false positives: the moves a demand spike drove (reason ``spike``), oldest
    first, applied or held, each with the entity's later segments, a verdict (did it revert?)
    and ``kpi`` over the ``periods`` periods before and from the move (did service change?)."""
    chosen = _review_choice(grain, kpi, periods)
    cursor = page.position()
    after: int | None = None
    if cursor is not None:
        if len(cursor) != 1 or not isinstance(cursor[0], int):
            raise InvalidCursor("cursor: not a cursor of this list (pass next_cursor as is)")
        after = cursor[0]
    async with tenant_session(current_tenant) as s:
        found = await service.spike_move_review(
            s,
            grain=chosen,
            periods=periods,
            kpi=kpi,
            scopes=scopes_with(request, principal, READ),
            after_id=after,
            limit=page.limit,
        )
    items = spike_reviews_out(found.rows, kpi, chosen, periods, service.VERDICTS)
    # the moves query fetched one more than ``limit`` itself: a next page exists exactly
    # when it says so
    more = found.next_after_id is not None
    return Page(items, encode_cursor((items[-1].move_id,)) if more and items else None)


@get(
    "/kpis/false-positives/{move_id:int}",
    guards=[requires(READ)],
    operation_id="getSpikeMoveReview",
)
async def get_spike_move_review(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    move_id: FromPath[int],
    grain: FromQuery[str] = "week",
    kpi: FromQuery[str] = "otif",
    periods: FromQuery[int] = 4,
) -> SpikeMoveReviewOut:
    """One spike-driven move's review; 404 when there is no such move, or it was not driven
    by a spike."""
    chosen = _review_choice(grain, kpi, periods)
    async with tenant_session(current_tenant) as s:
        found = await service.spike_move_review(
            s,
            grain=chosen,
            periods=periods,
            kpi=kpi,
            scopes=scopes_with(request, principal, READ),
            after_id=move_id - 1,
            limit=1,
        )
    items = spike_reviews_out(found.rows, kpi, chosen, periods, service.VERDICTS)
    if not items or items[0].move_id != move_id:
        raise service.MoveReviewNotFound(f"no spike-driven move {move_id}")
    return items[0]


ROUTES = [
    Api(
        list_spike_move_reviews,
        get_spike_move_review,
        kpi_series,
        kpi_attainment,
        list_kpi_alerts,
        acknowledge_kpi_alert,
        resolve_kpi_alert,
        get_kpi_definition,
        save_kpi_definition,
        refresh_kpis,
    )
]
