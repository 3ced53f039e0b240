"""Master-data browsing over HTTP: the customer and product pages and their JSON API.

Pages live under ``/t/{tenant}/``. A principal of tenant A asking for tenant B's pages gets 404,
as if B did not exist (the staff surface checks it). The API takes the tenant from the
credential only (``current_tenant``, read again so a suspended tenant is 404), never from the
URL or a parameter.

Who sees what:

- rows: only those whose ``scope`` the reader's ``masterdata:read`` grants cover (a machine
  client's grant is tenant-wide);
- revenue and margin: decrypted and summed server-side for readers holding ``margin:read``;
  for everyone else they are never decrypted, pages show ``•••`` and JSON ``null`` with
  ``"masked": true``.

The list pages work as plain GET forms and links; ``pages`` builds what they show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from tierline.masterdata.browse.detail import (
    CustomerDetail,
    ProductDetail,
    customer_detail,
    product_detail,
)
from tierline.masterdata.browse.lists import ListPage, filter_options, list_page
from tierline.masterdata.browse.pages import (
    CUSTOMER_VIEW,
    PRODUCT_VIEW,
    Listing,
    ListView,
    RawQuery,
    detail_context,
    list_template,
    wants_fragment,
)
from tierline.masterdata.browse.query import (
    CUSTOMERS,
    MAX_PAGE_SIZE,
    PRODUCTS,
    InvalidBrowseQuery,
    ListSpec,
    parse_list_query,
)
from tierline.masterdata.browse.schemas import (
    ConversionOut,
    CustomerItemOut,
    CustomerListOut,
    CustomerOut,
    OrderSummaryOut,
    ProductItemOut,
    ProductListOut,
    ProductOut,
    demand_out,
    hierarchy_out,
    sources_out,
    summary_fields,
)
from tierline.masterdata.models import ACCOUNT_TYPES, LIFECYCLES
from tierline.masterdata.scopes import Scopes
from tierline.platform.access import requires
from tierline.platform.encryption import FieldCodec
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import scopes_with
from tierline.platform.pagination import MAX_CURSOR_CHARS
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ = "masterdata:read"
MARGIN = "margin:read"


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
    """The raw values; parsed by ``query`` so every error names its field."""
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
    """The raw values; parsed by ``query`` so every error names its field."""
    return {
        "q": q,
        "product_line": product_line,
        "category": category,
        "lifecycle": lifecycle,
        "base_uom": base_uom,
        "sort": sort,
        **paging,
    }


async def provide_api_paging(
    limit: Annotated[
        int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = 50,
    cursor: Annotated[
        str | None,
        QueryParameter(
            max_length=MAX_CURSOR_CHARS, description="The previous page's ``next_cursor``."
        ),
    ] = None,
) -> RawQuery:
    """The API's paging (``pagination``'s convention: ``limit`` and ``cursor``, forward)."""
    return {"limit": str(limit), "after": cursor, "before": None}


PAGING = {"paging": Provide(provide_paging)}
CUSTOMER_QUERY = {**PAGING, "list_query": Provide(provide_customer_query)}
PRODUCT_QUERY = {**PAGING, "list_query": Provide(provide_product_query)}
API_PAGING = {"paging": Provide(provide_api_paging)}
CUSTOMER_API_QUERY = {**API_PAGING, "list_query": Provide(provide_customer_query)}
PRODUCT_API_QUERY = {**API_PAGING, "list_query": Provide(provide_product_query)}


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


def _today() -> date:
    return datetime.now(UTC).date()


def _code_of(path_value: str) -> str:
    # ``{code:path}`` keeps codes that contain "/" addressable; the value starts with "/".
    return path_value.removeprefix("/")


async def _list_page(
    request: Request[Any, Any, Any],
    view: ListView,
    principal: Principal,
    tenant: TenantRef,
    raw: RawQuery,
) -> Template:
    try:
        query = parse_list_query(view.spec, raw)
    except InvalidBrowseQuery as exc:
        return list_template(request, view, principal, tenant, raw, Listing(error=exc))
    scopes = visible_scopes(request, principal)
    async with tenant_session(tenant) as session:
        page = await list_page(session, view.spec, query, scopes)
        options = None
        if not wants_fragment(request):  # the form is not re-rendered for a fragment
            options = await filter_options(session, view.spec, scopes, str(tenant.id))
    return list_template(request, view, principal, tenant, raw, Listing(query, page, options))


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
    allowed = _sees_margin(principal)
    context = detail_context(principal, current_tenant, CUSTOMER_VIEW, allowed, c=detail)
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
    context = detail_context(
        principal,
        current_tenant,
        PRODUCT_VIEW,
        _sees_margin(principal),
        p=detail,
        max_month=max_month or 1.0,
    )
    return Template(PRODUCT_VIEW.detail_template, context=context)


# ---------------------------------------------------------------------------------------------
# The JSON API


async def _api_list(
    request: Request[Any, Any, Any],
    principal: Principal,
    tenant: TenantRef,
    spec: ListSpec,
    raw: RawQuery,
) -> ListPage:
    try:  # InvalidBrowseQuery: a 422 problem naming the field
        query = parse_list_query(spec, raw)
    except InvalidBrowseQuery as exc:
        if exc.field == "after":  # the API calls its cursor ``cursor``
            raise InvalidBrowseQuery("cursor", str(exc).partition(": ")[2]) from None
        raise
    async with tenant_session(tenant) as session:
        return await list_page(session, spec, query, visible_scopes(request, principal))


@get(
    "/customers",
    guards=[requires(READ)],
    dependencies=CUSTOMER_API_QUERY,
    operation_id="listCustomers",
)
async def list_customers(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    list_query: NamedDependency[RawQuery],
) -> CustomerListOut:
    """Customers of the caller's tenant in the caller's scopes, filtered, in ``sort`` order;
    ``matches`` counts them all (up to a cap, ``matches_capped``)."""
    page = await _api_list(request, principal, current_tenant, CUSTOMERS, list_query)
    return CustomerListOut(
        items=[msgspec.convert(r, CustomerItemOut) for r in page.rows],
        next_cursor=page.next_cursor,
        matches=page.matches,
        matches_capped=page.capped,
    )


@get(
    "/customers/{code:str}",
    guards=[requires(READ)],
    operation_id="getCustomer",
)
async def get_customer(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    code: FromPath[str],
) -> CustomerOut:
    """One customer with hierarchy, source records and a twelve-month order summary."""
    detail = await _load_customer(request, state, principal, current_tenant, _code_of(code))
    allowed = _sees_margin(principal)
    return CustomerOut(
        **detail.record,
        hierarchy=hierarchy_out(detail.hierarchy),
        sources=sources_out(detail.sources),
        orders_12m=OrderSummaryOut(**summary_fields(detail.orders, allowed)),
    )


@get(
    "/products",
    guards=[requires(READ)],
    dependencies=PRODUCT_API_QUERY,
    operation_id="listProducts",
)
async def list_products(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    list_query: NamedDependency[RawQuery],
) -> ProductListOut:
    """Products of the caller's tenant in the caller's scopes, filtered, in ``sort`` order;
    ``matches`` counts them all (up to a cap, ``matches_capped``)."""
    page = await _api_list(request, principal, current_tenant, PRODUCTS, list_query)
    return ProductListOut(
        items=[msgspec.convert(r, ProductItemOut) for r in page.rows],
        next_cursor=page.next_cursor,
        matches=page.matches,
        matches_capped=page.capped,
    )


@get(
    "/products/{sku:str}",
    guards=[requires(READ)],
    operation_id="getProduct",
)
async def get_product(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    sku: FromPath[str],
) -> ProductOut:
    """One product with unit conversions, source records and twelve months of demand."""
    detail = await _load_product(request, state, principal, current_tenant, _code_of(sku))
    return ProductOut(
        **detail.record,
        conversions=[ConversionOut(c.uom, c.value, c.ratio) for c in detail.conversions],
        sources=sources_out(detail.sources),
        demand_12m=demand_out(detail.demand, _sees_margin(principal)),
    )


ROUTES = [
    StaffPages(customers_page, customer_page, products_page, product_page),
    Api(list_customers, get_customer, list_products, get_product),
]
