"""Per-segment roll-ups of a simulation with circular block-bootstrap confidence intervals.

Days of one SKU-location are not independent (a stock-out lasts until the next receipt), so
intervals come from resampling whole blocks of consecutive days — the circular block bootstrap
of Politis & Romano (1992): block starts are drawn uniformly over the measured days, blocks wrap
around the end, and enough blocks are joined to cover the horizon. The default block of 28 days
spans a typical replenishment cycle plus lead time; a block should be longer than the cycles it
has to keep whole (set ``block_days`` to the longest cycle + lead time of the population when
that is more). Intervals are percentile intervals; draws are seeded, so a report is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.simulation.engine import DailyCells, SimulationResult
from tierline.inventory.simulation.policy import FloatArray, IntArray

DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class BootstrapSettings:
    block_days: int = 28
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


def block_starts(days: int, settings: BootstrapSettings) -> tuple[IntArray, int]:
    """``[resamples, blocks]`` start days and the block length actually used."""
    if days < 1 or settings.resamples < 1 or not 0 < settings.confidence < 1:
        raise ValueError("bootstrap needs days, resamples and a confidence in (0, 1)")
    block = max(1, min(settings.block_days, days))
    blocks = -(-days // block)
    rng = np.random.default_rng(settings.seed)
    return rng.integers(0, days, size=(settings.resamples, blocks)), block


def resampled_sums(series: npt.ArrayLike, starts: IntArray, block: int) -> FloatArray:
    """Sum of each row of ``series`` (``[m, days]``) over every resample: ``[m, resamples]``."""
    values = np.asarray(series, dtype=np.float64)
    wrapped = np.concatenate([values, values[:, :block]], axis=1)
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), wrapped.cumsum(axis=1)], axis=1)
    days = values.shape[1]
    block_sums = cumulative[:, block : block + days] - cumulative[:, :days]
    return np.asarray(block_sums[:, starts].sum(axis=2), dtype=np.float64)


def _percentiles(samples: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(samples), samples, np.nan)
        all_nan = np.all(np.isnan(finite), axis=1)
        filled = np.where(all_nan[:, None], 0.0, finite)
        low = np.nanpercentile(filled, tail, axis=1)
        high = np.nanpercentile(filled, 100.0 - tail, axis=1)
    return np.where(all_nan, np.nan, low), np.where(all_nan, np.nan, high)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _groups(daily: DailyCells, by_class: bool) -> tuple[list[tuple[str, str]], FloatArray]:
    """Group labels and the [groups, cells] 0/1 matrix summing cells into them."""
    keys = sorted({(s, c if by_class else "*") for s, c in daily.labels})
    position = {key: i for i, key in enumerate(keys)}
    matrix = np.zeros((len(keys), len(daily.labels)))
    for j, (s, c) in enumerate(daily.labels):
        matrix[position[(s, c if by_class else "*")], j] = 1.0
    return keys, matrix


class _Metrics:
    """Point estimates and resampled values of the roll-up metrics of some groups."""

    def __init__(self, daily: DailyCells, matrix: FloatArray, starts: IntArray, block: int) -> None:
        days = daily.days
        covered = starts.shape[1] * block  # days in one resample
        self.items = matrix @ daily.items
        series = {
            "demand": daily.demand,
            "short": daily.short,
            "on_hand": daily.on_hand,
            "stockout": daily.stockout_days,
            "cycles": daily.cycles,
            "cycles_short": daily.cycles_short,
            "orders": daily.orders,
        }
        self.total = {
            k: matrix @ np.asarray(v, dtype=np.float64).sum(axis=1) for k, v in series.items()
        }
        self.sample = {k: matrix @ resampled_sums(v, starts, block) for k, v in series.items()}
        per_item = np.where(self.items > 0, self.items, np.nan)[:, None]
        self.estimates: dict[str, tuple[FloatArray, FloatArray]] = {
            "fill_rate": (
                1.0 - _ratio(self.total["short"], self.total["demand"]),
                1.0 - _ratio(self.sample["short"], self.sample["demand"]),
            ),
            "cycle_service_level": (
                1.0 - _ratio(self.total["cycles_short"], self.total["cycles"]),
                1.0 - _ratio(self.sample["cycles_short"], self.sample["cycles"]),
            ),
            "average_on_hand": (
                self.total["on_hand"] / days / per_item[:, 0],
                self.sample["on_hand"] / covered / per_item,
            ),
            "stockout_days_per_year": (
                self.total["stockout"] / days * DAYS_PER_YEAR / per_item[:, 0],
                self.sample["stockout"] / covered * DAYS_PER_YEAR / per_item,
            ),
            "orders_per_year": (
                self.total["orders"] / days * DAYS_PER_YEAR / per_item[:, 0],
                self.sample["orders"] / covered * DAYS_PER_YEAR / per_item,
            ),
        }


def segment_summary(
    result: SimulationResult,
    settings: BootstrapSettings | None = None,
    *,
    by_demand_class: bool = False,
) -> pl.DataFrame:
    """Per segment (and demand class): unit fill rate, cycle service level, average on hand per
    SKU-location, stock-out days and orders per SKU-location and year, each with its interval
    (``…_low``, ``…_high``), plus the exact totals (units, integer counts) they come from."""
    settings = settings or BootstrapSettings()
    daily = result.daily
    keys, matrix = _groups(daily, by_demand_class)
    starts, block = block_starts(daily.days, settings)
    metrics = _Metrics(daily, matrix, starts, block)
    columns: dict[str, object] = {
        "segment": [k[0] for k in keys],
        "demand_class": [k[1] for k in keys],
        "items": metrics.items.astype(np.int64),
        "days": np.full(len(keys), daily.days, dtype=np.int64),
        "demand_units": metrics.total["demand"],
        "short_units": metrics.total["short"],
        "cycles": np.rint(metrics.total["cycles"]).astype(np.int64),
        "cycles_with_stockout": np.rint(metrics.total["cycles_short"]).astype(np.int64),
        "stockout_days": np.rint(metrics.total["stockout"]).astype(np.int64),
        "orders_placed": np.rint(metrics.total["orders"]).astype(np.int64),
    }
    for name, (point, sample) in metrics.estimates.items():
        low, high = _percentiles(sample, settings.confidence)
        columns[name] = point
        columns[f"{name}_low"] = low
        columns[f"{name}_high"] = high
    frame = pl.DataFrame(columns)
    if not by_demand_class:
        frame = frame.drop("demand_class")
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


def compare_policies(
    current: SimulationResult,
    proposed: SimulationResult,
    settings: BootstrapSettings | None = None,
) -> pl.DataFrame:
    """Per segment: each metric under both policies and the difference (proposed - current)
    with a paired interval — both replays resampled on the same days, so the interval is about
    the policy change, not the demand."""
    settings = settings or BootstrapSettings()
    if current.daily.labels != proposed.daily.labels or current.daily.days != proposed.daily.days:
        raise ValueError("both simulations must cover the same SKU-locations and days")
    keys, matrix = _groups(current.daily, False)
    starts, block = block_starts(current.daily.days, settings)
    before = _Metrics(current.daily, matrix, starts, block)
    after = _Metrics(proposed.daily, matrix, starts, block)
    columns: dict[str, object] = {
        "segment": [k[0] for k in keys],
        "items": before.items.astype(np.int64),
    }
    for name in before.estimates:
        point_a, sample_a = before.estimates[name]
        point_b, sample_b = after.estimates[name]
        low, high = _percentiles(sample_b - sample_a, settings.confidence)
        columns[f"{name}_current"] = point_a
        columns[f"{name}_proposed"] = point_b
        columns[f"{name}_change"] = point_b - point_a
        columns[f"{name}_change_low"] = low
        columns[f"{name}_change_high"] = high
    return pl.DataFrame(columns).with_columns(pl.col(pl.Float64).fill_nan(None))
