"""Turning tenant data into what the replay reads (pure: frames in, arrays out).

- **Rows**: the SKU-locations of the run in force that have numbers (refused rows are left
  out) and ERP parameters to compare with; at most ``max_rows`` of them, taken evenly in key
  order when there are more (the result says so), so memory stays bounded
  (``rows x days`` floats).
- **Lanes**: each row is replenished through one lane ``LOCATION<-SOURCE``: the supplier its
  receipts most often came from, else the location's internal lane, else the location's
  shortest lane. Receipts without a supplier (transfers) belong to the location's internal
  lane. Working days convert to calendar days at 7/5 for the planned fall-back.
- **Current policy** (the ERP's): SAP reorder-point planning replayed as written: at a
  position below ``MINBE`` order up to ``MABST`` when a maximum stock level is set, else the
  shortfall (lot for lot), then ``BSTMI`` and ``BSTRF``. The ERP's lot-size procedure is not
  imported, so this is the assumption. An MRP type without a reorder point (``PD``, ``VV``,
  ``R1``, ``ND``) is replayed with its safety stock as the reorder point, which is what net
  requirements planning protects.
- **Proposed policy**: (s, Q) with the run's reorder point and order quantity, (R, S) with
  its review period and order-up-to level, min/max with both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.simulation import (
    ErpLotSize,
    LaneLeadTimes,
    ReplenishmentPolicy,
    ServiceTargets,
)

WORKING_TO_CALENDAR = 7.0 / 5.0
REORDER_POINT_TYPES = ("VB", "VM", "V1", "V2")
ARROW = "<-"


@dataclass(frozen=True)
class ReplayInputs:
    keys: pl.DataFrame  # sku, location_code, segment_code, demand_class (row order)
    demand: npt.NDArray[np.float64]  # [rows, days]
    current: ReplenishmentPolicy
    proposed: ReplenishmentPolicy
    lead_times: LaneLeadTimes
    lane: npt.NDArray[np.int64]
    targets: ServiceTargets
    candidates: int  # SKU-locations that could be replayed before sampling
    without_erp: int  # results without ERP parameters (not replayed)


def lane_keys(
    rows: pl.DataFrame, lanes: pl.DataFrame, observations: pl.DataFrame
) -> tuple[pl.Series, LaneLeadTimes]:
    """The lane of each row (``sku``, ``location_code``) and the lanes' lead times."""
    internal = (
        lanes.filter(pl.col("source_kind") == "location")
        .sort("location_code", "planned_lead_time_days", "source_code")
        .unique("location_code", keep="first")
        .select("location_code", pl.col("source_code").alias("_internal"))
    )
    obs = (
        observations.join(internal, on="location_code", how="left")
        .with_columns(
            pl.when(pl.col("supplier_code").is_not_null())
            .then(pl.concat_str("location_code", pl.lit(ARROW), "supplier_code"))
            .when(pl.col("_internal").is_not_null())
            .then(pl.concat_str("location_code", pl.lit(ARROW), "_internal"))
            .alias("lane")
        )
        .drop_nulls("lane")
    )
    usual = (
        obs.group_by("sku", "location_code", "lane")
        .len()
        .sort("len", "lane", descending=[True, False])
        .unique(["sku", "location_code"], keep="first")
        .select("sku", "location_code", "lane")
    )
    shortest = (
        lanes.sort("location_code", "planned_lead_time_days", "source_code")
        .unique("location_code", keep="first")
        .select(
            "location_code",
            pl.concat_str("location_code", pl.lit(ARROW), "source_code").alias("_any"),
        )
    )
    chosen = (
        rows.select("sku", "location_code")
        .join(usual, on=["sku", "location_code"], how="left")
        .join(internal, on="location_code", how="left")
        .join(shortest, on="location_code", how="left")
        .select(
            pl.coalesce(
                "lane",
                pl.concat_str("location_code", pl.lit(ARROW), "_internal"),
                "_any",
                pl.concat_str("location_code", pl.lit(ARROW), pl.lit("?")),
            ).alias("lane")
        )
    )["lane"]
    planned = {
        f"{loc}{ARROW}{src}": days * (WORKING_TO_CALENDAR if cal == "working" else 1.0)
        for loc, src, days, cal in lanes.select(
            "location_code", "source_code", "planned_lead_time_days", "calendar"
        ).iter_rows()
    }
    lead_times = LaneLeadTimes.from_frame(obs, "lane", "lead_time_days", minimum=5, planned=planned)
    return chosen, lead_times


def demand_matrix(
    rows: pl.DataFrame, daily: pl.DataFrame, start: object, days: int
) -> npt.NDArray[np.float64]:
    """``[rows, days]`` demand (zero where nothing was ordered), built by index, not by row."""
    indexed = rows.select("sku", "location_code").with_row_index("_row")
    cells = (
        daily.join(indexed, on=["sku", "location_code"])
        .with_columns((pl.col("day") - pl.lit(start)).dt.total_days().alias("_day"))
        .filter((pl.col("_day") >= 0) & (pl.col("_day") < days))
    )
    flat = np.zeros(rows.height * days, dtype=np.float64)
    index = cells["_row"].to_numpy().astype(np.int64) * days + cells["_day"].to_numpy()
    np.add.at(flat, index, cells["quantity"].to_numpy())
    return flat.reshape(rows.height, days)


def current_policy(erp: pl.DataFrame) -> ReplenishmentPolicy:
    """The ERP's parameters of each row (base units) as a replayable policy."""
    plans = erp["mrp_type"].is_in(REORDER_POINT_TYPES).to_numpy()
    rop = erp["reorder_point"].fill_null(0.0).to_numpy()
    safety = erp["safety_stock"].fill_null(0.0).to_numpy()
    max_stock = erp["max_stock"].fill_null(0.0).to_numpy()
    to_max = max_stock > 0
    return ReplenishmentPolicy.erp_reorder_point(
        np.where(plans, rop, safety),
        np.where(to_max, int(ErpLotSize.REPLENISH_TO_MAX), int(ErpLotSize.LOT_FOR_LOT)),
        min_lot=erp["min_lot"].fill_null(0.0).to_numpy(),
        rounding_value=erp["lot_rounding"].fill_null(0.0).to_numpy(),
        max_stock_level=np.where(to_max, max_stock, np.nan),
    )


def proposed_policy(results: pl.DataFrame, period_days: int) -> ReplenishmentPolicy:
    """The run's numbers of each row as the policy its type names."""
    kind = results["policy_type"].to_numpy().astype(str)
    rop = results["reorder_point"].fill_null(0.0).to_numpy()
    up_to = results["order_up_to"].fill_null(0.0).to_numpy()
    q = results["order_quantity"].fill_null(0.0).to_numpy()
    mean = results["demand_mean"].fill_null(0.0).to_numpy()
    # (s, Q) without Q: a period's demand, at least one unit, so the replay can order
    q = np.where(q > 0, q, np.maximum(mean, 1.0))
    top = np.where(up_to > 0, up_to, rop + q)
    review = np.maximum(
        np.rint(results["review_period"].fill_null(0.0).to_numpy() * period_days), 1
    ).astype(np.int64)
    n = results.height
    sq = ReplenishmentPolicy.continuous_sq(rop, q)
    rs = ReplenishmentPolicy.periodic_rs(review, top)
    mm = ReplenishmentPolicy.min_max(rop, top, review)
    pick = np.where(kind == "r_s", 1, np.where(kind == "min_max", 2, 0))
    fields = ReplenishmentPolicy.__dataclass_fields__
    chosen = {
        name: np.choose(pick, [getattr(sq, name), getattr(rs, name), getattr(mm, name)])
        for name in fields
    }
    assert all(v.shape == (n,) for v in chosen.values())
    return ReplenishmentPolicy(**chosen)


def targets_of(results: pl.DataFrame) -> ServiceTargets:
    return ServiceTargets(
        measure=results["service_measure"].fill_null("fill_rate").to_numpy().astype(object),
        target=results["service_target"].fill_null(float("nan")).to_numpy(),
        expected_fill_rate=results["expected_fill_rate"].fill_null(float("nan")).to_numpy(),
        expected_cycle_service_level=results["expected_cycle_service_level"]
        .fill_null(float("nan"))
        .to_numpy(),
    )


def replay_inputs(
    results: pl.DataFrame,
    erp: pl.DataFrame,
    lanes: pl.DataFrame,
    observations: pl.DataFrame,
    daily: pl.DataFrame,
    *,
    start: object,
    days: int,
    period_days: int,
    max_rows: int,
) -> ReplayInputs:
    """Everything the two replays read, rows aligned."""
    usable = results.filter(
        pl.col("reorder_point").is_not_null() & pl.col("policy_type").is_not_null()
    )
    both = usable.join(erp, on=["sku", "location_code"], how="inner", suffix="_erp").sort(
        "sku", "location_code"
    )
    candidates = both.height
    if candidates > max_rows > 0:
        step = candidates / max_rows
        both = both[np.floor(np.arange(max_rows) * step).astype(np.int64).tolist()]
    erp_side = both.select(
        pl.col("mrp_type"),
        pl.col("reorder_point_erp").alias("reorder_point"),
        pl.col("safety_stock_erp").alias("safety_stock"),
        "min_lot",
        "lot_rounding",
        "max_stock",
    )
    chosen, lead_times = lane_keys(both, lanes, observations)
    return ReplayInputs(
        keys=both.select("sku", "location_code", "segment_code", "demand_class"),
        demand=demand_matrix(both, daily, start, days),
        current=current_policy(erp_side),
        proposed=proposed_policy(both, period_days),
        lead_times=lead_times,
        lane=lead_times.index_of(chosen.to_list()),
        targets=targets_of(both),
        candidates=candidates,
        without_erp=usable.height - candidates,
    )
