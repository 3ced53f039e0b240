"""Guaranteed-service placement of safety stock on tree-shaped networks (Graves & Willems 2000).

Each stage j (a location holding an item) promises its customers an outbound service time S_j
and is promised an inbound service time SI_j = max(its sources' S, the supplier's guaranteed
time); its net replenishment time is SI_j + T_j - S_j (T_j: its processing or transport days),
and it holds z·sd_j·sqrt(net replenishment time) of safety stock, sd_j being the daily demand
deviation it serves (pooled over all end demand below it, sd² adding up). The model chooses
the service times minimising the holding cost of all that stock, with customer-facing stages
quoting no more than their maximum service time. Graves & Willems solve it on a spanning tree
with a dynamic programme over the stages in an order where every stage but the last has one
neighbour left ("Optimizing strategic safety stock placement in supply chains", *M&SOM* 2(1),
2000, with the 2003 erratum; the notation follows Snyder & Shen, *Fundamentals of Supply Chain
Theory*, 2nd ed., 2019, §6.3).

This implementation solves many items at once on the same network (the locations), one numpy
array per stage over (items, outbound time, inbound time); a location that does not hold an
item is a stage with zero processing time, zero holding cost and no demand of its own.
Service times are whole days. The objective is a model cost for ranking placements, not money
to display: value the resulting safety stock with exact unit values for that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.echelon.network import Network

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NO_LIMIT = -1  # max_service_days: the stage has no external customers to promise a time to


@dataclass(frozen=True)
class GsmStages:
    """Per item and stage (``[items, stages]``, stages in ``Network.nodes`` order).

    ``processing_days``: whole days the stage needs once its inputs are there (transport or
    lead time into a location); ``holding_cost_per_day``: cost of holding one unit for a day;
    ``demand_sd_per_day`` / ``demand_mean_per_day``: the stage's own external demand (base
    units per day; upstream demand is pooled by the model); ``service_factor``: z of the
    stage's buffer (from the segment's cycle service level); ``max_service_days``: the longest
    outbound service time its external customers accept (``NO_LIMIT`` where it has none);
    ``external_inbound_days``: the service time outside suppliers guarantee (sources only).
    """

    processing_days: IntArray
    holding_cost_per_day: FloatArray
    demand_sd_per_day: FloatArray
    service_factor: FloatArray
    max_service_days: IntArray
    external_inbound_days: IntArray
    demand_mean_per_day: FloatArray | None = None


@dataclass(frozen=True)
class GsmResult:
    """Optimal placement per item and stage (``[items, stages]``); excluded items (see
    ``flags``) have -1 times and NaN quantities."""

    outbound_service_days: IntArray
    inbound_service_days: IntArray
    net_replenishment_days: IntArray
    pooled_demand_sd_per_day: FloatArray
    safety_stock_units: FloatArray
    base_stock_units: FloatArray
    cost_per_day: FloatArray  # [items]: the model's holding cost of the safety stock
    flags: pl.DataFrame


def _labelling(network: Network) -> tuple[list[int], list[int | None]]:
    """Graves & Willems' order: each stage is labelled when at most one neighbour is left
    unlabelled; that neighbour is its ``p(k)`` (None for the last stage of a component)."""
    n = len(network.nodes)
    neighbours = [set(network.sources[k]) | set(network.destinations[k]) for k in range(n)]
    left = [len(neighbours[k]) for k in range(n)]
    labelled = [False] * n
    order: list[int] = []
    parent: list[int | None] = [None] * n
    ready = sorted(k for k in range(n) if left[k] <= 1)
    while ready:
        k = ready.pop(0)
        if labelled[k]:
            continue
        labelled[k] = True
        order.append(k)
        rest = [j for j in neighbours[k] if not labelled[j]]
        if rest:
            (p,) = rest
            parent[k] = p
            left[p] -= 1
            if left[p] <= 1:
                ready.append(p)
    return order, parent


def _problems(stages: GsmStages, n_items: int, n_stages: int) -> list[tuple[BoolArray, str, str]]:
    shape = (n_items, n_stages)
    for name in (
        "processing_days",
        "holding_cost_per_day",
        "demand_sd_per_day",
        "service_factor",
        "max_service_days",
        "external_inbound_days",
    ):
        if np.shape(getattr(stages, name)) != shape:
            raise ValueError(f"{name} must be an array [items, stages] = {shape}")

    def bad(values: npt.ArrayLike) -> BoolArray:
        array = np.asarray(values, dtype=np.float64)
        return np.asarray(np.any(~np.isfinite(array) | (array < 0), axis=1), dtype=np.bool_)

    mean = stages.demand_mean_per_day
    return [
        (
            bad(stages.processing_days),
            "processing_days_invalid",
            "processing days must be 0 or more",
        ),
        (
            bad(stages.holding_cost_per_day),
            "holding_cost_invalid",
            "holding costs must be non-negative numbers",
        ),
        (
            bad(stages.demand_sd_per_day) | (bad(mean) if mean is not None else False),
            "demand_invalid",
            "demand mean and deviation must be non-negative numbers",
        ),
        (bad(stages.service_factor), "service_factor_invalid", "service factors must be 0 or more"),
        (
            np.any(np.asarray(stages.max_service_days) < NO_LIMIT, axis=1),
            "max_service_invalid",
            "maximum service times must be 0 or more days",
        ),
        (
            bad(stages.external_inbound_days),
            "inbound_service_invalid",
            "supplier service times must be 0 or more days",
        ),
    ]


def pooled_demand(network: Network, own: FloatArray, *, variance: bool) -> FloatArray:
    """Demand each stage serves: its own plus everything downstream of it (``[items,
    stages]``); deviations add as variances (independent demands), means add as they are."""
    values = np.asarray(own, dtype=np.float64)
    acc = values * values if variance else values.copy()
    for k in reversed(network.order):
        for child in network.destinations[k]:
            acc[:, k] += acc[:, child]
    return np.sqrt(acc) if variance else acc


def optimise_service_times(network: Network, stages: GsmStages, *, chunk: int = 256) -> GsmResult:
    """Optimal service times and safety stock for every item (row) on ``network``."""
    n_items, n_stages = np.shape(stages.processing_days)
    problems = _problems(stages, n_items, n_stages)
    excluded = np.zeros(n_items, dtype=np.bool_)
    for mask, _code, _reason in problems:
        excluded |= mask
    ok = np.flatnonzero(~excluded)
    t = np.asarray(stages.processing_days, dtype=np.int64)
    inbound = np.asarray(stages.external_inbound_days, dtype=np.int64)
    sd = pooled_demand(
        network, np.where(excluded[:, None], 0.0, stages.demand_sd_per_day), variance=True
    )
    own_mean = stages.demand_mean_per_day
    mean = pooled_demand(
        network,
        np.zeros((n_items, n_stages))
        if own_mean is None
        else np.where(excluded[:, None], 0.0, own_mean),
        variance=False,
    )
    out_s = np.full((n_items, n_stages), -1, dtype=np.int64)
    out_si = np.full((n_items, n_stages), -1, dtype=np.int64)
    order, parent = _labelling(network)
    for begin in range(0, ok.size, chunk):
        rows = ok[begin : begin + chunk]
        s = _solve(network, order, parent, stages, rows, sd[rows])
        out_s[rows], out_si[rows] = _settle(network, s, t[rows], inbound[rows])
    nlt = np.where(out_s >= 0, out_si + t - out_s, -1)
    z = np.asarray(stages.service_factor, dtype=np.float64)
    h = np.asarray(stages.holding_cost_per_day, dtype=np.float64)
    safety = np.where(nlt >= 0, z * sd * np.sqrt(np.maximum(nlt, 0)), np.nan)
    cost = np.where(excluded, np.nan, np.nansum(h * safety, axis=1))
    flags = pl.DataFrame(
        [
            {"item": int(i), "code": code, "reason": reason}
            for mask, code, reason in problems
            for i in np.flatnonzero(mask)
        ],
        schema={"item": pl.Int64, "code": pl.String, "reason": pl.String},
    )
    return GsmResult(
        outbound_service_days=out_s,
        inbound_service_days=out_si,
        net_replenishment_days=nlt,
        pooled_demand_sd_per_day=np.where(excluded[:, None], np.nan, sd),
        safety_stock_units=safety,
        base_stock_units=np.where(nlt >= 0, mean * np.maximum(nlt, 0) + safety, np.nan),
        cost_per_day=cost,
        flags=flags,
    )


def _max_replenishment(network: Network, t: IntArray, inbound: IntArray) -> IntArray:
    """M_k: the longest a stage could wait for inputs plus its own time (no stock anywhere)."""
    m = np.zeros_like(t)
    for k in network.order:
        upstream = inbound[:, k]
        for source in network.sources[k]:
            upstream = np.maximum(upstream, m[:, source])
        m[:, k] = t[:, k] + upstream
    return m


def _prefix_min(values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Running minimum along axis 1 and where it was reached (the smallest such index)."""
    best = np.minimum.accumulate(values, axis=1)
    arg = np.zeros(values.shape, dtype=np.int64)
    for x in range(1, values.shape[1]):
        arg[:, x] = np.where(values[:, x] < best[:, x - 1], x, arg[:, x - 1])
    return best, arg


def _suffix_min(values: FloatArray) -> tuple[FloatArray, IntArray]:
    best, arg = _prefix_min(values[:, ::-1])
    width = values.shape[1]
    return best[:, ::-1], (width - 1 - arg)[:, ::-1]


def _solve(
    network: Network,
    order: list[int],
    parent: list[int | None],
    stages: GsmStages,
    rows: IntArray,
    sd: FloatArray,
) -> IntArray:
    """The dynamic programme for some items: outbound service times ``[items, stages]`` (the
    inbound times it chose may exceed what the sources quote; ``_settle`` derives them)."""
    t = np.asarray(stages.processing_days, dtype=np.int64)[rows]
    inbound = np.asarray(stages.external_inbound_days, dtype=np.int64)[rows]
    limit = np.asarray(stages.max_service_days, dtype=np.int64)[rows]
    weight = (
        np.asarray(stages.holding_cost_per_day, dtype=np.float64)[rows]
        * np.asarray(stages.service_factor, dtype=np.float64)[rows]
        * sd
    )
    m = _max_replenishment(network, t, inbound)
    width = int(m.max(initial=0)) + 1
    grid = np.arange(width)
    out_grid, in_grid = grid[None, :, None], grid[None, None, :]
    upstream_best: dict[int, tuple[FloatArray, IntArray]] = {}  # min over S_i <= x of f_i
    downstream_best: dict[int, tuple[FloatArray, IntArray]] = {}  # min over SI_j >= x of g_j
    chosen: dict[int, IntArray] = {}  # the other time of stage k, given the one p(k) fixes
    roots: dict[int, IntArray] = {}  # flat (S, SI) argmin of each component's last stage
    children = {k: [i for i in order if parent[i] == k] for k in order}
    for k in order:
        nlt = in_grid + t[:, k, None, None] - out_grid
        feasible = (
            (nlt >= 0)
            & (out_grid <= m[:, k, None, None])
            & (in_grid <= (m[:, k] - t[:, k])[:, None, None])
            & (in_grid >= inbound[:, k, None, None])
            & ((limit[:, k, None, None] == NO_LIMIT) | (out_grid <= limit[:, k, None, None]))
        )
        cost = np.where(feasible, weight[:, k, None, None] * np.sqrt(np.maximum(nlt, 0)), np.inf)
        for i in children[k]:
            if i in upstream_best:
                cost = cost + upstream_best[i][0][:, None, :]
            else:
                cost = cost + downstream_best[i][0][:, :, None]
        p = parent[k]
        if p is None:
            roots[k] = cost.reshape(rows.size, -1).argmin(axis=1)
        elif p in network.destinations[k]:  # k replenishes p: p constrains S_k
            chosen[k] = cost.argmin(axis=2)
            upstream_best[k] = _prefix_min(cost.min(axis=2))
        else:  # p replenishes k: p constrains SI_k
            chosen[k] = cost.argmin(axis=1)
            downstream_best[k] = _suffix_min(cost.min(axis=1))
    s = np.zeros((rows.size, len(network.nodes)), dtype=np.int64)
    si = np.zeros_like(s)
    for k, flat in roots.items():
        s[:, k], si[:, k] = np.divmod(flat, width)

    def take(table: IntArray, at: IntArray) -> IntArray:
        return np.take_along_axis(table, at[:, None], axis=1)[:, 0]

    for k in reversed(order):
        for i in children[k]:
            if i in upstream_best:
                s[:, i] = take(upstream_best[i][1], si[:, k])
                si[:, i] = take(chosen[i], s[:, i])
            else:
                si[:, i] = take(downstream_best[i][1], s[:, k])
                s[:, i] = take(chosen[i], si[:, i])
    return s


def _settle(
    network: Network, s: IntArray, t: IntArray, inbound: IntArray
) -> tuple[IntArray, IntArray]:
    """Inbound times as the sources actually quote them (the largest of their outbound times),
    and no stage quoting more than it can guarantee: never costlier than the programme's."""
    s = s.copy()
    si = np.zeros_like(s)
    for k in network.order:
        quoted = inbound[:, k]
        for source in network.sources[k]:
            quoted = np.maximum(quoted, s[:, source])
        si[:, k] = quoted
        s[:, k] = np.minimum(s[:, k], quoted + t[:, k])
    return s, si
