"""``generate``: every part drawn from its own random stream, in dependency order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from tierline.demo.synthetic.customers import make_customers
from tierline.demo.synthetic.dataset import GroundTruth, SyntheticDataset
from tierline.demo.synthetic.draws import word_series
from tierline.demo.synthetic.network import make_locations, make_suppliers
from tierline.demo.synthetic.orders import (
    Context,
    make_lines,
    order_frame,
    order_money,
    order_quantities,
    order_service,
)
from tierline.demo.synthetic.positions import make_cost_to_serve, make_inventory, make_lead_times
from tierline.demo.synthetic.products import Products, make_products, make_units
from tierline.demo.synthetic.reference import PATTERNS
from tierline.demo.synthetic.scales import SCALES, Calendar, Scale, streams
from tierline.demo.synthetic.sources import make_sources
from tierline.demo.synthetic.supply import (
    demand_pairs,
    make_erp_parameters,
    make_forecasts,
    make_lanes,
    make_open_supply,
    make_promotions,
    make_transfer_times,
)


def _pattern_truth(prods: Products) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": prods.frame["sku"],
            "demand_pattern": word_series(PATTERNS).gather(prods.pattern),
            "promotions": pl.Series(prods.promo, dtype=pl.Boolean),
        }
    )


def _scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r} (choose: {', '.join(SCALES)})") from None


def generate(scale: str, seed: int = 7, as_of: date | None = None) -> SyntheticDataset:
    """Master data and the 104 weeks of order history ending at ``as_of`` (default: today, UTC).

    Deterministic for a given ``scale``, ``seed`` and ``as_of``. Raises ``ValueError`` for an
    unknown scale.
    """
    target = _scale(scale)
    cal = Calendar.ending(as_of or datetime.now(UTC).date())
    rngs = streams(seed)
    cust = make_customers(rngs["customers"], target.customers, cal)
    sources, matches = make_sources(rngs["sources"], cust, cal)
    prods = make_products(rngs["products"], target.products, cal)
    ctx = Context(
        cal=cal,
        cust=cust,
        prods=prods,
        units=make_units(rngs["units"], prods),
        locs=make_locations(rngs["locations"], target.locations),
        sups=make_suppliers(rngs["suppliers"], target.suppliers),
    )
    lines = make_lines(rngs, ctx, target.order_lines)
    qty = order_quantities(rngs["orders"], ctx, lines)
    money = order_money(rngs["orders"], ctx, lines, qty.base)
    svc = order_service(rngs["service"], ctx, lines, qty)
    bought = make_lead_times(rngs["lead_times"], ctx, lines)
    supply, demand = rngs["supply"], demand_pairs(ctx, lines, qty.base)
    lanes = make_lanes(supply, ctx, bought)
    transfers = make_transfer_times(supply, ctx, demand, lanes)
    return SyntheticDataset(
        scale=scale,
        seed=seed,
        as_of=cal.as_of,
        customers=cust.frame,
        customer_sources=sources,
        products=prods.frame,
        uom_conversions=ctx.units.frame,
        locations=ctx.locs.frame,
        suppliers=ctx.sups.frame,
        order_lines=order_frame(ctx, lines, qty, money, svc),
        inventory_positions=make_inventory(rngs["inventory"], ctx, lines, qty.base, money.revenue),
        lead_times=pl.concat([bought, transfers], how="diagonal_relaxed"),
        cost_to_serve=make_cost_to_serve(rngs["cost"], ctx, lines, money.revenue, svc.damaged),
        sourcing_lanes=lanes,
        open_supply=make_open_supply(supply, ctx, demand),
        demand_forecasts=make_forecasts(supply, ctx, demand),
        promotions=make_promotions(supply, ctx, demand),
        erp_parameters=make_erp_parameters(supply, ctx, demand, lanes),
        truth=GroundTruth(_pattern_truth(prods), matches),
    )
