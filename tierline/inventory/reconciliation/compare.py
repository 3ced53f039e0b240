"""The comparison itself: pure, vectorised, one row per SKU-location.

Inputs are frames (see the ``*_SCHEMA`` constants); quantities in the product's base unit,
lead times in days. What it decides:

- **Unit**: the ERP keeps an SKU-location's parameters in ``erp_uom``; when that is not the
  base unit the values are compared after conversion (``factor`` base units per ERP unit)
  and flagged, and the write-back converts back (rounded up to a whole ERP unit where the
  unit is a pack). An ERP unit without a conversion cannot be compared: flagged, no change.
- **Calendar**: SAP counts the planned delivery time in the days ``days_basis`` says; a lane
  counted in the other kind is flagged. Working days convert to calendar days at 7/5 (a
  five-day week; no factory calendar is known), so lead times are compared in calendar days.
- **MRP type**: the recommended policy needs a reorder point ((s, Q), min/max: ``VB``, ``VM``,
  ``V1``, ``V2``) or periodic review ((R, S): ``R1``); an ERP type that does not run it is
  flagged and the change proposes ``VB`` or ``R1``.
- **Money at stake**: the inventory value delta is the change of safety stock times the unit
  cost (average on-hand moves with safety stock when lot sizes stay), so the page can sort
  the biggest first; null without a unit cost (or without ``margin:read``, upstream).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntFlag

import polars as pl
from polars._typing import PolarsDataType

RECOMMENDED_SCHEMA = {
    "sku": pl.String,
    "location_code": pl.String,
    "segment_code": pl.String,
    "policy_type": pl.String,  # s_q | r_s | min_max
    "safety_stock": pl.Float64,
    "reorder_point": pl.Float64,
    "order_up_to": pl.Float64,
    "lead_time_mean": pl.Float64,  # calendar days
}
ERP_SCHEMA = {
    "sku": pl.String,
    "location_code": pl.String,
    "mrp_type": pl.String,
    "reorder_point": pl.Float64,
    "safety_stock": pl.Float64,
    "planned_delivery_days": pl.Float64,
    "goods_receipt_days": pl.Float64,
    "days_basis": pl.String,
    "min_lot": pl.Float64,
    "lot_rounding": pl.Float64,
    "max_stock": pl.Float64,
    "uom": pl.String,
}
LANE_SCHEMA = {"location_code": pl.String, "calendar": pl.String}
UNIT_SCHEMA = {"sku": pl.String, "base_uom": pl.String, "uom": pl.String, "factor": pl.Float64}
COST_SCHEMA = {"sku": pl.String, "unit_cost": pl.Float64}

WORKING_TO_CALENDAR = 7.0 / 5.0
REORDER_POINT_TYPES = ("VB", "VM", "V1", "V2")
PERIODIC_TYPES = ("R1",)


class Mismatch(IntFlag):
    """Why a row needs a look before its numbers can be trusted."""

    UNIT = 1  # the ERP keeps the values in another unit (converted)
    NO_CONVERSION = 2  # ... in a unit the product has no conversion for (not comparable)
    CALENDAR = 4  # the ERP counts the delivery time in other days than the lane
    MRP_TYPE = 8  # the ERP's MRP type does not run the recommended policy
    LEAD_TIME = 16  # planned lead time in the ERP far from the one the policy used
    NOT_IN_ERP = 32  # a recommendation the ERP has no parameters for
    NO_RECOMMENDATION = 64  # ERP parameters without a recommendation


MISMATCH_REASONS: dict[Mismatch, str] = {
    Mismatch.UNIT: "the ERP keeps these values in another unit; compared after conversion",
    Mismatch.NO_CONVERSION: "the ERP's unit has no conversion to the base unit: not compared",
    Mismatch.CALENDAR: "the ERP counts the delivery time in other days than the lane",
    Mismatch.MRP_TYPE: "the ERP's MRP type does not run the recommended policy",
    Mismatch.LEAD_TIME: "the ERP's planned lead time differs from the one the policy used",
    Mismatch.NOT_IN_ERP: "the ERP has no planning parameters for this SKU-location",
    Mismatch.NO_RECOMMENDATION: "no recommendation for this SKU-location",
}


def mismatch_names(flags: int) -> list[str]:
    return [m.name.lower() for m in Mismatch if m.name and flags & m]


@dataclass(frozen=True)
class Tolerance:
    """A change is proposed when the ERP's value is off by more than both of these."""

    units: float = 1.0
    share: float = 0.05
    lead_time_share: float = 0.25  # LEAD_TIME: off by more than a quarter ...
    lead_time_days: float = 2.0  # ... and more than two days


def _typed(frame: pl.DataFrame, schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _erp_lead_time() -> pl.Expr:
    days = pl.col("planned_delivery_days").fill_null(0.0) + pl.col("goods_receipt_days").fill_null(
        0.0
    )
    working = pl.col("days_basis") == "working"
    return pl.when(working).then(days * WORKING_TO_CALENDAR).otherwise(days)


def _off(erp: pl.Expr, recommended: pl.Expr, tol: Tolerance) -> pl.Expr:
    gap = (erp - recommended).abs()
    return (gap > tol.units) & (gap > tol.share * recommended.abs())


def _proposed_mrp_type() -> pl.Expr:
    periodic = pl.col("policy_type") == "r_s"
    accepted = (
        pl.when(periodic)
        .then(pl.col("erp_mrp_type").is_in(PERIODIC_TYPES))
        .otherwise(pl.col("erp_mrp_type").is_in(REORDER_POINT_TYPES))
    )
    wanted = pl.when(periodic).then(pl.lit("R1")).otherwise(pl.lit("VB"))
    return pl.when(accepted).then(pl.col("erp_mrp_type")).otherwise(wanted)


def _to_erp_unit(base: pl.Expr) -> pl.Expr:
    """Base units as the ERP's unit: whole packs rounded up (a reorder point of 2.1 cases is
    3 cases, never fewer units than recommended); the base unit kept to three decimals."""
    shown = base / pl.col("factor")
    return (
        pl.when(pl.col("factor") > 1.0).then(shown.ceil()).otherwise((shown * 1000).ceil() / 1000)
    )


def reconcile(
    recommended: pl.DataFrame,
    erp: pl.DataFrame,
    lanes: pl.DataFrame,
    units: pl.DataFrame,
    costs: pl.DataFrame | None = None,
    tolerance: Tolerance | None = None,
) -> pl.DataFrame:
    """One row per SKU-location in either input: the ERP's and the recommended values in base
    units, the mismatch flags, the proposed ERP values in the ERP's unit and whether they
    change anything, and the inventory value delta."""
    tol = tolerance or Tolerance()
    rec = _typed(recommended, RECOMMENDED_SCHEMA).rename(
        {c: f"rec_{c}" for c in ("safety_stock", "reorder_point", "order_up_to", "lead_time_mean")}
    )
    cur = _typed(erp, ERP_SCHEMA).rename(
        {
            "mrp_type": "erp_mrp_type",
            "reorder_point": "erp_reorder_point",
            "safety_stock": "erp_safety_stock",
            "uom": "erp_uom",
        }
    )
    key = ["sku", "location_code"]
    calendars = (
        _typed(lanes, LANE_SCHEMA)
        .group_by("location_code")
        .agg(pl.col("calendar").mode().sort().first().alias("lane_calendar"))
    )
    unit_rows = _typed(units, UNIT_SCHEMA)
    base = unit_rows.select("sku", "base_uom").unique("sku")
    factors = pl.concat(
        [
            base.select("sku", pl.col("base_uom").alias("erp_uom"), pl.lit(1.0).alias("factor")),
            unit_rows.filter(pl.col("uom") != pl.col("base_uom")).select(
                "sku", pl.col("uom").alias("erp_uom"), "factor"
            ),
        ]
    ).unique(["sku", "erp_uom"], keep="first")
    joined = (
        rec.join(cur, on=key, how="full", coalesce=True)
        .join(calendars, on="location_code", how="left")
        .join(base, on="sku", how="left")
        .join(factors, on=["sku", "erp_uom"], how="left")
    )
    if costs is not None:
        joined = joined.join(_typed(costs, COST_SCHEMA), on="sku", how="left")
    else:
        joined = joined.with_columns(pl.lit(None, pl.Float64).alias("unit_cost"))
    in_erp = pl.col("erp_mrp_type").is_not_null()
    has_rec = pl.col("policy_type").is_not_null()
    comparable = in_erp & has_rec & pl.col("factor").is_not_null()
    erp_lead = _erp_lead_time()
    lead_gap = (erp_lead - pl.col("rec_lead_time_mean")).abs()
    checks: list[tuple[pl.Expr, Mismatch]] = [
        (
            in_erp & (pl.col("erp_uom") != pl.col("base_uom")) & pl.col("factor").is_not_null(),
            Mismatch.UNIT,
        ),
        (
            in_erp & pl.col("factor").is_null() & pl.col("erp_uom").is_not_null(),
            Mismatch.NO_CONVERSION,
        ),
        (
            in_erp
            & pl.col("lane_calendar").is_not_null()
            & (pl.col("days_basis").fill_null("calendar") != pl.col("lane_calendar")),
            Mismatch.CALENDAR,
        ),
        (in_erp & has_rec & (_proposed_mrp_type() != pl.col("erp_mrp_type")), Mismatch.MRP_TYPE),
        (
            in_erp
            & has_rec
            & (lead_gap > tol.lead_time_days)
            & (lead_gap > tol.lead_time_share * pl.col("rec_lead_time_mean")),
            Mismatch.LEAD_TIME,
        ),
        (has_rec & ~in_erp, Mismatch.NOT_IN_ERP),
        (in_erp & ~has_rec, Mismatch.NO_RECOMMENDATION),
    ]
    flags = pl.lit(0, pl.Int32)
    for where, flag in checks:
        flags = flags + pl.when(where.fill_null(False)).then(pl.lit(int(flag), pl.Int32)).otherwise(
            0
        )
    ss_delta = pl.col("rec_safety_stock") - pl.col("erp_safety_stock").fill_null(0.0)
    out = joined.with_columns(
        flags.alias("flags"),
        erp_lead.alias("erp_lead_time_days"),
        _proposed_mrp_type().alias("proposed_mrp_type"),
        ss_delta.alias("safety_stock_delta"),
        (pl.col("rec_reorder_point") - pl.col("erp_reorder_point").fill_null(0.0)).alias(
            "reorder_point_delta"
        ),
    ).with_columns(
        pl.when(in_erp).then(pl.col("erp_lead_time_days")).alias("erp_lead_time_days"),
        (pl.col("safety_stock_delta") * pl.col("unit_cost")).alias("value_delta"),
        pl.when(comparable)
        .then(_to_erp_unit(pl.col("rec_reorder_point")))
        .alias("proposed_reorder_point"),
        pl.when(comparable)
        .then(_to_erp_unit(pl.col("rec_safety_stock")))
        .alias("proposed_safety_stock"),
    )
    changed = comparable & (
        _off(pl.col("erp_reorder_point"), pl.col("rec_reorder_point"), tol)
        | _off(pl.col("erp_safety_stock"), pl.col("rec_safety_stock"), tol)
        | (pl.col("proposed_mrp_type") != pl.col("erp_mrp_type"))
    )
    return (
        out.with_columns(changed.fill_null(False).alias("changed"))
        .select(
            "sku",
            "location_code",
            "segment_code",
            "policy_type",
            "erp_mrp_type",
            "proposed_mrp_type",
            "base_uom",
            "erp_uom",
            "factor",
            "erp_safety_stock",
            "rec_safety_stock",
            "safety_stock_delta",
            "erp_reorder_point",
            "rec_reorder_point",
            "reorder_point_delta",
            "erp_lead_time_days",
            pl.col("rec_lead_time_mean").alias("rec_lead_time_days"),
            "days_basis",
            "lane_calendar",
            "proposed_safety_stock",
            "proposed_reorder_point",
            "unit_cost",
            "value_delta",
            "flags",
            "changed",
        )
        .sort(
            pl.col("value_delta").abs(),
            "sku",
            "location_code",
            descending=[True, False, False],
            nulls_last=True,
        )
    )


def summary(reconciled: pl.DataFrame) -> dict[str, int]:
    """How many rows carry each mismatch, and how many would change."""
    counts = {
        m.name.lower(): int(reconciled.select(((pl.col("flags") & int(m)) != 0).sum()).item())
        for m in Mismatch
        if m.name
    }
    counts["rows"] = reconciled.height
    counts["changes"] = int(reconciled["changed"].sum())
    return counts
