"""The replay engine against closed forms, and its behaviour on awkward inputs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tierline.inventory.simulation import (
    BootstrapSettings,
    ErpLotSize,
    LaneLeadTimes,
    ReplenishmentPolicy,
    SimulationSettings,
    segment_summary,
    simulate,
)
from tierline.inventory.simulation import reference as ref

MU, SD = 20.0, 4.0  # daily demand, coefficient of variation 0.2: never negative in practice


def normal_demand(n: int, days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(MU, SD, (n, days)), 0.0)


def one_lane(days: float) -> LaneLeadTimes:
    return LaneLeadTimes.from_observations({"DC<-SUP": [days]})


def test_sq_fill_rate_matches_the_closed_form_within_its_interval() -> None:
    """Stationary normal demand, constant lead time, (s, Q) reviewed daily: the exact
    steady-state fill rate lies inside the simulated segment's 95 % interval, and the
    textbook continuous-review value 1 - sd·G(k)/Q brackets it between lead times L and L + 1
    (a day's demand arrives in one lump, so the exposure lies between the two)."""
    n, days, lead = 200, 1100, 5
    s, q = MU * lead + 0.5 * SD * np.sqrt(lead), 150.0
    policy = ReplenishmentPolicy.continuous_sq(np.full(n, s), np.full(n, q))
    result = simulate(
        normal_demand(n, days, 11),
        policy,
        one_lane(lead),
        np.zeros(n, dtype=int),
        segment=["GOLD"] * n,
        settings=SimulationSettings(seed=5, warmup_days=100),
    )
    row = segment_summary(result, BootstrapSettings(block_days=30, seed=2)).row(0, named=True)
    exact = ref._fill_rate_sq_daily(s, q, MU, SD, lead)
    assert row["fill_rate_low"] <= exact <= row["fill_rate_high"]
    assert row["fill_rate_high"] - row["fill_rate_low"] < 0.01  # the check has teeth
    textbook = [
        float(ref._fill_rate_sq_textbook(s, q, MU * m, SD * np.sqrt(m))) for m in (lead + 1, lead)
    ]
    assert textbook[0] < row["fill_rate"] < textbook[1]


def test_periodic_rs_matches_the_closed_form_and_the_textbook_formula() -> None:
    """(R, S): fill rate and cycle service level inside their intervals of the exact values;
    with S well above lead-time demand the textbook form 1 - sd_{R+L}·G(k)/(μR) (Silver, Pyke &
    Thomas 2017, §6.9) is inside too."""
    n, days, lead, review = 200, 1100, 4, 7
    protect = review + lead
    level = MU * protect + 0.9 * SD * np.sqrt(protect)
    result = simulate(
        normal_demand(n, days, 12),
        ReplenishmentPolicy.periodic_rs(np.full(n, review), np.full(n, level)),
        one_lane(lead),
        np.zeros(n, dtype=int),
        settings=SimulationSettings(seed=6, warmup_days=70),
    )
    row = segment_summary(result, BootstrapSettings(block_days=28, seed=3)).row(0, named=True)
    fill, csl = ref._periodic_rs_daily(review, level, MU, SD, lead)
    assert row["fill_rate_low"] <= fill <= row["fill_rate_high"]
    assert row["cycle_service_level_low"] <= csl <= row["cycle_service_level_high"]
    sd_p = SD * np.sqrt(protect)
    textbook = 1 - sd_p * float(ref._loss((level - MU * protect) / sd_p)) / (MU * review)
    assert row["fill_rate_low"] <= textbook <= row["fill_rate_high"]


def test_orders_cross_when_lead_times_vary() -> None:
    lanes = LaneLeadTimes.from_observations({"L": [1, 9]})
    n, days = 3, 120
    result = simulate(
        np.full((n, days), 10.0),
        ReplenishmentPolicy.periodic_rs(np.ones(n, dtype=int), np.full(n, 150.0)),
        lanes,
        np.zeros(n, dtype=int),
        settings=SimulationSettings(seed=1, trace_rows=(0,)),
    )
    trace = result.trace
    assert trace is not None
    placed = np.flatnonzero(trace.lead_time_days[0] >= 0)
    arrival = placed + trace.lead_time_days[0, placed]
    crossed = np.any(arrival[:, None] > arrival[None, :]) and np.any(
        (placed[:, None] < placed[None, :]) & (arrival[:, None] > arrival[None, :])
    )
    assert crossed, "a later order should have overtaken an earlier one"
    assert set(trace.lead_time_days[0, placed].tolist()) == {1, 9}
    # nothing is lost in transit: opening + received - demand = on hand - backorders
    net = trace.on_hand[0] - trace.backorders[0]
    assert net[-1] == pytest.approx(150.0 + trace.received[0].sum() - trace.demand[0].sum())
    # receipts come exactly lead time + 1 days after the order (end of day t + L)
    for day, lead in zip(placed, trace.lead_time_days[0, placed], strict=True):
        if day + lead + 1 < days:
            assert trace.received[0, day + lead + 1] >= trace.ordered[0, day]


def test_zero_demand_is_simulated_and_flagged_for_information() -> None:
    result = simulate(
        np.zeros((2, 30)),
        ReplenishmentPolicy.continuous_sq(np.array([5.0, 5.0]), np.array([10.0, 10.0])),
        one_lane(3),
        np.zeros(2, dtype=int),
    )
    assert result.simulated.all()
    assert np.isnan(result.fill_rate).all()
    assert result.orders_placed.tolist() == [0, 0]
    assert result.stockout_days.tolist() == [0, 0]
    assert result.average_on_hand.tolist() == [15.0, 15.0]
    assert result.flags.filter(pl.col("code") == "no_demand")["excluded"].to_list() == [
        False,
        False,
    ]


def test_a_lane_with_a_single_observation_is_a_constant_lead_time() -> None:
    result = simulate(
        np.full((1, 60), 5.0),
        ReplenishmentPolicy.continuous_sq(np.array([20.0]), np.array([30.0])),
        LaneLeadTimes.from_observations({"ONLY": [3.4]}),  # rounds to 3 days
        np.zeros(1, dtype=int),
        settings=SimulationSettings(trace_rows=(0,)),
    )
    assert result.trace is not None
    drawn = result.trace.lead_time_days[0]
    assert set(drawn[drawn >= 0].tolist()) == {3}
    # demand 5/day, s = 20 covers the 3-day lead time plus the day: never short
    assert result.fill_rate[0] == 1.0


def test_bad_rows_are_left_out_with_their_reason_and_the_rest_simulated() -> None:
    lanes = LaneLeadTimes.from_observations({"OK": [2, 3], "EMPTY": [], "NEG": [-1.0, 2.0]})
    demand = np.full((6, 40), 4.0)
    demand[1, 3] = -2.0  # negative demand
    demand[2, 7] = np.nan  # missing demand
    policy = ReplenishmentPolicy.continuous_sq(np.full(6, 10.0), np.array([8, 8, 8, 8, 8, 0.0]))
    lane = np.array([0, 0, 0, 1, 2, 0])
    result = simulate(demand, policy, lanes, lane)
    codes = dict(result.flags.filter("excluded").select("row", "code").iter_rows())
    assert codes == {
        1: "demand_invalid",
        2: "demand_invalid",
        3: "no_lead_time_observations",
        4: "no_lead_time_observations",
        5: "policy_order_quantity_invalid",
    }
    assert lanes.problems == {
        "EMPTY": "no lead-time observations for this lane",
        "NEG": "lead-time observations must be non-negative numbers of days",
    }
    assert result.simulated.tolist() == [True, False, False, False, False, False]
    assert np.isfinite(result.fill_rate[0]) and np.isnan(result.fill_rate[1:]).all()
    assert result.daily.items.sum() == 1  # the left-out rows are in no roll-up


def test_the_same_row_gets_the_same_result_whatever_else_is_left_out() -> None:
    """Random draws belong to (seed, row, day): excluding a neighbour changes nothing."""
    lanes = LaneLeadTimes.from_observations({"L": [1, 2, 3, 8]})
    demand = normal_demand(4, 200, 3)
    policy = ReplenishmentPolicy.continuous_sq(np.full(4, 90.0), np.full(4, 60.0))
    whole = simulate(demand, policy, lanes, np.zeros(4, dtype=int))
    broken = demand.copy()
    broken[1, 0] = -1
    partial = simulate(broken, policy, lanes, np.zeros(4, dtype=int))
    assert partial.simulated.tolist() == [True, False, True, True]
    assert partial.short_units[[0, 2, 3]].tolist() == whole.short_units[[0, 2, 3]].tolist()


def test_erp_lot_rules_minimum_rounding_and_replenish_to_max() -> None:
    policy = ReplenishmentPolicy.concat(
        [
            # EX: shortfall up to MINBE, at least BSTMI = 25, rounded up to BSTRF = 10
            ReplenishmentPolicy.erp_reorder_point(
                np.array([50.0]), np.array([ErpLotSize.LOT_FOR_LOT]), min_lot=25.0,
                rounding_value=10.0,
            ),
            # HB: up to MABST = 200
            ReplenishmentPolicy.erp_reorder_point(
                np.array([50.0]), np.array([ErpLotSize.REPLENISH_TO_MAX]), max_stock_level=200.0
            ),
            # FX: fixed lots of 40
            ReplenishmentPolicy.erp_reorder_point(
                np.array([50.0]), np.array([ErpLotSize.FIXED]), fixed_lot=40.0
            ),
        ]
    )  # fmt: skip
    demand = np.zeros((3, 5))
    demand[:, 0] = 7.0  # position 50 - 7 = 43 < 50 on day 0
    result = simulate(
        demand,
        policy,
        one_lane(1),
        np.zeros(3, dtype=int),
        settings=SimulationSettings(initial_on_hand=np.full(3, 50.0), trace_rows=(0, 1, 2)),
    )
    assert result.trace is not None
    assert result.trace.ordered[:, 0].tolist() == [30.0, 157.0, 40.0]
    # at exactly the reorder point SAP does not order ("falls below"); the textbook (s, Q) does
    at_point = simulate(
        np.zeros((2, 3)),
        ReplenishmentPolicy.concat(
            [
                ReplenishmentPolicy.erp_reorder_point(
                    np.array([50.0]), np.array([ErpLotSize.FIXED]), fixed_lot=40.0
                ),
                ReplenishmentPolicy.continuous_sq(np.array([50.0]), np.array([40.0])),
            ]
        ),
        one_lane(1),
        np.zeros(2, dtype=int),
        settings=SimulationSettings(initial_on_hand=np.full(2, 50.0)),
    )
    assert at_point.orders_placed.tolist() == [0, 1]


def test_lost_sales_never_carry_backorders() -> None:
    demand = np.full((1, 50), 10.0)
    policy = ReplenishmentPolicy.continuous_sq(np.array([5.0]), np.array([20.0]))
    kwargs = {"settings": SimulationSettings(lost_sales=True, trace_rows=(0,))}
    lost = simulate(demand, policy, one_lane(4), np.zeros(1, dtype=int), **kwargs)
    assert lost.trace is not None
    assert lost.trace.backorders.max() == 0.0
    backordered = simulate(
        demand, policy, one_lane(4), np.zeros(1, dtype=int),
        settings=SimulationSettings(trace_rows=(0,)),
    )  # fmt: skip
    assert backordered.trace is not None and backordered.trace.backorders.max() > 0
    assert lost.short_units[0] > 0


def test_periodic_review_orders_only_on_review_days() -> None:
    result = simulate(
        np.full((1, 30), 3.0),
        ReplenishmentPolicy.periodic_rs(np.array([7]), np.array([60.0]), np.array([2])),
        one_lane(2),
        np.zeros(1, dtype=int),
        settings=SimulationSettings(trace_rows=(0,)),
    )
    assert result.trace is not None
    assert np.flatnonzero(result.trace.ordered[0]).tolist() == [2, 9, 16, 23]


def test_warm_up_days_are_not_measured() -> None:
    result = simulate(
        np.full((1, 40), 2.0),
        ReplenishmentPolicy.continuous_sq(np.array([10.0]), np.array([20.0])),
        one_lane(1),
        np.zeros(1, dtype=int),
        settings=SimulationSettings(warmup_days=10),
    )
    assert result.days_measured == 30
    assert result.demand_units[0] == 60.0
    assert result.daily.demand.shape == (1, 30)


def test_mismatched_shapes_are_refused() -> None:
    policy = ReplenishmentPolicy.continuous_sq(np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="demand must be"):
        simulate(np.zeros((2, 5)), policy, one_lane(1), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="warm-up"):
        simulate(
            np.zeros((1, 5)), policy, one_lane(1), np.zeros(1, dtype=int),
            settings=SimulationSettings(warmup_days=5),
        )  # fmt: skip


def test_too_few_observations_fall_back_to_the_planned_lead_time_or_are_refused() -> None:
    lanes = LaneLeadTimes.from_observations(
        {"FEW": [3.0, 4.0], "ENOUGH": [2, 3, 4, 5, 6], "NONE": []},
        minimum=5,
        planned={"FEW": 7.0, "PLANNED_ONLY": 2.5},
    )
    assert lanes.problems == {
        "NONE": "no lead-time observations for this lane",
    }
    assert set(lanes.fallbacks) == {"FEW", "PLANNED_ONLY"}
    assert "planned lead time of 7 days used" in lanes.fallbacks["FEW"]
    lane = lanes.index_of(["FEW", "ENOUGH", "NONE", "PLANNED_ONLY", "MISSING"])
    assert lane[-1] == -1
    result = simulate(
        np.full((5, 40), 2.0),
        ReplenishmentPolicy.continuous_sq(np.full(5, 20.0), np.full(5, 10.0)),
        lanes,
        lane,
        settings=SimulationSettings(trace_rows=(0, 3)),
    )
    assert result.simulated.tolist() == [True, True, False, True, False]
    flags = {(r["row"], r["code"]) for r in result.flags.iter_rows(named=True)}
    assert {(0, "planned_lead_time_used"), (3, "planned_lead_time_used")} <= flags
    assert {(2, "no_lead_time_observations"), (4, "lane_unknown")} <= flags
    assert result.trace is not None
    drawn = result.trace.lead_time_days
    assert set(drawn[0][drawn[0] >= 0].tolist()) == {7}
    assert set(drawn[1][drawn[1] >= 0].tolist()) == {3}  # 2.5 days rounds half up
