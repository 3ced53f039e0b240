"""Assembling a distortion report from the tenant's data.

- **Targets**: the run in force: safety stock, reorder point and a maximum level (order-up-to
  level for (R, S) and min/max; reorder point + order quantity for (s, Q)).
- **Tiers**: the segment ranks the run recorded (1 = best), so "higher tier" is the run's own.
- **Positions**: each SKU-location's newest inventory position; one without targets is missing
  data, as is a target without a position (not listed: no stock is known).
- **Money**: unit values from the order history's costs, in minor units, only when the caller
  may see margins (``codec`` given); else the value columns stay empty.
- **Root causes**: the run in force against the one before it (demand, lead time, policy
  changes, missing data), per-period statistics turned into days.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.distortion import (
    DistortionReport,
    assess_distortion,
    explain_distortion,
    root_causes,
)
from tierline.masterdata.service import latest_positions, unit_costs
from tierline.platform.encryption import FieldCodec
from tierline.platform.errors import DomainError

COST_WINDOW_DAYS = 365


class NoTargets(DomainError):
    status_code = 409
    title = "No targets"


@dataclass(frozen=True)
class Distortion:
    run_id: uuid.UUID
    report: DistortionReport
    explained: pl.DataFrame  # distorted rows with their causes
    valued: bool


def max_level() -> pl.Expr:
    q = pl.col("order_quantity").fill_null(0.0)
    sq = pl.col("reorder_point") + q
    return (
        pl.when(pl.col("policy_type") == "s_q")
        .then(sq)
        .otherwise(pl.coalesce(pl.col("order_up_to"), sq))
    )


def targets_frame(results: pl.DataFrame, ranks: dict[str, int]) -> pl.DataFrame:
    rank = pl.col("segment_code").replace_strict(ranks, default=None, return_dtype=pl.Int64)
    return results.select(
        "sku",
        pl.col("location_code").alias("location"),
        pl.col("segment_code").fill_null("none").alias("segment"),
        rank.fill_null(len(ranks) + 1).alias("tier"),
        "safety_stock",
        "reorder_point",
        max_level().alias("max_level"),
    )


def positions_frame(
    targets: pl.DataFrame, positions: pl.DataFrame, costs: pl.DataFrame | None
) -> pl.DataFrame:
    joined = positions.select(
        "sku", pl.col("location_code").alias("location"), "on_hand", "on_order"
    ).join(targets, on=["sku", "location"], how="left")
    joined = joined.with_columns(pl.col("segment").fill_null("none"), pl.col("tier").fill_null(99))
    if costs is not None:
        minor = costs.select(
            "sku", (pl.col("unit_cost") * 100).round(0).cast(pl.Int64).alias("unit_value_minor")
        )
        joined = joined.join(minor, on="sku", how="left")
    return joined


def run_inputs(results: pl.DataFrame, period_days: int) -> pl.DataFrame:
    """A run's results as ``distortion.INPUT_COLUMNS`` (statistics per day)."""
    return results.select(
        "sku",
        pl.col("location_code").alias("location"),
        (pl.col("demand_mean") / period_days).alias("demand_mean_per_day"),
        (pl.col("demand_sd") / math.sqrt(period_days)).alias("demand_sd_per_day"),
        (pl.col("lead_time_mean") * period_days).alias("lead_time_mean_days"),
        "policy_type",
        "service_target",
        "order_quantity",
        (pl.col("review_period") * period_days).alias("review_period_days"),
    )


async def distortion_now(
    session: AsyncSession, codec: FieldCodec | None, as_of: date
) -> Distortion:
    from tierline.inventory.models import InventoryPolicyRun
    from tierline.inventory.reconciliation.service import run_period_days
    from tierline.inventory.runs import run_results
    from tierline.inventory.service import latest_policy_results

    run_id, results = await latest_policy_results(session)
    if run_id is None:
        raise NoTargets("no policy run is in force: run a published policy first")
    run = await session.get(InventoryPolicyRun, run_id)
    inputs = run.inputs if run is not None else {}
    ranks = {str(k): int(v) for k, v in (inputs.get("segment_rank") or {}).items()}
    conn = await session.connection()
    costs = None
    if codec is not None:
        costs = await unit_costs(conn, codec, as_of - timedelta(days=COST_WINDOW_DAYS))
    frame = positions_frame(targets_frame(results, ranks), await latest_positions(conn), costs)
    report = assess_distortion(frame)
    period = await run_period_days(session, run_id)
    previous_id = inputs.get("previous_run")
    previous = (
        await run_results(session, uuid.UUID(previous_id)) if previous_id else results.clear()
    )
    causes = root_causes(run_inputs(previous, period), run_inputs(results, period))
    explained = explain_distortion(report.rows, causes)
    return Distortion(run_id, report, explained, costs is not None)
