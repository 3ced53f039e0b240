"""Products (lifecycle, demand pattern, price, typical size) and their pack units."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import (
    Bools,
    Floats,
    Ints,
    Rng,
    choice,
    choice_rows,
    concat,
    date_series,
    flatten_groups,
    numbered_codes,
    patterned,
    pick_within,
    word_series,
)
from tierline.demo.synthetic.reference import (
    BUSINESS_UNITS,
    CATALOGUE,
    GRADES,
    LIFECYCLES,
    LUMPY,
    NPI,
    ONE_TIME,
    PATTERN_BY_BAND,
    PHASE_OUT,
    PROMOTIONAL,
    SEASONAL,
    UNIT_RULES,
    UOMS,
)
from tierline.demo.synthetic.scales import Calendar


@dataclass(frozen=True)
class Products:
    frame: pl.DataFrame
    bu: Ints
    uom: Ints  # index into UOMS (a base unit)
    lifecycle: Ints
    pattern: Ints
    promo: Bools
    weight: Floats  # relative order-line volume
    price: Floats  # EUR per base unit
    qty: Floats  # typical base units per order line
    margin: Floats  # typical margin share
    launch_day: Ints  # days since 1970-01-01
    season_amplitude: Floats  # 0 unless seasonal
    season_phase: Floats
    launch_week: Ints  # week of the window the product launched in (negative: before it)


def _patterns(rng: Rng, weight: Floats, lifecycle: Ints) -> Ints:
    """Big sellers are smooth or seasonal; the long tail is intermittent or lumpy."""
    rank = np.empty(weight.size, dtype=np.int64)
    rank[np.argsort(-weight, kind="stable")] = np.arange(weight.size)
    band = np.searchsorted([0.3, 0.6], rank / max(weight.size, 1), side="right").astype(np.int64)
    pattern = choice_rows(rng, PATTERN_BY_BAND, band)
    return np.where(lifecycle == ONE_TIME, LUMPY, pattern)


def _launch_days(rng: Rng, lifecycle: Ints, cal: Calendar) -> Ints:
    n = lifecycle.size
    established = cal.start - rng.integers(30, 4000, n)
    in_window = cal.start + rng.integers(0, 60 * 7, n)  # newer, but past its introduction
    day = np.where(rng.random(n) < 0.06, in_window, established)
    day = np.where(lifecycle == PHASE_OUT, cal.start - rng.integers(2000, 6000, n), day)
    day = np.where(lifecycle == NPI, cal.end - rng.integers(14, 30 * 7, n), day)
    return np.where(lifecycle == ONE_TIME, cal.start + rng.integers(0, 95 * 7, n), day)


def _descriptions(rng: Rng, line: Ints) -> pl.Series:
    nouns, starts, counts = flatten_groups([spec.nouns for spec in CATALOGUE])
    noun = nouns.gather(pick_within(rng, line, starts, counts))
    grade = word_series(GRADES).gather(rng.integers(0, len(GRADES), line.size))
    model = pl.Series(patterned(rng, "AA-9999", line.size), dtype=pl.String)
    return concat([noun, grade, model])


def make_products(rng: Rng, count: int, cal: Calendar) -> Products:
    line = rng.integers(0, len(CATALOGUE), count)
    spec = pl.DataFrame(
        [
            (s.bu, s.category, s.name, UOMS.index(s.uom), s.price, s.qty, s.margin)
            for s in CATALOGUE
        ],
        schema=["bu", "category", "product_line", "uom", "price", "qty", "margin"],
        orient="row",
    )[line]
    lifecycle = choice(rng, (0.80, 0.06, 0.04, 0.03, 0.07), count)
    weight = rng.lognormal(0.0, 1.5, count)
    launch = _launch_days(rng, lifecycle, cal)
    pattern = _patterns(rng, weight, lifecycle)
    bu, uom = spec["bu"].to_numpy().astype(np.int64), spec["uom"].to_numpy().astype(np.int64)
    frame = pl.DataFrame(
        {
            "sku": numbered_codes("SKU", count, 6),
            "description": _descriptions(rng, line),
            "product_line": spec["product_line"],
            "category": spec["category"],
            "base_uom": word_series(UOMS).gather(uom),
            "lifecycle": word_series(LIFECYCLES).gather(lifecycle),
            "launch_date": date_series(launch),
            "business_unit": word_series(BUSINESS_UNITS).gather(bu),
        }
    )
    return Products(
        frame=frame,
        bu=bu,
        uom=uom,
        lifecycle=lifecycle,
        pattern=pattern,
        promo=(lifecycle == PROMOTIONAL) | (rng.random(count) < 0.03),
        weight=weight,
        price=spec["price"].to_numpy() * rng.lognormal(0.0, 0.6, count),
        qty=spec["qty"].to_numpy() * rng.lognormal(0.0, 0.7, count),
        margin=spec["margin"].to_numpy() + rng.normal(0.0, 0.06, count),
        launch_day=launch,
        # Seasonal items swing 50-90% around their mean over the year, each with its own peak.
        season_amplitude=np.where(pattern == SEASONAL, rng.uniform(0.5, 0.9, count), 0.0),
        season_phase=rng.uniform(0.0, 2 * math.pi, count),
        launch_week=np.floor_divide(launch - cal.start, 7),
    )


@dataclass(frozen=True)
class Units:
    frame: pl.DataFrame
    product: Ints  # sorted by product, then unit
    unit: Ints  # index into UOMS
    factor: Floats  # base units per unit
    start: Ints  # per product: first row of its units
    count: Ints  # per product: how many units it has


def make_units(rng: Rng, prods: Products) -> Units:
    n = prods.uom.size
    drawn: dict[tuple[str, str], Floats] = {}
    parts: list[tuple[Ints, Ints, Floats]] = []
    for base, pack, share, factors, built_on in UNIT_RULES:
        factor = np.asarray(factors, dtype=np.float64)[rng.integers(0, len(factors), n)]
        if built_on is not None:  # a pallet holds a whole number of cases (bags, rolls)
            factor = factor * drawn[(base, built_on)]
        drawn[(base, pack)] = factor
        rows = np.flatnonzero((prods.uom == UOMS.index(base)) & (rng.random(n) < share))
        parts.append((rows, np.full(rows.size, UOMS.index(pack), dtype=np.int64), factor[rows]))
    product = np.concatenate([p[0] for p in parts]).astype(np.int64)
    unit = np.concatenate([p[1] for p in parts]).astype(np.int64)
    factors_all = np.concatenate([p[2] for p in parts])
    order = np.lexsort((unit, product))
    product, unit, factors_all = product[order], unit[order], factors_all[order]
    frame = pl.DataFrame(
        {
            "sku": prods.frame["sku"].gather(product),
            "uom": word_series(UOMS).gather(unit),
            "factor": pl.Series(factors_all, dtype=pl.Float64),
        }
    )
    start = np.searchsorted(product, np.arange(n)).astype(np.int64)
    return Units(frame, product, unit, factors_all, start, np.bincount(product, minlength=n))
