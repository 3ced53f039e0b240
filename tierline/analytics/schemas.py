"""What the analytics API answers (msgspec structs, so the OpenAPI document describes them),
and the one place money is masked: a reader without ``margin:read`` gets ``null`` for every
money figure and every ratio of money (aggregates too) with ``masked: true``.

Money is in integer minor units (cents) of the tenant's currency, named ``*_minor``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import polars as pl

from tierline.analytics.cohorts.did import Estimate
from tierline.analytics.cohorts.figures import CohortAnalysis
from tierline.analytics.cohorts.panel import METRIC_TEXT
from tierline.analytics.cost_to_serve.allocation import DRIVER_TEXT
from tierline.analytics.cost_to_serve.figures import CostToServe
from tierline.analytics.impact.figures import Impact

MONEY_COLUMNS = (
    "revenue",
    "margin",
    "freight",
    "handling",
    "returns",
    "cost_to_serve",
    "margin_after_cts",
)


class CostRow(msgspec.Struct, kw_only=True):
    """One group of order lines (a segment, region and month; or a segment; or a customer)."""

    segment: str | None = None
    region: str | None = None
    period: date | None = None
    customer_code: str | None = None
    customer_name: str | None = None
    customers: int
    lines: int
    revenue_minor: int | None
    margin_minor: int | None
    freight_minor: int | None
    handling_minor: int | None
    returns_minor: int | None
    cost_to_serve_minor: int | None
    margin_after_cts_minor: int | None
    cts_share: float | None  # cost-to-serve / revenue; null where revenue is not positive
    masked: bool


class WhalePoint(msgspec.Struct):
    customer_share: float
    cumulative_profit_minor: int


class WhaleCurveOut(msgspec.Struct, kw_only=True):
    """Cumulative profit after cost-to-serve, customers from most to least profitable."""

    customers: int
    unprofitable_customers: int
    total_profit_minor: int
    peak_profit_minor: int
    peak_customer_share: float
    points: list[WhalePoint]


class RefusedCostOut(msgspec.Struct, kw_only=True):
    customer_code: str
    period: date
    cost_type: str
    amount_minor: int | None
    reason: str


class Driver(msgspec.Struct):
    cost_type: str
    driver: str
    meaning: str


class CostToServeReport(msgspec.Struct, kw_only=True):
    """Cost-to-serve of a window of months under the tenant's drivers."""

    first_month: date
    last_month: date
    scheme_code: str | None
    drivers: list[Driver]
    rows: list[CostRow]
    segments: list[CostRow]
    whale: WhaleCurveOut | None  # null when masked: its shape is profit
    refused: list[RefusedCostOut]
    unreadable_values: int
    lines: int
    masked: bool


class EstimateOut(msgspec.Struct, kw_only=True):
    """A difference in differences; ``effect``/``low``/``high`` null when a cohort is too
    small (``note`` says so); ``clear``: the interval excludes zero."""

    metric: str
    meaning: str
    movers: int
    stayers: int
    movers_before: float | None
    movers_after: float | None
    stayers_before: float | None
    stayers_after: float | None
    effect: float | None
    low: float | None
    high: float | None
    clear: bool
    note: str | None


class CohortGroupOut(msgspec.Struct):
    from_segment: str
    to_segment: str
    movers: int
    matched: int


class CohortReport(msgspec.Struct, kw_only=True):
    """Movers of a month against matched stayers, before and after (no money involved)."""

    scheme_code: str
    month: date
    months: int
    before_first: date
    after_last: date
    churn_months: int
    after_complete: bool  # false: the order history ends inside the after window
    movers: int
    matched: int
    unmatched: list[str]
    groups: list[CohortGroupOut]
    estimates: list[EstimateOut]
    upward: list[EstimateOut]
    downward: list[EstimateOut]


class SettingsOut(msgspec.Struct, kw_only=True):
    scheme_code: str | None
    freight_driver: str
    handling_driver: str
    returns_driver: str
    churn_months: int


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The tenant's analytics choices (drivers: lines, units, weight or value)."""

    scheme_code: str | None = None
    freight_driver: str = "units"
    handling_driver: str = "lines"
    returns_driver: str = "value"
    churn_months: int = msgspec.field(default=3)


def _money(value: Any, masked: bool) -> int | None:
    return None if masked or value is None else int(value)


def cost_rows(frame: pl.DataFrame, masked: bool) -> list[CostRow]:
    rows = []
    for r in frame.iter_rows(named=True):
        money = {f"{c}_minor": _money(r.get(c), masked) for c in MONEY_COLUMNS}
        share = r.get("cts_share")
        rows.append(
            CostRow(
                segment=r.get("segment"),
                region=r.get("region"),
                period=r.get("period"),
                customer_code=r.get("customer_code"),
                customer_name=r.get("name"),
                customers=int(r.get("customers") or 0),
                lines=int(r["lines"]),
                cts_share=None if masked or share is None else round(float(share), 6),
                masked=masked,
                **money,
            )
        )
    return rows


def cost_to_serve_report(report: CostToServe, masked: bool) -> CostToServeReport:
    whale = report.whale
    return CostToServeReport(
        first_month=report.window.first,
        last_month=report.window.last,
        scheme_code=report.choices.scheme_code,
        drivers=[
            Driver(cost_type, driver, DRIVER_TEXT[driver])  # type: ignore[index]
            for cost_type, driver in report.choices.drivers.items()
        ],
        rows=cost_rows(report.table, masked),
        segments=cost_rows(report.by_segment, masked),
        whale=None
        if masked
        else WhaleCurveOut(
            customers=whale.customers,
            unprofitable_customers=whale.unprofitable,
            total_profit_minor=whale.total,
            peak_profit_minor=whale.peak,
            peak_customer_share=round(whale.peak_share, 6),
            points=[WhalePoint(round(s, 6), p) for s, p in whale.points],
        ),
        refused=[
            RefusedCostOut(
                customer_code=r.customer_code,
                period=r.period,
                cost_type=r.cost_type,
                amount_minor=None if masked else r.amount,
                reason=r.reason,
            )
            for r in report.refused
        ],
        unreadable_values=report.unreadable,
        lines=report.lines,
        masked=masked,
    )


def _estimate(e: Estimate) -> EstimateOut:
    def num(v: float | None) -> float | None:
        return None if v is None else round(v, 6)

    return EstimateOut(
        metric=e.metric,
        meaning=METRIC_TEXT.get(e.metric, e.metric),
        movers=e.movers,
        stayers=e.stayers,
        movers_before=num(e.movers_before),
        movers_after=num(e.movers_after),
        stayers_before=num(e.stayers_before),
        stayers_after=num(e.stayers_after),
        effect=num(e.effect),
        low=num(e.low),
        high=num(e.high),
        clear=e.clear,
        note=e.note,
    )


def cohort_report(result: CohortAnalysis) -> CohortReport:
    w = result.windows
    return CohortReport(
        scheme_code=result.scheme_code,
        month=w.month,
        months=w.months,
        before_first=w.before[0],
        after_last=w.after[1],
        churn_months=result.churn_periods,
        after_complete=result.after_complete,
        movers=result.movers,
        matched=result.matched,
        unmatched=result.unmatched,
        groups=[
            CohortGroupOut(g.from_segment, g.to_segment, g.movers, g.matched) for g in result.groups
        ],
        estimates=[_estimate(e) for e in result.estimates],
        upward=[_estimate(e) for e in result.by_direction.get("up", [])],
        downward=[_estimate(e) for e in result.by_direction.get("down", [])],
    )


class ImpactGroup(msgspec.Struct, kw_only=True):
    """The accounts moving under one account manager (or in one sales region)."""

    key: str
    accounts: int
    upgrades: int
    downgrades: int
    revenue_minor: int | None  # trailing twelve months; null when masked
    customers: list[str]  # the first account codes
    masked: bool


class ServiceChangeOut(msgspec.Struct, kw_only=True):
    scheme_code: str
    from_segment: str | None
    to_segment: str
    accounts: int
    changes: list[str]  # "name: old → new", one per entitlement the customers would see change


class ImpactReport(msgspec.Struct, kw_only=True):
    """The impact of the pending reclassification on accounts, sales and customers."""

    changes: int
    revenue_since: date
    revenue_until: date
    by_account_manager: list[ImpactGroup]
    by_region: list[ImpactGroup]
    service_changes: list[ServiceChangeOut]
    unreadable_values: int
    masked: bool


def _groups(frame: pl.DataFrame, key: str, masked: bool) -> list[ImpactGroup]:
    return [
        ImpactGroup(
            key=r[key],
            accounts=int(r["accounts"]),
            upgrades=int(r["upgrades"]),
            downgrades=int(r["downgrades"]),
            revenue_minor=None if masked else int(r["revenue"] or 0),
            customers=list(r["customers"]),
            masked=masked,
        )
        for r in frame.iter_rows(named=True)
    ]


def impact_report(impact: Impact, masked: bool) -> ImpactReport:
    tables = impact.tables
    return ImpactReport(
        changes=tables.moves.height,
        revenue_since=impact.since,
        revenue_until=impact.until,
        by_account_manager=_groups(tables.by_manager, "account_manager", masked),
        by_region=_groups(tables.by_region, "region", masked),
        service_changes=[
            ServiceChangeOut(
                scheme_code=s.scheme_code,
                from_segment=s.from_segment,
                to_segment=s.to_segment,
                accounts=s.accounts,
                changes=s.changes,
            )
            for s in impact.service
        ],
        unreadable_values=impact.unreadable,
        masked=masked,
    )


class PriceTermOut(msgspec.Struct, kw_only=True):
    """A service surcharge (positive) or discount (negative), basis points of order value."""

    id: int
    scheme_code: str
    segment: str | None
    feature: str | None
    adjustment_bp: int
    valid_from: date
    valid_to: date | None
    note: str | None


class PriceClauseOut(msgspec.Struct, kw_only=True):
    """A contract's pricing clause (basis points; null: not agreed)."""

    customer_code: str
    contract_reference: str
    max_surcharge_bp: int | None
    min_discount_bp: int | None
