"""What segmentation's pages and API share: permissions, the page context, query parsing.

Pages live under ``/t/{tenant}/segments`` and work as plain links and form posts (htmx only
polls a run's progress and loads the segment timeline into the customer and product pages).
Who may do what:

- ``segments:read``: every page and read endpoint (schemes, editor read-only, runs,
  assignments and exports, conflicts, timeline);
- ``schemes:write``: create a scheme, save / validate / dry-run / publish its draft;
- ``segments:run``: start a run.

The tenant always comes from the route's surface (the path for pages, the credential for the
API). Forms carry the session's CSRF token; refusals on the API are problem details.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request

from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import allowed_here
from tierline.platform.pages import fmt_number, fmt_share, fmt_time
from tierline.platform.tenancy import TenantRef
from tierline.segmentation.runs.queries import clamp

READ = "segments:read"
WRITE = "schemes:write"
RUN = "segments:run"


class PageInputError(DomainError):
    status_code = 422
    title = "Invalid input"


class BodyInvalid(PageInputError):
    title = "Invalid request body"


def base_path(tenant: TenantRef) -> str:
    return f"/t/{tenant.slug}/segments"


def page_context(
    request: Request[Any, Any, Any], principal: Principal, **extra: Any
) -> dict[str, Any]:
    """What every segmentation page template may use, plus ``extra``."""
    tenant = principal.tenant
    return {
        "tenant": tenant,
        "principal": principal,
        "base": base_path(tenant),
        "can_write": allowed_here(request, WRITE),
        "can_run": allowed_here(request, RUN),
        "fmt_time": fmt_time,
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "quote": lambda value: quote(str(value), safe=""),
        "customer_url": lambda code: f"/t/{tenant.slug}/customers/{quote(code, safe='')}",
        "product_url": lambda sku: f"/t/{tenant.slug}/products/{quote(sku, safe='')}",
        **extra,
    }


def query_text(request: Request[Any, Any, Any], name: str, limit: int = 200) -> str:
    """A query parameter, stripped and cut to ``limit`` characters ("" when absent)."""
    return (request.query_params.get(name) or "").strip()[:limit]


def with_query(path: str, params: dict[str, Any]) -> str:
    """``path`` with the non-empty ``params`` as its query string."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def page_limit(raw: str, default: int = 100) -> int:
    """A page size from a form or link; anything that is not a number gives ``default``."""
    return clamp(int(raw) if raw.isdigit() else default, default)


def api_limit(request: Request[Any, Any, Any], default: int = 100) -> int:
    """The API's ``limit`` parameter; anything that is not a whole number is refused."""
    raw = query_text(request, "limit", 10)
    if raw and not raw.isdigit():
        raise BodyInvalid("limit: a whole number from 1 to 1000")
    return clamp(int(raw) if raw else default, default)


def parse_day(raw: str, name: str = "as_of") -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PageInputError(f"{name}: use a date like 2026-03-31") from None


def end_of_day(day: date | None) -> datetime | None:
    """Assignments in force at the end of ``day`` (the state a planner means by "as of")."""
    if day is None:
        return None
    return datetime.combine(day, time.max, UTC)
