"""Calibration: where the formula over- or under-delivers against its target, per segment and
demand class, judged by the simulated attainment and its bootstrap interval."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.simulation.bootstrap import BootstrapSettings, segment_summary
from tierline.inventory.simulation.engine import SimulationResult
from tierline.inventory.simulation.policy import FloatArray

# Attainment and target are ratios in [0, 1]; closer than this they are equal (float noise).
TOLERANCE = 1e-9


class ServiceMeasure(StrEnum):
    CYCLE_SERVICE_LEVEL = "cycle_service_level"  # type 1
    FILL_RATE = "fill_rate"  # type 2, unit fill rate


class Verdict(StrEnum):
    UNDER = "under_delivers"  # the whole interval lies below the target
    OVER = "over_delivers"  # the whole interval lies above the target
    ON_TARGET = "on_target"  # the target lies inside the interval
    NO_DATA = "no_data"


class FormulaVerdict(StrEnum):
    OPTIMISTIC = "formula_optimistic"  # the formula expected more than the interval allows
    PESSIMISTIC = "formula_pessimistic"  # the formula expected less
    CONSISTENT = "consistent"
    NO_EXPECTATION = "no_expectation"


@dataclass(frozen=True)
class ServiceTargets:
    """Per SKU-location, aligned with the simulated rows: the service measure and target of
    its segment (ratios in [0, 1]) and what the formula expected of the policy (NaN where it
    did not say)."""

    measure: npt.NDArray[np.object_]
    target: FloatArray
    expected_fill_rate: FloatArray
    expected_cycle_service_level: FloatArray


def _weighted(values: FloatArray, weights: FloatArray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    total = float(weights[ok].sum())
    return float((values[ok] * weights[ok]).sum() / total) if total > 0 else float("nan")


def calibration_report(
    result: SimulationResult,
    targets: ServiceTargets,
    settings: BootstrapSettings | None = None,
) -> pl.DataFrame:
    """One row per segment and demand class, plus one per segment over all classes
    (``demand_class = "*"``): the measure, the target and the formula's expectation (both
    averaged with the weights the measure itself uses: demand for the fill rate, cycles for the
    cycle service level), the simulated attainment with its interval, the verdicts, and
    ``below_target`` (the point estimate misses the target — what the publish gate asks an
    acknowledgement for). A cell whose rows carry different measures is judged on the measure
    of most of its demand and marked ``mixed_measures``."""
    settings = settings or BootstrapSettings()
    measure = np.asarray(targets.measure, dtype=object).astype(str)
    frames = []
    for by_class in (True, False):
        summary = (
            segment_summary(result, settings, by_demand_class=True)
            if by_class
            else (segment_summary(result, settings).with_columns(demand_class=pl.lit("*")))
        )
        frames.append(_judge(summary, result, targets, measure, by_class))
    return pl.concat(frames, how="vertical").sort("segment", "demand_class")


def _judge(
    summary: pl.DataFrame,
    result: SimulationResult,
    targets: ServiceTargets,
    measure: npt.NDArray[np.str_],
    by_class: bool,
) -> pl.DataFrame:
    rows = []
    simulated = result.simulated
    weights = {
        ServiceMeasure.FILL_RATE: result.demand_units,
        ServiceMeasure.CYCLE_SERVICE_LEVEL: result.cycles.astype(np.float64),
    }
    expected = {
        ServiceMeasure.FILL_RATE: targets.expected_fill_rate,
        ServiceMeasure.CYCLE_SERVICE_LEVEL: targets.expected_cycle_service_level,
    }
    for record in summary.iter_rows(named=True):
        in_cell = simulated & (result.segment == record["segment"])
        if by_class:
            in_cell &= result.demand_class == record["demand_class"]
        present = {
            m: float(result.demand_units[in_cell & (measure == m)].sum()) for m in ServiceMeasure
        }
        counted = [m for m in ServiceMeasure if np.any(in_cell & (measure == m))]
        if not counted:
            continue
        chosen = max(counted, key=lambda m: (present[m], m == ServiceMeasure.FILL_RATE))
        w = weights[chosen][in_cell]
        w = w if w.sum() > 0 else np.ones_like(w)  # no demand or cycles: plain average
        target = _weighted(targets.target[in_cell], w)
        formula = _weighted(expected[chosen][in_cell], w)
        simulated_value = record[chosen.value]
        low, high = record[f"{chosen.value}_low"], record[f"{chosen.value}_high"]
        rows.append(
            {
                "segment": record["segment"],
                "demand_class": record["demand_class"],
                "measure": chosen.value,
                "mixed_measures": len(counted) > 1,
                "items": record["items"],
                "target": target,
                "formula_expected": None if np.isnan(formula) else formula,
                "simulated": simulated_value,
                "simulated_low": low,
                "simulated_high": high,
                "verdict": _verdict(target, low, high).value,
                "formula_verdict": _formula_verdict(formula, low, high).value,
                "below_target": simulated_value is not None
                and simulated_value < target - TOLERANCE,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "segment": pl.String,
            "demand_class": pl.String,
            "measure": pl.String,
            "mixed_measures": pl.Boolean,
            "items": pl.Int64,
            "target": pl.Float64,
            "formula_expected": pl.Float64,
            "simulated": pl.Float64,
            "simulated_low": pl.Float64,
            "simulated_high": pl.Float64,
            "verdict": pl.String,
            "formula_verdict": pl.String,
            "below_target": pl.Boolean,
        },
    )


def _verdict(target: float, low: float | None, high: float | None) -> Verdict:
    if low is None or high is None or np.isnan(target):
        return Verdict.NO_DATA
    if high < target - TOLERANCE:
        return Verdict.UNDER
    if low > target + TOLERANCE:
        return Verdict.OVER
    return Verdict.ON_TARGET


def _formula_verdict(expected: float, low: float | None, high: float | None) -> FormulaVerdict:
    if np.isnan(expected) or low is None or high is None:
        return FormulaVerdict.NO_EXPECTATION
    if expected > high + TOLERANCE:
        return FormulaVerdict.OPTIMISTIC
    if expected < low - TOLERANCE:
        return FormulaVerdict.PESSIMISTIC
    return FormulaVerdict.CONSISTENT
