"""The tenant's analytics choices (scheme followed, driver per cost type, churn months): a
staff form and the API ``/api/v1/analytics/settings``. Reading needs ``analytics:read``,
changing ``analytics:write``; every change is audited."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Redirect, Template

from tierline.analytics.cost_to_serve.allocation import COST_TYPES, DRIVER_TEXT, DRIVERS
from tierline.analytics.schemas import SettingsIn, SettingsOut
from tierline.analytics.settings_store import Choices, SettingsRefused, read_choices, save_choices
from tierline.analytics.web import READ, WRITE, page_context
from tierline.platform.access import requires
from tierline.platform.audit.service import record_by
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.service import scheme_infos


def _out(choices: Choices) -> SettingsOut:
    return SettingsOut(
        scheme_code=choices.scheme_code,
        freight_driver=choices.drivers["freight"],
        handling_driver=choices.drivers["handling"],
        returns_driver=choices.drivers["returns"],
        churn_months=choices.churn_periods,
    )


async def _save(
    request: Request[Any, Any, Any], principal: Principal, body: SettingsIn
) -> SettingsOut:
    async with tenant_session(principal.tenant) as s:
        before = _out(await read_choices(s))
        choices = await save_choices(
            s,
            scheme_code=body.scheme_code or None,
            drivers={
                "freight": body.freight_driver,
                "handling": body.handling_driver,
                "returns": body.returns_driver,
            },
            churn_periods=body.churn_months,
            actor=principal.display,
        )
        after = _out(choices)
        await record_by(
            s,
            actor_of(request, principal),
            "analytics.settings",
            "analytics_settings",
            "1",
            before=_plain(before),
            after=_plain(after),
        )
    return after


def _plain(settings: SettingsOut) -> dict[str, Any]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}


@get("/analytics/settings", guards=[requires(READ)], operation_id="analyticsSettingsPage")
async def settings_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    async with tenant_session(principal.tenant) as s:
        choices = await read_choices(s)
        schemes = await scheme_infos(s, entity="customer", published_only=True)
    context = page_context(
        request,
        principal,
        choices=choices,
        schemes=schemes,
        cost_types=COST_TYPES,
        drivers=[(d, DRIVER_TEXT[d]) for d in DRIVERS],
        saved=request.query_params.get("saved") == "1",
        error=None,
    )
    return Template("analytics/settings.html", context=context)


@post("/analytics/settings", guards=[requires(WRITE)], operation_id="analyticsSettingsSave")
async def save_settings_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    form = await request.form()
    try:
        churn = int(str(form.get("churn_months", "3")).strip() or "3")
    except ValueError:
        churn = 0
    body = SettingsIn(
        scheme_code=str(form.get("scheme_code", "")).strip()[:40] or None,
        freight_driver=str(form.get("freight_driver", "units"))[:10],
        handling_driver=str(form.get("handling_driver", "lines"))[:10],
        returns_driver=str(form.get("returns_driver", "value"))[:10],
        churn_months=churn,
    )
    try:
        await _save(request, principal, body)
    except SettingsRefused as exc:
        async with tenant_session(principal.tenant) as s:
            choices = await read_choices(s)
            schemes = await scheme_infos(s, entity="customer", published_only=True)
        context = page_context(
            request,
            principal,
            choices=choices,
            schemes=schemes,
            cost_types=COST_TYPES,
            drivers=[(d, DRIVER_TEXT[d]) for d in DRIVERS],
            saved=False,
            error=str(exc),
        )
        return Template("analytics/settings.html", context=context, status_code=422)
    return Redirect(f"/t/{principal.tenant.slug}/analytics/settings?saved=1", status_code=303)


@get("/analytics/settings", guards=[requires(READ)], operation_id="getAnalyticsSettings")
async def api_settings(principal: NamedDependency[Principal]) -> SettingsOut:
    """The scheme the analytics follow, the driver of each cost type, the churn months."""
    async with tenant_session(principal.tenant) as s:
        return _out(await read_choices(s))


@put("/analytics/settings", guards=[requires(WRITE)], operation_id="putAnalyticsSettings")
async def api_put_settings(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: JSONBody[SettingsIn],
) -> SettingsOut:
    """Change the choices (audited); 422 problem details for an unknown scheme or driver."""
    return await _save(request, principal, data)


ROUTES = [
    StaffPages(settings_page, save_settings_form),
    Api(api_settings, api_put_settings),
]
