"""Replay of daily demand history under a replenishment policy, vectorised across
SKU-locations (the loop runs over days, never over items).

Assumptions (README "Simulation, multi-echelon buffers and distortion"):

- **Backorders** by default: demand not met from stock on hand is short on the day it occurs
  (that is what the unit fill rate counts) and is delivered when stock arrives, before any new
  demand. ``lost_sales=True`` drops it instead.
- **A day**: receipts due that day arrive first, then the day's demand is served, then, on a
  review day, the inventory position (on hand - backorders + on order) is compared with the
  reorder point and an order is placed at the end of the day.
- **Lead times**: an order placed at the end of day t with a lead time of L days arrives at the
  end of day t + L, so it serves demand from day t + L + 1 (L = 0 means overnight). Each order
  draws its lead time from its lane's observed lead times, each observation equally likely, so
  orders may cross. The draws depend only on the seed, the row and the day — never on the
  policy — so two policies replayed with the same seed see the same lead times (common random
  numbers).
- **Opening state**: on hand at the policy's top level (S, or s + Q), nothing on order, unless
  ``initial_on_hand`` says otherwise; ``warmup_days`` are simulated but not measured.
- **Cycles**: a replenishment cycle ends at each receipt; the cycle service level is the share of
  measured cycles without a day of unmet demand since the previous receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from tierline.inventory.simulation.leadtimes import LaneLeadTimes
from tierline.inventory.simulation.policy import (
    BoolArray,
    FloatArray,
    IntArray,
    LotSizing,
    ReplenishmentPolicy,
    policy_problems,
)

ROW_BLOCK = 16_384  # rows simulated together; also the unit of the random-number streams
# Stock is compared with the reorder point, and an order quantity with zero, to within a
# millionth of a base unit: positions are float sums, and a policy raised by a constant must
# order on the same days (a decision never rests on the last bit of a float).
UNIT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SimulationSettings:
    seed: int = 0
    lost_sales: bool = False
    warmup_days: int = 0
    initial_on_hand: FloatArray | None = None  # base units per row; default: top level
    trace_rows: tuple[int, ...] = ()  # rows whose day-by-day path is kept (charts, audits)


@dataclass(frozen=True)
class SimulationTrace:
    """Day-by-day path of the traced rows (``[rows, days]``, all simulated days, warm-up
    included): end-of-day on hand, backorders and on order, the day's demand, units short,
    units received, units ordered and the lead time drawn for that order (-1: no order)."""

    rows: IntArray
    on_hand: FloatArray
    backorders: FloatArray
    on_order: FloatArray
    demand: FloatArray
    short: FloatArray
    received: FloatArray
    ordered: FloatArray
    lead_time_days: IntArray


@dataclass(frozen=True)
class DailyCells:
    """Per (segment, demand class) cell and measured day: the sums the bootstrap resamples.

    ``demand``, ``short`` and ``on_hand`` are base units; the others are counts.
    """

    labels: tuple[tuple[str, str], ...]
    items: IntArray
    demand: FloatArray
    short: FloatArray
    on_hand: FloatArray
    stockout_days: IntArray
    cycles: IntArray
    cycles_short: IntArray
    orders: IntArray

    @property
    def days(self) -> int:
        return int(self.demand.shape[1])


@dataclass(frozen=True)
class SimulationResult:
    """Per SKU-location outcomes (arrays of the input length) and the daily cell sums.

    Rows left out (``simulated`` false) carry NaN rates and zero counts; ``flags`` names the
    reason of each, and adds informational flags (``excluded`` false) such as no demand.
    """

    simulated: BoolArray
    segment: npt.NDArray[np.object_]
    demand_class: npt.NDArray[np.object_]
    demand_units: FloatArray
    short_units: FloatArray
    fill_rate: FloatArray
    cycles: IntArray
    cycles_with_stockout: IntArray
    cycle_service_level: FloatArray
    average_on_hand: FloatArray
    stockout_days: IntArray
    days_without_stock: IntArray
    orders_placed: IntArray
    units_ordered: FloatArray
    days_measured: int
    daily: DailyCells
    flags: pl.DataFrame = field(repr=False)
    trace: SimulationTrace | None = None

    def rows_frame(self) -> pl.DataFrame:
        """One row per SKU-location, for pages and exports."""
        return pl.DataFrame(
            {
                "row": np.arange(self.simulated.shape[0]),
                "segment": self.segment.astype(str),
                "demand_class": self.demand_class.astype(str),
                "simulated": self.simulated,
                "demand_units": self.demand_units,
                "short_units": self.short_units,
                "fill_rate": self.fill_rate,
                "cycles": self.cycles,
                "cycles_with_stockout": self.cycles_with_stockout,
                "cycle_service_level": self.cycle_service_level,
                "average_on_hand": self.average_on_hand,
                "stockout_days": self.stockout_days,
                "days_without_stock": self.days_without_stock,
                "orders_placed": self.orders_placed,
                "units_ordered": self.units_ordered,
            }
        ).with_columns(pl.col(c).fill_nan(None) for c in ("fill_rate", "cycle_service_level"))


FLAG_SCHEMA = {"row": pl.Int64, "code": pl.String, "reason": pl.String, "excluded": pl.Boolean}


def _flags(entries: list[tuple[BoolArray, str, str, bool]]) -> pl.DataFrame:
    frames = [
        pl.DataFrame(
            {"row": np.flatnonzero(mask), "code": code, "reason": reason, "excluded": excluded},
            schema=FLAG_SCHEMA,
        )
        for mask, code, reason, excluded in entries
        if mask.any()
    ]
    if not frames:
        return pl.DataFrame(schema=FLAG_SCHEMA)
    return pl.concat(frames).sort("row", "code", maintain_order=True)


def _labels(values: Sequence[str] | npt.ArrayLike | None, n: int) -> npt.NDArray[np.object_]:
    if values is None:
        return np.full(n, "", dtype=object)
    array = np.asarray(values, dtype=object)
    if array.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {array.shape}")
    return np.where(array == None, "", array).astype(object)  # noqa: E711 (elementwise)


def _input_problems(
    demand: FloatArray, policy: ReplenishmentPolicy, lead_times: LaneLeadTimes, lane: IntArray
) -> list[tuple[BoolArray, str, str, bool]]:
    bad_demand = ~np.all(np.isfinite(demand), axis=1) | np.any(demand < 0, axis=1)
    unknown_lane = (lane < 0) | (lane >= len(lead_times.lane_keys))
    lane_ok = np.where(unknown_lane, 0, lane)
    no_sample = ~unknown_lane & (lead_times.counts[lane_ok] == 0)
    entries: list[tuple[BoolArray, str, str, bool]] = [
        (bad_demand, "demand_invalid", "demand history has negative or missing values", True),
        (unknown_lane, "lane_unknown", "no lane with lead-time observations is given", True),
        (
            no_sample,
            "no_lead_time_observations",
            "the lane has no usable lead-time observations",
            True,
        ),
    ]
    fell_back = np.array([key in lead_times.fallbacks for key in lead_times.lane_keys] + [False])
    entries.append(
        (
            ~unknown_lane & fell_back[lane_ok],
            "planned_lead_time_used",
            "too few lead-time observations on the lane: its planned lead time was used",
            False,
        )
    )
    entries += [(mask, code, reason, True) for mask, code, reason in policy_problems(policy)]
    return entries


def simulate(
    demand: npt.ArrayLike,
    policy: ReplenishmentPolicy,
    lead_times: LaneLeadTimes,
    lane: npt.ArrayLike,
    *,
    segment: Sequence[str] | npt.ArrayLike | None = None,
    demand_class: Sequence[str] | npt.ArrayLike | None = None,
    settings: SimulationSettings | None = None,
) -> SimulationResult:
    """Replay ``demand`` (``[n, days]``, base units per day) under ``policy`` (``n`` rows);
    ``lane[i]`` is the position in ``lead_times`` of the lane replenishing row ``i``."""
    settings = settings or SimulationSettings()
    history = np.asarray(demand, dtype=np.float64)
    if history.ndim != 2 or history.shape[0] != len(policy):
        raise ValueError("demand must be an array [SKU-locations, days] matching the policy")
    n, days = history.shape
    lanes = np.asarray(lane, dtype=np.int64)
    if lanes.shape != (n,):
        raise ValueError("lane must give one lane per SKU-location")
    if not 0 <= settings.warmup_days < days:
        raise ValueError("warm-up must leave at least one measured day")
    segments, classes = _labels(segment, n), _labels(demand_class, n)
    opening = policy.top_level() if settings.initial_on_hand is None else settings.initial_on_hand
    opening = np.asarray(opening, dtype=np.float64)

    entries = _input_problems(history, policy, lead_times, lanes)
    entries.append(
        (~np.isfinite(opening), "opening_stock_invalid", "opening stock is not a number", True)
    )
    excluded = np.zeros(n, dtype=np.bool_)
    for mask, _code, _reason, excludes in entries:
        excluded |= mask & excludes
    no_demand = ~excluded & (history[:, settings.warmup_days :].sum(axis=1) == 0)
    entries.append((no_demand, "no_demand", "no demand in the measured days", False))

    cell_keys = np.char.add(np.char.add(segments.astype(str), "\x1f"), classes.astype(str))
    unique_keys, cell = np.unique(cell_keys, return_inverse=True)
    labels = tuple(tuple(str(k).split("\x1f", 1)) for k in unique_keys)
    state = _Run(n, days, settings, len(labels))
    for start in range(0, n, ROW_BLOCK):
        stop = min(start + ROW_BLOCK, n)
        state.block(start, stop, history, policy, lead_times, lanes, opening, cell, excluded)
    return state.result(excluded, segments, classes, labels, cell, _flags(entries))


DAILY_METRICS = ("demand", "short", "on_hand", "stockout", "cycles", "cycles_short", "orders")


class _Run:
    """Accumulators of one simulation."""

    def __init__(self, n: int, days: int, settings: SimulationSettings, cells: int) -> None:
        self.settings = settings
        self.days = days
        measured = days - settings.warmup_days
        self.measured = measured
        self.demand = np.zeros(n)
        self.short = np.zeros(n)
        self.on_hand = np.zeros(n)
        self.stockout_days = np.zeros(n, dtype=np.int64)
        self.no_stock_days = np.zeros(n, dtype=np.int64)
        self.cycles = np.zeros(n, dtype=np.int64)
        self.cycles_short = np.zeros(n, dtype=np.int64)
        self.orders = np.zeros(n, dtype=np.int64)
        self.ordered = np.zeros(n)
        self.cells = cells
        # [metric, cell, day] in the order of DAILY_METRICS
        self.daily = np.zeros((len(DAILY_METRICS), cells, measured))
        traced = np.asarray(settings.trace_rows, dtype=np.int64)
        self.trace_rows = traced
        self.trace = {
            name: np.zeros((traced.size, days))
            for name in (
                "on_hand", "backorders", "on_order", "demand", "short", "received", "ordered"
            )
        }  # fmt: skip
        self.trace["lead_time_days"] = np.full((traced.size, days), -1.0)

    def block(
        self,
        start: int,
        stop: int,
        history: FloatArray,
        policy: ReplenishmentPolicy,
        lead_times: LaneLeadTimes,
        lanes: IntArray,
        opening: FloatArray,
        cell: IntArray,
        excluded: BoolArray,
    ) -> None:
        rng = np.random.default_rng([self.settings.seed, start])
        local = np.flatnonzero(~excluded[start:stop])
        # rows grouped by cell, so a day's cell sums are one reduceat over contiguous slices
        local = local[np.argsort(cell[local + start], kind="stable")]
        rows = local + start
        if rows.size == 0:
            return
        stock = _Stock(policy.take(rows), lead_times, lanes[rows], opening[rows])
        daily_demand = np.ascontiguousarray(history[rows].T)  # [days, m]: one row per day
        cells = cell[rows]
        first = np.r_[0, np.flatnonzero(np.diff(cells)) + 1]
        present = cells[first]
        tallies = _Tallies(rows.size)
        traced_here = np.flatnonzero(np.isin(self.trace_rows, rows))
        traced_local = np.array(
            [int(np.flatnonzero(rows == r)[0]) for r in self.trace_rows[traced_here]],
            dtype=np.int64,
        )
        for t in range(self.days):
            uniforms = rng.random(stop - start)[local]
            arriving, received, closed_short = stock.receive(t)
            today = daily_demand[t]
            short = stock.serve(today, self.settings.lost_sales)
            idx, quantity, lead = stock.review(t, uniforms)
            placed = np.zeros(rows.size, dtype=np.bool_)
            placed[idx] = True
            if traced_here.size:
                self._trace_day(t, stock, traced_here, traced_local, arriving, today, short)
                self._trace_orders(t, rows.size, traced_here, traced_local, idx, quantity, lead)
            if t < self.settings.warmup_days:
                continue
            day = t - self.settings.warmup_days
            on_hand = np.maximum(stock.net, 0.0)
            stocked_out = short > 0
            tallies.add(today, short, on_hand, stocked_out, stock.net <= 0, placed)
            tallies.cycles += received
            tallies.cycles_short += closed_short
            tallies.ordered[idx] += quantity
            stacked = np.stack((today, short, on_hand, stocked_out, received, closed_short, placed))
            self.daily[:, present, day] += np.add.reduceat(stacked, first, axis=1)
        tallies.store(self, rows)

    def _trace_day(
        self,
        t: int,
        stock: _Stock,
        traced: IntArray,
        local: IntArray,
        arriving: FloatArray,
        today: FloatArray,
        short: FloatArray,
    ) -> None:
        for name, values in (
            ("received", arriving),
            ("on_hand", np.maximum(stock.net, 0.0)),
            ("backorders", np.maximum(-stock.net, 0.0)),
            ("on_order", stock.on_order),
            ("demand", today),
            ("short", short),
        ):
            self.trace[name][traced, t] = values[local]

    def _trace_orders(
        self,
        t: int,
        m: int,
        traced: IntArray,
        local: IntArray,
        idx: IntArray,
        quantity: FloatArray,
        lead: IntArray,
    ) -> None:
        drawn, bought = np.full(m, -1.0), np.zeros(m)
        drawn[idx], bought[idx] = lead, quantity
        self.trace["lead_time_days"][traced, t] = drawn[local]
        self.trace["ordered"][traced, t] = bought[local]

    def result(
        self,
        excluded: BoolArray,
        segments: npt.NDArray[np.object_],
        classes: npt.NDArray[np.object_],
        labels: tuple[tuple[str, ...], ...],
        cell: IntArray,
        flags: pl.DataFrame,
    ) -> SimulationResult:
        simulated = ~excluded
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.where(self.demand > 0, 1.0 - self.short / self.demand, np.nan)
            csl = np.where(
                self.cycles > 0, 1.0 - self.cycles_short / np.maximum(self.cycles, 1), np.nan
            )
        average = np.where(simulated, self.on_hand / self.measured, np.nan)
        fill[~simulated] = np.nan
        csl[~simulated] = np.nan
        items = np.bincount(cell[simulated], minlength=self.cells).astype(np.int64)
        daily_sums = dict(zip(DAILY_METRICS, self.daily, strict=True))
        as_int = {name: np.rint(values).astype(np.int64) for name, values in daily_sums.items()}
        daily = DailyCells(
            labels=tuple((a, b) for a, b in labels),
            items=items,
            demand=daily_sums["demand"],
            short=daily_sums["short"],
            on_hand=daily_sums["on_hand"],
            stockout_days=as_int["stockout"],
            cycles=as_int["cycles"],
            cycles_short=as_int["cycles_short"],
            orders=as_int["orders"],
        )
        return SimulationResult(
            simulated=simulated,
            segment=segments,
            demand_class=classes,
            demand_units=self.demand,
            short_units=self.short,
            fill_rate=fill,
            cycles=self.cycles,
            cycles_with_stockout=self.cycles_short,
            cycle_service_level=csl,
            average_on_hand=average,
            stockout_days=self.stockout_days,
            days_without_stock=self.no_stock_days,
            orders_placed=self.orders,
            units_ordered=self.ordered,
            days_measured=self.measured,
            daily=daily,
            flags=flags,
            trace=self._trace(),
        )

    def _trace(self) -> SimulationTrace | None:
        if self.trace_rows.size == 0:
            return None
        t = self.trace
        return SimulationTrace(
            rows=self.trace_rows,
            on_hand=t["on_hand"],
            backorders=t["backorders"],
            on_order=t["on_order"],
            demand=t["demand"],
            short=t["short"],
            received=t["received"],
            ordered=t["ordered"],
            lead_time_days=t["lead_time_days"].astype(np.int64),
        )


class _Stock:
    """The stock of one block of rows: net inventory (negative = backorders), what is on
    order, and the pipeline of future receipts by day (a ring over the longest lead time)."""

    def __init__(
        self,
        policy: ReplenishmentPolicy,
        lead_times: LaneLeadTimes,
        lane: IntArray,
        opening: FloatArray,
    ) -> None:
        m = lane.size
        self.p = policy
        self.lead_times = lead_times
        self.lane = lane
        self.width = lead_times.max_days + 2
        self.pipeline = np.zeros((self.width, m))
        self.net = opening.copy()
        self.on_order = np.zeros(m)
        self.short_since_receipt = np.zeros(m, dtype=np.bool_)
        self.multiples = policy.lot_sizing == LotSizing.MULTIPLES_OF_Q
        self.rounding = policy.rounding_value > 0
        self.lot_rules = bool(
            np.any(self.rounding)
            or np.any(policy.min_lot > 0)
            or np.any(np.isfinite(policy.max_lot))
        )
        self.every_day = bool(np.all(policy.review_period_days == 1))
        # "strictly below s" is "at or below the float just under s": one comparison a day
        self.trigger_at = np.where(
            policy.trigger_strictly_below,
            np.nextafter(policy.reorder_point - UNIT_TOLERANCE, -np.inf),
            policy.reorder_point + UNIT_TOLERANCE,
        )

    def receive(self, t: int) -> tuple[FloatArray, BoolArray, BoolArray]:
        """Today's receipts: (units, rows receiving, rows whose cycle just closed short)."""
        slot = t % self.width
        arriving = self.pipeline[slot].copy()
        received = arriving > 0
        if received.any():
            self.net += arriving
            self.on_order -= arriving
            self.pipeline[slot] = 0.0
        closed_short = received & self.short_since_receipt
        self.short_since_receipt &= ~received
        return arriving, received, closed_short

    def serve(self, demand: FloatArray, lost_sales: bool) -> FloatArray:
        """Serve the day's demand from stock on hand; the units short."""
        available = np.maximum(self.net, 0.0)
        short = np.maximum(demand - available, 0.0)
        self.net -= np.minimum(demand, available) if lost_sales else demand
        self.short_since_receipt |= short > 0
        return short

    def review(self, t: int, uniforms: FloatArray) -> tuple[IntArray, FloatArray, IntArray]:
        """End-of-day review: the rows ordering, their quantities and drawn lead times."""
        p = self.p
        position = self.net + self.on_order
        trigger = position <= self.trigger_at
        if not self.every_day:
            trigger &= (t - p.review_offset_days) % p.review_period_days == 0
        idx = np.flatnonzero(trigger)
        quantity = _order_quantity(
            p, idx, position[idx], self.multiples[idx], self.rounding[idx], self.lot_rules
        )
        ok = quantity > UNIT_TOLERANCE
        idx, quantity = idx[ok], quantity[ok]
        lead = self.lead_times.draw(self.lane[idx], uniforms[idx])
        self.pipeline[(t + lead + 1) % self.width, idx] += quantity
        self.on_order[idx] += quantity
        return idx, quantity, lead


class _Tallies:
    """Per-row sums over the measured days of one block."""

    def __init__(self, m: int) -> None:
        self.demand = np.zeros(m)
        self.short = np.zeros(m)
        self.on_hand = np.zeros(m)
        self.stockout_days = np.zeros(m, dtype=np.int64)
        self.no_stock_days = np.zeros(m, dtype=np.int64)
        self.cycles = np.zeros(m, dtype=np.int64)
        self.cycles_short = np.zeros(m, dtype=np.int64)
        self.orders = np.zeros(m, dtype=np.int64)
        self.ordered = np.zeros(m)

    def add(
        self,
        demand: FloatArray,
        short: FloatArray,
        on_hand: FloatArray,
        stocked_out: BoolArray,
        no_stock: BoolArray,
        placed: BoolArray,
    ) -> None:
        self.demand += demand
        self.short += short
        self.on_hand += on_hand
        self.stockout_days += stocked_out
        self.no_stock_days += no_stock
        self.orders += placed

    def store(self, run: _Run, rows: IntArray) -> None:
        run.demand[rows] = self.demand
        run.short[rows] = self.short
        run.on_hand[rows] = self.on_hand
        run.stockout_days[rows] = self.stockout_days
        run.no_stock_days[rows] = self.no_stock_days
        run.cycles[rows] = self.cycles
        run.cycles_short[rows] = self.cycles_short
        run.orders[rows] = self.orders
        run.ordered[rows] = self.ordered


def _order_quantity(
    p: ReplenishmentPolicy,
    idx: IntArray,
    position: FloatArray,
    multiples: BoolArray,
    rounding: BoolArray,
    lot_rules: bool,
) -> FloatArray:
    s = p.reorder_point[idx]
    q = np.where(multiples, p.order_quantity[idx], 1.0)
    # smallest multiple lifting the position above s
    lots = np.floor((s - position + UNIT_TOLERANCE) / q) + 1.0
    quantity = np.where(multiples, lots * q, p.order_up_to[idx] - position)
    if not lot_rules:  # no minimum, maximum or rounding anywhere in this block
        return np.asarray(quantity, dtype=np.float64)
    quantity = np.minimum(np.maximum(quantity, p.min_lot[idx]), p.max_lot[idx])
    r = np.where(rounding, p.rounding_value[idx], 1.0)
    rounded = np.ceil((quantity - UNIT_TOLERANCE) / r) * r
    return np.asarray(np.where(rounding, rounded, quantity), dtype=np.float64)
