"""What the analytics pages and API share: permissions, who sees money, reading the month
parameters, the page context, the audit entry of an export."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from litestar import Request

from tierline.analytics.cohorts.panel import add_months
from tierline.analytics.cost_to_serve.figures import Window, WindowRefused
from tierline.analytics.settings_store import read_choices
from tierline.masterdata.service import latest_order_date
from tierline.platform.audit.service import record_by
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here, scopes_with
from tierline.platform.pages import fmt_number, fmt_share
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import first_assignment_at

READ = "analytics:read"
WRITE = "analytics:write"
MARGIN = "margin:read"
DEFAULT_MONTHS = 12
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$")


def visible_scopes(request: Request[Any, Any, Any], principal: Principal) -> frozenset[str] | None:
    """Business scopes whose customers the reader's figures cover (None: all)."""
    return scopes_with(request, principal, READ)


def sees_money(request: Request[Any, Any, Any], principal: Principal) -> bool:
    """Money is shown only where the reader holds ``margin:read`` over every scope the figures
    cover (aggregates reveal money as much as rows do)."""
    if principal.is_client:
        return MARGIN in principal.client_scopes
    margin = scopes_with(request, principal, MARGIN)
    if margin is None:
        return True
    covered = visible_scopes(request, principal)
    return covered is not None and bool(margin) and covered <= margin


def parse_month(raw: str | None, name: str) -> date | None:
    """``YYYY-MM`` (or a full date) as the month's first day; WindowRefused names the field."""
    if not raw:
        return None
    found = _MONTH.match(raw.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise WindowRefused(f"{name}: write a month as YYYY-MM, not '{raw[:20]}'")
    return date(int(found.group(1)), int(found.group(2)), 1)


async def window_of(tenant: TenantRef, first: str | None, last: str | None) -> Window:
    """The asked window; by default the twelve months up to the newest order, starting no
    earlier than the month of the scheme's first classification (before it no order has a
    segment to count in)."""
    end = parse_month(last, "last")
    start = parse_month(first, "first")
    if end is None or start is None:
        async with tenant_session(tenant) as s:
            conn = await s.connection()
            newest = await latest_order_date(conn)
            scheme = (await read_choices(s)).scheme_code
            classified = await first_assignment_at(conn, scheme) if scheme else None
        if end is None:
            end = (newest or datetime.now(UTC).date()).replace(day=1)
        if start is None:
            start = add_months(end, 1 - DEFAULT_MONTHS)
            if classified is not None:
                start = min(end, max(start, classified.date().replace(day=1)))
    return Window.of(start, end)


async def audit_export(
    request: Request[Any, Any, Any],
    principal: Principal,
    what: str,
    kind: str,
    params: dict[str, Any],
    masked: bool,
) -> None:
    """Every export of analytics figures is audited, masked or not (who took which money
    out, when, in which format)."""
    async with tenant_session(principal.tenant) as s:
        await record_by(
            s,
            actor_of(request, principal),
            "analytics.export",
            what,
            None,
            after={"format": kind, "masked": masked, **params},
        )


def fmt_money(minor: int | None) -> str:
    """Cents as an amount with two decimals and thousands separators."""
    return "—" if minor is None else f"{minor / 100:,.2f}"


def page_context(
    request: Request[Any, Any, Any], principal: Principal, **extra: Any
) -> dict[str, Any]:
    tenant = principal.tenant
    return {
        "tenant": tenant,
        "principal": principal,
        "base": f"/t/{tenant.slug}/analytics",
        "can_write": allowed_here(request, WRITE),
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "fmt_money": fmt_money,
        "customer_url": lambda code: f"/t/{tenant.slug}/customers/{quote(str(code), safe='')}",
        **extra,
    }
