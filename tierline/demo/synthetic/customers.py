"""Customers: the account hierarchy, geography, tiers from volume, names, managers and
identifiers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import (
    Bools,
    Floats,
    Ints,
    Rng,
    choice,
    concat,
    numbered_codes,
    pick_within,
    unique_numbers,
    weighted_draw,
    with_nulls,
    word_series,
)
from tierline.demo.synthetic.reference import (
    ACCOUNT_TYPES,
    BRANDS,
    BUSINESS_UNITS,
    CHANNELS,
    CITY,
    CITY_COUNT,
    CITY_START,
    COUNTRY_REGION,
    FIRST_NAMES,
    GLOBAL,
    GROUP_WORDS,
    INDUSTRY,
    INDUSTRY_COUNT,
    INDUSTRY_START,
    ISO,
    LAST_NAMES,
    LEGAL,
    LEGAL_COUNT,
    LEGAL_START,
    MAIL_DOMAIN,
    PARENT,
    REGION_WEIGHTS,
    REGIONS,
    SHIP_TO,
    SITE_WORDS,
    SOLD_TO,
    STRATEGIC_SHARE,
    TIERS,
    countries_in,
    postal_codes,
)
from tierline.demo.synthetic.scales import Calendar, recent_timestamps


@dataclass(frozen=True)
class Customers:
    frame: pl.DataFrame
    kind: Ints
    parent: Ints  # row of the parent account, -1 at the top
    region: Ints
    country: Ints
    bu: Ints
    channel: Ints  # -1 where the source left it empty
    tier: Ints
    buy_weight: Floats  # relative order volume; 0 for accounts that never order themselves
    has_children: Bools


def _level_sizes(count: int) -> tuple[int, int, int, int]:
    globals_ = max(3, round(count * 0.006))
    parents = max(3, round(count * 0.07))
    sold_tos = max(3, round(count * 0.33))
    return globals_, parents, sold_tos, max(1, count - globals_ - parents - sold_tos)


def _hierarchy(rng: Rng, count: int) -> tuple[Ints, Ints]:
    """Account types in level order (so parents come first) and each account's parent row."""
    sizes = _level_sizes(count)
    kind = np.repeat(np.arange(4, dtype=np.int64), sizes)
    first = np.concatenate([[0], np.cumsum(sizes)])
    # Big accounts collect more children: size weights who gets picked as a parent.
    size = rng.lognormal(0.0, 1.3, kind.size)
    parent = np.full(kind.size, -1, dtype=np.int64)
    for level, linked_share in ((PARENT, 0.45), (SOLD_TO, 0.65), (SHIP_TO, 1.0)):
        rows = np.arange(first[level], first[level + 1])
        above = np.arange(first[level - 1], first[level])
        linked = rows[rng.random(rows.size) < linked_share]
        parent[linked] = above[weighted_draw(rng, size[above], linked.size)]
    return kind, parent


def _inherit(rng: Rng, values: Ints, kind: Ints, parent: Ints, shares: Mapping[int, float]) -> Ints:
    """Children copy a parent's value with the given probability per level, top-down."""
    out = values.copy()
    for level in (PARENT, SOLD_TO, SHIP_TO):
        rows = np.flatnonzero((kind == level) & (parent >= 0))
        rows = rows[rng.random(rows.size) < shares.get(level, 0.0)]
        out[rows] = out[parent[rows]]
    return out


def _geography(rng: Rng, kind: Ints, parent: Ints) -> Ints:
    """Countries: children mostly sit in their parent's country, else in its region."""
    country = countries_in(rng, choice(rng, REGION_WEIGHTS, kind.size))
    for level, same_country, same_region in (
        (PARENT, 0.5, 0.6),
        (SOLD_TO, 0.6, 0.9),
        (SHIP_TO, 0.8, 0.95),
    ):
        rows = np.flatnonzero((kind == level) & (parent >= 0))
        up = parent[rows]
        u = rng.random(rows.size)
        region = np.where(
            u < same_region, COUNTRY_REGION[country[up]], COUNTRY_REGION[country[rows]]
        )
        country[rows] = np.where(u < same_country, country[up], countries_in(rng, region))
    return country


def _buy_weights(rng: Rng, kind: Ints, has_children: Bools) -> Floats:
    """Order volume: ship-tos and sold-tos order; a sold-to with ship-tos rarely orders itself."""
    own = rng.lognormal(0.0, 1.4, kind.size)
    sold = np.where(has_children, 0.15, 1.0) * own
    return np.where(kind == SHIP_TO, own, np.where(kind == SOLD_TO, sold, 0.0))


def _rollup(weight: Floats, kind: Ints, parent: Ints) -> Floats:
    """Each account's volume including everything below it (children pushed up level by level)."""
    total = weight.copy()
    for level in (SHIP_TO, SOLD_TO, PARENT):
        rows = np.flatnonzero((kind == level) & (parent >= 0))
        total += np.bincount(parent[rows], weights=total[rows], minlength=total.size)
    return total


def _tiers(rng: Rng, kind: Ints, parent: Ints, total: Floats) -> Ints:
    """CRM tier from volume with noise (tiers lag reality); ship-tos carry their sold-to's."""
    noisy = total * rng.lognormal(0.0, 0.5, total.size)
    cuts = np.quantile(noisy[kind == SOLD_TO], [0.95, 0.80, 0.50])
    tier: Ints = (noisy[:, None] < cuts[None, :]).sum(axis=1)
    # A global account is gold at worst, however little of it orders through us so far.
    tier = np.where(kind == GLOBAL, np.minimum(tier, 1), tier)
    ship = np.flatnonzero(kind == SHIP_TO)
    tier[ship] = tier[parent[ship]]
    return tier


def _global_accounts(kind: Ints, parent: Ints) -> Ints:
    """Row of the global account each customer belongs to, -1 if none (or itself global)."""
    top = np.full(kind.size, -1, dtype=np.int64)
    for level in (PARENT, SOLD_TO, SHIP_TO):
        rows = np.flatnonzero((kind == level) & (parent >= 0))
        up = parent[rows]
        top[rows] = np.where(kind[up] == GLOBAL, up, top[up])
    return top


def _customer_names(rng: Rng, kind: Ints, parent: Ints, country: Ints, bu: Ints) -> pl.Series:
    n = kind.size
    brand = _inherit(
        rng,
        rng.integers(0, BRANDS.len(), n),
        kind,
        parent,
        {PARENT: 0.9, SOLD_TO: 0.7, SHIP_TO: 1.0},
    )
    brands = BRANDS.gather(brand)
    industry = INDUSTRY.gather(pick_within(rng, bu, INDUSTRY_START, INDUSTRY_COUNT))
    legal = LEGAL.gather(pick_within(rng, country, LEGAL_START, LEGAL_COUNT))
    city = CITY.gather(pick_within(rng, country, CITY_START, CITY_COUNT))
    group = word_series(GROUP_WORDS).gather(rng.integers(0, len(GROUP_WORDS), n))
    frame = pl.DataFrame({"kind": kind, "linked": parent >= 0})
    names = frame.select(
        pl.when(pl.col("kind") == GLOBAL)
        .then(concat([brands, group]))
        .when((pl.col("kind") == SOLD_TO) & pl.col("linked"))
        .then(concat([brands, industry, city, legal]))  # a subsidiary's own legal entity
        .otherwise(concat([brands, industry, legal]))
    ).to_series()
    # A ship-to is named after its sold-to and site, as ERPs usually show them.
    ship = np.flatnonzero(kind == SHIP_TO)
    site = word_series(SITE_WORDS).gather(rng.integers(0, len(SITE_WORDS), ship.size))
    ship_names = concat([names.gather(parent[ship]), " - ", city.gather(ship), " ", site], "")
    return names.scatter(ship, ship_names).alias("name")


def _manager_emails(rng: Rng, kind: Ints, parent: Ints, region: Ints, tier: Ints) -> pl.Series:
    """Account managers work one region; ship-tos have their sold-to's; many bronze have none."""
    per_region = max(1, kind.size // 180)
    pool = per_region * len(REGIONS)
    i = np.arange(pool)
    first = word_series(FIRST_NAMES).gather(i % len(FIRST_NAMES))
    last = word_series(LAST_NAMES).gather((i // len(FIRST_NAMES)) % len(LAST_NAMES))
    clash = i // (len(FIRST_NAMES) * len(LAST_NAMES))  # numbered once the names run out
    suffix = pl.Series(np.where(clash > 0, clash.astype(str), ""), dtype=pl.String)
    emails = concat([first, ".", last, suffix, "@", MAIL_DOMAIN], "")
    manager = region * per_region + rng.integers(0, per_region, kind.size)
    manager[(tier == 3) & (rng.random(kind.size) < 0.4)] = -1
    ship = np.flatnonzero(kind == SHIP_TO)
    manager[ship] = manager[parent[ship]]
    return with_nulls(emails.gather(np.maximum(manager, 0)), manager < 0)


def _identifiers(rng: Rng, kind: Ints, country: Ints) -> tuple[pl.Series, pl.Series]:
    """VAT-style tax ids for legal entities (ship-tos are sites, not entities) and DUNS numbers."""
    n = kind.size
    tax = concat([ISO.gather(country), pl.Series(unique_numbers(rng, n, 9)).cast(pl.String)], "")
    tax = with_nulls(tax, (kind == SHIP_TO) | (rng.random(n) < 0.04))
    duns = pl.Series(unique_numbers(rng, n, 9)).cast(pl.String)
    return tax, with_nulls(duns, rng.random(n) < 0.10)


def make_customers(rng: Rng, count: int, cal: Calendar) -> Customers:
    kind, parent = _hierarchy(rng, count)
    n = kind.size
    has_children = np.bincount(parent[parent >= 0], minlength=n) > 0
    country = _geography(rng, kind, parent)
    region = COUNTRY_REGION[country]
    bu = _inherit(
        rng,
        rng.integers(0, len(BUSINESS_UNITS), n),
        kind,
        parent,
        {PARENT: 0.5, SOLD_TO: 0.75, SHIP_TO: 1.0},
    )
    channel = _inherit(
        rng, choice(rng, (0.35, 0.2, 0.2, 0.15, 0.1), n), kind, parent, {SHIP_TO: 1.0}
    )
    channel[rng.random(n) < 0.03] = -1
    buy_weight = _buy_weights(rng, kind, has_children)
    tier = _tiers(rng, kind, parent, _rollup(buy_weight, kind, parent))
    strategic = rng.random(n) < np.where(kind == GLOBAL, 0.8, STRATEGIC_SHARE[tier])
    codes = numbered_codes("C", n, 6)
    top = _global_accounts(kind, parent)
    tax_id, duns = _identifiers(rng, kind, country)
    frame = pl.DataFrame(
        {
            "code": codes,
            "name": _customer_names(rng, kind, parent, country, bu),
            "account_type": word_series(ACCOUNT_TYPES).gather(kind),
            "parent_code": with_nulls(codes.gather(np.maximum(parent, 0)), parent < 0),
            "global_account_code": with_nulls(codes.gather(np.maximum(top, 0)), top < 0),
            "region": word_series(REGIONS).gather(region),
            "country": ISO.gather(country),
            "postal_code": with_nulls(postal_codes(rng, country), rng.random(n) < 0.05),
            "channel": with_nulls(
                word_series(CHANNELS).gather(np.maximum(channel, 0)), channel < 0
            ),
            "strategic": pl.Series(strategic, dtype=pl.Boolean),
            "crm_tier": word_series(TIERS).gather(tier),
            "account_manager_email": _manager_emails(rng, kind, parent, region, tier),
            "business_unit": word_series(BUSINESS_UNITS).gather(bu),
            "tax_id": tax_id,
            "duns": duns,
            "source_updated_at": recent_timestamps(rng, cal, n, 400),
        }
    )
    return Customers(
        frame, kind, parent, region, country, bu, channel, tier, buy_weight, has_children
    )
