"""The data-quality page, its feed-settings form, and the JSON twin ``/api/v1/data-quality``.

Who sees what:

- the page and the API need ``dataquality:read``; findings cover the rows of the scopes that
  permission is held in (feeds are tenant-wide and always listed whole);
- shares of revenue are money: numbers for readers holding ``margin:read``, the mask for
  everyone else (counts and shares of lines are not money and are always shown);
- feed settings are tenant-wide, so changing them needs ``steward:resolve`` in scope ``*``.

The form is a plain POST (works without JavaScript); a valid change redirects back (303) with a
notice, an invalid one re-renders the page with the messages next to the fields (422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.masterdata.quality.feeds import (
    MAX_STALENESS_HOURS,
    MIN_STALENESS_HOURS,
    InvalidFeedSettings,
    steward_candidates,
    update_feed_settings,
)
from tierline.masterdata.quality.schemas import DataQualityOut, report_out
from tierline.masterdata.quality.service import QualityReport, quality_report
from tierline.masterdata.scopes import Scopes
from tierline.platform.access import requires
from tierline.platform.db import utcnow
from tierline.platform.encryption import MASKED, FieldCodec, page_value
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, scopes_with
from tierline.platform.pages import fmt_number, fmt_share, fmt_time
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ = "dataquality:read"
RESOLVE = "steward:resolve"
MARGIN = "margin:read"


# ---------------------------------------------------------------------------------------------
# Access


def _scopes_of(request: Request[Any, Any, Any], principal: Principal, permission: str) -> Scopes:
    """Scopes in which the caller holds ``permission``; None for all of them."""
    return scopes_with(request, principal, permission)


def _tenant_wide(request: Request[Any, Any, Any], principal: Principal, permission: str) -> bool:
    return _scopes_of(request, principal, permission) is None


def _sees_money(principal: Principal) -> bool:
    return MARGIN in principal.permissions


# ---------------------------------------------------------------------------------------------
# Loading


async def _codec(state: State, tenant: TenantRef) -> FieldCodec:
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    codec: FieldCodec = await load_codec(tenant, kms_from_settings(state.settings))
    return codec


async def _stewards(tenant: TenantRef) -> list[str]:
    async with tenant_session(tenant) as s:
        return await steward_candidates(s)


async def _report(state: State, tenant: TenantRef, scopes: Scopes) -> QualityReport:
    codec = await _codec(state, tenant)
    async with tenant_session(tenant) as s:
        return await quality_report(s, codec, utcnow(), scopes)


# ---------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class FeedForm:
    """What was typed into one feed's form, echoed back with its errors."""

    name: str
    staleness_hours: str
    steward_email: str
    errors: dict[str, str] = field(default_factory=dict)


_ID_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def feed_anchor(name: str) -> str:
    """An element id for a feed's row (feed names hold ``:``, awkward in fragment links)."""
    return "feed-" + _ID_UNSAFE.sub("-", name.lower())


def _links(tenant: TenantRef) -> dict[str, Any]:
    base = f"/t/{tenant.slug}"
    return {
        "customer_url": lambda code: f"{base}/customers/{quote(code, safe='')}",
        "product_url": lambda sku: f"{base}/products/{quote(sku, safe='')}",
    }


async def _page(
    request: Request[Any, Any, Any],
    state: State,
    principal: Principal,
    form: FeedForm | None = None,
    status: int = 200,
) -> Template:
    scopes = _scopes_of(request, principal, READ)
    report = await _report(state, principal.tenant, scopes)
    can_configure = _tenant_wide(request, principal, RESOLVE)
    allowed = _sees_money(principal)
    saved = request.query_params.get("saved")
    context: dict[str, Any] = {
        "tenant": principal.tenant,
        "principal": principal,
        "report": report,
        "scoped": scopes is not None,
        "can_configure": can_configure,
        "stewards": await _stewards(principal.tenant) if can_configure else [],
        "form": form,
        "saved": saved if saved in {f.name for f in report.feeds} else None,
        "sees_margin": allowed,
        "masked": MASKED,
        "money_share": lambda value: page_value(fmt_share(value), allowed),
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "fmt_time": fmt_time,
        "feed_anchor": feed_anchor,
        "min_hours": MIN_STALENESS_HOURS,
        "max_hours": MAX_STALENESS_HOURS,
        **_links(principal.tenant),
    }
    return Template("masterdata/quality.html", context=context, status_code=status)


@get(
    "/data-quality",
    guards=[requires(READ)],
    operation_id="dataQualityPage",
)
async def data_quality_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
) -> Template:
    """Feeds with their freshness, and every finding with a few example keys."""
    return await _page(request, state, principal)


@post(
    "/data-quality/feeds/{name:str}",
    guards=[requires(RESOLVE)],
    operation_id="configureFeed",
)
async def configure_feed(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    name: FromPath[str],
) -> Response[Any]:
    """Set one feed's staleness threshold and steward (audited as ``feeds.configure``)."""
    if not _tenant_wide(request, principal, RESOLVE):
        raise PermissionDeniedException(
            "feed settings are tenant-wide: they need steward:resolve in scope *"
        )
    data = await request.form()
    hours = str(data.get("staleness_hours", ""))[:40]
    steward = str(data.get("steward_email", ""))[:400]
    try:
        # The error leaves the unit of work, so nothing it started is committed.
        async with tenant_session(principal.tenant) as s:
            await update_feed_settings(s, name, hours, steward, actor_of(request, principal))
    except InvalidFeedSettings as exc:
        form = FeedForm(name, hours, steward, exc.errors)
        return await _page(request, state, principal, form, status=422)  # type: ignore[return-value]
    target = (
        f"/t/{principal.tenant.slug}/data-quality?saved={quote(name, safe='')}#{feed_anchor(name)}"
    )
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The JSON API


@get(
    "/data-quality",
    guards=[requires(READ)],
    operation_id="getDataQuality",
)
async def api_data_quality(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> DataQualityOut:
    """Feeds and data-quality findings of the caller's tenant (counts, shares, example keys;
    revenue shares are null with ``masked`` true without ``margin:read``)."""
    scopes = _scopes_of(request, principal, READ)
    report = await _report(state, principal.tenant, scopes)
    return report_out(report, _sees_money(principal), scopes is not None)


ROUTES = [StaffPages(data_quality_page, configure_feed), Api(api_data_quality)]
