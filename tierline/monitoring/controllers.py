"""Service performance pages: the planner's dashboard, the root-cause drill-down and the alerts.

Reading needs ``kpi:read`` (every figure in the caller's business scopes: a regional planner
sees its region's customers only); acknowledging and resolving alerts ``kpi:manage``. Forms
are plain POSTs (they work without JavaScript) that redirect back with a notice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from tierline.monitoring import service
from tierline.monitoring.alert_rules import RULE_LABELS
from tierline.monitoring.alerts import AlertNotFound, AlertRefused
from tierline.monitoring.dashboard import WINDOW, build_dashboard
from tierline.monitoring.drill import LEVELS, build_drill
from tierline.monitoring.engine import KPI_LABELS, KPIS
from tierline.monitoring.figures import period_floor, periods_back
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, scopes_with
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ = "kpi:read"
MANAGE = "kpi:manage"
FALSE_POSITIVE_PERIODS = 4  # periods each side of a spike-driven move


def _grain(raw: str | None) -> service.Grain:
    return "month" if raw == "month" else "week"


def _kpi(raw: str | None) -> str:
    return raw if raw in KPIS else "otif"


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@get("/performance", guards=[requires(READ)], operation_id="performancePage")
async def performance_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    grain: FromQuery[str | None] = None,
    kpi: FromQuery[str | None] = None,
) -> Template:
    """The planner's dashboard: segment mix, KPI trend against targets, heat maps, worst
    breaches, alerts, approvals and data freshness; every figure links to its drill-down."""
    context = await dashboard_context(
        request, principal, current_tenant, _grain(grain), _kpi(kpi), state.runtime.databases
    )
    context["kpis"] = [(k, KPI_LABELS[k]) for k in KPIS]
    context["notice"] = request.query_params.get("notice")
    return Template("monitoring/dashboard.html", context=context)


async def dashboard_context(
    request: Request[Any, Any, Any],
    principal: Principal,
    tenant: TenantRef,
    grain: service.Grain,
    kpi: str,
    databases: Any = None,
) -> dict[str, Any]:
    """What the dashboard (and the staff home's panel) shows this person."""
    scopes = scopes_with(request, principal, READ)
    async with tenant_session(tenant, databases) as s:
        board = await build_dashboard(s, tenant.slug, grain, kpi, scopes)
        alerts = await service.list_alerts(s, "live", limit=20)
        mine = await service.addressed_to(s, principal.display, set(_roles(request, principal)))
    return {
        "tenant": tenant,
        "principal": principal,
        "board": board,
        "alerts": alerts,
        "mine": mine,
        "can_manage": MANAGE in principal.permissions,
        "window_periods": WINDOW,
        "kpi_labels": KPI_LABELS,
        "rule_labels": RULE_LABELS,
    }


def _roles(request: Request[Any, Any, Any], principal: Principal) -> list[str]:
    """The caller's roles (an escalation step may name a role instead of a person)."""
    policy = getattr(request.state, "policy", None)
    if policy is None or principal.is_client:
        return []
    return [grant.role for grant in policy.roles_of(principal.subject)]


@get("/performance/drill", guards=[requires(READ)], operation_id="performanceDrillPage")
async def drill_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    grain: FromQuery[str | None] = None,
    kpi: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Template:
    """One level of the root-cause drill-down (filters in the query string)."""
    chosen_grain, chosen_kpi = _grain(grain), _kpi(kpi)
    today = datetime.now(UTC).date()
    last_closed = period_floor(today, chosen_grain) - timedelta(days=1)
    default = periods_back(last_closed, chosen_grain, WINDOW)
    start = _day(since) or default[0]
    end = _day(until) or default[-1]
    window = (
        period_floor(min(start, end), chosen_grain),
        period_floor(max(start, end), chosen_grain),
    )
    chosen = {
        level: str(request.query_params[level])[:100]
        for level in LEVELS
        if request.query_params.get(level)
    }
    scopes = scopes_with(request, principal, READ)
    async with tenant_session(current_tenant, state.runtime.databases) as s:
        drill = await build_drill(
            s, current_tenant.slug, chosen_grain, chosen_kpi, window, chosen, scopes
        )
    return Template(
        "monitoring/drill.html",
        context={"tenant": current_tenant, "principal": principal, "drill": drill},
    )


@get(
    "/performance/false-positives",
    guards=[requires(READ)],
    operation_id="performanceFalsePositivesPage",
)
async def false_positives_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    grain: FromQuery[str | None] = None,
    kpi: FromQuery[str | None] = None,
    after: FromQuery[int | None] = None,
) -> Template:
    """Review of false positives: the moves a demand spike drove, applied or held, with the
    entity's later segments (did it revert?) and a KPI before and after (did service change?)."""
    chosen, measure = _grain(grain), _kpi(kpi)
    async with tenant_session(current_tenant, state.runtime.databases) as s:
        found = await service.spike_move_review(
            s,
            grain=chosen,
            periods=FALSE_POSITIVE_PERIODS,
            kpi=measure,
            scopes=scopes_with(request, principal, READ),
            after_id=after,
            limit=100,
        )
    rows = found.rows.to_dicts()
    tally = {v: sum(1 for r in rows if r["verdict"] == v) for v in service.VERDICTS}
    return Template(
        "monitoring/false_positives.html",
        context={
            "tenant": current_tenant,
            "principal": principal,
            "rows": rows,
            "tally": tally,
            "verdicts": service.VERDICTS,
            "grain": chosen,
            "kpi": measure,
            "kpi_label": KPI_LABELS[measure],
            "kpi_labels": KPI_LABELS,
            "periods": FALSE_POSITIVE_PERIODS,
            "next_after": found.next_after_id,
        },
    )


@get("/performance/alerts", guards=[requires(READ)], operation_id="performanceAlertsPage")
async def alerts_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    show: FromQuery[str | None] = None,
) -> Template:
    """Live alerts (or all), each with its state, who acted and why, and its escalation."""
    which = "all" if show == "all" else "live"
    async with tenant_session(current_tenant, state.runtime.databases) as s:
        alerts = await service.list_alerts(s, None if which == "all" else "live")
        definition = await service.current_definition(s)
    return Template(
        "monitoring/alerts.html",
        context={
            "tenant": current_tenant,
            "principal": principal,
            "alerts": alerts,
            "which": which,
            "definition": definition,
            "kpi_labels": KPI_LABELS,
            "rule_labels": RULE_LABELS,
            "can_manage": MANAGE in principal.permissions,
            "notice": request.query_params.get("notice"),
            "error": request.query_params.get("error"),
        },
    )


async def _decide(
    request: Request[Any, Any, Any],
    state: State,
    principal: Principal,
    tenant: TenantRef,
    alert_id: FromPath[int],
    action: str,
) -> Redirect:
    form = await request.form()
    reason = str(form.get("reason") or "")
    back = f"/t/{tenant.slug}/performance/alerts"
    try:
        async with tenant_session(tenant, state.runtime.databases) as s:
            act = service.acknowledge if action == "acknowledge" else service.resolve
            await act(s, alert_id, actor_of(request, principal), reason)
    except (AlertRefused, AlertNotFound) as exc:
        return Redirect(f"{back}?error={quote(str(exc))}#alert-{alert_id}", status_code=303)
    done = "acknowledged" if action == "acknowledge" else "resolved"
    return Redirect(f"{back}?notice={quote(f'Alert {alert_id} {done}.')}", status_code=303)


@post(
    "/performance/alerts/{alert_id:int}/acknowledge",
    guards=[requires(MANAGE)],
    operation_id="acknowledgeAlertForm",
)
async def acknowledge_form(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    alert_id: FromPath[int],
) -> Redirect:
    """Acknowledge with a reason (form post, CSRF checked by the guard)."""
    return await _decide(request, state, principal, current_tenant, alert_id, "acknowledge")


@post(
    "/performance/alerts/{alert_id:int}/resolve",
    guards=[requires(MANAGE)],
    operation_id="resolveAlertForm",
)
async def resolve_form(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    alert_id: FromPath[int],
) -> Redirect:
    """Resolve with a reason (form post)."""
    return await _decide(request, state, principal, current_tenant, alert_id, "resolve")


@post("/performance/refresh", guards=[requires(MANAGE)], operation_id="refreshKpisForm")
async def refresh_form(state: State, current_tenant: NamedDependency[TenantRef]) -> Redirect:
    """Queue a KPI update and alert evaluation now."""
    key = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    await service.queue_kpi_update(state.runtime, current_tenant, since=None, key=key)
    notice = quote("KPI update queued; figures refresh when it has run.")
    return Redirect(f"/t/{current_tenant.slug}/performance?notice={notice}", status_code=303)


ROUTES = [
    StaffPages(
        performance_page,
        drill_page,
        alerts_page,
        false_positives_page,
        acknowledge_form,
        resolve_form,
        refresh_form,
    )
]
