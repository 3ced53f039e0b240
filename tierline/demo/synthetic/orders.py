"""Order history: lines drawn from the demand, customers and locations, quantities and units,
revenue and margin, and the service each line got (dates, quantities, damage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from tierline.demo.synthetic.customers import Customers
from tierline.demo.synthetic.demand import demand_intensity, draw_cells, season
from tierline.demo.synthetic.draws import (
    Bools,
    Floats,
    Ints,
    Rng,
    choice,
    date_series,
    numbered_codes,
    timestamp_series,
    weighted_draw,
    with_nulls,
    word_series,
)
from tierline.demo.synthetic.network import Locations, Suppliers
from tierline.demo.synthetic.products import Products, Units
from tierline.demo.synthetic.reference import (
    BASE_UOMS,
    BUSINESS_UNITS,
    CHANNELS,
    CURRENCIES,
    DISCOUNT_LOW,
    DISCOUNT_SPAN,
    EACH,
    ERRATIC,
    FX,
    LATE_SHARE,
    LEAD_LOW,
    LEAD_SPAN,
    LUMPY,
    ONE_TIME,
    PHASE_OUT,
    PROJECT,
    REGIONS,
    SHORT_SHARE,
    SIZE_SIGMA,
    UOMS,
)
from tierline.demo.synthetic.scales import DAY_SECONDS, EPOCH, WEEKS, Calendar


@dataclass(frozen=True)
class Context:
    """The master data the order history is drawn against."""

    cal: Calendar
    cust: Customers
    prods: Products
    units: Units
    locs: Locations
    sups: Suppliers


@dataclass(frozen=True)
class Lines:
    product: Ints
    customer: Ints
    day: Ints
    order: Ints  # order number index, increasing with date
    line_no: Ints
    order_start: Ints  # per order: its first line
    location: Ints


def _assign_customers(rng: Rng, cust: Customers, prods: Products, product: Ints) -> Ints:
    n = product.size
    buyer = weighted_draw(rng, cust.buy_weight, n)
    # Most of a product's lines go to customers of the product's business unit.
    line_bu = prods.bu[product]
    affine = rng.random(n) < 0.8
    for bu in range(len(BUSINESS_UNITS)):
        rows = np.flatnonzero(affine & (line_bu == bu))
        weights = np.where(cust.bu == bu, cust.buy_weight, 0.0)
        if rows.size and weights.sum() > 0:
            buyer[rows] = weighted_draw(rng, weights, rows.size)
    # A one-off project item is bought by one account, a project account where there is one.
    project = np.where(cust.channel == PROJECT, cust.buy_weight, 0.0)
    project = project if project.sum() > 0 else cust.buy_weight
    owner = weighted_draw(rng, project, prods.weight.size)
    rows = np.flatnonzero((prods.lifecycle[product] == ONE_TIME) & (rng.random(n) < 0.9))
    buyer[rows] = owner[product[rows]]
    return buyer


def _weekday_offsets(rng: Rng, cal: Calendar, count: int) -> Ints:
    """Day within the week: mostly business days, whatever weekday the window starts on."""
    weekday = (EPOCH.weekday() + cal.start + np.arange(7)) % 7
    return choice(rng, np.where(weekday < 5, 0.19, np.where(weekday == 5, 0.04, 0.01)), count)


def _assign_locations(rng: Rng, cust: Customers, locs: Locations, customer: Ints) -> Ints:
    """Each customer is served by a regional DC of its region, sometimes by the central DC."""
    home = np.zeros(cust.kind.size, dtype=np.int64)
    central = np.zeros(cust.kind.size, dtype=np.int64)
    for region in range(len(REGIONS)):
        rows = np.flatnonzero(cust.region == region)
        regional = np.flatnonzero((locs.echelon == 3) & (locs.region == region))
        centrals = np.flatnonzero((locs.echelon == 2) & (locs.region == region))
        home[rows] = regional[rng.integers(0, regional.size, rows.size)]
        central[rows] = centrals[rng.integers(0, centrals.size, rows.size)]
    return np.where(rng.random(customer.size) < 0.15, central[customer], home[customer])


def make_lines(rngs: Mapping[str, Rng], ctx: Context, total: int) -> Lines:
    cells = draw_cells(rngs["demand"], demand_intensity(rngs["demand"], ctx.prods), total)
    product, week = cells // WEEKS, cells % WEEKS
    del cells
    rng = rngs["orders"]
    customer = _assign_customers(rng, ctx.cust, ctx.prods, product)
    day = ctx.cal.start + week * 7 + _weekday_offsets(rng, ctx.cal, product.size)
    day = np.maximum(day, ctx.prods.launch_day[product])  # launch week: nothing before the day
    del week
    # An order is everything one customer orders on one day; numbers follow the calendar.
    perm = np.lexsort((product, customer, day))
    product, customer, day = product[perm], customer[perm], day[perm]
    del perm
    new = np.ones(product.size, dtype=np.bool_)
    new[1:] = (day[1:] != day[:-1]) | (customer[1:] != customer[:-1])
    order = np.cumsum(new, dtype=np.int64) - 1
    starts = np.flatnonzero(new).astype(np.int64)
    line_no = np.arange(product.size, dtype=np.int64) - starts[order] + 1
    location = _assign_locations(rng, ctx.cust, ctx.locs, customer)
    return Lines(product, customer, day, order, line_no, starts, location)


@dataclass(frozen=True)
class Quantities:
    ordered: Floats  # in the ordered unit
    unit: Ints  # index into UOMS
    base: Floats  # in the product's base unit


def _base_sizes(rng: Rng, ctx: Context, lines: Lines) -> Floats:
    product, n = lines.product, lines.product.size
    pattern = ctx.prods.pattern[product]
    size = ctx.prods.qty[product] * np.exp(rng.standard_normal(n) * SIZE_SIGMA[pattern])
    # Big accounts order bigger quantities as well as more often.
    weight = ctx.cust.buy_weight
    scale = np.clip((weight / np.median(weight[weight > 0])) ** 0.15, 0.5, 2.5)
    size *= scale[lines.customer]
    # In season customers order more often (the demand matrix) and also more at a time.
    size *= season(ctx.prods, product, (lines.day - ctx.cal.start) / 7.0, damping=0.6)
    big = (pattern == LUMPY) & (rng.random(n) < 0.08)
    size[big] *= rng.uniform(4.0, 12.0, int(big.sum()))
    whole = ctx.prods.uom[product] == EACH
    rounded: Floats = np.where(whole, np.rint(size), np.round(size, 1))
    return np.maximum(rounded, 1.0)


def order_quantities(rng: Rng, ctx: Context, lines: Lines) -> Quantities:
    """Base-unit sizes, ordered in a pack unit when the product has one that fits the size."""
    size = _base_sizes(rng, ctx, lines)
    product, units = lines.product, ctx.units
    base_unit = ctx.prods.uom[product]
    if units.factor.size == 0:
        return Quantities(size, base_unit, size)
    count = units.count[product]
    pick = np.minimum(
        units.start[product] + (rng.random(size.size) * count).astype(np.int64),
        units.factor.size - 1,
    )
    factor = units.factor[pick]
    packed = (count > 0) & (rng.random(size.size) < 0.45) & (factor <= size * 1.5)
    packs = np.maximum(np.rint(size / factor), 1.0)
    return Quantities(
        ordered=np.where(packed, packs, size),
        unit=np.where(packed, units.unit[pick], base_unit),
        base=np.where(packed, packs * factor, size),
    )


@dataclass(frozen=True)
class Money:
    revenue: Floats
    margin: Floats
    estimated: Bools
    currency: Ints


def order_money(rng: Rng, ctx: Context, lines: Lines, base_qty: Floats) -> Money:
    """Revenue from list price, tier discount, currency and yearly increases; margin shrinks
    with the discount and goes negative on phase-out clearance."""
    product, customer, n = lines.product, lines.customer, lines.product.size
    tier = ctx.cust.tier
    discount = (DISCOUNT_LOW[tier] + rng.random(tier.size) * DISCOUNT_SPAN[tier])[customer]
    currency = (ctx.cust.region[customer] != 0).astype(np.int64)  # EUR in EMEA, else USD
    years = (lines.day - ctx.cal.start) / 365.0
    price = ctx.prods.price[product] * (1.0 - discount) * FX[currency] * (1.0 + 0.03 * years)
    revenue = np.maximum(np.round(base_qty * price * rng.normal(1.0, 0.02, n), 2), 0.05)
    share = ctx.prods.margin[product] - 0.7 * discount + rng.normal(0.0, 0.06, n)
    share -= 0.15 * (ctx.prods.lifecycle[product] == PHASE_OUT)
    margin = np.round(revenue * np.clip(share, -0.6, 0.8), 2)
    margin = np.minimum(margin, np.round(revenue - 0.01, 2))
    return Money(revenue, margin, rng.random(n) < 0.2, currency)


@dataclass(frozen=True)
class Service:
    requested: Ints
    promised: Ints
    shipped: Ints
    delivered: Ints
    delivered_qty: Floats
    not_shipped: Bools  # shipped after as_of: still open
    not_delivered: Bools
    damaged: Bools
    documentation_ok: Bools
    updated: Ints  # seconds since epoch


def _promises(rng: Rng, ctx: Context, lines: Lines) -> tuple[Ints, Ints, Ints]:
    """Requested date per order (by channel), promised date no earlier than feasible, transit."""
    orders = lines.order_start.size
    channel = ctx.cust.channel[lines.customer[lines.order_start]]
    channel = np.where(channel < 0, len(CHANNELS), channel)
    lead = LEAD_LOW[channel] + rng.integers(0, LEAD_SPAN[channel] + 1)
    slip = np.where(rng.random(orders) < 0.12, rng.integers(1, 11, orders), 0)
    n = lines.product.size
    regional = ctx.locs.echelon[lines.location] == 3
    transit = np.where(regional, rng.integers(1, 4, n), rng.integers(2, 6, n))
    requested = lines.day + lead[lines.order]
    promised = np.maximum(requested, lines.day + transit) + slip[lines.order]
    return requested, promised, transit


def order_service(rng: Rng, ctx: Context, lines: Lines, qty: Quantities) -> Service:
    n = lines.product.size
    requested, promised, transit = _promises(rng, ctx, lines)
    tier = ctx.cust.tier[lines.customer]
    late = rng.random(n) < LATE_SHARE[tier]
    early = ~late & (rng.random(n) < 0.05)
    shipped = np.maximum(lines.day, promised - transit - early) + np.where(
        late, rng.geometric(0.35, n), 0
    )
    delivered = shipped + transit
    hard = np.isin(ctx.prods.pattern[lines.product], (ERRATIC, LUMPY))
    short = rng.random(n) < SHORT_SHARE[tier] + 0.03 * hard
    wanted = qty.ordered * np.where(short, rng.uniform(0.4, 0.95, n), 1.0)
    whole = (qty.unit >= len(BASE_UOMS)) | (qty.unit == EACH)  # packs and EA count whole units
    delivered_qty = np.where(
        short, np.where(whole, np.floor(wanted), np.floor(wanted * 10) / 10), qty.ordered
    )
    not_delivered = delivered > ctx.cal.end
    last = np.where(not_delivered, np.where(shipped > ctx.cal.end, lines.day, shipped), delivered)
    updated = last * DAY_SECONDS + rng.integers(6 * 3600, 20 * 3600, n)
    return Service(
        requested=requested,
        promised=promised,
        shipped=shipped,
        delivered=delivered,
        delivered_qty=delivered_qty,
        not_shipped=shipped > ctx.cal.end,
        not_delivered=not_delivered,
        damaged=~not_delivered & (rng.random(n) < 0.006 + 0.003 * tier),
        documentation_ok=rng.random(n) >= 0.015 + 0.01 * tier,
        updated=updated,
    )


def order_frame(
    ctx: Context, lines: Lines, qty: Quantities, money: Money, svc: Service
) -> pl.DataFrame:
    order_no = numbered_codes("SO", lines.order_start.size, 8, first=10_000_001)
    return pl.DataFrame(
        {
            "order_no": order_no.gather(lines.order),
            "line_no": pl.Series(lines.line_no, dtype=pl.Int64),
            "customer_code": ctx.cust.frame["code"].gather(lines.customer),
            "sku": ctx.prods.frame["sku"].gather(lines.product),
            "location_code": ctx.locs.frame["code"].gather(lines.location),
            "order_date": date_series(lines.day),
            "requested_date": date_series(svc.requested),
            "quantity": pl.Series(qty.ordered, dtype=pl.Float64),
            "uom": word_series(UOMS).gather(qty.unit),
            "revenue": pl.Series(money.revenue, dtype=pl.Float64),
            "margin": pl.Series(money.margin, dtype=pl.Float64),
            "margin_estimated": pl.Series(money.estimated, dtype=pl.Boolean),
            "currency": word_series(CURRENCIES).gather(money.currency),
            "promised_date": date_series(svc.promised),
            "shipped_date": date_series(svc.shipped, svc.not_shipped),
            "delivered_date": date_series(svc.delivered, svc.not_delivered),
            "delivered_quantity": with_nulls(
                pl.Series(svc.delivered_qty, dtype=pl.Float64), svc.not_delivered
            ),
            "damaged": pl.Series(svc.damaged, dtype=pl.Boolean),
            "documentation_ok": pl.Series(svc.documentation_ok, dtype=pl.Boolean),
            "source_updated_at": timestamp_series(svc.updated),
        }
    )
