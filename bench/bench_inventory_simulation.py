"""Inventory engines: simulation before deployment, guaranteed-service placement, capacity
cuts and distortion, on synthetic data of product size.

- **Simulation**: 100,000 SKU-locations x 365 days of intermittent demand, 50 lanes with 30
  lead-time observations each, replayed under the current (s, Q) policy and a proposed one
  (+20 % safety stock), then compared per segment with the paired block bootstrap. Target:
  both replays and the comparison <= 60 s. The engine's replay is also timed against a
  hand-written numpy loop of the same (s, Q) replay (same draws, nothing but units short and
  demand kept); both must agree row for row.
- **GSM**: a 3-echelon tree (1 central DC, 4 regional DCs, 15 stores = 20 locations) and 1,000
  SKUs with their own lead times, costs and demand, solved in one batched call.
- **Capacity cuts**: 1,000,000 SKU-locations over 20 locations, every location 10 % over.
- **Distortion**: 1,000,000 SKU-locations against their targets, with unit values.

Run ``python -m bench inventory_simulation`` (or this file); writes
``bench/results/inventory_simulation.json``. Options: ``--items``, ``--days``, ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tierline.inventory.distortion import assess_distortion
from tierline.inventory.echelon import (
    NO_LIMIT,
    CapacityRows,
    GsmStages,
    Network,
    capacity_cuts,
    optimise_service_times,
)
from tierline.inventory.simulation import (
    BootstrapSettings,
    LaneLeadTimes,
    ReplenishmentPolicy,
    SimulationSettings,
    compare_policies,
    simulate,
)
from tierline.inventory.simulation.engine import ROW_BLOCK, UNIT_TOLERANCE

RESULT_FILE = Path(__file__).resolve().parent / "results" / "inventory_simulation.json"
SIMULATION_TARGET_S = 60.0
SEGMENTS = np.array(["PLATINUM", "GOLD", "SILVER", "BRONZE"])


def demand_history(items: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """Intermittent daily demand: a share of days with orders, gamma-sized, per-item scale."""
    scale = rng.lognormal(1.0, 0.8, items)[:, None]
    busy = rng.random((items, days)) < rng.uniform(0.2, 0.9, items)[:, None]
    return np.where(busy, np.round(rng.gamma(2.0, 1.0, (items, days)) * scale), 0.0)


def baseline_sq(
    demand: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    lanes: LaneLeadTimes,
    lane: np.ndarray,
    cell: np.ndarray,
    cells: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """The same (s, nQ) replay written directly for this one policy, with the same outputs:
    per-row totals and per-cell daily sums (bincount), the same draws (per block of rows)."""
    n, days = demand.shape
    out = {
        k: np.zeros(n)
        for k in (
            "short",
            "on_hand",
            "stockout",
            "nostock",
            "cycles",
            "cshort",
            "orders",
            "ordered",
        )
    }
    daily = np.zeros((7, cells, days))
    width = lanes.max_days + 2
    for start in range(0, n, ROW_BLOCK):
        stop = min(start + ROW_BLOCK, n)
        m = stop - start
        rng = np.random.default_rng([seed, start])
        d = np.ascontiguousarray(demand[start:stop].T)
        ss, qq, ln, cl = s[start:stop], q[start:stop], lane[start:stop], cell[start:stop]
        net = ss + qq
        on_order = np.zeros(m)
        pipe = np.zeros((width, m))
        flag = np.zeros(m, dtype=bool)
        acc = {k: np.zeros(m) for k in out}
        counts = lanes.counts[ln]
        for t in range(days):
            u = rng.random(m)
            slot = t % width
            arriving = pipe[slot].copy()
            got = arriving > 0
            net += arriving
            on_order -= arriving
            pipe[slot] = 0.0
            closed = got & flag
            flag &= ~got
            short = np.maximum(d[t] - np.maximum(net, 0.0), 0.0)
            net -= d[t]
            out_ = short > 0
            flag |= out_
            position = net + on_order
            idx = np.flatnonzero(position <= ss + UNIT_TOLERANCE)
            qty = (np.floor((ss[idx] - position[idx] + UNIT_TOLERANCE) / qq[idx]) + 1.0) * qq[idx]
            pick = np.minimum((u[idx] * counts[idx]).astype(np.int64), counts[idx] - 1)
            lead = lanes.samples_days[ln[idx], pick]
            pipe[(t + lead + 1) % width, idx] += qty
            on_order[idx] += qty
            placed = np.zeros(m, dtype=bool)
            placed[idx] = True
            on_hand = np.maximum(net, 0.0)
            acc["short"] += short
            acc["on_hand"] += on_hand
            acc["stockout"] += out_
            acc["nostock"] += net <= 0
            acc["cycles"] += got
            acc["cshort"] += closed
            acc["orders"] += placed
            acc["ordered"][idx] += qty
            for j, values in enumerate((d[t], short, on_hand, out_, got, closed, placed)):
                daily[j, :, t] += np.bincount(cl, weights=values, minlength=cells)
        for k in out:
            out[k][start:stop] = acc[k]
    return out


def bench_simulation(items: int, days: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    demand = demand_history(items, days, rng)
    lanes = LaneLeadTimes.from_observations(
        {f"LANE{i:02d}": rng.integers(2, 25, 30).tolist() for i in range(50)}
    )
    lane = rng.integers(0, 50, items)
    segment = SEGMENTS[rng.integers(0, 4, items)]
    mean = demand.mean(axis=1)
    sd = demand.std(axis=1)
    lead = lanes.samples_days.mean(axis=1)[lane]
    safety = 1.3 * sd * np.sqrt(lead)
    s = mean * lead + safety
    q = np.maximum(np.round(mean * 14), 1.0)
    current = ReplenishmentPolicy.continuous_sq(s, q)
    proposed = current.raised_by(0.2 * safety)
    settings = SimulationSettings(seed=seed)

    started = time.perf_counter()
    before = simulate(demand, current, lanes, lane, segment=segment, settings=settings)
    first = time.perf_counter() - started
    after = simulate(demand, proposed, lanes, lane, segment=segment, settings=settings)
    both = time.perf_counter() - started
    table = compare_policies(before, after, BootstrapSettings(seed=seed))
    total = time.perf_counter() - started

    cells, cell = np.unique(segment, return_inverse=True)
    started = time.perf_counter()
    hand = baseline_sq(demand, s, q, lanes, lane, cell, cells.size, seed)
    baseline = time.perf_counter() - started
    assert np.allclose(hand["short"], before.short_units), "engine and baseline disagree"
    assert np.array_equal(hand["orders"], before.orders_placed)
    assert np.array_equal(hand["cshort"], before.cycles_with_stockout)
    return {
        "sku_locations": items,
        "days": days,
        "lanes": 50,
        "one_replay_s": round(first, 2),
        "two_replays_s": round(both, 2),
        "two_replays_and_comparison_s": round(total, 2),
        "target_s": SIMULATION_TARGET_S,
        "within_target": total <= SIMULATION_TARGET_S,
        "baseline_one_replay_s": round(baseline, 2),
        "ratio_to_baseline": round(first / baseline, 3),
        "fill_rate_change_by_segment": {
            r["segment"]: [
                round(r["fill_rate_change"], 4),
                round(r["fill_rate_change_low"], 4),
                round(r["fill_rate_change_high"], 4),
            ]
            for r in table.iter_rows(named=True)
        },
    }


def bench_gsm(skus: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    nodes = ["CDC"] + [f"RDC{r}" for r in range(4)] + [f"S{k:02d}" for k in range(15)]
    lanes = [("CDC", f"RDC{r}") for r in range(4)]
    lanes += [(f"RDC{k % 4}", f"S{k:02d}") for k in range(15)]
    network = Network.build(nodes, lanes, one_source_each=True)
    stores = np.array([n.startswith("S") for n in nodes])
    n = len(nodes)
    transport = np.where(stores, rng.integers(1, 4, (skus, n)), rng.integers(2, 6, (skus, n)))
    transport[:, 0] = rng.integers(10, 45, skus)  # supplier lead time into the central DC
    value = rng.lognormal(2.5, 1.0, skus)[:, None]
    stages = GsmStages(
        processing_days=transport,
        holding_cost_per_day=value * 0.25 / 365 * np.where(stores, 1.2, 1.0),
        demand_sd_per_day=np.where(stores, rng.gamma(2.0, 2.0, (skus, n)), 0.0),
        service_factor=np.full((skus, n), 1.645),
        max_service_days=np.broadcast_to(np.where(stores, 0, NO_LIMIT), (skus, n)),
        external_inbound_days=np.zeros((skus, n), dtype=np.int64),
        demand_mean_per_day=np.where(stores, rng.gamma(2.0, 5.0, (skus, n)), 0.0),
    )
    started = time.perf_counter()
    result = optimise_service_times(network, stages)
    elapsed = time.perf_counter() - started
    buffered = (result.safety_stock_units > 0).mean(axis=0)
    return {
        "skus": skus,
        "locations": n,
        "echelons": 3,
        "seconds": round(elapsed, 2),
        "ms_per_sku": round(elapsed / skus * 1000, 3),
        "share_of_skus_buffered_centrally": round(float(buffered[0]), 3),
        "share_of_skus_buffered_at_stores": round(float(buffered[stores].mean()), 3),
    }


def bench_capacity(rows: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    locations = np.array([f"L{i:02d}" for i in range(20)], dtype=object)[rng.integers(0, 20, rows)]
    ss = rng.gamma(2.0, 10.0, rows)
    q = rng.uniform(5, 200, rows)
    stock = ss + q
    space = rng.choice([0.01, 0.02, 0.05], rows)
    data = CapacityRows(
        location=locations,
        segment=SEGMENTS[rng.integers(0, 4, rows)].astype(object),
        tier=rng.integers(1, 5, rows),
        stock_units=stock,
        safety_stock_units=ss,
        safety_stock_floor_units=np.zeros(rows),
        protection_sd_units=ss / 1.645,
        order_quantity_units=q,
        demand_per_day=rng.uniform(0.1, 20, rows),
        space_per_unit=space,
    )
    usage = (
        pl.DataFrame({"l": locations.astype(str), "u": stock * space})
        .group_by("l")
        .agg(pl.col("u").sum())
    )
    capacity = {row[0]: row[1] / 1.1 for row in usage.iter_rows()}
    started = time.perf_counter()
    cuts = capacity_cuts(data, capacity)
    elapsed = time.perf_counter() - started
    return {
        "sku_locations": rows,
        "locations": 20,
        "seconds": round(elapsed, 2),
        "locations_cut": int((cuts.locations["status"] == "cut").sum()),
        "units_cut": round(float(cuts.rows["cut_units"].sum()), 1),
    }


def bench_distortion(rows: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ss = rng.gamma(2.0, 10.0, rows)
    frame = pl.DataFrame(
        {
            "sku": [f"P{i:07d}" for i in range(rows)],
            "location": np.array([f"L{i:02d}" for i in range(20)])[rng.integers(0, 20, rows)],
            "segment": SEGMENTS[rng.integers(0, 4, rows)],
            "tier": rng.integers(1, 5, rows),
            "on_hand": np.round(rng.gamma(1.5, 30.0, rows)),
            "safety_stock": ss,
            "reorder_point": ss * 2,
            "max_level": ss * 4,
            "unit_value_minor": rng.integers(5, 50_000, rows),
        }
    )
    started = time.perf_counter()
    report = assess_distortion(frame)
    elapsed = time.perf_counter() - started
    return {
        "sku_locations": rows,
        "seconds": round(elapsed, 2),
        "locations_with_network_expense": report.network_expense.height,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20_250_318)
    args, _ = parser.parse_known_args(argv)  # `python -m bench …` leaves names in argv
    result = {
        "simulation": bench_simulation(args.items, args.days, args.seed),
        "gsm": bench_gsm(1_000, args.seed),
        "capacity_cuts": bench_capacity(1_000_000, args.seed),
        "distortion": bench_distortion(1_000_000, args.seed),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    sim = result["simulation"]
    verdict = "within" if sim["within_target"] else "OVER"
    print(f"simulation {sim['sku_locations']:,} x {sim['days']} days, two policies + comparison:")
    print(f"  {sim['two_replays_and_comparison_s']} s ({verdict} target {SIMULATION_TARGET_S} s)")
    print(f"  one replay {sim['one_replay_s']} s", end=" ")
    print(f"vs hand-written numpy {sim['baseline_one_replay_s']} s")
    gsm = result["gsm"]
    print(f"gsm: {gsm['skus']} SKUs x {gsm['locations']} locations in {gsm['seconds']} s")
    print(f"capacity cuts: 1M SKU-locations in {result['capacity_cuts']['seconds']} s")
    print(f"distortion: 1M SKU-locations in {result['distortion']['seconds']} s")
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULT_FILE}")


if __name__ == "__main__":
    main()
