"""Buffer profiles and capacity cuts from the run in force.

- **Profile**: safety stock units per segment and echelon (the location's echelon), and each
  echelon's share of the segment's buffer: where a segment's protection sits in the network.
- **Capacity**: a location's usage is the sum of its SKU-locations' top level (S, or s + Q)
  in base units, one unit of space per base unit (no product volumes are on record, so a
  location's ``capacity`` is read in base units); ``inventory.echelon.capacity_cuts`` cuts
  safety stock above a floor of zero from the lowest tier up and prices each cut in service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.distortions.service import max_level
from tierline.inventory.echelon import CapacityCuts, CapacityRows, capacity_cuts
from tierline.masterdata.service import location_capacities
from tierline.platform.errors import DomainError


class NoRun(DomainError):
    status_code = 409
    title = "No run in force"


@dataclass(frozen=True)
class Buffers:
    run_id: uuid.UUID
    profile: pl.DataFrame  # segment, echelon, safety_stock_units, share
    cuts: CapacityCuts


def buffer_profile(results: pl.DataFrame, locations: pl.DataFrame) -> pl.DataFrame:
    held = results.filter(pl.col("safety_stock").is_not_null()).join(
        locations.select(pl.col("code").alias("location_code"), "echelon"),
        on="location_code",
        how="left",
    )
    profile = held.group_by(
        pl.col("segment_code").fill_null("none").alias("segment"), pl.col("echelon").fill_null(0)
    ).agg(pl.col("safety_stock").sum().alias("safety_stock_units"), pl.len().alias("sku_locations"))
    return profile.with_columns(
        (pl.col("safety_stock_units") / pl.col("safety_stock_units").sum().over("segment"))
        .fill_nan(None)
        .alias("share")
    ).sort("segment", "echelon")


def capacity_rows(results: pl.DataFrame, ranks: dict[str, int], period_days: int) -> CapacityRows:
    usable = results.filter(pl.col("safety_stock").is_not_null())
    tier = usable["segment_code"].replace_strict(ranks, default=None, return_dtype=pl.Int64)
    n = usable.height

    def floats(expr: pl.Expr) -> np.ndarray:  # type: ignore[type-arg]
        return usable.select(expr.cast(pl.Float64).fill_null(0.0)).to_series().to_numpy()

    return CapacityRows(
        location=usable["location_code"].to_numpy().astype(object),
        segment=usable["segment_code"].fill_null("none").to_numpy().astype(object),
        tier=tier.fill_null(len(ranks) + 1).to_numpy().astype(np.int64),
        stock_units=floats(max_level()),
        safety_stock_units=floats(pl.col("safety_stock")),
        safety_stock_floor_units=np.zeros(n),
        protection_sd_units=floats(pl.col("sigma")),
        order_quantity_units=floats(pl.col("order_quantity")),
        demand_per_day=floats(pl.col("demand_mean") / period_days),
        space_per_unit=np.ones(n),
    )


async def buffers_now(session: AsyncSession) -> Buffers:
    from tierline.inventory.models import InventoryPolicyRun
    from tierline.inventory.reconciliation.service import run_period_days
    from tierline.inventory.service import latest_policy_results

    run_id, results = await latest_policy_results(session)
    if run_id is None:
        raise NoRun("no policy run is in force: run a published policy first")
    run = await session.get(InventoryPolicyRun, run_id)
    ranks = {
        str(k): int(v) for k, v in ((run.inputs if run else {}).get("segment_rank") or {}).items()
    }
    locations = await location_capacities(await session.connection())
    capacity = {c: v for c, v in locations.select("code", "capacity").iter_rows()}
    rows = capacity_rows(results, ranks, await run_period_days(session, run_id))
    return Buffers(run_id, buffer_profile(results, locations), capacity_cuts(rows, capacity))
