"""Buffer profiles: which echelon of the network holds how much of each segment's buffer.

The rule (README "Simulation, multi-echelon buffers and distortion"):

- every SKU-location holds safety stock against the demand it serves over its own protection
  interval, k·sqrt((L + R)·sd_d² + d²·sd_L²), L and sd_L being its inbound lane's lead time;
- the customer-facing echelon (1) serves its own customers; an upstream location serves its own
  customers plus everything below it, pooled: means add, and deviations add as variances
  (sd = sqrt(sum sd²), independent demands) — the risk-pooling effect that makes a central
  buffer smaller than the sum of the local ones;
- k comes from the row's own cycle-service target unless the segment's profile sets the echelon
  (``profiles[segment][echelon]``: a cycle service level, or ``None`` for no buffer there, e.g.
  Bronze held only centrally);
- each echelon is sized as if its source were reliable (the guaranteed-service model in
  ``gsm`` is the option that trades buffers between echelons).

Rows of an SKU with any unusable input are left out whole (flagged), so no upstream buffer is
pooled over part of its demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.echelon.network import Network
from tierline.inventory.simulation.reference import _ppf, _safety_stock

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

Profiles = Mapping[str, Mapping[int, float | None]]


@dataclass(frozen=True)
class EchelonRows:
    """One row per SKU-location (arrays of one length): ``service_level`` is the row's cycle
    service target in (0, 1); demand is the location's *own* customer demand (base units per
    day); lead times are of the lane into the location (days); ``review_period_days`` 0 for
    continuous review."""

    sku: ObjectArray
    location: ObjectArray
    segment: ObjectArray
    service_level: FloatArray
    demand_mean_per_day: FloatArray
    demand_sd_per_day: FloatArray
    lead_time_mean_days: FloatArray
    lead_time_sd_days: FloatArray
    review_period_days: FloatArray


@dataclass(frozen=True)
class EchelonBuffers:
    """``rows``: per SKU-location the echelon, pooled demand, service level used, safety
    stock; ``profile``: per segment and echelon the units held and their share of the
    segment's buffer; ``flags``: rows left out and why."""

    rows: pl.DataFrame
    profile: pl.DataFrame
    flags: pl.DataFrame


def _row_problems(rows: EchelonRows, known: BoolArray) -> list[tuple[BoolArray, str, str]]:
    def bad(values: FloatArray) -> BoolArray:
        return ~np.isfinite(values) | (values < 0)

    level = rows.service_level
    keys = np.char.add(np.char.add(rows.sku.astype(str), "\x1f"), rows.location.astype(str))
    _unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return [
        (~known, "location_not_in_network", "the location is not in the network"),
        (counts[inverse] > 1, "duplicate_sku_location", "the SKU-location appears twice"),
        (
            ~(np.isfinite(level) & (level > 0) & (level < 1)),
            "service_level_invalid",
            "the cycle service level must lie strictly between 0 and 100 %",
        ),
        (
            bad(rows.demand_mean_per_day) | bad(rows.demand_sd_per_day),
            "demand_invalid",
            "demand mean and deviation must be non-negative numbers",
        ),
        (
            bad(rows.lead_time_mean_days)
            | bad(rows.lead_time_sd_days)
            | bad(rows.review_period_days),
            "lead_time_invalid",
            "lead time, its deviation and the review period must be non-negative numbers",
        ),
    ]


def echelon_buffers(
    network: Network,
    echelon: Mapping[str, int],
    rows: EchelonRows,
    profiles: Profiles | None = None,
) -> EchelonBuffers:
    """Safety stock per SKU-location over a distribution tree (one source per location: build
    the network with ``one_source_each=True``) and its profile per segment and echelon."""
    profiles = profiles or {}
    n = rows.sku.shape[0]
    missing_echelon = [node for node in network.nodes if node not in echelon]
    if missing_echelon:
        raise ValueError(f"no echelon given for: {', '.join(missing_echelon)}")
    position = {name: i for i, name in enumerate(network.nodes)}
    loc = np.fromiter((position.get(str(x), -1) for x in rows.location), dtype=np.int64, count=n)
    problems = _row_problems(rows, loc >= 0)
    bad_row = np.zeros(n, dtype=np.bool_)
    for mask, _code, _reason in problems:
        bad_row |= mask
    skus, sku = np.unique(rows.sku.astype(str), return_inverse=True)
    bad_sku = np.bincount(sku, weights=bad_row, minlength=skus.size) > 0
    dragged = bad_sku[sku] & ~bad_row
    problems.append((dragged, "sku_incomplete", "another location of this SKU has unusable input"))
    keep = ~bad_sku[sku]

    mean = np.zeros((skus.size, len(network.nodes)))
    var = np.zeros_like(mean)
    np.add.at(mean, (sku[keep], loc[keep]), rows.demand_mean_per_day[keep])
    np.add.at(var, (sku[keep], loc[keep]), rows.demand_sd_per_day[keep] ** 2)
    for k in reversed(network.order):  # children before their source
        for source in network.sources[k]:
            mean[:, source] += mean[:, k]
            var[:, source] += var[:, k]

    tier = np.fromiter(
        (echelon[str(x)] if p >= 0 else -1 for x, p in zip(rows.location, loc, strict=True)),
        dtype=np.int64,
        count=n,
    )
    level = rows.service_level.astype(np.float64).copy()
    holds = np.ones(n, dtype=np.bool_)
    for segment, by_echelon in profiles.items():
        for number, service in by_echelon.items():
            hit = (rows.segment == segment) & (tier == number)
            if service is None:
                holds &= ~hit
            else:
                level[hit] = service
    safe = np.where(keep, loc, 0)
    pooled_mean = np.where(keep, mean[sku, safe], np.nan)
    pooled_sd = np.where(keep, np.sqrt(var[sku, safe]), np.nan)
    z = np.where(keep & holds, _ppf(np.clip(level, 1e-12, 1 - 1e-12)), 0.0)
    safety = _safety_stock(
        z,
        pooled_mean,
        pooled_sd,
        rows.lead_time_mean_days,
        rows.lead_time_sd_days,
        rows.review_period_days,
    )
    safety = np.where(keep, np.where(holds, safety, 0.0), np.nan)
    frame = pl.DataFrame(
        {
            "sku": rows.sku.astype(str),
            "location": rows.location.astype(str),
            "echelon": tier,
            "segment": rows.segment.astype(str),
            "pooled_demand_mean_per_day": pooled_mean,
            "pooled_demand_sd_per_day": pooled_sd,
            "holds_buffer": holds & keep,
            "service_level": np.where(keep & holds, level, np.nan),
            "service_factor": np.where(keep & holds, z, np.nan),
            "safety_stock_units": safety,
            "included": keep,
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    return EchelonBuffers(frame, _profile(frame), _flags(problems))


def _profile(frame: pl.DataFrame) -> pl.DataFrame:
    kept = frame.filter("included")
    return (
        kept.group_by("segment", "echelon")
        .agg(
            pl.len().alias("sku_locations"),
            pl.col("holds_buffer").sum().alias("sku_locations_with_buffer"),
            pl.col("safety_stock_units").sum(),
            pl.col("pooled_demand_mean_per_day")
            .filter(pl.col("echelon") == 1)
            .sum()
            .alias("customer_demand_per_day"),
        )
        .with_columns(
            (
                pl.col("safety_stock_units") / pl.col("safety_stock_units").sum().over("segment")
            ).alias("share_of_segment_buffer")
        )
        .sort("segment", "echelon")
    )


def _flags(problems: list[tuple[BoolArray, str, str]]) -> pl.DataFrame:
    schema = {"row": pl.Int64, "code": pl.String, "reason": pl.String}
    frames = [
        pl.DataFrame({"row": np.flatnonzero(mask), "code": code, "reason": reason}, schema=schema)
        for mask, code, reason in problems
        if mask.any()
    ]
    return pl.concat(frames).sort("row") if frames else pl.DataFrame(schema=schema)
