"""The master-data API's structs (customers and products, lists and detail), and the detail
records in their shape: revenue and margin null with ``masked`` true for readers without
``margin:read``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from tierline.masterdata.browse.detail import Hierarchy, HierarchyNode, SourceRecord
from tierline.masterdata.browse.orders import Money, OrderSummary
from tierline.platform.encryption import mask_value


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
    """A page of customers (``next_cursor`` as ``cursor`` for the next)."""

    items: list[CustomerItemOut]
    next_cursor: str | None
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
    """A page of products (``next_cursor`` as ``cursor`` for the next)."""

    items: list[ProductItemOut]
    next_cursor: str | None
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
    factor: float  # base units in one ``uom`` (rounded; ``ratio`` is exact)
    ratio: str  # exactly, as the ERP states it: "12", "0.5" or "10/9" (numerator/denominator)


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


def money_out(money: Money, allowed: bool) -> MoneyOut:
    revenue, masked = mask_value(money.revenue, allowed)
    margin, _ = mask_value(money.margin, allowed)
    return MoneyOut(money.currency, money.lines, revenue, margin, masked, money.unreadable)


def summary_fields(summary: OrderSummary, allowed: bool) -> dict[str, Any]:
    return {
        "period_start": summary.start,
        "period_end": summary.end,
        "lines": summary.lines,
        "quantity": summary.quantity,
        "on_time_share": summary.on_time_share,
        "on_time_measured": summary.on_time_measured,
        "masked": not allowed,
        "money": [money_out(m, allowed) for m in summary.money],
    }


def demand_out(summary: OrderSummary, allowed: bool) -> DemandSummaryOut:
    return DemandSummaryOut(
        **summary_fields(summary, allowed),
        customers=summary.customers,
        variability=summary.variability,
        months=[MonthOut(m.month.strftime("%Y-%m"), m.lines, m.quantity) for m in summary.months],
    )


def hierarchy_out(hierarchy: Hierarchy) -> HierarchyOut:
    def ref(node: HierarchyNode) -> AccountRefOut:
        return AccountRefOut(node.code, node.name, node.account_type, node.visible)

    return HierarchyOut(
        ancestors=[ref(n) for n in hierarchy.ancestors],
        children=[ChildOut(n.code, n.name, n.account_type, n.children) for n in hierarchy.children],
        children_total=hierarchy.children_total,
    )


def sources_out(sources: list[SourceRecord]) -> list[SourceOut]:
    return [
        SourceOut(s.source_system, s.source_key, s.received_at, s.source_updated_at, s.record)
        for s in sources
    ]
