"""Capacity cuts: lowest tier first, least service lost per unit of space, never more than
needed, and the service cost of each cut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from tierline.inventory.echelon import CapacityRows, capacity_cuts


def rows(**columns: object) -> CapacityRows:
    n = len(columns["location"])  # type: ignore[arg-type]
    defaults = {
        "segment": ["S"] * n,
        "safety_stock_floor_units": [0.0] * n,
        "space_per_unit": [1.0] * n,
    }
    merged = {**defaults, **columns}
    return CapacityRows(
        location=np.asarray(merged["location"], dtype=object),
        segment=np.asarray(merged["segment"], dtype=object),
        tier=np.asarray(merged["tier"], dtype=np.int64),
        stock_units=np.asarray(merged["stock_units"], dtype=float),
        safety_stock_units=np.asarray(merged["safety_stock_units"], dtype=float),
        safety_stock_floor_units=np.asarray(merged["safety_stock_floor_units"], dtype=float),
        protection_sd_units=np.asarray(merged["protection_sd_units"], dtype=float),
        order_quantity_units=np.asarray(merged["order_quantity_units"], dtype=float),
        demand_per_day=np.asarray(merged["demand_per_day"], dtype=float),
        space_per_unit=np.asarray(merged["space_per_unit"], dtype=float),
    )


def test_worked_example_lowest_tier_first_then_the_next() -> None:
    """DC holds Gold (tier 1), Silver (2) and Bronze (3), 100 units of stock each with 30
    units of safety stock (sd 15 over the protection interval, Q 70, 10 a day); capacity 250
    leaves 50 over: Bronze gives all 30, Silver the remaining 20, Gold nothing."""
    result = capacity_cuts(
        rows(
            location=["DC"] * 3,
            segment=["GOLD", "SILVER", "BRONZE"],
            tier=[1, 2, 3],
            stock_units=[100, 100, 100],
            safety_stock_units=[30, 30, 30],
            protection_sd_units=[15, 15, 15],
            order_quantity_units=[70, 70, 70],
            demand_per_day=[10, 10, 10],
        ),
        {"DC": 250.0},
    )
    cut = result.rows["cut_units"].to_list()
    assert cut == pytest.approx([0.0, 20.0, 30.0])
    location = result.locations.row(0, named=True)
    assert location["freed"] == pytest.approx(50.0)
    assert location["usage_after"] == pytest.approx(250.0)
    assert location["status"] == "cut"
    silver = result.rows.row(1, named=True)
    # k from 2 to 2/3: CSL Φ(2) → Φ(2/3); fill rate 1 - sd·G(k)/Q
    assert silver["cycle_service_level_before"] == pytest.approx(norm.cdf(2.0))
    assert silver["cycle_service_level_after"] == pytest.approx(norm.cdf(10 / 15))
    g = lambda k: norm.pdf(k) - k * norm.sf(k)  # noqa: E731
    assert silver["fill_rate_after"] == pytest.approx(1 - 15 * g(10 / 15) / 70)
    extra = (15 * g(10 / 15) - 15 * g(2.0)) * 10 / 70 * 365
    assert silver["extra_units_short_per_year"] == pytest.approx(extra)
    by_segment = {r["segment"]: r for r in result.segments.iter_rows(named=True)}
    assert by_segment["GOLD"]["cut_units"] == 0
    assert by_segment["BRONZE"]["space_freed"] == pytest.approx(30)


def test_inside_a_tier_the_cut_goes_where_it_costs_least_service() -> None:
    """Two Bronze rows, one with many replenishments a day (each unit of safety stock protects
    many cycles), one with few: the cut falls on the second until their marginal losses meet."""
    result = capacity_cuts(
        rows(
            location=["DC", "DC"],
            tier=[3, 3],
            stock_units=[200, 200],
            safety_stock_units=[40, 40],
            protection_sd_units=[20, 20],
            order_quantity_units=[20, 400],
            demand_per_day=[20, 20],
        ),
        {"DC": 370.0},
    )
    frequent, rare = result.rows["cut_units"].to_list()
    assert frequent + rare == pytest.approx(30.0)
    assert rare > frequent
    # levelled: equal marginal units short per unit of space, (d/Q)·(1 - Φ(k))
    k = (40 - np.array([frequent, rare])) / 20
    marginal = np.array([20 / 20, 20 / 400]) * norm.sf(k)
    if frequent > 1e-9:
        assert marginal[0] == pytest.approx(marginal[1], rel=1e-6)


def test_space_per_unit_and_floors_are_respected() -> None:
    result = capacity_cuts(
        rows(
            location=["DC", "DC"],
            tier=[2, 3],
            stock_units=[10, 10],
            safety_stock_units=[6, 6],
            safety_stock_floor_units=[0, 4],  # Bronze may lose only 2 units
            protection_sd_units=[3, 3],
            order_quantity_units=[5, 5],
            demand_per_day=[1, 1],
            space_per_unit=[0.5, 2.0],  # pallets
        ),
        {"DC": 20.0},  # usage 5 + 20 = 25: 5 pallets over
    )
    assert result.rows["cut_units"].to_list() == pytest.approx([2.0, 2.0])  # 4 + 1 pallets
    assert result.rows["safety_stock_after"].to_list() == pytest.approx([4.0, 4.0])


def test_not_enough_safety_stock_leaves_unresolved_overflow() -> None:
    result = capacity_cuts(
        rows(
            location=["DC"],
            tier=[1],
            stock_units=[100],
            safety_stock_units=[10],
            protection_sd_units=[5],
            order_quantity_units=[90],
            demand_per_day=[3],
        ),
        {"DC": 50.0},
    )
    location = result.locations.row(0, named=True)
    assert location["freed"] == pytest.approx(10.0)
    assert location["unresolved_overflow"] == pytest.approx(40.0)
    assert location["status"] == "over_capacity_after_cuts"


def test_a_location_without_capacity_is_flagged_not_cut() -> None:
    result = capacity_cuts(
        rows(
            location=["DC", "STORE", "STORE"],
            tier=[3, 3, 1],
            stock_units=[100, 100, 5],
            safety_stock_units=[10, 10, np.nan],
            protection_sd_units=[5, 5, 1],
            order_quantity_units=[90, 90, 4],
            demand_per_day=[3, 3, 1],
        ),
        {"DC": None, "STORE": 10.0},
    )
    flags = {(r["row"], r["code"]) for r in result.flags.iter_rows(named=True)}
    assert flags == {
        (0, "location_without_capacity"),
        (1, "location_has_unusable_rows"),
        (2, "safety_stock_invalid"),
    }
    assert result.rows["cut_units"].to_list() == [0.0, 0.0, 0.0]
    status = dict(result.locations.select("location", "status").iter_rows())
    assert status == {"DC": "no_capacity", "STORE": "unusable_rows"}


@st.composite
def location_rows(draw: st.DrawFn) -> tuple[CapacityRows, dict[str, float]]:
    n = draw(st.integers(1, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    loc = rng.choice(["A", "B", "C"], n)
    sd = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0.5, 30, n))
    demand = np.where(rng.random(n) < 0.15, 0.0, rng.uniform(0.1, 40, n))
    ss = rng.uniform(-5, 60, n)
    data = rows(
        location=list(loc),
        tier=list(rng.integers(1, 4, n)),
        stock_units=list(np.maximum(ss, 0) + rng.uniform(1, 80, n)),
        safety_stock_units=list(ss),
        safety_stock_floor_units=list(np.where(rng.random(n) < 0.3, rng.uniform(-5, 20, n), -5.0)),
        protection_sd_units=list(sd),
        order_quantity_units=list(rng.uniform(1, 100, n)),
        demand_per_day=list(demand),
        space_per_unit=list(rng.choice([0.25, 1.0, 3.0], n)),
    )
    usage = {x: float((data.stock_units * data.space_per_unit)[loc == x].sum()) for x in "ABC"}
    capacity = {x: usage[x] * draw(st.floats(0.3, 1.2)) for x in "ABC"}
    return data, capacity


@settings(max_examples=120, deadline=None)
@given(location_rows())
def test_cuts_never_exceed_the_need_nor_touch_a_tier_before_lower_ones_are_exhausted(
    case: tuple[CapacityRows, dict[str, float]],
) -> None:
    data, capacity = case
    result = capacity_cuts(data, capacity)
    frame = result.rows
    floor = np.minimum(data.safety_stock_floor_units, data.safety_stock_units)
    cut = frame["cut_units"].to_numpy()
    assert np.all(cut >= -1e-9)
    assert np.all(data.safety_stock_units - cut >= floor - 1e-7)
    for location in result.locations.iter_rows(named=True):
        here = data.location == location["location"]
        need = max(location["usage_before"] - capacity[location["location"]], 0.0)
        cuttable = ((data.safety_stock_units - floor) * data.space_per_unit)[here].sum()
        assert location["freed"] <= need + 1e-6  # never more than needed
        assert location["freed"] == pytest.approx(min(need, cuttable), abs=1e-6)
        tiers = sorted(set(data.tier[here]), reverse=True)
        for lower, higher in itertools.pairwise(tiers):
            touched_higher = np.any(cut[here & (data.tier == higher)] > 1e-9)
            exhausted_lower = np.allclose(
                (data.safety_stock_units - cut)[here & (data.tier == lower)],
                floor[here & (data.tier == lower)],
                atol=1e-6,
            )
            assert not touched_higher or exhausted_lower
