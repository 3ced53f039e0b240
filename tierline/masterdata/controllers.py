"""Master-data browsing over HTTP: the customer and product pages and their JSON API.

Pages live under ``/t/{tenant}/``. A principal of tenant A asking for tenant B's pages gets 404,
as if B did not exist; the sign-in layer refuses that too, and the check is repeated here so
the pages stay safe whatever that layer does. The API takes the tenant from the credential
only, never from the URL or a parameter.

Who sees what:

- rows: only those whose ``scope`` the reader's ``masterdata:read`` grants cover (a machine
  client's grant is tenant-wide);
- revenue and margin: decrypted and summed server-side for readers holding ``margin:read``;
  for everyone else they are never decrypted, pages show ``•••`` and JSON ``null`` with
  ``"masked": true``.

The list pages work as plain GET forms and links. With htmx, the filter form and the paging
links ask for the results region only (``HX-Target: results``) and push the URL, so the back
button and bookmarks keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from tierline.masterdata.browse import (
    CUSTOMERS,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PAGE_SIZES,
    PRODUCTS,
    CustomerDetail,
    Hierarchy,
    HierarchyNode,
    InvalidBrowseQuery,
    ListPage,
    ListQuery,
    ListSpec,
    Money,
    OrderSummary,
    ProductDetail,
    Scopes,
    SourceRecord,
    customer_detail,
    filter_options,
    list_page,
    parse_list_query,
    product_detail,
)
from tierline.masterdata.models import ACCOUNT_TYPES, LIFECYCLES
from tierline.platform.access import requires
from tierline.platform.encryption import MASKED, FieldCodec, mask_value, page_value
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import (
    ensure_same_tenant,
    scopes_with,
)
from tierline.platform.pages import compact, fmt_number, fmt_share, fmt_time
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ = "masterdata:read"
MARGIN = "margin:read"
RESULTS_ID = "results"  # the element htmx swaps; also what ``HX-Target`` names

RawQuery = dict[str, str | None]


# ---------------------------------------------------------------------------------------------
# Query parameters (documented once, shared by pages and API)


async def provide_paging(
    limit: Annotated[
        str | None, QueryParameter(description=f"Page size, 1-{MAX_PAGE_SIZE} (default 50).")
    ] = None,
    after: Annotated[
        str | None, QueryParameter(description="Cursor: the page after (``next_cursor``).")
    ] = None,
    before: Annotated[
        str | None, QueryParameter(description="Cursor: the page before (``prev_cursor``).")
    ] = None,
) -> RawQuery:
    return {"limit": limit, "after": after, "before": before}


async def provide_customer_query(
    paging: NamedDependency[RawQuery],
    q: Annotated[
        str | None, QueryParameter(description="Code or name contains this text, any case.")
    ] = None,
    region: Annotated[str | None, QueryParameter(description="Region, exact.")] = None,
    country: Annotated[str | None, QueryParameter(description="Country, ISO 3166 alpha-2.")] = None,
    channel: Annotated[str | None, QueryParameter(description="Channel, exact.")] = None,
    account_type: Annotated[
        str | None, QueryParameter(description=f"One of {', '.join(ACCOUNT_TYPES)}.")
    ] = None,
    strategic: Annotated[str | None, QueryParameter(description="yes or no.")] = None,
    business_unit: Annotated[
        str | None, QueryParameter(description="Business unit, exact.")
    ] = None,
    parent: Annotated[
        str | None, QueryParameter(description="Parent account code: its direct children.")
    ] = None,
    sort: Annotated[str | None, QueryParameter(description="code (default) or name.")] = None,
) -> RawQuery:
    """The raw values; parsed by ``browse`` so every error names its field."""
    return {
        "q": q,
        "region": region,
        "country": country,
        "channel": channel,
        "account_type": account_type,
        "strategic": strategic,
        "business_unit": business_unit,
        "parent": parent,
        "sort": sort,
        **paging,
    }


async def provide_product_query(
    paging: NamedDependency[RawQuery],
    q: Annotated[
        str | None, QueryParameter(description="SKU or description contains this text.")
    ] = None,
    product_line: Annotated[str | None, QueryParameter(description="Product line.")] = None,
    category: Annotated[str | None, QueryParameter(description="Category, exact.")] = None,
    lifecycle: Annotated[
        str | None, QueryParameter(description=f"One of {', '.join(LIFECYCLES)}.")
    ] = None,
    base_uom: Annotated[str | None, QueryParameter(description="Base unit, exact.")] = None,
    sort: Annotated[str | None, QueryParameter(description="sku (default) or description.")] = None,
) -> RawQuery:
    """The raw values; parsed by ``browse`` so every error names its field."""
    return {
        "q": q,
        "product_line": product_line,
        "category": category,
        "lifecycle": lifecycle,
        "base_uom": base_uom,
        "sort": sort,
        **paging,
    }


PAGING = {"paging": Provide(provide_paging)}
CUSTOMER_QUERY = {**PAGING, "list_query": Provide(provide_customer_query)}
PRODUCT_QUERY = {**PAGING, "list_query": Provide(provide_product_query)}


# ---------------------------------------------------------------------------------------------
# Who may see what


def visible_scopes(request: Request[Any, Any, Any], principal: Principal) -> Scopes:
    """Scopes whose rows the reader may see; None for all of them."""
    return scopes_with(request, principal, READ)


def _sees_margin(principal: Principal) -> bool:
    return MARGIN in principal.permissions


async def _codec(state: State, principal: Principal, tenant: TenantRef) -> FieldCodec | None:
    """The tenant's field codec, only for readers who may see revenue and margin."""
    if not _sees_margin(principal):
        return None
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    codec: FieldCodec = await load_codec(tenant, kms_from_settings(state.settings))
    return codec


async def _api_tenant(state: State, principal: Principal) -> TenantRef:
    """The principal's tenant, re-resolved so a suspended or re-created tenant is 404."""
    tenant: TenantRef = await state.tenants.get(principal.tenant.slug)
    ensure_same_tenant(principal, tenant)
    return tenant


def _today() -> date:
    return datetime.now(UTC).date()


def _code_of(path_value: str) -> str:
    # ``{code:path}`` keeps codes that contain "/" addressable; the value starts with "/".
    return path_value.removeprefix("/")


# ---------------------------------------------------------------------------------------------
# Page helpers


@dataclass(frozen=True)
class _View:
    spec: ListSpec
    path: str  # below /t/{tenant}/
    title: str
    results_template: str
    detail_template: str
    sort_labels: dict[str, str]


CUSTOMER_VIEW = _View(
    CUSTOMERS,
    "customers",
    "Customers",
    "masterdata/_customer_results.html",
    "masterdata/customer.html",
    {"code": "Code", "name": "Name"},
)
PRODUCT_VIEW = _View(
    PRODUCTS,
    "products",
    "Products",
    "masterdata/_product_results.html",
    "masterdata/product.html",
    {"sku": "SKU", "description": "Description"},
)


def _url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for the results region only (a history restore needs the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == RESULTS_ID
        and request.headers.get("hx-history-restore-request") != "true"
    )


def matches_text(page: ListPage) -> str:
    if page.capped:
        return f"≥ {page.matches:,} matches"
    return {0: "No matches", 1: "1 match"}.get(page.matches, f"{page.matches:,} matches")


def _detail_url(tenant: TenantRef, view: _View) -> Callable[[str], str]:
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
class _Listing:
    query: ListQuery | None = None
    page: ListPage | None = None
    options: dict[str, list[str]] | None = None
    error: InvalidBrowseQuery | None = None


def _list_template(
    request: Request[Any, Any, Any],
    view: _View,
    principal: Principal,
    tenant: TenantRef,
    raw: RawQuery,
    listing: _Listing,
) -> Template:
    path = f"/t/{tenant.slug}/{view.path}"
    query, page, error = listing.query, listing.page, listing.error
    # Echo what was typed, even if it did not parse, so the user can correct it; what parsed
    # is shown normalised (EMEA -> emea, true -> yes).
    form = {k: (v or "").strip() for k, v in raw.items()}
    form.update(query.params if query else {})
    fragment = _wants_fragment(request)
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
        "detail_url": _detail_url(tenant, view),
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


async def _list_page(
    request: Request[Any, Any, Any],
    view: _View,
    principal: Principal,
    tenant: TenantRef,
    raw: RawQuery,
) -> Template:
    ensure_same_tenant(principal, tenant)
    try:
        query = parse_list_query(view.spec, raw)
    except InvalidBrowseQuery as exc:
        return _list_template(request, view, principal, tenant, raw, _Listing(error=exc))
    scopes = visible_scopes(request, principal)
    async with tenant_session(tenant) as session:
        page = await list_page(session, view.spec, query, scopes)
        options = None
        if not _wants_fragment(request):  # the form is not re-rendered for a fragment
            options = await filter_options(session, view.spec, scopes, str(tenant.id))
    return _list_template(request, view, principal, tenant, raw, _Listing(query, page, options))


def _detail_context(
    principal: Principal, tenant: TenantRef, view: _View, **extra: Any
) -> dict[str, Any]:
    allowed = _sees_margin(principal)
    return {
        "tenant": tenant,
        "principal": principal,
        "list_path": f"/t/{tenant.slug}/{view.path}",
        "detail_url": _detail_url(tenant, CUSTOMER_VIEW),
        "money": lambda value: page_value(fmt_number(value), allowed),
        "masked": MASKED,
        "sees_margin": allowed,
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "fmt_time": fmt_time,
        "compact": compact,
        **extra,
    }


async def _load_customer(
    request: Request[Any, Any, Any],
    state: State,
    principal: Principal,
    tenant: TenantRef,
    code: str,
) -> CustomerDetail:
    codec = await _codec(state, principal, tenant)
    scopes = visible_scopes(request, principal)
    async with tenant_session(tenant) as session:
        detail = await customer_detail(session, code, scopes, codec, _today())
    if detail is None:
        raise NotFoundException()  # unknown, or outside the reader's scopes: no oracle
    return detail


async def _load_product(
    request: Request[Any, Any, Any], state: State, principal: Principal, tenant: TenantRef, sku: str
) -> ProductDetail:
    codec = await _codec(state, principal, tenant)
    scopes = visible_scopes(request, principal)
    async with tenant_session(tenant) as session:
        detail = await product_detail(session, sku, scopes, codec, _today())
    if detail is None:
        raise NotFoundException()
    return detail


# ---------------------------------------------------------------------------------------------
# Pages


@get(
    "/customers",
    guards=[requires(READ)],
    dependencies=CUSTOMER_QUERY,
    operation_id="customersPage",
)
async def customers_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    list_query: NamedDependency[RawQuery],
) -> Template:
    """Search, filters and one page of customers."""
    return await _list_page(request, CUSTOMER_VIEW, principal, current_tenant, list_query)


@get(
    "/customers/{code:path}",
    guards=[requires(READ)],
    operation_id="customerPage",
)
async def customer_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    code: FromPath[str],
) -> Template:
    """One customer: attributes, hierarchy, source records, twelve months of orders."""
    detail = await _load_customer(request, state, principal, current_tenant, _code_of(code))
    context = _detail_context(principal, current_tenant, CUSTOMER_VIEW, c=detail)
    return Template(CUSTOMER_VIEW.detail_template, context=context)


@get(
    "/products",
    guards=[requires(READ)],
    dependencies=PRODUCT_QUERY,
    operation_id="productsPage",
)
async def products_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    list_query: NamedDependency[RawQuery],
) -> Template:
    """Search, filters and one page of products."""
    return await _list_page(request, PRODUCT_VIEW, principal, current_tenant, list_query)


@get(
    "/products/{sku:path}",
    guards=[requires(READ)],
    operation_id="productPage",
)
async def product_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    sku: FromPath[str],
) -> Template:
    """One product: attributes, unit conversions, source records, twelve months of demand."""
    detail = await _load_product(request, state, principal, current_tenant, _code_of(sku))
    max_month = max((m.quantity for m in detail.demand.months), default=0.0)
    context = _detail_context(
        principal, current_tenant, PRODUCT_VIEW, p=detail, max_month=max_month or 1.0
    )
    return Template(PRODUCT_VIEW.detail_template, context=context)


# ---------------------------------------------------------------------------------------------
# The JSON API


class CustomerItemOut(msgspec.Struct):
    code: str
    name: str
    account_type: str
    parent_code: str | None
    region: str | None
    country: str | None
    channel: str | None
    strategic: bool
    business_unit: str | None
    scope: str


class CustomerListOut(msgspec.Struct):
    items: list[CustomerItemOut]
    next_cursor: str | None  # pass as ``after`` for the next page
    prev_cursor: str | None  # pass as ``before`` for the previous page
    matches: int
    matches_capped: bool  # True: at least ``matches`` rows match


class ProductItemOut(msgspec.Struct):
    sku: str
    description: str
    product_line: str | None
    category: str | None
    lifecycle: str
    base_uom: str
    business_unit: str | None
    scope: str


class ProductListOut(msgspec.Struct):
    items: list[ProductItemOut]
    next_cursor: str | None
    prev_cursor: str | None
    matches: int
    matches_capped: bool


class MoneyOut(msgspec.Struct):
    currency: str | None
    lines: int
    revenue: float | None  # null when masked (or when no line carries a value)
    margin: float | None
    masked: bool
    unreadable: int  # stored values that failed to authenticate, left out of the sums


class OrderSummaryOut(msgspec.Struct):
    period_start: date
    period_end: date
    lines: int
    quantity: float
    on_time_share: float | None
    on_time_measured: int
    masked: bool
    money: list[MoneyOut]  # one entry per currency


class MonthOut(msgspec.Struct):
    month: str  # YYYY-MM
    lines: int
    quantity: float


class DemandSummaryOut(OrderSummaryOut):
    customers: int
    variability: float | None  # coefficient of variation of monthly quantity
    months: list[MonthOut]


class AccountRefOut(msgspec.Struct):
    code: str
    name: str | None  # null for an account outside the reader's scopes
    account_type: str | None
    visible: bool


class ChildOut(msgspec.Struct):
    code: str
    name: str | None
    account_type: str | None
    children: int


class HierarchyOut(msgspec.Struct):
    ancestors: list[AccountRefOut]  # the global account first, the direct parent last
    children: list[ChildOut]
    children_total: int


class SourceOut(msgspec.Struct):
    source_system: str
    source_key: str
    received_at: datetime
    source_updated_at: datetime | None
    record: dict[str, Any]


class CustomerOut(msgspec.Struct):
    code: str
    name: str
    account_type: str
    parent_code: str | None
    global_account_code: str | None
    region: str | None
    country: str | None
    postal_code: str | None
    channel: str | None
    strategic: bool
    crm_tier: str | None
    account_manager_email: str | None
    business_unit: str | None
    scope: str
    tax_id: str | None
    duns: str | None
    attributes: dict[str, Any]
    source_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    hierarchy: HierarchyOut
    sources: list[SourceOut]
    orders_12m: OrderSummaryOut


class ConversionOut(msgspec.Struct):
    uom: str
    factor: float  # base units in one ``uom``


class ProductOut(msgspec.Struct):
    sku: str
    description: str
    product_line: str | None
    category: str | None
    base_uom: str
    lifecycle: str
    launch_date: date | None
    business_unit: str | None
    scope: str
    attributes: dict[str, Any]
    source_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    conversions: list[ConversionOut]
    sources: list[SourceOut]
    demand_12m: DemandSummaryOut


def _money_out(money: Money, allowed: bool) -> MoneyOut:
    revenue, masked = mask_value(money.revenue, allowed)
    margin, _ = mask_value(money.margin, allowed)
    return MoneyOut(money.currency, money.lines, revenue, margin, masked, money.unreadable)


def _summary_fields(summary: OrderSummary, allowed: bool) -> dict[str, Any]:
    return {
        "period_start": summary.start,
        "period_end": summary.end,
        "lines": summary.lines,
        "quantity": summary.quantity,
        "on_time_share": summary.on_time_share,
        "on_time_measured": summary.on_time_measured,
        "masked": not allowed,
        "money": [_money_out(m, allowed) for m in summary.money],
    }


def _demand_out(summary: OrderSummary, allowed: bool) -> DemandSummaryOut:
    return DemandSummaryOut(
        **_summary_fields(summary, allowed),
        customers=summary.customers,
        variability=summary.variability,
        months=[MonthOut(m.month.strftime("%Y-%m"), m.lines, m.quantity) for m in summary.months],
    )


def _hierarchy_out(hierarchy: Hierarchy) -> HierarchyOut:
    def ref(node: HierarchyNode) -> AccountRefOut:
        return AccountRefOut(node.code, node.name, node.account_type, node.visible)

    return HierarchyOut(
        ancestors=[ref(n) for n in hierarchy.ancestors],
        children=[ChildOut(n.code, n.name, n.account_type, n.children) for n in hierarchy.children],
        children_total=hierarchy.children_total,
    )


def _sources_out(sources: list[SourceRecord]) -> list[SourceOut]:
    return [
        SourceOut(s.source_system, s.source_key, s.received_at, s.source_updated_at, s.record)
        for s in sources
    ]


async def _api_list(
    request: Request[Any, Any, Any],
    state: State,
    principal: Principal,
    spec: ListSpec,
    raw: RawQuery,
) -> ListPage:
    tenant = await _api_tenant(state, principal)
    query = parse_list_query(spec, raw)  # InvalidBrowseQuery: a 422 problem naming the field
    async with tenant_session(tenant) as session:
        return await list_page(session, spec, query, visible_scopes(request, principal))


@get(
    "/customers",
    guards=[requires(READ)],
    dependencies=CUSTOMER_QUERY,
    operation_id="listCustomers",
    tags=["masterdata"],
)
async def list_customers(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    list_query: NamedDependency[RawQuery],
) -> CustomerListOut:
    """Customers of the caller's tenant in the caller's scopes, keyset-paginated."""
    page = await _api_list(request, state, principal, CUSTOMERS, list_query)
    return CustomerListOut(
        items=[msgspec.convert(r, CustomerItemOut) for r in page.rows],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
        matches=page.matches,
        matches_capped=page.capped,
    )


@get(
    "/customers/{code:str}",
    guards=[requires(READ)],
    operation_id="getCustomer",
    tags=["masterdata"],
)
async def get_customer(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    code: FromPath[str],
) -> CustomerOut:
    """One customer with hierarchy, source records and a twelve-month order summary."""
    tenant = await _api_tenant(state, principal)
    detail = await _load_customer(request, state, principal, tenant, _code_of(code))
    allowed = _sees_margin(principal)
    return CustomerOut(
        **detail.record,
        hierarchy=_hierarchy_out(detail.hierarchy),
        sources=_sources_out(detail.sources),
        orders_12m=OrderSummaryOut(**_summary_fields(detail.orders, allowed)),
    )


@get(
    "/products",
    guards=[requires(READ)],
    dependencies=PRODUCT_QUERY,
    operation_id="listProducts",
    tags=["masterdata"],
)
async def list_products(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    list_query: NamedDependency[RawQuery],
) -> ProductListOut:
    """Products of the caller's tenant in the caller's scopes, keyset-paginated."""
    page = await _api_list(request, state, principal, PRODUCTS, list_query)
    return ProductListOut(
        items=[msgspec.convert(r, ProductItemOut) for r in page.rows],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
        matches=page.matches,
        matches_capped=page.capped,
    )


@get(
    "/products/{sku:str}",
    guards=[requires(READ)],
    operation_id="getProduct",
    tags=["masterdata"],
)
async def get_product(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    sku: FromPath[str],
) -> ProductOut:
    """One product with unit conversions, source records and twelve months of demand."""
    tenant = await _api_tenant(state, principal)
    detail = await _load_product(request, state, principal, tenant, _code_of(sku))
    return ProductOut(
        **detail.record,
        conversions=[ConversionOut(uom, factor) for uom, factor in detail.conversions],
        sources=_sources_out(detail.sources),
        demand_12m=_demand_out(detail.demand, _sees_margin(principal)),
    )


ROUTES = [
    StaffPages(customers_page, customer_page, products_page, product_page),
    Api(list_customers, get_customer, list_products, get_product),
]
