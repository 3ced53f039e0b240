"""Capacity cuts: when the recommended stock at a location exceeds its capacity, take safety
stock away from the lowest segment tier first, and say what each cut costs in service.

Rules (README "Simulation, multi-echelon buffers and distortion"):

- a location's usage is the sum of its SKU-locations' recommended stock (the level the shelf
  must hold, e.g. s + Q or S) times their space per unit, in the capacity's own unit;
- only safety stock above each row's floor is cut; tiers are cut from the lowest (largest tier
  number) up, and a tier is touched only when every lower tier is cut to its floors;
- within the tier that is cut in part, the cut goes where it loses the least service per unit of
  space freed: the expected extra units short per day of taking one more unit of safety stock
  from a row is (d/Q)·(1 - Φ(k)) (normal demand over the protection interval, Q the
  replenishment quantity), so cuts are levelled until every row cut loses the same per unit of
  space (water-filling), which minimises the units short for the space freed;
- exactly the overflow is freed (to within a millionth of a capacity unit), never more; when all
  cuttable safety stock is not enough the rest is reported as unresolved overflow;
- a location without a capacity is flagged and left alone, as is a location with an unusable
  row (nothing is half-cut).

The service cost of each cut is reported per SKU-location and per location and segment: cycle
service level Φ(k) and fill rate 1 - sd·G(k)/Q before and after, and the extra units short per
year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.simulation.reference import _cdf, _loss, _ppf

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

CAPACITY_TOLERANCE = 1e-6  # capacity units: usage this close to capacity fits
DAYS_PER_YEAR = 365
_BISECTION_STEPS = 80


@dataclass(frozen=True)
class CapacityRows:
    """One row per SKU-location (arrays of one length). ``tier``: 1 is the highest segment
    tier; ``stock_units``: recommended stock measured against capacity; ``safety_stock_units``
    and ``safety_stock_floor_units``: the buffer and the least it may be cut to;
    ``protection_sd_units``: demand deviation over the protection interval;
    ``order_quantity_units``: the replenishment quantity (Q, or the demand over a review period);
    ``space_per_unit``: capacity units one base unit takes."""

    location: ObjectArray
    segment: ObjectArray
    tier: IntArray
    stock_units: FloatArray
    safety_stock_units: FloatArray
    safety_stock_floor_units: FloatArray
    protection_sd_units: FloatArray
    order_quantity_units: FloatArray
    demand_per_day: FloatArray
    space_per_unit: FloatArray


@dataclass(frozen=True)
class CapacityCuts:
    rows: pl.DataFrame
    locations: pl.DataFrame
    segments: pl.DataFrame
    flags: pl.DataFrame


def _row_problems(rows: CapacityRows) -> list[tuple[BoolArray, str, str]]:
    def bad(values: FloatArray) -> BoolArray:
        return ~np.isfinite(values) | (values < 0)

    return [
        (bad(rows.stock_units), "stock_invalid", "recommended stock must be a non-negative number"),
        (
            ~np.isfinite(rows.safety_stock_units) | ~np.isfinite(rows.safety_stock_floor_units),
            "safety_stock_invalid",
            "safety stock and its floor must be numbers",
        ),
        (
            bad(rows.protection_sd_units) | bad(rows.demand_per_day),
            "demand_invalid",
            "demand and its deviation must be non-negative numbers",
        ),
        (
            (rows.demand_per_day > 0) & ~(rows.order_quantity_units > 0),
            "order_quantity_invalid",
            "a row with demand needs a positive replenishment quantity",
        ),
        (
            ~np.isfinite(rows.space_per_unit) | (rows.space_per_unit <= 0),
            "space_invalid",
            "space per unit must be a positive number",
        ),
    ]


def capacity_cuts(rows: CapacityRows, capacity: Mapping[str, float | None]) -> CapacityCuts:
    """Cut safety stock where locations overflow ``capacity`` (capacity units per location;
    ``None``, missing or not a number: the location has no capacity on record)."""
    n = rows.location.shape[0]
    locations, loc = np.unique(rows.location.astype(str), return_inverse=True)
    cap = np.array([_capacity(capacity.get(str(x))) for x in locations])
    problems = _row_problems(rows)
    bad_row = np.zeros(n, dtype=np.bool_)
    for mask, _code, _reason in problems:
        bad_row |= mask
    bad_location = np.bincount(loc, weights=bad_row, minlength=locations.size) > 0
    no_capacity = np.isnan(cap)
    problems.append(
        (no_capacity[loc], "location_without_capacity", "the location has no capacity on record")
    )
    problems.append(
        (
            bad_location[loc] & ~bad_row,
            "location_has_unusable_rows",
            "another SKU-location here has unusable input, so nothing here is cut",
        )
    )
    skip = bad_location | no_capacity
    space = np.where(bad_row, 0.0, rows.space_per_unit)
    usage = _sums(loc, np.where(bad_row, 0.0, rows.stock_units) * space, locations.size)
    need = np.where(skip, 0.0, np.maximum(usage - cap, 0.0))
    need = np.where(need > CAPACITY_TOLERANCE, need, 0.0)
    floor = np.minimum(rows.safety_stock_floor_units, rows.safety_stock_units)
    cuttable = np.where(bad_row | skip[loc], 0.0, rows.safety_stock_units - floor)
    cut = _cut_by_tier(loc, rows.tier, cuttable * space, need, rows, floor, space) / np.where(
        space > 0, space, 1.0
    )
    freed = _sums(loc, cut * space, locations.size)
    frame = _rows_frame(rows, cut, bad_row | skip[loc])
    location_frame = pl.DataFrame(
        {
            "location": locations,
            "capacity": pl.Series(cap, dtype=pl.Float64).fill_nan(None),
            "usage_before": usage,
            "usage_after": usage - freed,
            "overflow": np.where(skip, 0.0, np.maximum(usage - cap, 0.0)),
            "freed": freed,
            "unresolved_overflow": np.maximum(need - freed, 0.0),
            "status": _status(no_capacity, bad_location, need, freed),
        }
    )
    return CapacityCuts(frame, location_frame, _segments(frame), _flags(problems))


def _capacity(value: float | None) -> float:
    if value is None:
        return float("nan")
    number = float(value)
    return number if np.isfinite(number) and number >= 0 else float("nan")


def _status(
    no_capacity: BoolArray, bad: BoolArray, need: FloatArray, freed: FloatArray
) -> list[str]:
    status = np.where(need > 0, "cut", "fits").astype(object)
    status[(need > 0) & (need - freed > CAPACITY_TOLERANCE)] = "over_capacity_after_cuts"
    status[bad] = "unusable_rows"
    status[no_capacity] = "no_capacity"
    return [str(s) for s in status]


def _cut_by_tier(
    loc: IntArray,
    tier: IntArray,
    cuttable_space: FloatArray,
    need: FloatArray,
    rows: CapacityRows,
    floor: FloatArray,
    space: FloatArray,
) -> FloatArray:
    """Space to free per row: whole tiers from the lowest up, the boundary tier levelled."""
    n = loc.size
    groups, group = np.unique(np.stack([loc, -tier]), axis=1, return_inverse=True)
    group = group.reshape(-1)
    group_loc = groups[0]
    available = _sums(group, cuttable_space, groups.shape[1])
    # groups are sorted by location, then lowest tier first: running totals per location
    running = np.cumsum(available)
    start_of_location = np.r_[0, np.flatnonzero(np.diff(group_loc)) + 1]
    offset = np.repeat(
        running[start_of_location] - available[start_of_location],
        np.diff(np.r_[start_of_location, groups.shape[1]]),
    )
    before = running - available - offset  # cut in lower tiers of the same location
    wanted = need[group_loc]
    whole = before + available <= wanted
    remainder = np.where(~whole & (before < wanted), wanted - before, 0.0)
    cut_space = np.where(whole[group], cuttable_space, 0.0)
    partial_group = remainder > 0
    if np.any(partial_group):
        members = np.flatnonzero(partial_group[group] & (cuttable_space > 0))
        cut_space[members] = (
            _level(group[members], remainder, rows, floor, space, members) * space[members]
        )
    return np.minimum(cut_space, cuttable_space) if n else cut_space


def _level(
    group: IntArray,
    remainder: FloatArray,
    rows: CapacityRows,
    floor: FloatArray,
    space: FloatArray,
    members: IntArray,
) -> FloatArray:
    """Water-filling inside each boundary tier: units cut per row so that the space freed in
    its group is exactly the group's remainder."""
    ss = rows.safety_stock_units[members]
    low = floor[members]
    sd = rows.protection_sd_units[members]
    rate = np.where(
        rows.demand_per_day[members] > 0,
        rows.demand_per_day[members]
        / np.where(rows.order_quantity_units[members] > 0, rows.order_quantity_units[members], 1.0),
        0.0,
    )  # replenishments per day
    sp = space[members]
    size = int(group.max()) + 1

    def kept(lam: FloatArray) -> FloatArray:
        """Safety stock left per row when cutting while a unit of space costs below ``lam``."""
        share = np.where(rate > 0, lam[group] * sp / np.where(rate > 0, rate, 1.0), np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            target = np.where(
                sd > 0,
                sd * _ppf(np.clip(1.0 - share, 0.0, 1.0)),
                np.where(share < 1.0, 0.0, -np.inf),
            )
        # a negative price stands for "cut nothing yet" (even rows that cost no service)
        return np.asarray(np.where(lam[group] < 0, ss, np.clip(target, low, ss)), dtype=np.float64)

    def freed(lam: FloatArray) -> FloatArray:
        return _sums(group, (ss - kept(lam)) * sp, size)

    lo = np.full(size, -1.0)
    hi = np.zeros(size)
    np.maximum.at(hi, group, rate / sp)
    hi = hi * (1.0 + 1e-9) + 1e-300  # at hi every row is cut to its floor
    wanted = remainder[:size]
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        enough = freed(mid) >= wanted
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid)
    cut_lo, cut_hi = ss - kept(lo), ss - kept(hi)
    got_lo, got_hi = freed(lo), freed(hi)
    gap = got_hi - got_lo
    weight = np.where(gap > 0, (wanted - got_lo) / np.where(gap > 0, gap, 1.0), 1.0)
    share = np.asarray(np.clip(weight, 0.0, 1.0), dtype=np.float64)[group]
    return cut_lo + (cut_hi - cut_lo) * share


def _sums(group: IntArray, values: FloatArray, size: int) -> FloatArray:
    return np.asarray(np.bincount(group, weights=values, minlength=size), dtype=np.float64)


def _rows_frame(rows: CapacityRows, cut: FloatArray, untouched: BoolArray) -> pl.DataFrame:
    sd = rows.protection_sd_units
    positive = sd > 0
    sd_safe = np.where(positive, sd, 1.0)
    before, after = rows.safety_stock_units, rows.safety_stock_units - cut
    q = np.where(rows.order_quantity_units > 0, rows.order_quantity_units, np.nan)

    def service(level: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        k = level / sd_safe
        csl = np.where(positive, _cdf(k), np.where(level >= 0, 1.0, 0.0))
        short = np.where(positive, sd * _loss(k), np.maximum(-level, 0.0))  # per cycle
        fill = np.clip(1.0 - short / q, 0.0, 1.0)
        return csl, fill, short

    csl_b, fill_b, short_b = service(before)
    csl_a, fill_a, short_a = service(after)
    cycles_per_year = (
        np.where(rows.demand_per_day > 0, rows.demand_per_day / q, 0.0) * DAYS_PER_YEAR
    )
    return pl.DataFrame(
        {
            "row": np.arange(cut.size),
            "location": rows.location.astype(str),
            "segment": rows.segment.astype(str),
            "tier": rows.tier,
            "considered": ~untouched,
            "cut_units": cut,
            "space_freed": cut * rows.space_per_unit,
            "safety_stock_before": before,
            "safety_stock_after": after,
            "cycle_service_level_before": csl_b,
            "cycle_service_level_after": csl_a,
            "fill_rate_before": fill_b,
            "fill_rate_after": fill_a,
            "extra_units_short_per_year": np.nan_to_num((short_a - short_b) * cycles_per_year),
            "demand_per_day": rows.demand_per_day,
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


def _segments(frame: pl.DataFrame) -> pl.DataFrame:
    weight = pl.col("demand_per_day")

    def weighted(column: str) -> pl.Expr:
        return ((pl.col(column) * weight).sum() / weight.sum()).alias(column)

    return (
        frame.filter("considered")
        .group_by("location", "segment", "tier")
        .agg(
            pl.len().alias("sku_locations"),
            (pl.col("cut_units") > 0).sum().alias("sku_locations_cut"),
            pl.col("cut_units").sum(),
            pl.col("space_freed").sum(),
            pl.col("extra_units_short_per_year").sum(),
            weighted("cycle_service_level_before"),
            weighted("cycle_service_level_after"),
            weighted("fill_rate_before"),
            weighted("fill_rate_after"),
        )
        .sort("location", "tier")
    )


def _flags(problems: list[tuple[BoolArray, str, str]]) -> pl.DataFrame:
    schema = {"row": pl.Int64, "code": pl.String, "reason": pl.String}
    frames = [
        pl.DataFrame({"row": np.flatnonzero(mask), "code": code, "reason": reason}, schema=schema)
        for mask, code, reason in problems
        if mask.any()
    ]
    return pl.concat(frames).sort("row") if frames else pl.DataFrame(schema=schema)
