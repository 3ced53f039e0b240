"""Master-data browsing: list queries (search, filters, keyset paging), row-level scope,
masking of revenue and margin, tenant isolation and hostile input, through the real database,
the real sign-in layer and the real pages and API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.conftest import Staff, StaffFactory, TenantFactory, sign_in
from tierline.masterdata.browse import lists
from tierline.masterdata.browse.lists import escape_like, list_page
from tierline.masterdata.browse.orders import twelve_months
from tierline.masterdata.browse.query import (
    CUSTOMERS,
    PRODUCTS,
    InvalidBrowseQuery,
    ListQuery,
    decode_cursor,
    encode_cursor,
    parse_list_query,
)
from tierline.masterdata.models import (
    Customer,
    CustomerSource,
    OrderLine,
    Product,
    ProductSource,
    UomConversion,
)
from tierline.platform import access
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.routing import declared_handlers
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session

REGIONS = ("emea", "apac", "amer")
CHANNELS = ("retail", "wholesale", "ecommerce", "distributor")
TODAY = datetime.now(UTC).date()


# ---------------------------------------------------------------------------------------------
# Data


def customer_rows(count: int) -> list[dict[str, Any]]:
    """Customers C0000.. with every filterable attribute cycling, scope = region."""
    return [
        {
            "code": f"C{i:04}",
            "name": f"{('Alpha', 'beta', 'Gamma', 'delta')[i % 4]} Trading {i}",
            "account_type": ("sold_to", "ship_to", "parent")[i % 3],
            "region": REGIONS[i % 3],
            "scope": REGIONS[i % 3],
            "country": ("DE", "FR", "US", "JP", "BR")[i % 5],
            "channel": CHANNELS[i % 4],
            "strategic": i % 7 == 0,
            "business_unit": ("chem", "food")[i % 2],
        }
        for i in range(count)
    ]


async def add(tenant: TenantRef, model: type[Any], rows: Iterable[dict[str, Any]]) -> None:
    async with tenant_session(tenant) as s:
        s.add_all([model(**row) for row in rows])


async def seed_customers(tenant: TenantRef, count: int = 130) -> list[dict[str, Any]]:
    rows = customer_rows(count)
    await add(tenant, Customer, rows)
    return rows


async def seed_orders(
    tenant: TenantRef, settings: Settings, customer: str, sku: str, lines: list[dict[str, Any]]
) -> None:
    """Order lines with revenue and margin encrypted by the tenant codec, as imports store them."""
    codec = await load_codec(tenant, kms_from_settings(settings))
    rows = []
    for n, line in enumerate(lines, start=1):
        order_no, line_no = f"SO-{customer}-{sku}-{n}", 1
        key = f"{order_no}/{line_no}"
        revenue, margin = line.pop("revenue", None), line.pop("margin", None)
        rows.append(
            {
                "order_no": order_no,
                "line_no": line_no,
                "customer_code": customer,
                "sku": sku,
                "ordered_quantity": line["quantity"],
                "ordered_uom": "EA",
                "currency": "EUR",
                "revenue_enc": codec.encrypt(
                    revenue, table="order_lines", column="revenue", row_key=key
                ),
                "margin_enc": codec.encrypt(
                    margin, table="order_lines", column="margin", row_key=key
                ),
                **line,
            }
        )
    await add(tenant, OrderLine, rows)


async def seed_account_with_orders(tenant: TenantRef, settings: Settings) -> None:
    """G1 (global) > P1 (parent) > S1 (sold-to) > X1, X2 (ship-tos; X1 has X1A), all emea,
    with sources, one product and order lines of S1 in and outside the window."""
    await add(
        tenant,
        Customer,
        [
            {"code": "G1", "name": "Globex Group", "account_type": "global", "scope": "emea"},
            {"code": "P1", "name": "Globex Europe", "account_type": "parent", "parent_code": "G1"},
            {
                "code": "S1",
                "name": "Globex Deutschland",
                "account_type": "sold_to",
                "parent_code": "P1",
                "global_account_code": "G1",
                "region": "emea",
                "country": "DE",
                "scope": "emea",
                "attributes": {"sales_office": "Hamburg"},
            },
            {"code": "X1", "name": "Hamburg DC", "account_type": "ship_to", "parent_code": "S1"},
            {"code": "X2", "name": "Munich DC", "account_type": "ship_to", "parent_code": "S1"},
            {"code": "X1A", "name": "Hamburg dock", "account_type": "ship_to", "parent_code": "X1"},
        ],
    )
    async with tenant_session(tenant) as s:
        await s.execute(text("UPDATE customers SET scope = 'emea'"))
    await add(
        tenant,
        Product,
        [{"sku": "SKU-1", "description": "Widget", "base_uom": "EA", "scope": "emea"}],
    )
    await add(
        tenant,
        CustomerSource,
        [
            {
                "source_system": "sap",
                "source_key": "0000100042",
                "customer_code": "S1",
                "record": {"KUNNR": "0000100042", "NAME1": "Globex Deutschland GmbH"},
            },
            {
                "source_system": "crm",
                "source_key": "ACC-9",
                "customer_code": "S1",
                "record": {"tier": "gold"},
            },
        ],
    )
    recent, old = TODAY - timedelta(days=3), TODAY - timedelta(days=500)
    await seed_orders(
        tenant,
        settings,
        "S1",
        "SKU-1",
        [
            # on time (promised), late (promised), on time (requested only), not delivered
            {"order_date": recent, "quantity": 10, "revenue": 100.0, "margin": 20.0,
             "promised_date": recent, "delivered_date": recent},
            {"order_date": recent, "quantity": 5, "revenue": 50.5, "margin": 10.25,
             "promised_date": recent, "delivered_date": recent + timedelta(days=2)},
            {"order_date": recent, "quantity": 2, "revenue": 20.0, "margin": 4.0,
             "requested_date": recent, "delivered_date": recent},
            {"order_date": recent, "quantity": 3, "revenue": None, "margin": None},
            # outside the twelve months
            {"order_date": old, "quantity": 1000, "revenue": 9999.0, "margin": 999.0},
        ],
    )  # fmt: skip


async def as_user(client: httpx.AsyncClient, staff: Staff) -> None:
    client.cookies.clear()
    signed = await sign_in(client, staff)
    assert signed.status_code == 303, signed.text


def codes(page_html: str) -> list[str]:
    """Codes of the list rows in a page (the row headers link to the detail)."""
    return re.findall(
        r'<th scope="row"><a href="/t/[a-z0-9_]+/customers/[^"]+">([^<]+)</a>', page_html
    )


async def walk(tenant: TenantRef, spec: Any, raw: dict[str, str | None]) -> list[str]:
    """Every key of the list, page after page through the ``after`` cursors."""
    seen: list[str] = []
    query = parse_list_query(spec, raw)
    while True:
        async with tenant_session(tenant) as s:
            page = await list_page(s, spec, query, None)
        seen += [r[spec.key] for r in page.rows]
        if page.next_cursor is None:
            return seen
        query = parse_list_query(spec, {**raw, "after": page.next_cursor})


# ---------------------------------------------------------------------------------------------
# Parsing


def test_parsing_normalises_and_names_the_bad_field() -> None:
    query = parse_list_query(
        CUSTOMERS, {"q": "  acme ", "region": "EMEA", "country": "de", "strategic": "TRUE"}
    )
    assert query.search == "acme"
    assert query.equals == {"region": "emea", "country": "DE", "strategic": True}
    assert query.params == {"q": "acme", "region": "emea", "country": "DE", "strategic": "yes"}
    assert parse_list_query(CUSTOMERS, {"parent": "P1"}).equals == {"parent_code": "P1"}
    bad = {
        "limit": "500",
        "sort": "revenue",
        "strategic": "maybe",
        "account_type": "prospect",
        "q": "x" * 101,
        "region": "a\x00b",
        "after": "not-a-cursor",
    }
    for key, value in bad.items():
        with pytest.raises(InvalidBrowseQuery) as caught:
            parse_list_query(CUSTOMERS, {key: value})
        assert caught.value.field == key, key
    with pytest.raises(InvalidBrowseQuery):
        parse_list_query(PRODUCTS, {"lifecycle": "eternal"})


def test_cursors_round_trip_and_refuse_another_sort() -> None:
    token = encode_cursor("name", ['Ünïcode "quoted" name', "C/1"])
    assert decode_cursor("after", token, "name", 2) == ('Ünïcode "quoted" name', "C/1")
    for sort, width in (("code", 1), ("name", 1)):
        with pytest.raises(InvalidBrowseQuery):
            decode_cursor("after", token, sort, width)
    with pytest.raises(InvalidBrowseQuery):
        parse_list_query(CUSTOMERS, {"after": token, "before": token, "sort": "name"})


def test_like_escaping_and_the_window() -> None:
    assert escape_like(r"100%_a\b") == r"100\%\_a\\b"
    assert twelve_months(date(2026, 3, 15)) == (date(2025, 4, 1), date(2026, 3, 15))
    assert twelve_months(date(2026, 12, 31)) == (date(2026, 1, 1), date(2026, 12, 31))


# ---------------------------------------------------------------------------------------------
# Listing


@pytest.mark.parametrize("sort", ["code", "name"])
async def test_keyset_pages_cover_every_row_exactly_once(tenant: TenantRef, sort: str) -> None:
    rows = await seed_customers(tenant, 103)
    key = "code" if sort == "code" else "name, code"
    async with tenant_session(tenant) as s:
        expected = list(
            (await s.execute(text(f"SELECT code FROM customers ORDER BY {key}"))).scalars()
        )
    assert len(expected) == len(rows)

    forward = await walk(tenant, CUSTOMERS, {"sort": sort, "limit": "10"})
    assert forward == expected  # every row once, in order

    # And back again from the last page through the ``before`` cursors.
    width = len(CUSTOMERS.sorts[sort])
    query = parse_list_query(CUSTOMERS, {"sort": sort, "limit": "10"})
    async with tenant_session(tenant) as s:
        page = await list_page(s, CUSTOMERS, query, None)
        while page.next_cursor is not None:
            query = replace(query, after=decode_cursor("after", page.next_cursor, sort, width))
            page = await list_page(s, CUSTOMERS, query, None)
        backward = [r["code"] for r in page.rows]
        while page.prev_cursor is not None:
            before = decode_cursor("before", page.prev_cursor, sort, width)
            page = await list_page(s, CUSTOMERS, replace(query, after=None, before=before), None)
            backward = [r["code"] for r in page.rows] + backward
    assert backward == expected
    assert len(page.rows) == 10  # paging back to the start shows a full first page


async def test_search_is_a_case_insensitive_substring_of_code_or_name(tenant: TenantRef) -> None:
    await seed_customers(tenant, 40)
    gamma = await walk(tenant, CUSTOMERS, {"q": "GAMMA"})
    assert gamma == [f"C{i:04}" for i in range(2, 40, 4)]
    assert await walk(tenant, CUSTOMERS, {"q": "c001"}) == [f"C{i:04}" for i in range(10, 20)]
    assert await walk(tenant, CUSTOMERS, {"q": "trading 3"}) == ["C0003", "C0030", "C0031",
        "C0032", "C0033", "C0034", "C0035", "C0036", "C0037", "C0038", "C0039"]  # fmt: skip


async def test_filters_combine(tenant: TenantRef) -> None:
    rows = await seed_customers(tenant, 90)

    def expect(**wanted: Any) -> list[str]:
        return [r["code"] for r in rows if all(r[k] == v for k, v in wanted.items())]

    assert await walk(tenant, CUSTOMERS, {"region": "APAC"}) == expect(region="apac")
    assert await walk(tenant, CUSTOMERS, {"strategic": "yes"}) == expect(strategic=True)
    assert await walk(tenant, CUSTOMERS, {"strategic": "no", "country": "fr"}) == expect(
        strategic=False, country="FR"
    )
    assert await walk(
        tenant, CUSTOMERS, {"account_type": "ship_to", "channel": "retail", "business_unit": "food"}
    ) == expect(account_type="ship_to", channel="retail", business_unit="food")
    assert await walk(tenant, CUSTOMERS, {"region": "emea", "q": "alpha"}) == [
        r["code"] for r in rows if r["region"] == "emea" and r["name"].startswith("Alpha")
    ]


async def test_total_is_exact_up_to_the_cap(
    tenant: TenantRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_customers(tenant, 30)
    monkeypatch.setattr(lists, "COUNT_CAP", 12)
    async with tenant_session(tenant) as s:
        small = await list_page(
            s, CUSTOMERS, parse_list_query(CUSTOMERS, {"limit": "5", "region": "emea"}), None
        )
        large = await list_page(s, CUSTOMERS, parse_list_query(CUSTOMERS, {"limit": "5"}), None)
        whole = await list_page(s, CUSTOMERS, parse_list_query(CUSTOMERS, {"q": "delta"}), None)
    assert (small.matches, small.capped) == (10, False)
    assert (large.matches, large.capped) == (12, True)
    assert (whole.matches, whole.capped, whole.next_cursor) == (7, False, None)


async def test_a_slow_total_is_given_up_not_waited_for(
    tenant: TenantRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_customers(tenant, 30)

    def slow_count(spec: Any, conds: Any) -> Any:
        return select(func.count()).select_from(select(func.pg_sleep(2)).subquery())

    monkeypatch.setattr(lists, "count_select", slow_count)
    started = time.perf_counter()
    async with tenant_session(tenant) as s:
        page = await list_page(s, CUSTOMERS, parse_list_query(CUSTOMERS, {"limit": "10"}), None)
        # The unit of work goes on: no timeout left behind, still bound to the tenant.
        assert (await s.execute(text("SHOW statement_timeout"))).scalar() == "0"
        assert (await s.execute(select(func.count(Customer.id)))).scalar() == 30
    assert time.perf_counter() - started < 1.5
    assert len(page.rows) == 10 and (page.matches, page.capped) == (11, True)
    assert page.next_cursor is not None


async def test_scope_limits_rows(tenant: TenantRef) -> None:
    rows = await seed_customers(tenant, 30)
    query = parse_list_query(CUSTOMERS, {"limit": "200"})
    async with tenant_session(tenant) as s:
        emea = await list_page(s, CUSTOMERS, query, frozenset({"emea"}))
        two = await list_page(s, CUSTOMERS, query, frozenset({"emea", "amer"}))
        none = await list_page(s, CUSTOMERS, query, frozenset())
    assert [r["code"] for r in emea.rows] == [r["code"] for r in rows if r["scope"] == "emea"]
    assert {r["scope"] for r in two.rows} == {"emea", "amer"} and len(two.rows) == 20
    assert none.rows == [] and none.matches == 0


async def test_products_filter_and_page(tenant: TenantRef) -> None:
    await add(
        tenant,
        Product,
        [
            {
                "sku": f"SKU-{i:03}",
                "description": f"{('Bolt', 'Nut', 'Washer')[i % 3]} size {i}",
                "product_line": ("fasteners", "tools")[i % 2],
                "category": ("metal", "plastic")[i % 2],
                "lifecycle": ("active", "phase_out", "npi")[i % 3],
                "base_uom": ("EA", "KG")[i % 2],
            }
            for i in range(25)
        ],
    )
    assert await walk(tenant, PRODUCTS, {"limit": "4"}) == [f"SKU-{i:03}" for i in range(25)]
    washers = await walk(tenant, PRODUCTS, {"q": "washer", "base_uom": "ea"})
    assert washers == [f"SKU-{i:03}" for i in range(25) if i % 3 == 2 and i % 2 == 0]
    assert await walk(tenant, PRODUCTS, {"lifecycle": "NPI", "product_line": "tools"}) == [
        f"SKU-{i:03}" for i in range(25) if i % 3 == 2 and i % 2 == 1
    ]
    by_description = await walk(tenant, PRODUCTS, {"sort": "description", "category": "metal"})
    assert by_description[0] == "SKU-000" and len(by_description) == 13


# ---------------------------------------------------------------------------------------------
# Hostile input


HOSTILE = {
    "H1": "100% natural",
    "H2": "under_score ltd",
    "H3": 'O\'Brien "Quoted" & Sons',
    "H4": "<script>alert(1)</script> Corp",
    "H5": "back\\slash",
}


async def test_hostile_search_strings_match_literally_and_render_escaped(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await add(
        tenant,
        Customer,
        [{"code": c, "name": n, "account_type": "sold_to"} for c, n in HOSTILE.items()]
        + [{"code": "N1", "name": "100 natural and plain", "account_type": "sold_to"}],
    )
    cases: dict[str, list[str]] = {"%": ["H1"], "_": ["H2"], "'": ["H3"], '"': ["H3"]}
    cases |= {"<script>": ["H4"], "\\": ["H5"], "%_": [], "' OR 1=1 --": []}
    cases |= {"%'; DROP TABLE customers; --": []}
    for search, expected in cases.items():
        assert await walk(tenant, CUSTOMERS, {"q": search}) == expected, search

    await as_user(client, await make_staff(tenant, "analyst"))
    for search, expected in cases.items():
        page = await client.get(f"/t/{tenant.slug}/customers", params={"q": search})
        assert page.status_code == 200, (search, page.text)
        assert codes(page.text) == expected, search
        api = await client.get("/api/v1/customers", params={"q": search})
        assert [i["code"] for i in api.json()["items"]] == expected, search
    page = await client.get(f"/t/{tenant.slug}/customers", params={"q": "<script>"})
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Corp" in page.text
    assert 'value="&lt;script&gt;"' in page.text  # the search box echoes it escaped
    detail = await client.get(f"/t/{tenant.slug}/customers/H4")
    assert detail.status_code == 200 and "<script>alert" not in detail.text
    async with tenant_session(tenant) as s:  # and nothing was dropped
        assert (await s.execute(select(Customer.code))).scalars().all()


async def test_bad_query_values_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await as_user(client, await make_staff(tenant, "analyst"))
    for params, field, status in (
        ({"limit": "500"}, "limit", 400),  # malformed for its declared type: 400
        ({"sort": "revenue"}, "sort", 422),
        ({"after": "garbage!"}, "after", 422),
        ({"strategic": "maybe"}, "strategic", 422),
    ):
        api_params = {"cursor" if k == "after" else k: v for k, v in params.items()}
        api = await client.get("/api/v1/customers", params=api_params)
        assert api.status_code == status, params
        assert api.headers["content-type"].startswith("application/problem+json")
        api_field = "cursor" if field == "after" else field
        assert api.json()["detail"].startswith(f"{api_field}:"), api.json()
        page = await client.get(f"/t/{tenant.slug}/customers", params=params)
        assert page.status_code == 422 and 'role="alert"' in page.text
        # A cursor is no form field; every other bad value marks its field.
        assert ('aria-invalid="true"' in page.text) == (field != "after")
    bad_product = await client.get("/api/v1/products", params={"lifecycle": "eternal"})
    assert bad_product.status_code == 422


# ---------------------------------------------------------------------------------------------
# Pages


async def test_list_page_works_without_javascript_and_with_htmx(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await seed_customers(tenant, 60)
    await as_user(client, await make_staff(tenant, "planner"))
    page = await client.get(f"/t/{tenant.slug}/customers")
    assert page.status_code == 200
    html = page.text
    assert '<form method="get" action="/t/' in html and 'hx-push-url="true"' in html
    for field in ("q", "region", "country", "channel", "account_type", "strategic", "sort"):
        assert f'<label for="f-{field}">' in html and f'id="f-{field}"' in html, field
    assert '<datalist id="l-region"><option value="amer">' in html  # suggestions in use
    assert len(codes(html)) == 50 and "60 matches" in html
    assert "<script>" not in html.split("</head>")[1]  # no inline script (CSP)
    assert " style=" not in html
    next_url = re.search(
        r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#results" hx-push-url="true" rel="next">',
        html,
    )
    assert next_url, "no next link"
    second = await client.get(next_url.group(1).replace("&amp;", "&"))
    assert codes(second.text) == [f"C{i:04}" for i in range(50, 60)]
    assert 'rel="prev"' in second.text and "« First" in second.text

    fragment = await client.get(
        f"/t/{tenant.slug}/customers",
        params={"region": "emea"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert 'id="match-count"' in fragment.text and 'hx-swap-oob="true"' in fragment.text
    assert len(codes(fragment.text)) == 20
    restore = await client.get(
        f"/t/{tenant.slug}/customers",
        headers={
            "HX-Request": "true",
            "HX-Target": "results",
            "HX-History-Restore-Request": "true",
        },
    )
    assert "<html" in restore.text  # a history restore needs the whole page

    nav = await client.get(f"/t/{tenant.slug}/")
    assert f'href="/t/{tenant.slug}/customers">Customers</a>' in nav.text
    assert f'href="/t/{tenant.slug}/products">Products</a>' in nav.text


async def test_detail_shows_attributes_hierarchy_sources_and_orders(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, settings: Settings
) -> None:
    await seed_account_with_orders(tenant, settings)
    await as_user(client, await make_staff(tenant, "planner"))
    page = await client.get(f"/t/{tenant.slug}/customers/S1")
    assert page.status_code == 200
    html = page.text
    assert "Globex Deutschland" in html and "Hamburg" in html  # extra attribute
    chain = html[html.index('class="md-chain"') : html.index("Direct sub-accounts")]
    assert (
        chain.index("Globex Group")
        < chain.index("Globex Europe")
        < chain.index('aria-current="page"')
    )
    assert "Direct sub-accounts: 2" in html
    assert "0000100042" in html and "Globex Deutschland GmbH" in html and "crm" in html
    assert "170.50" in html and "34.25" in html  # revenue and margin of the four recent lines
    assert "66.7%" in html  # on time: 2 of 3 measured

    body = (await client.get("/api/v1/customers/S1")).json()
    assert body["attributes"] == {"sales_office": "Hamburg"}
    assert [a["code"] for a in body["hierarchy"]["ancestors"]] == ["G1", "P1"]
    assert body["hierarchy"]["children"] == [
        {"code": "X1", "name": "Hamburg DC", "account_type": "ship_to", "children": 1},
        {"code": "X2", "name": "Munich DC", "account_type": "ship_to", "children": 0},
    ]
    assert {s["source_system"] for s in body["sources"]} == {"sap", "crm"}
    orders = body["orders_12m"]
    assert (orders["lines"], orders["quantity"], orders["on_time_measured"]) == (4, 20.0, 3)
    assert orders["on_time_share"] == pytest.approx(2 / 3)
    assert orders["masked"] is False
    assert orders["money"] == [
        {"currency": "EUR", "lines": 4, "revenue": 170.5, "margin": 34.25, "masked": False,
         "unreadable": 0}
    ]  # fmt: skip
    x1a = (await client.get("/api/v1/customers/X1A")).json()
    assert [a["code"] for a in x1a["hierarchy"]["ancestors"]] == ["G1", "P1", "S1", "X1"]


async def test_product_detail_shows_units_sources_and_demand(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, settings: Settings
) -> None:
    await seed_account_with_orders(tenant, settings)
    await add(tenant, UomConversion, [{"sku": "SKU-1", "uom": "CS", "factor": 12},
                                      {"sku": "SKU-1", "uom": "PAL", "factor": 480}])  # fmt: skip
    await add(
        tenant,
        ProductSource,
        [{"source_system": "sap", "source_key": "MAT-1", "sku": "SKU-1", "record": {"MATNR": "1"}}],
    )
    await as_user(client, await make_staff(tenant, "planner"))
    page = await client.get(f"/t/{tenant.slug}/products/SKU-1")
    assert page.status_code == 200
    assert "PAL" in page.text and "480" in page.text and "MAT-1" in page.text
    assert page.text.count("<meter") == 12
    body = (await client.get("/api/v1/products/SKU-1")).json()
    assert body["conversions"] == [
        {"uom": "CS", "factor": 12.0, "ratio": "12"},
        {"uom": "PAL", "factor": 480.0, "ratio": "480"},
    ]
    demand = body["demand_12m"]
    assert (demand["lines"], demand["customers"], demand["quantity"]) == (4, 1, 20.0)
    assert len(demand["months"]) == 12 and demand["months"][-1]["month"] == TODAY.strftime("%Y-%m")
    assert sum(m["quantity"] for m in demand["months"]) == 20.0
    assert demand["money"][0]["revenue"] == 170.5
    listed = (await client.get("/api/v1/products", params={"q": "widg"})).json()
    assert [i["sku"] for i in listed["items"]] == ["SKU-1"]


async def test_a_code_with_a_slash_is_reachable(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await add(tenant, Customer, [{"code": "ACME/01", "name": "Slashed", "account_type": "sold_to"}])
    await as_user(client, await make_staff(tenant, "analyst"))
    listed = await client.get(f"/t/{tenant.slug}/customers")
    assert f'href="/t/{tenant.slug}/customers/ACME%2F01"' in listed.text
    page = await client.get(f"/t/{tenant.slug}/customers/{quote('ACME/01', safe='')}")
    assert page.status_code == 200 and "Slashed" in page.text


# ---------------------------------------------------------------------------------------------
# Who sees what


async def test_regional_planner_sees_only_their_scope(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    rows = await seed_customers(tenant, 30)
    emea = [r["code"] for r in rows if r["scope"] == "emea"]
    apac = next(r["code"] for r in rows if r["scope"] == "apac")
    await as_user(client, await make_staff(tenant, "planner", scope="emea"))

    page = await client.get(f"/t/{tenant.slug}/customers")
    assert page.status_code == 200 and codes(page.text) == emea
    assert "10 matches" in page.text
    assert '<option value="apac">' not in page.text  # no suggestions from other scopes
    api = (await client.get("/api/v1/customers", params={"limit": "200"})).json()
    assert [i["code"] for i in api["items"]] == emea and api["matches"] == 10
    searched = (await client.get("/api/v1/customers", params={"region": "apac"})).json()
    assert searched["items"] == []
    assert (await client.get(f"/t/{tenant.slug}/customers/{apac}")).status_code == 404
    assert (await client.get(f"/api/v1/customers/{apac}")).status_code == 404
    assert (await client.get(f"/t/{tenant.slug}/customers/{emea[0]}")).status_code == 200


async def test_regional_planner_sees_parents_outside_scope_by_code_only(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, settings: Settings
) -> None:
    await seed_account_with_orders(tenant, settings)
    async with tenant_session(tenant) as s:
        await s.execute(text("UPDATE customers SET scope = '*' WHERE code IN ('G1', 'X2')"))
    await as_user(client, await make_staff(tenant, "planner", scope="emea"))
    body = (await client.get("/api/v1/customers/S1")).json()
    assert body["hierarchy"]["ancestors"][0] == {
        "code": "G1",
        "name": None,
        "account_type": None,
        "visible": False,
    }
    assert [c["code"] for c in body["hierarchy"]["children"]] == ["X1"]
    assert body["hierarchy"]["children_total"] == 1
    page = await client.get(f"/t/{tenant.slug}/customers/S1")
    assert "Globex Group" not in page.text and "outside your scope" in page.text


async def test_analyst_sees_masked_money_planner_sees_numbers(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, settings: Settings
) -> None:
    await seed_account_with_orders(tenant, settings)

    await as_user(client, await make_staff(tenant, "analyst"))
    page = await client.get(f"/t/{tenant.slug}/customers/S1")
    assert page.status_code == 200
    assert "•••" in page.text and "170.50" not in page.text and "34.25" not in page.text
    assert "<dd>20</dd>" in page.text  # quantities are not masked
    body = (await client.get("/api/v1/customers/S1")).json()["orders_12m"]
    assert body["masked"] is True
    assert body["money"] == [
        {"currency": "EUR", "lines": 4, "revenue": None, "margin": None, "masked": True,
         "unreadable": 0}
    ]  # fmt: skip
    product = (await client.get("/api/v1/products/SKU-1")).json()["demand_12m"]
    assert product["masked"] is True and product["money"][0]["revenue"] is None
    product_page = await client.get(f"/t/{tenant.slug}/products/SKU-1")
    assert "•••" in product_page.text and "170.50" not in product_page.text

    await as_user(client, await make_staff(tenant, "planner"))
    page = await client.get(f"/t/{tenant.slug}/customers/S1")
    assert "•••" not in page.text and "170.50" in page.text
    body = (await client.get("/api/v1/customers/S1")).json()["orders_12m"]
    assert body["masked"] is False and body["money"][0]["margin"] == 34.25


async def test_tampered_value_is_counted_not_summed(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, settings: Settings
) -> None:
    await seed_account_with_orders(tenant, settings)
    async with tenant_session(tenant) as s:  # move one line's revenue onto another line
        await s.execute(text(
            "UPDATE order_lines SET revenue_enc = (SELECT revenue_enc FROM order_lines "
            "WHERE order_no = 'SO-S1-SKU-1-1') WHERE order_no = 'SO-S1-SKU-1-2'"
        ))  # fmt: skip
    await as_user(client, await make_staff(tenant, "planner"))
    money = (await client.get("/api/v1/customers/S1")).json()["orders_12m"]["money"][0]
    assert money["revenue"] == 120.0 and money["unreadable"] == 1
    page = await client.get(f"/t/{tenant.slug}/customers/S1")
    assert "failed their integrity check" in page.text


async def test_another_tenants_staff_get_404(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    a, b = await make_tenant(), await make_tenant()
    await add(a, Customer, [{"code": "ONLY-A", "name": "Secret A", "account_type": "sold_to"}])
    await add(a, Product, [{"sku": "SKU-A", "description": "Secret product", "base_uom": "EA"}])
    await add(b, Customer, [{"code": "ONLY-B", "name": "Own B", "account_type": "sold_to"}])
    await as_user(client, await make_staff(b, "admin"))
    for path in ("customers", "customers/ONLY-A", "products", "products/SKU-A"):
        resp = await client.get(f"/t/{a.slug}/{path}", headers={"accept": "text/html"})
        assert resp.status_code == 404, path
        assert "Secret" not in resp.text
    for path in ("customers/ONLY-A", "products/SKU-A"):
        resp = await client.get(f"/api/v1/{path}")
        assert resp.status_code == 404 and "Secret" not in resp.text
    listed = (await client.get("/api/v1/customers", params={"tenant": a.slug})).json()
    assert [i["code"] for i in listed["items"]] == ["ONLY-B"]
    assert (await client.get(f"/t/{b.slug}/customers")).status_code == 200


async def test_unknown_code_is_404(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await as_user(client, await make_staff(tenant, "analyst"))
    for path in ("customers/NOPE", "products/NOPE"):
        page = await client.get(f"/t/{tenant.slug}/{path}", headers={"accept": "text/html"})
        assert page.status_code == 404 and "<html" in page.text
        api = await client.get(f"/api/v1/{path}")
        assert api.status_code == 404
        assert api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["status"] == 404


async def test_signed_out_and_unpermitted_callers_are_refused(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    page = await client.get(f"/t/{tenant.slug}/customers")
    assert page.status_code == 303 and "/login" in page.headers["location"]
    assert (await client.get("/api/v1/customers")).status_code == 401
    await add(tenant, Customer, [{"code": "C1", "name": "Portal Co", "account_type": "sold_to"}])
    await as_user(client, await make_staff(tenant, "customer", customer="C1"))
    assert (await client.get(f"/t/{tenant.slug}/customers")).status_code == 404


def test_routes_declare_masterdata_read() -> None:
    from tierline.masterdata.browse.controllers import ROUTES

    handlers = declared_handlers(ROUTES)
    assert len(handlers) == 8
    assert {access.declared_permission(r) for r in handlers} == {"masterdata:read"}


def test_list_query_defaults() -> None:
    query = parse_list_query(CUSTOMERS, {})
    assert query == ListQuery(sort="code")
    assert not query.paged
