"""Inventory positions, purchase lead times and cost to serve, derived from the order history."""

from __future__ import annotations

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import Bools, Floats, Ints, Rng, date_series, weighted_draw
from tierline.demo.synthetic.orders import Context, Lines
from tierline.demo.synthetic.reference import CHANNELS, EACH, ECOMMERCE, RETURN_SHARE
from tierline.demo.synthetic.scales import WEEKS


def make_inventory(
    rng: Rng, ctx: Context, lines: Lines, base_qty: Floats, revenue: Floats
) -> pl.DataFrame:
    """Weekly on-hand / on-order snapshots (last 8 weeks) of the top tenth of products by
    revenue, wherever they sold in the last 13 weeks, sized in weeks of cover."""
    n_products, n_locations = ctx.prods.weight.size, ctx.locs.echelon.size
    by_product = np.bincount(lines.product, weights=revenue, minlength=n_products)
    top = np.zeros(n_products, dtype=np.bool_)
    top[np.argsort(-by_product, kind="stable")[: max(20, n_products // 10)]] = True
    recent = (lines.day > ctx.cal.end - 13 * 7) & top[lines.product]
    key = lines.product[recent] * n_locations + lines.location[recent]
    volume = np.bincount(key, weights=base_qty[recent], minlength=n_products * n_locations)
    pairs = np.flatnonzero(volume > 0)
    weekly = volume[pairs] / 13.0
    snaps = 8
    cover = rng.uniform(0.5, 6.0, (pairs.size, 1)) * rng.lognormal(0.0, 0.25, (pairs.size, snaps))
    cover[rng.random(cover.shape) < 0.03] = 0.0  # stock-outs
    on_order = (
        weekly[:, None] * rng.uniform(0.5, 4.0, cover.shape) * (rng.random(cover.shape) > 0.35)
    )
    whole = np.repeat(ctx.prods.uom[pairs // n_locations] == EACH, snaps)
    as_of = ctx.cal.end - 7 * (snaps - 1 - np.tile(np.arange(snaps), pairs.size))

    def rounded(values: Floats) -> pl.Series:
        flat = values.ravel()
        return pl.Series(np.where(whole, np.rint(flat), np.round(flat, 1)), dtype=pl.Float64)

    pair = np.repeat(pairs, snaps)
    return pl.DataFrame(
        {
            "sku": ctx.prods.frame["sku"].gather(pair // n_locations),
            "location_code": ctx.locs.frame["code"].gather(pair % n_locations),
            "as_of": date_series(as_of),
            "on_hand": rounded(weekly[:, None] * cover),
            "on_order": rounded(on_order),
        }
    )


def make_lead_times(rng: Rng, ctx: Context, lines: Lines) -> pl.DataFrame:
    """Purchase receipts into plants and central DCs: about one for every ten weeks' worth of
    order lines, each from the product's supplier (a second one for some), variability set by
    the supplier. Receipts still due after ``as_of`` are open and left out."""
    n_products = ctx.prods.weight.size
    sold = np.bincount(lines.product, minlength=n_products)
    rate = np.where(sold > 0, np.clip(sold / WEEKS / 10.0, 0.02, 0.5), 0.0)
    product, week = np.nonzero(rng.random((n_products, WEEKS)) < rate[:, None])
    sups, k = ctx.sups, product.size
    primary = weighted_draw(rng, sups.weight, n_products)
    second = weighted_draw(rng, sups.weight, n_products)
    dual = rng.random(n_products) < 0.15
    supplier = np.where(dual[product] & (rng.random(k) < 0.4), second[product], primary[product])
    inbound = np.flatnonzero(ctx.locs.echelon <= 2)
    location = inbound[rng.integers(0, inbound.size, n_products)][product]
    ordered = ctx.cal.start + week * 7 + rng.integers(0, 5, k)
    disruption = np.where(rng.random(k) < 0.02, rng.integers(7, 29, k), 0)
    days = sups.mean_days[supplier] * np.exp(rng.standard_normal(k) * sups.spread[supplier])
    received = ordered + np.maximum(np.rint(days), 1).astype(np.int64) + disruption
    done = received <= ctx.cal.end
    return pl.DataFrame(
        {
            "sku": ctx.prods.frame["sku"].gather(product[done]),
            "location_code": ctx.locs.frame["code"].gather(location[done]),
            "supplier_code": sups.frame["code"].gather(supplier[done]),
            "ordered_on": date_series(ordered[done]),
            "received_on": date_series(received[done]),
        }
    )


def _months(days: Ints) -> Ints:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def make_cost_to_serve(
    rng: Rng, ctx: Context, lines: Lines, revenue: Floats, damaged: Bools
) -> pl.DataFrame:
    """Monthly freight, handling and returns per ordering customer. Small frequent orders,
    e-commerce and some demanding accounts cost more to serve than their revenue suggests."""
    n_customers, n = ctx.cust.kind.size, lines.product.size
    first = int(_months(np.array([ctx.cal.start]))[0])
    span = int(_months(np.array([ctx.cal.end]))[0]) - first + 1
    key = lines.customer * span + (_months(lines.day) - first)
    per_order = np.bincount(lines.order)[lines.order].astype(np.float64)
    channel = ctx.cust.channel[lines.customer]
    channel = np.where(channel < 0, len(CHANNELS), channel)
    far = ctx.locs.echelon[lines.location] != 3
    freight = (
        revenue * rng.uniform(0.015, 0.045, n_customers)[lines.customer] * np.where(far, 1.4, 1.0)
    )
    freight += 22.0 / per_order
    demanding = np.where(rng.random(n_customers) < 0.1, rng.uniform(1.8, 3.0, n_customers), 1.0)
    handling = (1.6 + 9.0 / per_order + 3.0 * (channel == ECOMMERCE)) * demanding[lines.customer]
    returned = rng.random(n) < RETURN_SHARE[channel]
    returns = revenue * damaged + revenue * returned * rng.uniform(0.2, 1.0, n)
    bins = n_customers * span
    rows = np.flatnonzero(np.bincount(key, minlength=bins) > 0)

    def total(values: Floats) -> pl.Series:
        return pl.Series(np.round(np.bincount(key, weights=values, minlength=bins)[rows], 2))

    period = (rows % span + first).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return pl.DataFrame(
        {
            "customer_code": ctx.cust.frame["code"].gather(rows // span),
            "period_start": date_series(period),
            "freight": total(freight),
            "handling": total(handling),
            "returns": total(returns),
        }
    )
