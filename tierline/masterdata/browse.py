"""Browsing master data: filtered, keyset-paginated lists of customers and products, and the
detail of one record (hierarchy, source records, twelve months of orders or demand).

Lists are keyed on the sort columns, never OFFSET: the sort ends with the unique code (or SKU),
so ``(sort columns) > (last row's values)`` finds the next page with the same cost on page 1
and page 2,000, and a page does not shift while imports add rows. The total is counted only when
cheap: up to :data:`COUNT_CAP` rows (a ``LIMIT`` subquery), so a broad filter costs no more
than a narrow one, and within :data:`COUNT_BUDGET_MS`, past which the page says only what it
proves ("≥ 51 matches").

Row-level scope: a user whose ``masterdata:read`` grants are limited to some scopes sees only
rows whose ``scope`` column is one of them; ``None`` means every scope. The same rule applies
to every row a page shows (list rows, hierarchy nodes, sub-account counts, product demand).

Filter input arrives as query-string text (a GET form, the JSON API, a paging link); it is
parsed here once, and a value that does not parse is refused naming its field.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    and_,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import (
    ACCOUNT_TYPES,
    LIFECYCLES,
    Customer,
    CustomerSource,
    OrderLine,
    Product,
    ProductSource,
    UomConversion,
)
from tierline.platform.encryption import FieldCodec
from tierline.platform.errors import DomainError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
PAGE_SIZES = (25, DEFAULT_PAGE_SIZE, 100, MAX_PAGE_SIZE)
COUNT_CAP = 1000  # counted exactly up to here; beyond, pages say "≥ 1,000"
COUNT_BUDGET_MS = 40  # a total that takes longer to count is not shown exactly
_QUERY_CANCELED = "57014"  # SQLSTATE of a statement stopped by statement_timeout
SEARCH_MAX_LENGTH = 100
CURSOR_MAX_LENGTH = 2000
CHILDREN_SHOWN = 50
SOURCES_SHOWN = 50
MAX_HIERARCHY_DEPTH = 12  # guards the parent walk against a cycle in imported data
OPTIONS_SHOWN = 300
OPTIONS_TTL_SECONDS = 300.0
_OPTIONS_MAX_ENTRIES = 2048

# Scopes a reader may see: a set of scope names, or None for every scope.
Scopes = frozenset[str] | None

_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__
_CUSTOMER_SOURCES = CustomerSource.__table__
_PRODUCT_SOURCES = ProductSource.__table__
_CONVERSIONS = UomConversion.__table__
_HIDDEN_COLUMNS = frozenset({"id", "row_hash"})


class InvalidBrowseQuery(DomainError):
    """A filter or paging value that does not parse; ``field`` names the query key."""

    status_code = 422
    title = "Invalid query"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# ---------------------------------------------------------------------------------------------
# What can be filtered and sorted


FilterKind = Literal["text", "choice", "yesno"]
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})


@dataclass(frozen=True)
class FilterField:
    """One equality filter: a query key, the column it tests, and how its input is read."""

    key: str
    label: str
    kind: FilterKind = "text"
    column: str = ""  # when it differs from ``key``
    choices: tuple[str, ...] = ()
    case: Literal["lower", "upper", "keep"] = "keep"  # as imports normalise the column
    max_length: int = 100
    suggest: bool = True  # offer the values in use (a datalist) on the page

    @property
    def target(self) -> str:
        return self.column or self.key

    def parse(self, value: str) -> tuple[str | bool, str]:
        """(value to compare with, value to echo into forms and links)."""
        if self.kind == "yesno":
            lowered = value.lower()
            if lowered in _YES | _NO:
                return lowered in _YES, "yes" if lowered in _YES else "no"
            raise InvalidBrowseQuery(self.key, "must be yes or no")
        _check_text(self.key, value, self.max_length)
        if self.case == "lower" or self.kind == "choice":
            value = value.lower()
        elif self.case == "upper":
            value = value.upper()
        if self.kind == "choice" and value not in self.choices:
            raise InvalidBrowseQuery(self.key, f"must be one of {', '.join(self.choices)}")
        return value, value


@dataclass(frozen=True)
class ListSpec:
    """A browsable table: its natural key, title column, list columns, filters and sorts."""

    entity: str
    table: FromClause
    key: str  # unique: ends every sort, so keyset cursors are exact
    title: str  # searched together with ``key``
    columns: tuple[str, ...]
    filters: tuple[FilterField, ...]
    sorts: Mapping[str, tuple[str, ...]]
    default_sort: str

    def column(self, name: str) -> ColumnElement[Any]:
        col: ColumnElement[Any] = self.table.c[name]
        return col


CUSTOMERS = ListSpec(
    entity="customers",
    table=_CUSTOMERS,
    key="code",
    title="name",
    columns=(
        "code",
        "name",
        "account_type",
        "parent_code",
        "region",
        "country",
        "channel",
        "strategic",
        "business_unit",
        "scope",
    ),
    filters=(
        FilterField("region", "Region", case="lower", max_length=40),
        FilterField("country", "Country", case="upper", max_length=2),
        FilterField("channel", "Channel", case="lower", max_length=40),
        FilterField("account_type", "Account type", "choice", choices=ACCOUNT_TYPES),
        FilterField("strategic", "Strategic", "yesno"),
        FilterField("business_unit", "Business unit", case="lower", max_length=40),
        FilterField("parent", "Parent account", column="parent_code", suggest=False),
    ),
    sorts={"code": ("code",), "name": ("name", "code")},
    default_sort="code",
)

PRODUCTS = ListSpec(
    entity="products",
    table=_PRODUCTS,
    key="sku",
    title="description",
    columns=(
        "sku",
        "description",
        "product_line",
        "category",
        "lifecycle",
        "base_uom",
        "business_unit",
        "scope",
    ),
    filters=(
        FilterField("product_line", "Product line"),
        FilterField("category", "Category"),
        FilterField("lifecycle", "Lifecycle", "choice", choices=LIFECYCLES),
        FilterField("base_uom", "Base unit", case="upper", max_length=20),
    ),
    sorts={"sku": ("sku",), "description": ("description", "sku")},
    default_sort="sku",
)


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request. ``params`` keeps the cleaned search, filters and sort, to echo
    into forms and paging links (never the cursor or page size)."""

    search: str | None = None
    equals: Mapping[str, str | bool] = field(default_factory=dict)  # column -> value
    sort: str = ""
    limit: int = DEFAULT_PAGE_SIZE
    after: tuple[str, ...] | None = None
    before: tuple[str, ...] | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def paged(self) -> bool:
        return self.after is not None or self.before is not None


def _check_text(key: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise InvalidBrowseQuery(key, f"must be at most {max_length} characters")
    # PostgreSQL text cannot hold NUL; other control characters are never in a real value.
    if any(ord(ch) < 32 for ch in value):
        raise InvalidBrowseQuery(key, "must not contain control characters")


def _cleaned(raw: Mapping[str, str | None], key: str) -> str | None:
    """A blank form field means "no filter"."""
    value = raw.get(key)
    return value.strip() if value is not None and value.strip() else None


def _limit(raw: Mapping[str, str | None]) -> int:
    value = _cleaned(raw, "limit")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidBrowseQuery("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    """An opaque page cursor: the sort and the boundary row's values of the sort columns."""
    raw = json.dumps([sort, *(str(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(key: str, token: str, sort: str, width: int) -> tuple[str, ...]:
    """The cursor's values; refused if it is malformed or was made for another sort."""
    bad = InvalidBrowseQuery(key, "is not a page cursor of this list; start from the first page")
    if len(token) > CURSOR_MAX_LENGTH:
        raise bad
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != width + 1
        or decoded[0] != sort
        or not all(isinstance(v, str) for v in decoded)
    ):
        raise bad
    values = tuple(decoded[1:])
    for value in values:
        _check_text(key, value, 500)
    return values


def _cursors(
    raw: Mapping[str, str | None], sort: str, width: int
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    after, before = _cleaned(raw, "after"), _cleaned(raw, "before")
    if after is not None and before is not None:
        raise InvalidBrowseQuery("before", "give either after or before, not both")
    return (
        decode_cursor("after", after, sort, width) if after is not None else None,
        decode_cursor("before", before, sort, width) if before is not None else None,
    )


def parse_list_query(spec: ListSpec, raw: Mapping[str, str | None]) -> ListQuery:
    """A list request from query-string values; ``InvalidBrowseQuery`` names the bad field."""
    params: dict[str, str] = {}
    search = _cleaned(raw, "q")
    if search is not None:
        _check_text("q", search, SEARCH_MAX_LENGTH)
        params["q"] = search
    equals: dict[str, str | bool] = {}
    for spec_field in spec.filters:
        value = _cleaned(raw, spec_field.key)
        if value is not None:
            equals[spec_field.target], params[spec_field.key] = spec_field.parse(value)
    sort = _cleaned(raw, "sort") or spec.default_sort
    if sort not in spec.sorts:
        raise InvalidBrowseQuery("sort", f"must be one of {', '.join(spec.sorts)}")
    if sort != spec.default_sort:
        params["sort"] = sort
    after, before = _cursors(raw, sort, len(spec.sorts[sort]))
    return ListQuery(search, equals, sort, _limit(raw), after, before, params)


# ---------------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True)
class ListPage:
    """One page of rows in sort order, with cursors for the neighbouring pages (None: none).

    ``matches`` is exact unless ``capped``, in which case at least that many rows match
    (the cap, or what this page proves when counting was too slow).
    """

    rows: list[dict[str, Any]]
    next_cursor: str | None  # pass as ``after``
    prev_cursor: str | None  # pass as ``before``
    matches: int
    capped: bool


def escape_like(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern (``\\`` is the escape character)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scope_condition(table: FromClause, scopes: Scopes) -> list[ColumnElement[bool]]:
    """The row-level scope filter: nothing for every scope, no rows for no scope."""
    if scopes is None:
        return []
    if not scopes:
        return [false()]
    return [table.c.scope.in_(sorted(scopes))]


def _visible(scope: str | None, scopes: Scopes) -> bool:
    return scopes is None or scope in scopes


def _conditions(spec: ListSpec, query: ListQuery, scopes: Scopes) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        spec.column(column) == value for column, value in query.equals.items()
    ]
    if query.search is not None:
        # Plain ILIKE on the bare columns: that is what the pg_trgm GIN indexes on code and
        # name serve (``lower(x) LIKE`` would not use them).
        pattern = f"%{escape_like(query.search)}%"
        conds.append(
            or_(
                spec.column(spec.key).ilike(pattern, escape="\\"),
                spec.column(spec.title).ilike(pattern, escape="\\"),
            )
        )
    return conds + scope_condition(spec.table, scopes)


def _beyond(columns: list[ColumnElement[Any]], values: tuple[str, ...], forward: bool) -> Any:
    """Rows after (or before) the cursor in sort order: a row-value comparison."""
    left: Any = columns[0] if len(columns) == 1 else tuple_(*columns)
    right: Any = values[0] if len(values) == 1 else tuple_(*values)
    return left > right if forward else left < right


async def _custom_plans(session: AsyncSession) -> None:
    # asyncpg prepares statements, and PostgreSQL switches a prepared statement to a generic
    # plan after five runs. Filter values differ wildly in selectivity (a region holding most
    # rows, a search string matching three), so a generic plan would be wrong for many of
    # them; planning afresh costs well under a millisecond. Ends with the transaction.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def page_select(spec: ListSpec, query: ListQuery, scopes: Scopes) -> Select[Any]:
    """The SELECT of one page: one row more than the page, to learn whether another follows.

    Paging back (``before``) reads in reverse sort order from the cursor.
    """
    conds = _conditions(spec, query, scopes)
    order = [spec.column(c) for c in spec.sorts[query.sort]]
    backward = query.before is not None
    if query.before is not None:
        conds.append(_beyond(order, query.before, False))
    elif query.after is not None:
        conds.append(_beyond(order, query.after, True))
    return (
        select(*(spec.column(c) for c in spec.columns))
        .where(*conds)
        .order_by(*(c.desc() if backward else c.asc() for c in order))
        .limit(query.limit + 1)
    )


def count_select(spec: ListSpec, conds: list[ColumnElement[bool]]) -> Select[Any]:
    """How many rows match, counting no further than one past :data:`COUNT_CAP`."""
    capped = select(spec.column(spec.key)).where(*conds).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


async def _count(
    session: AsyncSession, spec: ListSpec, conds: list[ColumnElement[bool]]
) -> int | None:
    """Matching rows up to ``COUNT_CAP + 1``; None when counting would exceed the budget.

    Even capped, a count can read the whole table (a rare combination of unindexed filters
    matches few rows, and finding that out means looking at all of them). The total is a
    courtesy, the page is the point: the count runs in a savepoint under a statement timeout,
    and the savepoint is always rolled back (the count wrote nothing), which also undoes the
    timeout, so nothing after it in the unit of work can be cut short.
    """
    conn = await session.connection()
    savepoint = await conn.begin_nested()
    try:
        await conn.execute(text(f"SET LOCAL statement_timeout = {int(COUNT_BUDGET_MS)}"))
        found = (await conn.execute(count_select(spec, conds))).scalar_one()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _QUERY_CANCELED:
            raise
        return None
    finally:
        await savepoint.rollback()
    return int(found)


def _cursor_of(spec: ListSpec, sort: str, row: Mapping[str, Any]) -> str:
    return encode_cursor(sort, [row[c] for c in spec.sorts[sort]])


async def list_page(
    session: AsyncSession, spec: ListSpec, query: ListQuery, scopes: Scopes
) -> ListPage:
    """One page of matching rows in sort order."""
    await _custom_plans(session)
    stmt = page_select(spec, query, scopes)
    rows = [dict(row._mapping) for row in await session.execute(stmt)]
    if query.before is not None:
        if len(rows) <= query.limit:
            # Paging back reached the start: show a full first page, not a short one.
            return await list_page(session, spec, replace(query, before=None), scopes)
        rows = rows[: query.limit][::-1]
        has_prev = has_next = True  # the extra row lies before; the cursor row after
    else:
        has_next = len(rows) > query.limit
        rows = rows[: query.limit]
        # An ``after`` cursor names the last row of the page before, so that page exists.
        has_prev = query.after is not None
    if not query.paged and not has_next:
        matches, capped = len(rows), False  # the whole result is on this page
    else:
        found = await _count(session, spec, _conditions(spec, query, scopes))
        if found is None:  # too slow to count: say what is certain
            matches, capped = len(rows) + has_next, True
        else:
            matches, capped = min(found, COUNT_CAP), found > COUNT_CAP
    return ListPage(
        rows,
        next_cursor=_cursor_of(spec, query.sort, rows[-1]) if has_next and rows else None,
        prev_cursor=_cursor_of(spec, query.sort, rows[0]) if has_prev and rows else None,
        matches=matches,
        capped=capped,
    )


# ---------------------------------------------------------------------------------------------
# Filter suggestions

_options_cache: dict[tuple[str, str, tuple[str, ...] | None], tuple[float, dict[str, list[str]]]]
_options_cache = {}


async def _values_in_use(
    session: AsyncSession, spec: ListSpec, scopes: Scopes
) -> dict[str, list[str]]:
    # One scan with GROUPING SETS instead of a DISTINCT per column (a third of the time on
    # 100k rows). Each result row carries the value of one set's column, the others NULL.
    fields = [f for f in spec.filters if f.kind == "text" and f.suggest]
    if not fields:
        return {}
    columns = [spec.column(f.target) for f in fields]
    stmt = (
        select(*columns)
        .where(*scope_condition(spec.table, scopes))
        .group_by(func.grouping_sets(*columns))
    )
    found: list[set[str]] = [set() for _ in fields]
    for row in await session.execute(stmt):
        for values, value in zip(found, row, strict=True):
            if value is not None:
                values.add(value)
    return {f.key: sorted(v)[:OPTIONS_SHOWN] for f, v in zip(fields, found, strict=True)}


async def filter_options(
    session: AsyncSession, spec: ListSpec, scopes: Scopes, cache_key: str
) -> dict[str, list[str]]:
    """The values in use for each suggested text filter, for the page's datalists.

    A DISTINCT over a large table is not free, and suggestions may lag behind imports without
    harm (any value can still be typed), so they are kept a few minutes per tenant and scope
    set (``cache_key`` names the tenant).
    """
    key = (cache_key, spec.entity, tuple(sorted(scopes)) if scopes is not None else None)
    now = time.monotonic()
    hit = _options_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    options = await _values_in_use(session, spec, scopes)
    if len(_options_cache) >= _OPTIONS_MAX_ENTRIES:
        _options_cache.clear()
    _options_cache[key] = (now + OPTIONS_TTL_SECONDS, options)
    return options


# ---------------------------------------------------------------------------------------------
# Twelve months of order lines


@dataclass(frozen=True)
class Money:
    """Revenue and margin of the window's lines in one currency; None when masked (or when no
    line carries a value). ``unreadable`` counts stored values that failed to authenticate and
    were left out of the sums."""

    currency: str | None
    lines: int
    revenue: float | None = None
    margin: float | None = None
    unreadable: int = 0

    @property
    def margin_share(self) -> float | None:
        if self.revenue is None or self.margin is None or self.revenue == 0:
            return None
        return self.margin / self.revenue


@dataclass(frozen=True)
class MonthDemand:
    month: date  # first day of the month
    lines: int
    quantity: float


@dataclass(frozen=True)
class OrderSummary:
    """Order lines from ``start`` through ``end`` (both inclusive)."""

    start: date
    end: date
    lines: int
    quantity: float
    on_time: int  # delivered on or before the promised (else requested) date
    on_time_measured: int  # delivered lines that had such a date
    customers: int
    masked: bool
    money: list[Money]
    months: list[MonthDemand] = field(default_factory=list)

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.on_time_measured if self.on_time_measured else None

    @property
    def variability(self) -> float | None:
        """Coefficient of variation of monthly quantity over the complete months (the current
        month is still running, so it is left out); None without demand."""
        complete = np.array([m.quantity for m in self.months[:-1]], dtype=np.float64)
        if complete.size < 2 or complete.mean() <= 0:
            return None
        return float(complete.std() / complete.mean())


def twelve_months(today: date) -> tuple[date, date]:
    """Twelve calendar months ending with the current one (to date): the first day of the
    month eleven months back, and ``today``."""
    index = today.year * 12 + today.month - 1 - 11
    return date(index // 12, index % 12 + 1, 1), today


def _month_starts(start: date, end: date) -> list[date]:
    first = start.year * 12 + start.month - 1
    last = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def summarise_money(
    rows: Sequence[tuple[str, int, str | None, bytes | None, bytes | None]], codec: FieldCodec
) -> list[Money]:
    """Revenue and margin per currency from ``(order_no, line_no, currency, revenue_enc,
    margin_enc)`` rows: decrypted in two batches, summed with numpy."""
    if not rows:
        return []
    order_nos, line_nos, currencies, revenue_enc, margin_enc = zip(*rows, strict=True)
    keys = [f"{o}/{n}" for o, n in zip(order_nos, line_nos, strict=True)]
    # "mark": a value that fails to authenticate becomes NaN and is counted below, so one bad
    # cell does not take the whole page down.
    revenue = codec.decrypt_floats(
        revenue_enc, table="order_lines", column="revenue", row_keys=keys, on_error="mark"
    )
    margin = codec.decrypt_floats(
        margin_enc, table="order_lines", column="margin", row_keys=keys, on_error="mark"
    )
    # "" stands for "no currency given" so numpy can group the column.
    labels, group = np.unique(np.array([c or "" for c in currencies]), return_inverse=True)
    lines = np.bincount(group, minlength=len(labels))
    revenue_sum, revenue_seen, revenue_bad = _per_currency(group, len(labels), revenue, revenue_enc)
    margin_sum, margin_seen, margin_bad = _per_currency(group, len(labels), margin, margin_enc)
    return [
        Money(
            currency=str(label) or None,
            lines=int(lines[i]),
            revenue=float(revenue_sum[i]) if revenue_seen[i] else None,
            margin=float(margin_sum[i]) if margin_seen[i] else None,
            unreadable=int(revenue_bad[i] + margin_bad[i]),
        )
        for i, label in enumerate(labels)
    ]


def _per_currency(
    group: npt.NDArray[np.intp],
    size: int,
    values: npt.NDArray[np.float64],
    blobs: Sequence[bytes | None],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Per group: the sum of the values, how many there were, and how many stored values
    failed to open (NaN although a ciphertext was stored)."""
    present = ~np.isnan(values)
    stored = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
    return (
        np.bincount(group, weights=np.where(present, values, 0.0), minlength=size),
        np.bincount(group, weights=present, minlength=size),
        np.bincount(group, weights=stored & ~present, minlength=size),
    )


async def _money(
    session: AsyncSession, where: list[ColumnElement[bool]], codec: FieldCodec | None
) -> list[Money]:
    ol = _LINES.c
    if codec is None:
        # Masked: the values are not even decrypted; line counts per currency still show.
        stmt = select(ol.currency, func.count()).where(*where).group_by(ol.currency)
        counted = await session.execute(stmt.order_by(ol.currency))
        return [Money(currency, int(lines)) for currency, lines in counted]
    stmt = select(ol.order_no, ol.line_no, ol.currency, ol.revenue_enc, ol.margin_enc)
    rows = [tuple(r) for r in await session.execute(stmt.where(*where))]
    # Thousands of AES-GCM opens: off the event loop, so other requests keep flowing.
    return await asyncio.to_thread(summarise_money, rows, codec)  # type: ignore[arg-type]


async def _months(
    session: AsyncSession, where: list[ColumnElement[bool]], start: date, end: date
) -> list[MonthDemand]:
    ol = _LINES.c
    month = func.date_trunc("month", ol.order_date)
    stmt = (
        select(month, func.count(), func.coalesce(func.sum(ol.quantity), 0))
        .where(*where)
        .group_by(month)
    )
    found = {m.date(): (int(n), float(q)) for m, n, q in await session.execute(stmt)}
    return [MonthDemand(m, *found.get(m, (0, 0.0))) for m in _month_starts(start, end)]


async def order_summary(
    session: AsyncSession,
    where: list[ColumnElement[bool]],
    window: tuple[date, date],
    codec: FieldCodec | None,
    *,
    monthly: bool = False,
) -> OrderSummary:
    """Totals of the order lines matching ``where`` inside ``window``; revenue and margin
    decrypted and summed here when ``codec`` is given, else masked."""
    ol = _LINES.c
    start, end = window
    where = [*where, ol.order_date >= start, ol.order_date <= end]
    due = func.coalesce(ol.promised_date, ol.requested_date)
    measured = and_(ol.delivered_date.is_not(None), due.is_not(None))
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ol.quantity), 0),
                func.count().filter(and_(measured, ol.delivered_date <= due)),
                func.count().filter(measured),
                func.count(func.distinct(ol.customer_code)),
            ).where(*where)
        )
    ).one()
    return OrderSummary(
        start=start,
        end=end,
        lines=int(totals[0]),
        quantity=float(totals[1]),
        on_time=int(totals[2]),
        on_time_measured=int(totals[3]),
        customers=int(totals[4]),
        masked=codec is None,
        money=await _money(session, where, codec) if totals[0] else [],
        months=await _months(session, where, start, end) if monthly else [],
    )


# ---------------------------------------------------------------------------------------------
# Detail of one record


@dataclass(frozen=True)
class HierarchyNode:
    """An account above or below the one shown. Above it, an account outside the reader's
    scopes is named by its code only (``visible`` False)."""

    code: str
    name: str | None
    account_type: str | None
    visible: bool = True
    children: int = 0  # sub-accounts the reader may see (children only)


@dataclass(frozen=True)
class Hierarchy:
    ancestors: list[HierarchyNode]  # the global account first, the direct parent last
    children: list[HierarchyNode]  # the first CHILDREN_SHOWN, by code
    children_total: int


@dataclass(frozen=True)
class SourceRecord:
    source_system: str
    source_key: str
    received_at: datetime
    source_updated_at: datetime | None
    record: dict[str, Any]


@dataclass(frozen=True)
class CustomerDetail:
    record: dict[str, Any]
    hierarchy: Hierarchy
    sources: list[SourceRecord]
    more_sources: bool
    orders: OrderSummary


@dataclass(frozen=True)
class ProductDetail:
    record: dict[str, Any]
    conversions: list[tuple[str, float]]  # (unit, base units in one of it)
    sources: list[SourceRecord]
    more_sources: bool
    demand: OrderSummary


async def _record(
    session: AsyncSession, table: FromClause, key: ColumnElement[Any], value: str, scopes: Scopes
) -> dict[str, Any] | None:
    shown = [c for c in table.c if c.name not in _HIDDEN_COLUMNS]
    stmt = select(*shown).where(key == value, *scope_condition(table, scopes))
    row = (await session.execute(stmt)).first()
    return dict(row._mapping) if row is not None else None


_NODE_COLUMNS = ("code", "name", "account_type", "scope", "parent_code")


async def _parent_chain(session: AsyncSession, parent: str) -> list[dict[str, Any]]:
    """The parent and its parents, nearest first (a recursive CTE over ``parent_code``)."""
    c, p = _CUSTOMERS.alias("c"), _CUSTOMERS.alias("p")
    start = select(*(c.c[n] for n in _NODE_COLUMNS), literal_column("1", Integer).label("depth"))
    chain = start.where(c.c.code == parent).cte("chain", recursive=True)
    chain = chain.union_all(
        select(*(p.c[n] for n in _NODE_COLUMNS), chain.c.depth + 1).where(
            p.c.code == chain.c.parent_code, chain.c.depth < MAX_HIERARCHY_DEPTH
        )
    )
    return [dict(r._mapping) for r in await session.execute(select(chain).order_by(chain.c.depth))]


async def _account(session: AsyncSession, code: str) -> dict[str, Any] | None:
    stmt = select(*(_CUSTOMERS.c[n] for n in _NODE_COLUMNS)).where(_CUSTOMERS.c.code == code)
    row = (await session.execute(stmt)).first()
    return dict(row._mapping) if row is not None else None


def _node(row: Mapping[str, Any], scopes: Scopes) -> HierarchyNode:
    if not _visible(row["scope"], scopes):
        return HierarchyNode(row["code"], None, None, visible=False)
    return HierarchyNode(row["code"], row["name"], row["account_type"])


async def _ancestors(
    session: AsyncSession, record: Mapping[str, Any], scopes: Scopes
) -> list[HierarchyNode]:
    """From the global account down to the direct parent."""
    parent, top = record["parent_code"], record["global_account_code"]
    rows = await _parent_chain(session, parent) if parent else []
    nodes = [_node(r, scopes) for r in rows]
    if top and top != record["code"] and all(r["code"] != top for r in rows):
        # The global account is not on the parent chain (the chain is shallower or broken):
        # show it on top all the same, it is what the account rolls up to. A code that names
        # no account is shown as a bare code.
        found = await _account(session, top)
        nodes.append(_node(found, scopes) if found else HierarchyNode(top, None, None, False))
    return nodes[::-1]


async def _children(
    session: AsyncSession, code: str, scopes: Scopes
) -> tuple[list[HierarchyNode], int]:
    child, grand = _CUSTOMERS.alias("child"), _CUSTOMERS.alias("grand")
    grandchildren = (
        select(func.count())
        .where(grand.c.parent_code == child.c.code, *scope_condition(grand, scopes))
        .scalar_subquery()
    )
    visible = [child.c.parent_code == code, *scope_condition(child, scopes)]
    stmt = (
        select(child.c.code, child.c.name, child.c.account_type, grandchildren)
        .where(*visible)
        .order_by(child.c.code)
        .limit(CHILDREN_SHOWN)
    )
    nodes = [HierarchyNode(c, n, t, True, int(g)) for c, n, t, g in await session.execute(stmt)]
    total = len(nodes)
    if total == CHILDREN_SHOWN:
        total = int((await session.execute(select(func.count()).where(*visible))).scalar_one())
    return nodes, total


async def _sources(
    session: AsyncSession, table: FromClause, link: ColumnElement[Any], value: str
) -> tuple[list[SourceRecord], bool]:
    t = table.c
    stmt = (
        select(t.source_system, t.source_key, t.received_at, t.source_updated_at, t.record)
        .where(link == value)
        .order_by(t.received_at.desc(), t.source_system, t.source_key)
        .limit(SOURCES_SHOWN + 1)
    )
    rows = [SourceRecord(*r) for r in await session.execute(stmt)]
    return rows[:SOURCES_SHOWN], len(rows) > SOURCES_SHOWN


async def customer_detail(
    session: AsyncSession, code: str, scopes: Scopes, codec: FieldCodec | None, today: date
) -> CustomerDetail | None:
    """One customer as the reader may see it; None when unknown or outside their scopes."""
    record = await _record(session, _CUSTOMERS, _CUSTOMERS.c.code, code, scopes)
    if record is None:
        return None
    children, total = await _children(session, code, scopes)
    sources, more = await _sources(
        session, _CUSTOMER_SOURCES, _CUSTOMER_SOURCES.c.customer_code, code
    )
    orders = await order_summary(
        session, [_LINES.c.customer_code == code], twelve_months(today), codec
    )
    hierarchy = Hierarchy(await _ancestors(session, record, scopes), children, total)
    return CustomerDetail(record, hierarchy, sources, more, orders)


async def product_detail(
    session: AsyncSession, sku: str, scopes: Scopes, codec: FieldCodec | None, today: date
) -> ProductDetail | None:
    """One product as the reader may see it; None when unknown or outside their scopes.

    A scoped reader's demand counts only order lines of customers inside their scopes: a
    regional planner sees their region's demand, not the world's.
    """
    record = await _record(session, _PRODUCTS, _PRODUCTS.c.sku, sku, scopes)
    if record is None:
        return None
    conv = _CONVERSIONS.c
    conversions = [
        (uom, float(factor))
        for uom, factor in await session.execute(
            select(conv.uom, conv.factor).where(conv.sku == sku).order_by(conv.uom)
        )
    ]
    sources, more = await _sources(session, _PRODUCT_SOURCES, _PRODUCT_SOURCES.c.sku, sku)
    where: list[ColumnElement[bool]] = [_LINES.c.sku == sku]
    if scopes is not None:
        in_scope = select(_CUSTOMERS.c.code).where(*scope_condition(_CUSTOMERS, scopes))
        where.append(_LINES.c.customer_code.in_(in_scope))
    demand = await order_summary(session, where, twelve_months(today), codec, monthly=True)
    return ProductDetail(record, conversions, sources, more, demand)
