"""Allocation of a customer's cost-to-serve records to its order lines, exactly, in integer
minor units.

A cost record is one amount per customer, month and cost type (freight, handling, returns).
Each amount is shared out over the customer's order lines ordered in that month, in proportion
to the driver the tenant chose for that cost type:

- ``lines``: every line carries the same share (activity-based costing's "per order line");
- ``units``: the base units ordered (quantity, kept to 4 decimals as an integer of 1/10,000);
- ``weight``: units x the product's ``weight_kg`` attribute (grams);
- ``value``: the line's revenue in minor units (credit notes carry none).

Shares are ``amount x driver / total`` floored, and the minor units the flooring leaves over
go one each to the lines with the largest remainders (Hamilton's largest-remainder method;
ties to the earlier line), so the shares of a record always add up to its amount exactly and
the same input always gives the same answer. The products are taken in 128-bit integers, so no
amount or driver is too large to be exact.

Records that cannot be shared out are refused with a reason and allocate nothing: a negative
amount, an unknown customer, a month in which the customer ordered nothing, a driver that
totals zero over the customer's lines (no division by zero). A refused record is reported,
never half-applied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

import polars as pl

Driver = Literal["lines", "units", "weight", "value"]
CostType = Literal["freight", "handling", "returns"]
DRIVERS: Final[tuple[Driver, ...]] = ("lines", "units", "weight", "value")
COST_TYPES: Final[tuple[CostType, ...]] = ("freight", "handling", "returns")
DEFAULT_DRIVERS: Final[Mapping[str, str]] = {
    "freight": "units",
    "handling": "lines",
    "returns": "value",
}
DRIVER_TEXT: Final[Mapping[Driver, str]] = {
    "lines": "order lines (each line an equal share)",
    "units": "base units ordered",
    "weight": "units x the product's weight_kg",
    "value": "the line's revenue",
}

# What the lines frame must carry (one row per order line): ``line`` orders the lines (ties in
# the remainder go to the smaller value), ``period`` is the month start of the order date.
LINE_COLUMNS: Final = ("line", "customer_code", "period", "lines", "units", "weight", "value")
COST_COLUMNS: Final = ("customer_code", "period", "cost_type", "amount")


@dataclass(frozen=True)
class RefusedCost:
    """A cost record that allocated nothing, and why (shown to the tenant as it stands)."""

    customer_code: str
    period: date
    cost_type: str
    amount: int  # minor units
    reason: str


@dataclass(frozen=True)
class Allocation:
    """``shares``: one row per order line with ``line`` and one Int64 column per cost type
    (minor units, 0 where nothing was allocated); ``refused``: the records left out."""

    shares: pl.DataFrame
    refused: list[RefusedCost]

    @property
    def refused_amount(self) -> int:
        return sum(r.amount for r in self.refused if r.amount > 0)


def month_start(day: date) -> date:
    return day.replace(day=1)


def _check_drivers(drivers: Mapping[str, str]) -> None:
    for cost_type, driver in drivers.items():
        if cost_type not in COST_TYPES:
            raise ValueError(f"unknown cost type {cost_type!r}; one of {', '.join(COST_TYPES)}")
        if driver not in DRIVERS:
            raise ValueError(f"unknown driver {driver!r}; one of {', '.join(DRIVERS)}")


def _refuse(frame: pl.DataFrame, reason: str | pl.Expr) -> list[RefusedCost]:
    if frame.height == 0:
        return []
    reasons = frame.with_columns(
        (reason if isinstance(reason, pl.Expr) else pl.lit(reason)).alias("reason")
    )["reason"]
    return [
        RefusedCost(row["customer_code"], row["period"], row["cost_type"], row["amount"], text)
        for row, text in zip(frame.iter_rows(named=True), reasons, strict=True)
    ]


def _screen(
    costs: pl.DataFrame, lines: pl.DataFrame, known: Collection[str] | None
) -> tuple[pl.DataFrame, list[RefusedCost]]:
    """The records that can be shared out, and the refused ones with their reasons."""
    refused: list[RefusedCost] = []
    negative = pl.col("amount") < 0
    refused += _refuse(costs.filter(negative), "negative cost: a cost cannot be below zero")
    costs = costs.filter(~negative)
    if known is not None:
        unknown = ~pl.col("customer_code").is_in(list(known))
        refused += _refuse(costs.filter(unknown), "unknown customer: no such customer code")
        costs = costs.filter(~unknown)
    ordered = lines.select("customer_code", "period").unique()
    orphan = costs.join(ordered, on=["customer_code", "period"], how="anti")
    refused += _refuse(orphan, "no order lines of this customer in this period to carry the cost")
    costs = costs.join(ordered, on=["customer_code", "period"], how="semi")
    # Several records of one customer, month and type (e.g. weekly ones) are one pool.
    costs = costs.group_by("customer_code", "period", "cost_type").agg(pl.col("amount").sum())
    return costs, refused


def _largest(column: pl.Series) -> int:
    value = column.max()
    return int(value) if isinstance(value, int) else 0


def _share_out(lines: pl.DataFrame, pools: pl.DataFrame, driver: str) -> pl.DataFrame:
    """One cost type: ``line, share`` for the lines of every pool (pools with a positive
    driver total only). Products are exact: in 64-bit integers when the largest amount times
    the largest driver fits, else in 128-bit ones (slower, never wrong)."""
    keys = ["customer_code", "period"]
    frame = lines.select(
        "line", *keys, pl.col(driver).fill_null(0).clip(lower_bound=0).alias("driver")
    ).join(pools, on=keys, how="inner", maintain_order="left")
    biggest = _largest(frame["amount"]) * _largest(frame["driver"])  # Python ints: exact
    wide = pl.Int64 if biggest < 2**62 else pl.Int128
    product = pl.col("amount").cast(wide) * pl.col("driver").cast(wide)
    total = pl.col("driver").cast(wide).sum().over(keys)
    frame = frame.with_columns(total.alias("total")).filter(pl.col("total") > 0)
    frame = frame.with_columns(
        (product // pl.col("total")).alias("base"), (product % pl.col("total")).alias("rest")
    ).with_columns((pl.col("amount") - pl.col("base").sum().over(keys)).alias("left"))
    # The leftover units go to the largest remainders, ties to the earlier line: the lines
    # are in ``line`` order, so an ordinal rank of the descending remainder breaks ties so.
    rank = pl.col("rest").rank("ordinal", descending=True).over(keys)
    return frame.select(
        "line",
        (pl.col("base") + (rank <= pl.col("left")).cast(wide)).cast(pl.Int64).alias("share"),
    )


def _zero_totals(
    lines: pl.DataFrame, pools: pl.DataFrame, cost_type: str, driver: str
) -> list[RefusedCost]:
    keys = ["customer_code", "period"]
    totals = lines.group_by(keys).agg(
        pl.col(driver).fill_null(0).clip(lower_bound=0).sum().alias("total")
    )
    zero = pools.join(totals, on=keys, how="left").filter(pl.col("total").fill_null(0) == 0)
    return _refuse(
        zero.select(*keys, pl.lit(cost_type).alias("cost_type"), "amount"),
        f"the driver '{driver}' totals zero over this customer's lines in the period: "
        "nothing to divide by",
    )


def allocate(
    lines: pl.DataFrame,
    costs: pl.DataFrame,
    drivers: Mapping[str, str] = DEFAULT_DRIVERS,
    known_customers: Collection[str] | None = None,
) -> Allocation:
    """Share every cost record out over its customer's lines of the month (module docstring).

    ``lines`` has :data:`LINE_COLUMNS` (``weight`` and ``value`` may be null: no share by that
    driver), ``costs`` has :data:`COST_COLUMNS` with ``amount`` in minor units; ``drivers``
    maps each cost type to its driver; ``known_customers`` (None: do not check) are the codes
    a record may name.
    """
    _check_drivers(drivers)
    costs = costs.select(
        pl.col("customer_code").cast(pl.String),
        pl.col("period").cast(pl.Date),
        pl.col("cost_type").cast(pl.String),
        pl.col("amount").cast(pl.Int64),
    )
    untyped = costs.filter(~pl.col("cost_type").is_in(list(drivers)))
    refused = _refuse(untyped, "cost type has no driver chosen")
    pools, screened = _screen(
        costs.filter(pl.col("cost_type").is_in(list(drivers))), lines, known_customers
    )
    refused += screened

    ordered = lines.sort("line")
    shares = ordered.select(pl.col("line").cast(pl.Int64))
    for cost_type in COST_TYPES:
        driver = drivers.get(cost_type)
        pools_of_type = pools.filter(pl.col("cost_type") == cost_type).drop("cost_type")
        if driver is None or pools_of_type.is_empty():
            shares = shares.with_columns(pl.lit(0, pl.Int64).alias(cost_type))
            continue
        refused += _zero_totals(ordered, pools_of_type, cost_type, driver)
        shared = _share_out(ordered, pools_of_type, driver).rename({"share": cost_type})
        shares = shares.join(
            shared.with_columns(pl.col("line").cast(pl.Int64)), on="line", how="left"
        ).with_columns(pl.col(cost_type).fill_null(0))
    return Allocation(
        shares, sorted(refused, key=lambda r: (r.customer_code, r.period, r.cost_type))
    )
