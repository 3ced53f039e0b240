"""The guaranteed-service model against published examples and against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from tierline.inventory.echelon import NO_LIMIT, GsmStages, Network, optimise_service_times


def stages(**columns: list[float] | list[int]) -> GsmStages:
    def row(name: str, dtype: type) -> np.ndarray:
        return np.asarray([columns[name]], dtype=dtype)

    return GsmStages(
        processing_days=row("t", np.int64),
        holding_cost_per_day=row("h", np.float64),
        demand_sd_per_day=row("sd", np.float64),
        service_factor=row("z", np.float64),
        max_service_days=row("smax", np.int64),
        external_inbound_days=row("sin", np.int64),
    )


def test_snyder_shen_example_6_5() -> None:
    """Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed. (Wiley, 2019), Example 6.5:
    stage 1 (T=2, h=1, supplier service 1) feeds stage 3 (T=1, h=2), which feeds two
    customer-facing stages 2 (T=1, h=3, s=0) and 4 (T=1, h=3, s=1), each with sd=1 and z=1.
    Optimal outbound service times S = (0, 0, 0, 1), cost 2·sqrt(2) + sqrt(6) + 3 ≈ 8.278."""
    net = Network.build(["1", "2", "3", "4"], [("1", "3"), ("3", "2"), ("3", "4")])
    result = optimise_service_times(
        net,
        stages(
            t=[2, 1, 1, 1], h=[1, 3, 2, 3], sd=[0, 1, 0, 1], z=[1, 1, 1, 1],
            smax=[NO_LIMIT, 0, NO_LIMIT, 1], sin=[1, 0, 0, 0],
        ),
    )  # fmt: skip
    assert result.outbound_service_days[0].tolist() == [0, 0, 0, 1]
    assert result.inbound_service_days[0].tolist() == [1, 0, 0, 0]
    assert result.net_replenishment_days[0].tolist() == [3, 1, 1, 0]
    assert result.cost_per_day[0] == pytest.approx(2 * np.sqrt(2) + np.sqrt(6) + 3.0)
    assert result.pooled_demand_sd_per_day[0].tolist() == pytest.approx(
        [np.sqrt(2), 1, np.sqrt(2), 1]
    )
    assert result.safety_stock_units[0].tolist() == pytest.approx([np.sqrt(6), 1, np.sqrt(2), 0])


CAMERA = [
    ("Raw_Material", 2, 0.01),
    ("Process_Wafers", 3, 0.03),
    ("Package_Test_Wafers", 2, 0.04),
    ("Imager_Base", 4, 0.06),
    ("Imager_Assembly", 2, 0.12),
    ("Ship_to_Final_Assembly", 3, 0.13),
    ("Camera", 6, 0.20),
    ("Circuit_Board", 4, 0.08),
    ("Other_Parts", 3, 0.04),
    ("Build_Test_Pack", 2, 0.50),
]
CAMERA_LANES = [
    ("Raw_Material", "Process_Wafers"),
    ("Process_Wafers", "Package_Test_Wafers"),
    ("Package_Test_Wafers", "Imager_Assembly"),
    ("Imager_Base", "Imager_Assembly"),
    ("Imager_Assembly", "Ship_to_Final_Assembly"),
    ("Ship_to_Final_Assembly", "Build_Test_Pack"),
    ("Camera", "Build_Test_Pack"),
    ("Circuit_Board", "Build_Test_Pack"),
    ("Other_Parts", "Build_Test_Pack"),
]


@pytest.mark.parametrize(
    ("quoted", "cost", "service"),
    [
        (2, 18.8240044725922, [0, 3, 5, 4, 7, 0, 0, 0, 0, 2]),
        (5, 12.4686888061037, [0, 3, 5, 4, 0, 3, 3, 3, 3, 5]),
        (8, 3.25788236403285, [0, 3, 1, 1, 3, 6, 6, 4, 3, 8]),
        (12, 0.232617430735335, [0, 3, 5, 4, 7, 10, 6, 4, 3, 12]),
    ],
)
def test_digital_camera_supply_chain(quoted: int, cost: float, service: list[int]) -> None:
    """The digital-camera supply chain of Graves & Willems (2000), as given in Snyder & Shen
    (2019), Figure 6.14: processing times and holding costs per stage, end demand sd = 10 per
    day at Build_Test_Pack, z = Φ⁻¹(0.95), quoted service 2, 5, 8 or 12 days. Optimal costs
    and service times as published with the book's companion code (stockpyl's tests)."""
    names = [c[0] for c in CAMERA]
    result = optimise_service_times(
        Network.build(names, CAMERA_LANES),
        stages(
            t=[c[1] for c in CAMERA],
            h=[c[2] for c in CAMERA],
            sd=[0] * 9 + [10],
            z=[norm.ppf(0.95)] * 10,
            smax=[NO_LIMIT] * 9 + [quoted],
            sin=[0] * 10,
        ),
    )
    assert result.cost_per_day[0] == pytest.approx(cost, rel=1e-12)
    assert result.outbound_service_days[0].tolist() == service


def brute_force(
    net: Network, t: list[int], h: list[float], sd: list[float], smax: list[int], sin: list[int]
) -> float:
    """Every combination of outbound service times, inbound times as the sources quote them."""
    n = len(t)
    pooled = np.array(sd, dtype=float) ** 2
    for k in reversed(net.order):
        for child in net.destinations[k]:
            pooled[k] += pooled[child]
    pooled = np.sqrt(pooled)
    longest = [0] * n
    for k in net.order:
        longest[k] = t[k] + max([sin[k]] + [longest[s] for s in net.sources[k]])
    ranges = [range((smax[k] if smax[k] != NO_LIMIT else longest[k]) + 1) for k in range(n)]
    grid = np.array(list(itertools.product(*ranges)), dtype=np.int64)
    inbound = np.tile(np.array(sin), (grid.shape[0], 1))
    for k in range(n):
        for source in net.sources[k]:
            inbound[:, k] = np.maximum(inbound[:, k], grid[:, source])
    nlt = inbound + np.array(t) - grid
    ok = np.all(nlt >= 0, axis=1)
    cost = (np.array(h) * pooled * np.sqrt(np.maximum(nlt, 0))).sum(axis=1)
    return float(cost[ok].min())


@st.composite
def small_tree(
    draw: st.DrawFn,
) -> tuple[Network, list[int], list[float], list[float], list[int], list[int]]:
    n = draw(st.integers(1, 5))
    lanes = []
    for k in range(1, n):  # each new stage hangs off an earlier one, either direction
        other = draw(st.integers(0, k - 1))
        lanes.append((str(other), str(k)) if draw(st.booleans()) else (str(k), str(other)))
    net = Network.build([str(k) for k in range(n)], lanes)
    t = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    h = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n))
    sinks = [k for k in range(n) if not net.destinations[k]]
    sd = [
        draw(st.sampled_from([1.0, 2.0, 5.0])) if k in sinks else draw(st.sampled_from([0.0, 1.0]))
        for k in range(n)
    ]
    smax = [draw(st.integers(0, 2)) if k in sinks else NO_LIMIT for k in range(n)]
    sin = [draw(st.integers(0, 1)) if not net.sources[k] else 0 for k in range(n)]
    return net, t, h, sd, smax, sin


@settings(max_examples=80, deadline=None)
@given(small_tree())
def test_the_programme_finds_the_brute_force_optimum(
    case: tuple[Network, list[int], list[float], list[float], list[int], list[int]],
) -> None:
    net, t, h, sd, smax, sin = case
    result = optimise_service_times(
        net, stages(t=t, h=h, sd=sd, z=[1.0] * len(t), smax=smax, sin=sin)
    )
    best = brute_force(net, t, h, sd, smax, sin)
    # never below the optimum (it is a feasible plan), and as good as it
    assert result.cost_per_day[0] >= best - 1e-9
    assert result.cost_per_day[0] == pytest.approx(best, abs=1e-9)
    s, si = result.outbound_service_days[0], result.inbound_service_days[0]
    nlt = result.net_replenishment_days[0]
    for k in range(len(t)):
        assert si[k] == max([sin[k]] + [s[j] for j in net.sources[k]])
        assert 0 <= nlt[k] == si[k] + t[k] - s[k]
        assert s[k] >= 0 and (smax[k] == NO_LIMIT or s[k] <= smax[k])


def test_many_items_at_once_match_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    net = Network.build(
        ["CDC", "RDC1", "RDC2", "S1", "S2", "S3"],
        [("CDC", "RDC1"), ("CDC", "RDC2"), ("RDC1", "S1"), ("RDC1", "S2"), ("RDC2", "S3")],
    )
    items, n = 40, 6
    sinks = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
    batch = GsmStages(
        processing_days=rng.integers(0, 8, (items, n)),
        holding_cost_per_day=rng.uniform(0.1, 2, (items, n)),
        demand_sd_per_day=np.where(sinks, rng.uniform(0, 10, (items, n)), 0.0),
        service_factor=np.full((items, n), 1.645),
        max_service_days=np.where(sinks, rng.integers(0, 3, (items, n)), NO_LIMIT),
        external_inbound_days=np.where(np.arange(n) == 0, rng.integers(0, 5, (items, n)), 0),
        demand_mean_per_day=np.where(sinks, rng.uniform(0, 50, (items, n)), 0.0),
    )
    together = optimise_service_times(net, batch, chunk=16)
    for i in (0, 17, 39):
        alone = optimise_service_times(
            net,
            GsmStages(**{f: getattr(batch, f)[i : i + 1] for f in batch.__dataclass_fields__}),
        )
        assert alone.cost_per_day[0] == pytest.approx(together.cost_per_day[i])
        assert together.base_stock_units[i] == pytest.approx(alone.base_stock_units[0])
    # pooled mean at the central DC is all store demand
    assert together.base_stock_units.shape == (items, n)


def test_unusable_items_are_flagged_and_the_others_solved() -> None:
    net = Network.build(["DC", "S"], [("DC", "S")])
    batch = GsmStages(
        processing_days=np.array([[3, 1], [-1, 1]]),
        holding_cost_per_day=np.array([[1.0, 2.0], [1.0, 2.0]]),
        demand_sd_per_day=np.array([[0.0, 4.0], [0.0, np.nan]]),
        service_factor=np.full((2, 2), 2.0),
        max_service_days=np.array([[NO_LIMIT, 0], [NO_LIMIT, 0]]),
        external_inbound_days=np.zeros((2, 2), dtype=np.int64),
    )
    result = optimise_service_times(net, batch)
    assert result.flags["item"].to_list() == [1, 1]
    assert set(result.flags["code"]) == {"processing_days_invalid", "demand_invalid"}
    assert np.isfinite(result.cost_per_day[0]) and np.isnan(result.cost_per_day[1])
    assert result.outbound_service_days[1].tolist() == [-1, -1]
    with pytest.raises(ValueError, match="items, stages"):
        optimise_service_times(net, GsmStages(**{**batch.__dict__, "service_factor": np.ones(2)}))
