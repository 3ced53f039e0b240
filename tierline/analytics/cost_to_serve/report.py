"""Cost-to-serve and margin by segment x region x period, and the whale curve: pure functions
over frames (the service reads and decrypts, this module only adds up).

Money is in integer minor units (cents) from the moment it is decrypted: a decrypted value is
taken to the nearest cent (values are stored with at most two decimals, and every float below
2**53 / 100 holds a two-decimal value closer than half a cent), then every sum is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from tierline.analytics.cost_to_serve.allocation import COST_TYPES

UNASSIGNED: Final = "(unassigned)"
NO_REGION: Final = "(no region)"
WHALE_POINTS: Final = 100  # points kept on the curve: enough for a chart, small for the API
MINOR: Final = 100  # minor units per major unit (two-decimal currencies)


def minor_units(column: str) -> pl.Expr:
    """A decrypted Float64 money column as Int64 cents (null stays null)."""
    return (pl.col(column) * MINOR).round(0).cast(pl.Int64)


def segment_at_order_date(lines: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """``lines`` with ``segment``: the customer's assignment in force at the start of the
    order date (``valid_from <= day < valid_to``), :data:`UNASSIGNED` where none was."""
    stamp = pl.Datetime("us", "UTC")
    keyed = lines.with_columns(pl.col("order_date").cast(stamp).alias("_at")).sort("_at")
    spans = history.select(
        "customer_code", pl.col("valid_from").alias("_at"), "segment", "valid_to"
    ).sort("_at")
    joined = keyed.join_asof(
        spans, on="_at", by="customer_code", strategy="backward", check_sortedness=False
    )
    in_force = pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("_at"))
    return joined.with_columns(
        pl.when(pl.col("segment").is_not_null() & in_force)
        .then(pl.col("segment"))
        .otherwise(pl.lit(UNASSIGNED))
        .alias("segment")
    ).drop("_at", "valid_to")


def prepare_lines(
    lines: pl.DataFrame,
    history: pl.DataFrame,
    customers: pl.DataFrame,
    weights: pl.DataFrame,
) -> pl.DataFrame:
    """Decrypted order lines made ready for allocation and reporting: month ``period``, the
    four drivers (``lines``, ``units`` in 1/10,000, ``weight`` in grams, ``value`` in cents),
    ``revenue`` and ``margin`` in cents, ``segment`` at the order date and ``region``."""
    regions = customers.select("customer_code", "region")
    prepared = (
        lines.join(weights, on="sku", how="left")
        .join(regions, on="customer_code", how="left")
        .with_columns(
            pl.col("order_date").dt.truncate("1mo").alias("period"),
            pl.lit(1, pl.Int64).alias("lines"),
            (pl.col("quantity") * 10_000).round(0).cast(pl.Int64).alias("units"),
            (pl.col("quantity") * pl.col("weight_kg") * 1_000)
            .round(0)
            .cast(pl.Int64)
            .alias("weight"),
            minor_units("revenue").alias("revenue"),
            minor_units("margin").alias("margin"),
            pl.col("region").fill_null(NO_REGION),
        )
        .with_columns(pl.col("revenue").clip(lower_bound=0).alias("value"))
    )
    return segment_at_order_date(prepared, history)


@dataclass(frozen=True)
class WhaleCurve:
    """Cumulative profit after cost-to-serve, customers ranked from most to least profitable.
    ``points``: (share of customers, cumulative profit in cents) at up to
    :data:`WHALE_POINTS` + 1 places, from (0, 0) to (1, total); ``peak``: the highest
    cumulative profit and the share of customers that earn it."""

    customers: int
    total: int
    peak: int
    peak_share: float
    points: list[tuple[float, int]]
    unprofitable: int  # customers whose profit after cost-to-serve is below zero


GROUP_KEYS: Final = ("segment", "region", "period")


def with_costs(prepared: pl.DataFrame, shares: pl.DataFrame) -> pl.DataFrame:
    """Lines with their allocated ``freight``, ``handling``, ``returns`` and the sum
    ``cost_to_serve`` (cents)."""
    return (
        prepared.join(shares, on="line", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in COST_TYPES)
        .with_columns(pl.sum_horizontal(*COST_TYPES).alias("cost_to_serve"))
    )


def _money_sums() -> list[pl.Expr]:
    return [
        pl.col("revenue").sum().alias("revenue"),
        pl.col("margin").sum().alias("margin"),
        *(pl.col(c).sum().alias(c) for c in COST_TYPES),
        pl.col("cost_to_serve").sum().alias("cost_to_serve"),
    ]


def _after_costs(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        (pl.col("margin") - pl.col("cost_to_serve")).alias("margin_after_cts"),
        pl.when(pl.col("revenue") > 0)
        .then(pl.col("cost_to_serve") / pl.col("revenue"))
        .otherwise(None)
        .alias("cts_share"),
    )


def cts_table(costed: pl.DataFrame, keys: tuple[str, ...] = GROUP_KEYS) -> pl.DataFrame:
    """Per ``keys``: ``customers``, ``lines``, revenue, margin, each cost type, cost-to-serve,
    margin after cost-to-serve (cents) and cost-to-serve as a share of revenue (null where
    revenue is not positive)."""
    grouped = costed.group_by(*keys).agg(
        pl.col("customer_code").n_unique().alias("customers"),
        pl.len().alias("lines"),
        *_money_sums(),
    )
    return _after_costs(grouped).sort(*keys)


def whale_curve(costed: pl.DataFrame) -> WhaleCurve:
    """The whale curve of profit after cost-to-serve by customer (ties by customer code)."""
    profit = (
        costed.group_by("customer_code")
        .agg((pl.col("margin").sum() - pl.col("cost_to_serve").sum()).alias("profit"))
        .sort(["profit", "customer_code"], descending=[True, False])
    )
    n = profit.height
    if n == 0:
        return WhaleCurve(0, 0, 0, 0.0, [(0.0, 0)], 0)
    cumulative = profit["profit"].cum_sum()
    peak_at = int(cumulative.arg_max() or 0)
    steps = sorted({round(i * n / WHALE_POINTS) for i in range(WHALE_POINTS + 1)} | {peak_at + 1})
    points = [(0.0, 0)] + [(k / n, int(cumulative[k - 1])) for k in steps if k > 0]
    return WhaleCurve(
        customers=n,
        total=int(cumulative[-1]),
        peak=int(cumulative[peak_at]),
        peak_share=(peak_at + 1) / n,
        points=points,
        unprofitable=int((profit["profit"] < 0).sum()),
    )
