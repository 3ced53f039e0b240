"""The supply side of the network: sourcing lanes, transfer lead times, open supply, the
ERP's current planning parameters, promotions and forecasts, drawn against the order history.

Internal lanes run plant -> central DC -> regional DC within a region (no cycles); supplier
lanes are the supplier-location pairs the purchase receipts show, planned at the supplier's
typical lead time (so planned and observed lead times differ, as they do in real ERPs). The
ERP parameters are deliberately stale: reorder points and safety stocks off by a random
factor, some kept in cases, some counted in working days, a few SKU-locations with no
planning at all, so a reconciliation has something to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import Floats, Ints, Rng, choice, date_series
from tierline.demo.synthetic.orders import Context, Lines
from tierline.demo.synthetic.reference import EACH, PROMOTIONAL, SEASONAL, UOMS
from tierline.demo.synthetic.scales import WEEKS

MRP_TYPES = ("VB", "PD", "VM", "ND", "V1")
MRP_SHARES = (0.7, 0.15, 0.08, 0.05, 0.02)


@dataclass(frozen=True)
class Demand:
    """SKU-locations with demand: ``pair`` = product * locations + location, and the mean
    weekly demand in base units over the whole window."""

    pair: Ints
    weekly: Floats
    n_locations: int

    @property
    def product(self) -> Ints:
        return self.pair // self.n_locations

    @property
    def location(self) -> Ints:
        return self.pair % self.n_locations


def demand_pairs(ctx: Context, lines: Lines, base_qty: Floats) -> Demand:
    n_locations = ctx.locs.echelon.size
    key = lines.product * n_locations + lines.location
    pair, inverse = np.unique(key, return_inverse=True)
    weekly = np.bincount(inverse, weights=base_qty, minlength=pair.size) / WEEKS
    return Demand(pair, weekly, n_locations)


def _upstream(rng: Rng, ctx: Context, echelon: int) -> Ints:
    """For every location, one location of the echelon above in its region (any region
    when its own has none); -1 for locations of other echelons."""
    locs = ctx.locs
    found = np.full(locs.echelon.size, -1, dtype=np.int64)
    for region in np.unique(locs.region):
        above = np.flatnonzero((locs.echelon == echelon - 1) & (locs.region == region))
        if not above.size:
            above = np.flatnonzero(locs.echelon == echelon - 1)
        rows = np.flatnonzero((locs.echelon == echelon) & (locs.region == region))
        found[rows] = above[rng.integers(0, above.size, rows.size)]
    return found


def make_lanes(rng: Rng, ctx: Context, lead_times: pl.DataFrame) -> pl.DataFrame:
    locs, codes = ctx.locs, ctx.locs.frame["code"]
    source = np.maximum(_upstream(rng, ctx, 2), _upstream(rng, ctx, 3))
    internal = np.flatnonzero(source >= 0)
    days = np.where(locs.echelon[internal] == 2, rng.integers(3, 8, internal.size), 0)
    days = np.where(locs.echelon[internal] == 3, rng.integers(1, 4, internal.size), days)
    working = rng.random(internal.size) < 0.4
    inner = pl.DataFrame(
        {
            "location_code": codes.gather(internal),
            "source_code": codes.gather(source[internal]),
            "source_kind": "location",
            "planned_lead_time_days": pl.Series(days.astype(np.float64)),
            "calendar": pl.Series(np.where(working, "working", "calendar")),
        }
    )
    typical = pl.DataFrame(
        {
            "supplier_code": ctx.sups.frame["code"],
            "planned_lead_time_days": pl.Series(np.rint(ctx.sups.mean_days)),
        }
    )
    bought = (
        lead_times.select("location_code", "supplier_code")
        .unique()
        .join(typical, on="supplier_code")
        .sort("location_code", "supplier_code")
        .select(
            "location_code",
            pl.col("supplier_code").alias("source_code"),
            pl.lit("supplier").alias("source_kind"),
            "planned_lead_time_days",
            pl.lit("calendar").alias("calendar"),
        )
    )
    return pl.concat([inner, bought])


def make_transfer_times(
    rng: Rng, ctx: Context, demand: Demand, lanes: pl.DataFrame, per_lane: int = 60
) -> pl.DataFrame:
    """Observed transfer lead times into regional DCs (no supplier): up to ``per_lane``
    receipts each, scattered around the lane's planned days with a lane-specific spread."""
    codes = ctx.locs.frame["code"]
    planned = dict(
        lanes.filter(pl.col("source_kind") == "location")
        .select("location_code", "planned_lead_time_days")
        .iter_rows()
    )
    regional = np.flatnonzero(ctx.locs.echelon == 3)
    mean = np.array([planned.get(codes[int(i)], 2.0) for i in regional])  # tens of locations
    spread = rng.uniform(0.1, 0.6, regional.size)
    at = np.searchsorted(regional, demand.location)
    serves = (at < regional.size) & (regional[np.minimum(at, regional.size - 1)] == demand.location)
    rows = np.flatnonzero(serves)
    if not rows.size:
        return pl.DataFrame()
    picked = rows[rng.random(rows.size) < min(1.0, per_lane * regional.size / rows.size)]
    lane = np.searchsorted(regional, demand.location[picked])
    ordered = ctx.cal.end - rng.integers(10, 7 * WEEKS - 10, picked.size)
    drawn = mean[lane] * np.exp(rng.standard_normal(picked.size) * spread[lane])
    received = ordered + np.maximum(1, np.rint(drawn)).astype(np.int64)
    done = received <= ctx.cal.end  # still in transit: not an observation yet
    return pl.DataFrame(
        {
            "sku": ctx.prods.frame["sku"].gather(demand.product[picked[done]]),
            "location_code": codes.gather(demand.location[picked[done]]),
            "supplier_code": pl.Series([None] * int(done.sum()), dtype=pl.String),
            "ordered_on": date_series(ordered[done]),
            "received_on": date_series(received[done]),
        }
    ).unique(["sku", "location_code", "ordered_on"], keep="first", maintain_order=True)


def make_open_supply(rng: Rng, ctx: Context, demand: Demand) -> pl.DataFrame:
    """Purchase orders into plants and central DCs, transfers into regional DCs, for about a
    third of the SKU-locations, due within the next five weeks."""
    take = np.flatnonzero(rng.random(demand.pair.size) < 0.3)
    location = demand.location[take]
    transfer = ctx.locs.echelon[location] == 3
    quantity = np.maximum(1.0, np.rint(demand.weekly[take] * rng.uniform(1.0, 4.0, take.size)))
    number = np.arange(take.size)
    prefix = np.where(transfer, "TR", "PO")
    return pl.DataFrame(
        {
            "order_no": pl.Series(np.char.add(prefix, (number // 10 + 4_500_000).astype(str))),
            "line_no": pl.Series((number % 10 + 1) * 10, dtype=pl.Int64),
            "kind": pl.Series(np.where(transfer, "transfer", "purchase_order")),
            "sku": ctx.prods.frame["sku"].gather(demand.product[take]),
            "location_code": ctx.locs.frame["code"].gather(location),
            "quantity": pl.Series(quantity),
            "due_date": date_series(ctx.cal.end + rng.integers(1, 36, take.size)),
        }
    )


def _erp_unit(rng: Rng, ctx: Context, product: Ints) -> tuple[Ints, Floats]:
    """The unit the ERP keeps each SKU-location's parameters in: the base unit, or for one in
    six products with a pack unit, the first pack unit; and base units per that unit."""
    units = ctx.units
    has_pack = units.count[product] > 0
    cased = has_pack & (rng.random(product.size) < 1 / 6)
    first = np.minimum(units.start[product], max(units.unit.size - 1, 0))
    unit = np.where(cased, units.unit[first] if units.unit.size else 0, ctx.prods.uom[product])
    factor = np.where(cased, units.factor[first] if units.factor.size else 1.0, 1.0)
    return unit.astype(np.int64), factor


def make_erp_parameters(
    rng: Rng, ctx: Context, demand: Demand, lanes: pl.DataFrame
) -> pl.DataFrame:
    """What the ERP runs on today for every SKU-location with demand (SAP MARC fields)."""
    n = demand.pair.size
    codes = ctx.locs.frame["code"]
    inbound = dict(
        lanes.group_by("location_code").agg(pl.col("planned_lead_time_days").min()).iter_rows()
    )
    by_location = np.array([inbound.get(c, 7.0) for c in codes], dtype=np.float64)
    planned = by_location[demand.location]
    daily = demand.weekly / 7.0
    cover = planned + 1.0
    stale = rng.lognormal(0.0, 0.45, n)
    safety = daily * np.sqrt(cover) * rng.uniform(0.8, 2.5, n) * stale
    reorder = daily * cover + safety
    lot = np.maximum(1.0, demand.weekly * rng.choice([1.0, 2.0, 4.0], n))
    unit, factor = _erp_unit(rng, ctx, demand.product)
    whole = (unit == EACH) | (factor > 1.0)

    def in_unit(values: Floats) -> pl.Series:
        shown = values / factor
        return pl.Series(np.where(whole, np.ceil(shown), np.round(shown, 3)))

    mrp = choice(rng, MRP_SHARES, n)
    none = np.asarray(MRP_TYPES)[mrp] == "ND"
    return pl.DataFrame(
        {
            "sku": ctx.prods.frame["sku"].gather(demand.product),
            "location_code": codes.gather(demand.location),
            "mrp_type": pl.Series(np.asarray(MRP_TYPES)[mrp]),
            "reorder_point": in_unit(np.where(none, 0.0, reorder)),
            "safety_stock": in_unit(np.where(none, 0.0, safety)),
            "planned_delivery_days": pl.Series(planned),
            "goods_receipt_days": pl.Series(rng.integers(0, 3, n).astype(np.float64)),
            "days_basis": pl.Series(np.where(rng.random(n) < 0.15, "working", "calendar")),
            "min_lot": in_unit(lot),
            "lot_rounding": pl.Series(np.where(factor > 1.0, 1.0, 0.0)),
            # a maximum stock level (replenish to max) for a fifth; 0 is SAP's "none"
            "max_stock": in_unit(np.where(rng.random(n) < 0.2, reorder + lot, 0.0)),
            "uom": pl.Series(np.asarray(UOMS)[unit]),
        }
    )


def make_promotions(rng: Rng, ctx: Context, demand: Demand) -> pl.DataFrame:
    """Coming promotions of promotional products at a third of the locations selling them:
    one to three weeks long within the next quarter, lifting demand 20-150 %."""
    promo = ctx.prods.promo[demand.product] | (ctx.prods.lifecycle[demand.product] == PROMOTIONAL)
    rows = np.flatnonzero(promo & (rng.random(demand.pair.size) < 0.33))
    starts = ctx.cal.end + rng.integers(7, 84, rows.size)
    return pl.DataFrame(
        {
            "sku": ctx.prods.frame["sku"].gather(demand.product[rows]),
            "location_code": ctx.locs.frame["code"].gather(demand.location[rows]),
            "starts_on": date_series(starts),
            "ends_on": date_series(starts + rng.integers(6, 21, rows.size)),
            "uplift": pl.Series(np.round(rng.uniform(0.2, 1.5, rows.size), 2)),
        }
    )


def make_forecasts(rng: Rng, ctx: Context, demand: Demand, weeks: int = 13) -> pl.DataFrame:
    """Weekly forecasts for the next quarter for a tenth of the SKU-locations of seasonal
    products (the optional input time-phased policies use), following the product's season."""
    prods = ctx.prods
    seasonal = prods.pattern[demand.product] == SEASONAL
    rows = np.flatnonzero(seasonal & (rng.random(demand.pair.size) < 0.1))
    week = np.arange(weeks)
    starts = ctx.cal.end + 1 + 7 * week
    product = np.repeat(demand.product[rows], weeks)
    # The season as the history drew it (week of the window over 52), carried forward
    phase = prods.season_phase[product] + 2 * np.pi * np.tile(WEEKS + week, rows.size) / 52.0
    level = np.repeat(demand.weekly[rows], weeks) * (
        1.0 + prods.season_amplitude[product] * np.sin(phase)
    )
    noise = rng.lognormal(0.0, 0.1, level.size)
    return pl.DataFrame(
        {
            "sku": prods.frame["sku"].gather(product),
            "location_code": ctx.locs.frame["code"].gather(np.repeat(demand.location[rows], weeks)),
            "period_start": date_series(np.tile(starts, rows.size)),
            "period_days": 7,
            "quantity": pl.Series(np.round(np.maximum(level * noise, 0.0), 1)),
        }
    )
