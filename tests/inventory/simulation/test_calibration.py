"""The calibration report: target vs the formula's expectation vs the simulated attainment."""

from __future__ import annotations

import numpy as np
import pytest

from tierline.inventory.simulation import (
    BootstrapSettings,
    FormulaVerdict,
    LaneLeadTimes,
    ReplenishmentPolicy,
    ServiceTargets,
    SimulationSettings,
    Verdict,
    calibration_report,
    simulate,
)
from tierline.inventory.simulation import reference as ref

MU, SD, LEAD = 20.0, 4.0, 5


def test_report_flags_under_and_over_delivery_and_a_wrong_formula() -> None:
    n, days = 120, 700
    half = n // 2
    rng = np.random.default_rng(8)
    demand = np.maximum(rng.normal(MU, SD, (n, days)), 0.0)
    s, q = MU * LEAD + 0.5 * SD * np.sqrt(LEAD), 150.0
    level = MU * 12 + 0.8 * SD * np.sqrt(12)
    policy = ReplenishmentPolicy.concat(
        [
            ReplenishmentPolicy.continuous_sq(np.full(half, s), np.full(half, q)),
            ReplenishmentPolicy.periodic_rs(np.full(half, 7), np.full(half, level)),
        ]
    )
    segment = np.array(["GOLD"] * half + ["BRONZE"] * half, dtype=object)
    demand_class = np.array(["smooth", "erratic"] * half, dtype=object)
    result = simulate(
        demand,
        policy,
        LaneLeadTimes.from_observations({"L": [LEAD]}),
        np.zeros(n, dtype=int),
        segment=segment,
        demand_class=demand_class,
        settings=SimulationSettings(seed=1, warmup_days=60),
    )
    exact_fill = ref._fill_rate_sq_daily(s, q, MU, SD, LEAD)
    targets = ServiceTargets(
        measure=np.array(["fill_rate"] * half + ["cycle_service_level"] * half, dtype=object),
        target=np.r_[np.full(half, 0.99), np.full(half, 0.5)],
        expected_fill_rate=np.r_[np.full(half, exact_fill), np.full(half, np.nan)],
        expected_cycle_service_level=np.r_[np.full(half, np.nan), np.full(half, 0.999)],
    )
    report = calibration_report(result, targets, BootstrapSettings(seed=4))
    assert report.height == 6  # two segments x (two classes + all)
    gold = report.filter(segment="GOLD", demand_class="*").row(0, named=True)
    assert gold["measure"] == "fill_rate"
    assert gold["target"] == pytest.approx(0.99)
    assert gold["verdict"] == Verdict.UNDER
    assert gold["formula_verdict"] == FormulaVerdict.CONSISTENT
    assert gold["below_target"] is True
    assert gold["simulated_low"] <= gold["simulated"] <= gold["simulated_high"]
    bronze = report.filter(segment="BRONZE", demand_class="*").row(0, named=True)
    assert bronze["measure"] == "cycle_service_level"
    assert bronze["verdict"] == Verdict.OVER
    assert bronze["formula_verdict"] == FormulaVerdict.OPTIMISTIC
    assert bronze["below_target"] is False
    assert not report["mixed_measures"].any()


def test_a_cell_with_mixed_measures_is_judged_on_most_of_its_demand() -> None:
    demand = np.full((3, 60), 2.0)
    demand[2] *= 5  # the CSL row carries most of the demand
    result = simulate(
        demand,
        ReplenishmentPolicy.continuous_sq(np.full(3, 30.0), np.full(3, 20.0)),
        LaneLeadTimes.from_observations({"L": [2]}),
        np.zeros(3, dtype=int),
        segment=["S"] * 3,
    )
    targets = ServiceTargets(
        measure=np.array(["fill_rate", "fill_rate", "cycle_service_level"], dtype=object),
        target=np.array([0.9, 0.9, 0.95]),
        expected_fill_rate=np.full(3, np.nan),
        expected_cycle_service_level=np.full(3, np.nan),
    )
    row = calibration_report(result, targets).filter(demand_class="*").row(0, named=True)
    assert row["measure"] == "cycle_service_level"
    assert row["mixed_measures"] is True
    assert row["formula_verdict"] == FormulaVerdict.NO_EXPECTATION
