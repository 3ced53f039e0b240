"""What the customer and product pages show around the data: list views, paging links, the
results region htmx swaps, and the formatting helpers the templates use.

The list pages work as plain GET forms and links. With htmx, the filter form and the paging
links ask for the results region only (``HX-Target: results``) and push the URL, so the back
button and bookmarks keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request
from litestar.response import Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from tierline.masterdata.browse.lists import ListPage
from tierline.masterdata.browse.query import (
    CUSTOMERS,
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    PRODUCTS,
    InvalidBrowseQuery,
    ListQuery,
    ListSpec,
)
from tierline.platform.encryption import MASKED, page_value
from tierline.platform.identity.principal import Principal
from tierline.platform.pages import compact, fmt_number, fmt_share, fmt_time
from tierline.platform.tenancy import TenantRef

RESULTS_ID = "results"  # the element htmx swaps; also what ``HX-Target`` names

RawQuery = dict[str, str | None]


@dataclass(frozen=True)
class ListView:
    """A list page: its table, where it lives, and its templates."""

    spec: ListSpec
    path: str  # below /t/{tenant}/
    title: str
    results_template: str
    detail_template: str
    sort_labels: dict[str, str]


CUSTOMER_VIEW = ListView(
    CUSTOMERS,
    "customers",
    "Customers",
    "masterdata/_customer_results.html",
    "masterdata/customer.html",
    {"code": "Code", "name": "Name"},
)
PRODUCT_VIEW = ListView(
    PRODUCTS,
    "products",
    "Products",
    "masterdata/_product_results.html",
    "masterdata/product.html",
    {"sku": "SKU", "description": "Description"},
)


def _url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for the results region only (a history restore needs the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == RESULTS_ID
        and request.headers.get("hx-history-restore-request") != "true"
    )


def matches_text(page: ListPage) -> str:
    """How many rows match, as the page says it ("≥ 1,000 matches" when not counted exactly)."""
    if page.capped:
        return f"≥ {page.matches:,} matches"
    return {0: "No matches", 1: "1 match"}.get(page.matches, f"{page.matches:,} matches")


def detail_url(tenant: TenantRef, view: ListView) -> Callable[[str], str]:
    return lambda code: f"/t/{tenant.slug}/{view.path}/{quote(code, safe='')}"


def _links(path: str, query: ListQuery, page: ListPage) -> dict[str, str | None]:
    keep = dict(query.params)
    if query.limit != DEFAULT_PAGE_SIZE:
        keep["limit"] = str(query.limit)
    return {
        "next_url": _url(path, {**keep, "after": page.next_cursor}) if page.next_cursor else None,
        "prev_url": _url(path, {**keep, "before": page.prev_cursor}) if page.prev_cursor else None,
        "first_url": _url(path, keep) if query.paged else None,
    }


@dataclass(frozen=True)
class Listing:
    """What a list page shows: the parsed query and its page, or the error that stopped it."""

    query: ListQuery | None = None
    page: ListPage | None = None
    options: dict[str, list[str]] | None = None
    error: InvalidBrowseQuery | None = None


def list_template(
    request: Request[Any, Any, Any],
    view: ListView,
    principal: Principal,
    tenant: TenantRef,
    raw: RawQuery,
    listing: Listing,
) -> Template:
    """The list page, or only its results region for an htmx request."""
    path = f"/t/{tenant.slug}/{view.path}"
    query, page, error = listing.query, listing.page, listing.error
    # Echo what was typed, even if it did not parse, so the user can correct it; what parsed
    # is shown normalised (EMEA -> emea, true -> yes).
    form = {k: (v or "").strip() for k, v in raw.items()}
    form.update(query.params if query else {})
    fragment = wants_fragment(request)
    context: dict[str, Any] = {
        "tenant": tenant,
        "principal": principal,
        "view": view,
        "list_path": path,
        "results_id": RESULTS_ID,
        "form": form,
        "options": listing.options or {},
        "page_sizes": PAGE_SIZES,
        "limit": query.limit if query else DEFAULT_PAGE_SIZE,
        "sort": query.sort if query else view.spec.default_sort,
        "rows": page.rows if page else [],
        "matches": matches_text(page) if page else "",
        "error": error,
        "error_field": error.field if error else None,
        "fragment": fragment,
        "detail_url": detail_url(tenant, view),
        "next_url": None,
        "prev_url": None,
        "first_url": None,
    }
    if query is not None and page is not None:
        context.update(_links(path, query, page))
    # htmx swaps only 2xx answers, so a fragment reports its error with 200 (inside the region).
    status = HTTP_422_UNPROCESSABLE_ENTITY if error and not fragment else 200
    template = view.results_template if fragment else "masterdata/list.html"
    return Template(template, context=context, status_code=status, headers={"Vary": "HX-Request"})


def detail_context(
    principal: Principal, tenant: TenantRef, view: ListView, allowed: bool, **extra: Any
) -> dict[str, Any]:
    """What a customer or product page shows around the record; money only when ``allowed``."""
    return {
        "tenant": tenant,
        "principal": principal,
        "list_path": f"/t/{tenant.slug}/{view.path}",
        "detail_url": detail_url(tenant, CUSTOMER_VIEW),
        "money": lambda value: page_value(fmt_number(value), allowed),
        "masked": MASKED,
        "sees_margin": allowed,
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "fmt_time": fmt_time,
        "compact": compact,
        **extra,
    }
