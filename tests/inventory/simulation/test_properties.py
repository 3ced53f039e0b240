"""Properties of the replay and its roll-ups that must hold for any input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tierline.inventory.simulation import (
    BootstrapSettings,
    LaneLeadTimes,
    ReplenishmentPolicy,
    SimulationSettings,
    compare_policies,
    segment_summary,
    simulate,
)

lead_times = st.lists(st.integers(0, 12), min_size=1, max_size=5)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[np.ndarray, ReplenishmentPolicy, LaneLeadTimes, int]:
    n = draw(st.integers(1, 6))
    days = draw(st.integers(5, 80))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    lumpy = rng.random((n, days)) < draw(st.floats(0.05, 1.0))
    demand = np.where(lumpy, np.floor(rng.gamma(1.5, draw(st.floats(0.5, 20.0)), (n, days))), 0.0)
    kind = draw(st.sampled_from(["sq", "rs", "minmax"]))
    s = rng.uniform(0, 60, n)
    if kind == "sq":
        policy = ReplenishmentPolicy.continuous_sq(s, rng.uniform(1, 40, n))
    elif kind == "rs":
        policy = ReplenishmentPolicy.periodic_rs(rng.integers(1, 8, n), s)
    else:
        policy = ReplenishmentPolicy.min_max(s, s + rng.uniform(0, 40, n), rng.integers(1, 4, n))
    lanes = LaneLeadTimes.from_observations({"A": draw(lead_times), "B": draw(lead_times)})
    return demand, policy, lanes, seed


@settings(max_examples=60, deadline=None)
@given(scenario(), st.floats(0.0, 50.0))
def test_more_buffer_never_lowers_the_fill_rate_on_the_same_draws(
    case: tuple[np.ndarray, ReplenishmentPolicy, LaneLeadTimes, int], extra: float
) -> None:
    """Raising s and S (and the opening stock with them) by the same amount keeps every order
    on the same day with the same lead time (common random numbers), so stock is higher every
    day: units short, stock-out days and stocked-out cycles can only fall."""
    demand, policy, lanes, seed = case
    n = demand.shape[0]
    lane = np.arange(n) % 2
    base = simulate(demand, policy, lanes, lane, settings=SimulationSettings(seed=seed))
    raised = simulate(
        demand, policy.raised_by(extra), lanes, lane, settings=SimulationSettings(seed=seed)
    )
    assert np.all(raised.short_units <= base.short_units + 1e-9)
    assert np.all(raised.stockout_days <= base.stockout_days)
    assert np.all(raised.cycles_with_stockout <= base.cycles_with_stockout)
    assert np.array_equal(raised.orders_placed, base.orders_placed)
    with np.errstate(invalid="ignore"):
        assert np.all(~(raised.fill_rate < base.fill_rate - 1e-12))


@settings(max_examples=30, deadline=None)
@given(scenario())
def test_a_fixed_seed_gives_the_same_result(
    case: tuple[np.ndarray, ReplenishmentPolicy, LaneLeadTimes, int],
) -> None:
    demand, policy, lanes, seed = case
    lane = np.zeros(demand.shape[0], dtype=int)
    first = simulate(demand, policy, lanes, lane, settings=SimulationSettings(seed=seed))
    again = simulate(demand, policy, lanes, lane, settings=SimulationSettings(seed=seed))
    for name in ("short_units", "average_on_hand", "orders_placed", "cycles"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    boot = BootstrapSettings(block_days=7, resamples=200, seed=seed)
    assert segment_summary(first, boot).equals(segment_summary(again, boot))


@settings(max_examples=60, deadline=None)
@given(scenario(), st.integers(1, 30))
def test_bootstrap_intervals_hold_the_point_estimate_and_units_add_up(
    case: tuple[np.ndarray, ReplenishmentPolicy, LaneLeadTimes, int], block: int
) -> None:
    demand, policy, lanes, seed = case
    n = demand.shape[0]
    segment = np.array(["GOLD", "BRONZE"])[np.arange(n) % 2]
    result = simulate(
        demand, policy, lanes, np.zeros(n, dtype=int), segment=segment,
        settings=SimulationSettings(seed=seed),
    )  # fmt: skip
    summary = segment_summary(result, BootstrapSettings(block_days=block, resamples=300, seed=1))
    for row in summary.iter_rows(named=True):
        for metric in ("fill_rate", "cycle_service_level", "average_on_hand", "orders_per_year"):
            if row[metric] is None:
                continue
            assert row[f"{metric}_low"] - 1e-9 <= row[metric] <= row[f"{metric}_high"] + 1e-9
        mine = result.segment == row["segment"]
        assert row["short_units"] == np.float64(result.short_units[mine].sum()) or np.isclose(
            row["short_units"], result.short_units[mine].sum()
        )
        assert row["stockout_days"] == int(result.stockout_days[mine].sum())
        assert row["orders_placed"] == int(result.orders_placed[mine].sum())
        assert row["cycles"] == int(result.cycles[mine].sum())


def test_paired_comparison_sees_a_better_policy() -> None:
    rng = np.random.default_rng(4)
    demand = np.maximum(rng.normal(10, 3, (50, 400)), 0)
    lanes = LaneLeadTimes.from_observations({"A": [3, 4, 5, 9]})
    lane = np.zeros(50, dtype=int)
    segment = ["GOLD"] * 25 + ["BRONZE"] * 25
    current = ReplenishmentPolicy.continuous_sq(np.full(50, 40.0), np.full(50, 60.0))
    proposed = current.raised_by(np.r_[np.full(25, 30.0), np.zeros(25)])
    runs = [
        simulate(demand, p, lanes, lane, segment=segment, settings=SimulationSettings(seed=9))
        for p in (current, proposed)
    ]
    table = compare_policies(*runs, BootstrapSettings(seed=3)).sort("segment")
    bronze, gold = table.row(0, named=True), table.row(1, named=True)
    assert gold["fill_rate_change_low"] > 0  # the raised segment is surely better
    assert bronze["fill_rate_change"] == 0.0  # the other one is untouched, draws shared
    assert bronze["fill_rate_change_low"] == bronze["fill_rate_change_high"] == 0.0
    assert gold["average_on_hand_change"] > 0
