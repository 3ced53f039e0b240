"""The detail of one customer (hierarchy, source records, twelve months of orders) or one
product (unit conversions, source records, twelve months of demand), as the reader may see it:
a record outside their scopes does not exist for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Integer, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.browse.orders import OrderSummary, order_summary, twelve_months
from tierline.masterdata.models import (
    Customer,
    CustomerSource,
    OrderLine,
    Product,
    ProductSource,
    UomConversion,
)
from tierline.masterdata.scopes import Scopes, scope_condition, visible
from tierline.platform.encryption import FieldCodec

CHILDREN_SHOWN = 50
SOURCES_SHOWN = 50
MAX_HIERARCHY_DEPTH = 12  # guards the parent walk against a cycle in imported data
_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__
_CUSTOMER_SOURCES = CustomerSource.__table__
_PRODUCT_SOURCES = ProductSource.__table__
_CONVERSIONS = UomConversion.__table__
_HIDDEN_COLUMNS = frozenset({"id", "row_hash"})


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
class Conversion:
    """One unit of a product holds ``factor / denominator`` base units, exactly."""

    uom: str
    factor: Decimal
    denominator: Decimal

    @property
    def ratio(self) -> str:
        """``12``, ``0.5`` or ``10/9``: the exact figure, as the ERP states it."""
        top, bottom = (f"{d.normalize():f}" for d in (self.factor, self.denominator))
        return top if bottom == "1" else f"{top}/{bottom}"

    @property
    def value(self) -> float:
        """Base units in one unit, for showing (rounded)."""
        return float(self.factor / self.denominator)


@dataclass(frozen=True)
class ProductDetail:
    record: dict[str, Any]
    conversions: list[Conversion]
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
    if not visible(row["scope"], scopes):
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
        Conversion(uom, factor, denominator)
        for uom, factor, denominator in await session.execute(
            select(conv.uom, conv.factor, conv.denominator)
            .where(conv.sku == sku)
            .order_by(conv.uom)
        )
    ]
    sources, more = await _sources(session, _PRODUCT_SOURCES, _PRODUCT_SOURCES.c.sku, sku)
    where: list[ColumnElement[bool]] = [_LINES.c.sku == sku]
    if scopes is not None:
        in_scope = select(_CUSTOMERS.c.code).where(*scope_condition(_CUSTOMERS, scopes))
        where.append(_LINES.c.customer_code.in_(in_scope))
    demand = await order_summary(session, where, twelve_months(today), codec, monthly=True)
    return ProductDetail(record, conversions, sources, more, demand)
