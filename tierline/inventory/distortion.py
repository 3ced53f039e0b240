"""Inventory distortion: actual positions against targets by segment and location, the network
expense of high tiers holding too much where lower tiers hold too little, and root causes.

Decisions (README "Simulation, multi-echelon buffers and distortion"):

- the measure is stock on hand (``measure="on_hand"``) or the inventory position, on hand +
  on order - backorders (``measure="position"``);
- a row is a **stock-out** when the measure is 0 or less, **below safety stock** when it is
  under the safety stock, **above max** when it exceeds the maximum level, otherwise
  **within target**; differences smaller than ``tolerance_units`` (a millionth of a base unit
  by default) count as equal, so float noise in stored quantities never flips a status;
- money is integer minor units: a row's value is its units times the unit value (minor units
  per base unit) rounded to the nearest minor unit, halves to even; sums are exact integer sums;
  without unit values there are no value columns' contents (null), never a float guess;
- **network expense**: a location where a higher tier (smaller tier number) holds stock above
  its maximum while a lower tier is below its safety stock: capital sits in the wrong segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import polars as pl

REQUIRED = {
    "sku": pl.String,
    "location": pl.String,
    "segment": pl.String,
    "tier": pl.Int64,
    "on_hand": pl.Float64,
    "safety_stock": pl.Float64,
    "reorder_point": pl.Float64,
    "max_level": pl.Float64,
}
OPTIONAL = {"on_order": pl.Float64, "backorders": pl.Float64, "unit_value_minor": pl.Int64}


class GapStatus(StrEnum):
    STOCKOUT = "stockout"
    BELOW_SAFETY_STOCK = "below_safety_stock"
    WITHIN_TARGET = "within_target"
    ABOVE_MAX = "above_max"
    MISSING_DATA = "missing_data"


@dataclass(frozen=True)
class DistortionSettings:
    measure: Literal["on_hand", "position"] = "on_hand"
    tolerance_units: float = 1e-6


@dataclass(frozen=True)
class DistortionReport:
    """``rows``: per SKU-location the measure, status, units and value above max and below
    safety stock; ``by_location_segment``: the same summed per location and segment (counts per
    status, units, integer minor-unit values); ``network_expense``: one row per location with
    the finding; ``flags``: rows that could not be judged and why."""

    rows: pl.DataFrame
    by_location_segment: pl.DataFrame
    network_expense: pl.DataFrame
    flags: pl.DataFrame


def _prepare(positions: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED if c not in positions.columns]
    if missing:
        raise ValueError(f"positions lack columns: {', '.join(missing)}")
    frame = positions.with_columns(
        *(pl.col(c).cast(t) for c, t in REQUIRED.items()),
        *(
            pl.col(c).cast(t) if c in positions.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in OPTIONAL.items()
        ),
    )
    return frame.with_columns(
        pl.col("on_order").fill_null(0.0), pl.col("backorders").fill_null(0.0)
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


def _problems() -> list[tuple[pl.Expr, str, str]]:
    def absent(*columns: str) -> pl.Expr:
        return pl.any_horizontal(pl.col(c).is_null() for c in columns)

    return [
        (absent("on_hand"), "position_missing", "no stock on hand recorded"),
        (
            absent("safety_stock", "reorder_point", "max_level"),
            "target_missing",
            "no target (safety stock, reorder point, maximum) for this SKU-location",
        ),
        (
            pl.col("max_level") < pl.col("safety_stock"),
            "target_inconsistent",
            "the maximum level is below the safety stock",
        ),
        (
            pl.col("unit_value_minor") < 0,
            "unit_value_invalid",
            "the unit value is negative",
        ),
        (absent("segment", "tier"), "segment_missing", "the SKU-location has no segment"),
    ]


def assess_distortion(
    positions: pl.DataFrame, settings: DistortionSettings | None = None
) -> DistortionReport:
    """Judge every SKU-location of ``positions`` (columns ``REQUIRED``, optionally
    ``OPTIONAL``; quantities in base units, ``unit_value_minor`` in minor units per base unit)
    against its targets."""
    settings = settings or DistortionSettings()
    tol = settings.tolerance_units
    frame = _prepare(positions).with_row_index("row")
    problems = _problems()
    frame = frame.with_columns(
        pl.any_horizontal(expr.fill_null(False) for expr, _c, _r in problems).alias("missing")
    )
    measure = (
        pl.col("on_hand")
        if settings.measure == "on_hand"
        else pl.col("on_hand") + pl.col("on_order") - pl.col("backorders")
    )
    frame = frame.with_columns(measure.alias("measure"))
    status = (
        pl.when(pl.col("missing"))
        .then(pl.lit(GapStatus.MISSING_DATA.value))
        .when(pl.col("measure") <= tol)
        .then(pl.lit(GapStatus.STOCKOUT.value))
        .when(pl.col("measure") < pl.col("safety_stock") - tol)
        .then(pl.lit(GapStatus.BELOW_SAFETY_STOCK.value))
        .when(pl.col("measure") > pl.col("max_level") + tol)
        .then(pl.lit(GapStatus.ABOVE_MAX.value))
        .otherwise(pl.lit(GapStatus.WITHIN_TARGET.value))
    )
    excess = pl.when(pl.col("status") == GapStatus.ABOVE_MAX.value).then(
        pl.col("measure") - pl.col("max_level")
    )
    short = pl.when(
        pl.col("status").is_in([GapStatus.STOCKOUT.value, GapStatus.BELOW_SAFETY_STOCK.value])
    ).then(pl.max_horizontal(pl.col("safety_stock") - pl.col("measure"), pl.lit(0.0)))
    frame = (
        frame.with_columns(status.alias("status"))
        .with_columns(
            excess.fill_null(0.0).alias("excess_units"),
            short.fill_null(0.0).alias("shortfall_units"),
            pl.when(pl.col("status") != GapStatus.MISSING_DATA.value)
            .then(pl.col("measure") < pl.col("reorder_point") - tol)
            .alias("below_reorder_point"),
        )
        .with_columns(
            _value("excess_units").alias("excess_value_minor"),
            _value("shortfall_units").alias("shortfall_value_minor"),
        )
    )
    flags = pl.concat(
        [
            frame.filter(expr.fill_null(False)).select(
                "row", pl.lit(code).alias("code"), pl.lit(reason).alias("reason")
            )
            for expr, code, reason in problems
        ]
    ).sort("row", "code")
    rows = frame.drop("missing")
    summary = _by_location_segment(rows)
    return DistortionReport(rows, summary, _network_expense(summary), flags)


def _value(units: str) -> pl.Expr:
    """Units times unit value, rounded half to even to whole minor units (exact integers)."""
    product = pl.col(units) * pl.col("unit_value_minor").cast(pl.Float64)
    return (
        pl.when(pl.col("unit_value_minor").is_not_null())
        .then(product.map_batches(_round_half_even, return_dtype=pl.Int64))
        .otherwise(None)
    )


def _round_half_even(series: pl.Series) -> pl.Series:
    values = series.to_numpy()
    finite = np.isfinite(values)
    rounded = np.rint(np.where(finite, values, 0.0)).astype(np.int64)
    return pl.Series(series.name, rounded, dtype=pl.Int64).set(pl.Series(~finite), None)


def _by_location_segment(rows: pl.DataFrame) -> pl.DataFrame:
    def count(status: GapStatus) -> pl.Expr:
        return (pl.col("status") == status.value).sum().alias(status.value)

    return (
        rows.group_by("location", "segment", "tier")
        .agg(
            pl.len().alias("sku_locations"),
            *(count(s) for s in GapStatus),
            pl.col("excess_units").sum(),
            pl.col("shortfall_units").sum(),
            pl.col("excess_value_minor").sum(),
            pl.col("shortfall_value_minor").sum(),
            pl.col("unit_value_minor").is_null().any().alias("value_incomplete"),
        )
        .sort("location", "tier", "segment", nulls_last=True)
    )


def _network_expense(summary: pl.DataFrame) -> pl.DataFrame:
    """Per location: the highest tier holding stock above max against the lowest tier below
    safety stock; a finding where the first is the higher tier."""
    over = summary.filter(pl.col("above_max") > 0)
    under = summary.filter((pl.col("below_safety_stock") + pl.col("stockout")) > 0)
    pairs = over.join(under, on="location", suffix="_low").filter(
        pl.col("tier") < pl.col("tier_low")
    )
    return (
        pairs.group_by("location")
        .agg(
            pl.col("segment").unique().sort().alias("high_tier_segments_above_max"),
            pl.col("segment_low").unique().sort().alias("low_tier_segments_below_target"),
        )
        .join(_side(over, pairs, "segment", "excess"), on="location")
        .join(_side(under, pairs, "segment_low", "shortfall"), on="location")
        .with_columns(
            pl.format(
                "{}: {} hold stock above their maximum while {} fall below safety stock",
                "location",
                pl.col("high_tier_segments_above_max").list.join(", "),
                pl.col("low_tier_segments_below_target").list.join(", "),
            ).alias("finding")
        )
        .sort("location")
    )


def _side(part: pl.DataFrame, pairs: pl.DataFrame, key: str, kind: str) -> pl.DataFrame:
    """Units and value of the segments taking part in a location's finding."""
    involved = pairs.select("location", pl.col(key).alias("segment")).unique()
    return (
        part.join(involved, on=["location", "segment"])
        .group_by("location")
        .agg(
            pl.col(f"{kind}_units").sum(),
            pl.col(f"{kind}_value_minor").sum(),
        )
    )


@dataclass(frozen=True)
class RootCauseThresholds:
    """When a change between two runs' inputs counts as a cause (relative to the earlier
    value; an earlier zero with a later positive value always counts)."""

    demand_change: float = 0.20  # mean daily demand moved by more than 20 %
    demand_variability_change: float = 0.25  # its deviation by more than 25 %
    lead_time_change: float = 0.20  # mean lead time by more than 20 % ...
    lead_time_change_days: float = 1.0  # ... and by at least a day


INPUT_COLUMNS = {
    "sku": pl.String,
    "location": pl.String,
    "demand_mean_per_day": pl.Float64,
    "demand_sd_per_day": pl.Float64,
    "lead_time_mean_days": pl.Float64,
    "policy_type": pl.String,
    "service_target": pl.Float64,
    "order_quantity": pl.Float64,
    "review_period_days": pl.Float64,
}
POLICY_FIELDS = ("policy_type", "service_target", "order_quantity", "review_period_days")


def root_causes(
    previous: pl.DataFrame, current: pl.DataFrame, thresholds: RootCauseThresholds | None = None
) -> pl.DataFrame:
    """Per SKU-location of ``current``: which inputs changed since ``previous`` beyond the
    thresholds — ``demand_change``, ``lead_time_change``, ``policy_change`` — and
    ``missing_data`` (an input absent now, or the SKU-location absent before: ``new``), with
    the before/after values and a ``causes`` list in that order."""
    t = thresholds or RootCauseThresholds()

    def shaped(frame: pl.DataFrame) -> pl.DataFrame:
        missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"run inputs lack columns: {', '.join(missing)}")
        return frame.select(pl.col(c).cast(d) for c, d in INPUT_COLUMNS.items()).with_columns(
            pl.col(pl.Float64).fill_nan(None)
        )

    joined = shaped(current).join(
        shaped(previous).with_columns(pl.lit(True).alias("_seen")),
        on=["sku", "location"],
        how="left",
        suffix="_before",
    )

    def moved(column: str, share: float, at_least: float = 0.0) -> pl.Expr:
        now, before = pl.col(column), pl.col(f"{column}_before")
        delta = (now - before).abs()
        return (
            pl.when(before.is_null() | now.is_null())
            .then(False)
            .when(before == 0)
            .then(now > 0)
            .otherwise((delta > share * before.abs()) & (delta >= at_least))
        )

    policy_changed = [
        (~pl.col(f).eq_missing(pl.col(f"{f}_before"))).alias(f"_changed_{f}") for f in POLICY_FIELDS
    ]
    absent_now = pl.any_horizontal(
        pl.col(c).is_null()
        for c in (
            "demand_mean_per_day",
            "demand_sd_per_day",
            "lead_time_mean_days",
            "policy_type",
            "service_target",
        )
    )
    out = joined.with_columns(
        (
            moved("demand_mean_per_day", t.demand_change)
            | moved("demand_sd_per_day", t.demand_variability_change)
        ).alias("demand_change"),
        moved("lead_time_mean_days", t.lead_time_change, t.lead_time_change_days).alias(
            "lead_time_change"
        ),
        pl.col("_seen").is_null().alias("new"),
        absent_now.alias("missing_data"),
        *policy_changed,
    ).with_columns(
        (pl.any_horizontal(pl.col(f"_changed_{f}") for f in POLICY_FIELDS) & ~pl.col("new")).alias(
            "policy_change"
        ),
        pl.concat_list(
            pl.when(pl.col(f"_changed_{f}") & ~pl.col("new")).then(pl.lit(f)).otherwise(None)
            for f in POLICY_FIELDS
        )
        .list.drop_nulls()
        .alias("policy_fields_changed"),
    )
    causes = pl.concat_list(
        pl.when(pl.col(name)).then(pl.lit(name)).otherwise(None)
        for name in ("demand_change", "lead_time_change", "policy_change", "missing_data", "new")
    ).list.drop_nulls()
    return out.with_columns(causes.alias("causes")).select(
        "sku",
        "location",
        "causes",
        "demand_change",
        "lead_time_change",
        "policy_change",
        "missing_data",
        "new",
        "policy_fields_changed",
        *(
            name
            for c in ("demand_mean_per_day", "demand_sd_per_day", "lead_time_mean_days")
            for name in (f"{c}_before", c)
        ),
    )


def explain_distortion(rows: pl.DataFrame, causes: pl.DataFrame) -> pl.DataFrame:
    """The distorted SKU-locations of a report (status other than within target) with their
    root causes; a row whose causes list is empty changed nothing beyond the thresholds."""
    return (
        rows.filter(pl.col("status") != GapStatus.WITHIN_TARGET.value)
        .join(causes, on=["sku", "location"], how="left")
        .with_columns(
            pl.when(pl.col("status") == GapStatus.MISSING_DATA.value)
            .then(
                pl.concat_list(
                    pl.col("causes").fill_null([]), pl.lit(["missing_data"])
                ).list.unique(maintain_order=True)
            )
            .otherwise(pl.col("causes").fill_null([]))
            .alias("causes")
        )
    )
