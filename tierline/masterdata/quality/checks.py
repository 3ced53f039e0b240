"""Findings on plain columns: implausible order lines and missing attributes, counted where the
data lives (one aggregate query per table) with a few example keys each.

Row-level scope: with ``scopes`` given, customers and products are limited to those scopes and
order lines to the lines of customers in them (the account owns its order history, as on the
customer page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.masterdata.scopes import Scopes, scope_condition

EXAMPLES = 20
OVER_DELIVERY = Decimal("1.5")  # exact: the quantities are NUMERIC
_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__


@dataclass(frozen=True)
class Example:
    """A row a finding points at: its key, and the customer and product pages to open."""

    key: str  # customer code, SKU, or "order_no/line_no"
    customer_code: str | None = None
    sku: str | None = None


@dataclass(frozen=True)
class Finding:
    """Rows of one entity failing one check: how many, out of how many, and a few of them."""

    key: str  # stable identifier, e.g. "margin_above_revenue"
    label: str
    entity: str
    count: int
    total: int  # rows the check looked at (the share's denominator)
    examples: tuple[Example, ...] = ()

    @property
    def share(self) -> float | None:
        return self.count / self.total if self.total else None


@dataclass(frozen=True)
class _Check:
    key: str
    label: str
    condition: ColumnElement[bool]
    population: ColumnElement[bool] | None = None  # the rows the share is over; None: all


def _blank(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Missing: NULL, or only spaces (older loads wrote empty strings)."""
    return or_(column.is_(None), func.btrim(column) == "")


def customer_checks() -> list[_Check]:
    c = _CUSTOMERS.c
    return [
        _Check("region", "Region", _blank(c.region)),
        _Check("country", "Country", _blank(c.country)),
        _Check("channel", "Channel", _blank(c.channel)),
        _Check("account_manager_email", "Account manager", _blank(c.account_manager_email)),
        _Check("business_unit", "Business unit", _blank(c.business_unit)),
    ]


def product_checks() -> list[_Check]:
    p = _PRODUCTS.c
    npi = p.lifecycle == "npi"
    return [
        _Check("product_line", "Product line", _blank(p.product_line)),
        _Check("category", "Category", _blank(p.category)),
        _Check("lifecycle", "Lifecycle", _blank(p.lifecycle)),
        # A launch date only matters where segmentation treats a product as new (NPI).
        _Check("launch_date", "Launch date (NPI products)", p.launch_date.is_(None) & npi, npi),
    ]


def line_checks() -> list[_Check]:
    ol = _LINES.c
    return [
        _Check(
            "negative_quantity",
            "Negative quantity",
            or_(ol.quantity < 0, ol.ordered_quantity < 0, ol.delivered_quantity < 0),
        ),
        _Check(
            "over_delivered",
            f"Delivered more than {OVER_DELIVERY * 100:.0f}% of the ordered quantity",
            ol.delivered_quantity > ol.quantity * OVER_DELIVERY,
        ),
        _Check(
            "delivered_before_order",
            "Delivered before it was ordered",
            ol.delivered_date < ol.order_date,
        ),
    ]


def lines_in_scope(scopes: Scopes) -> list[ColumnElement[bool]]:
    """Order lines of customers in ``scopes`` (all lines when ``scopes`` is None)."""
    if scopes is None:
        return []
    if not scopes:
        return [false()]
    in_scope = select(_CUSTOMERS.c.code).where(*scope_condition(_CUSTOMERS, scopes))
    return [_LINES.c.customer_code.in_(in_scope)]


async def _counts(
    session: AsyncSession,
    table: FromClause,
    conditions: Sequence[ColumnElement[bool] | None],
    where: Sequence[ColumnElement[bool]],
) -> list[int]:
    """``count(*) FILTER (WHERE c)`` for every condition (None: every row), in one pass."""
    columns = [func.count() if c is None else func.count().filter(c) for c in conditions]
    stmt = select(*columns).select_from(table).where(*where)
    return [int(v) for v in (await session.execute(stmt)).one()]


def example_of(table: FromClause, row: Any) -> Example:
    if table is _CUSTOMERS:
        return Example(row.code, customer_code=row.code)
    if table is _PRODUCTS:
        return Example(row.sku, sku=row.sku)
    return Example(f"{row.order_no}/{row.line_no}", row.customer_code, row.sku)


def _example_query(table: FromClause) -> Select[Any]:
    if table is _CUSTOMERS:
        return select(table.c.code).order_by(table.c.code)
    if table is _PRODUCTS:
        return select(table.c.sku).order_by(table.c.sku)
    c = table.c
    return select(c.order_no, c.line_no, c.customer_code, c.sku).order_by(c.id)


async def _examples(
    session: AsyncSession,
    table: FromClause,
    condition: ColumnElement[bool],
    where: Sequence[ColumnElement[bool]],
) -> tuple[Example, ...]:
    stmt = _example_query(table).where(condition, *where).limit(EXAMPLES)
    return tuple(example_of(table, r) for r in await session.execute(stmt))


async def run_checks(
    session: AsyncSession,
    table: FromClause,
    entity: str,
    checks: Sequence[_Check],
    where: Sequence[ColumnElement[bool]],
) -> list[Finding]:
    """Counts of every check in one aggregate query, then examples for those that hit."""
    with_population = [c for c in checks if c.population is not None]
    counts = await _counts(
        session,
        table,
        [None, *[c.population for c in with_population], *[c.condition for c in checks]],
        where,
    )
    total, sizes = counts[0], counts[1 : 1 + len(with_population)]
    size_of = {c.key: size for c, size in zip(with_population, sizes, strict=True)}
    found = []
    for check, count in zip(checks, counts[1 + len(with_population) :], strict=True):
        examples = await _examples(session, table, check.condition, where) if count else ()
        found.append(
            Finding(check.key, check.label, entity, count, size_of.get(check.key, total), examples)
        )
    return found
