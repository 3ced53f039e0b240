"""Seeded synthetic master data and two years of order history for demos, tests and benchmarks.

``generate(scale, seed, as_of)`` returns one polars frame per importable entity, with columns
named exactly like the generic-CSV attributes (``entities.py``), so ``write_csv`` output loads
through the ordinary import path. The same scale, seed and ``as_of`` always give the same data.

What makes the data worth segmenting:

* customers form a hierarchy (global account -> parent -> sold-to -> ship-to); orders come from
  sold-tos and ship-tos with Pareto-shaped volumes, and CRM tiers follow volume only loosely
  (tiers in real CRMs lag behind reality);
* every product follows one demand pattern (smooth, erratic, intermittent, seasonal, lumpy) on
  top of its lifecycle: launch ramp, phase-out decline, one-off projects, promotion spikes;
* service is worse for lower tiers (more late and short deliveries); margins shrink with
  discounts and turn negative on clearance;
* other source systems hold the same customers with messy names, reformatted identifiers, true
  duplicates and ambiguous near-matches, for golden-record demos. ``truth`` says which is which.

Everything is vectorised: numpy draws arrays of indices and values, polars turns them into
strings and frames. Loops run only over small fixed vocabularies (levels, regions, countries,
units, promotion rounds), never over rows, products or customers. Each part draws from its own
random stream, so changing how one part is generated leaves the others as they were.

The vocabularies are kept here rather than imported from ``models`` so the generator runs
without SQLAlchemy; a test checks they stay within the database's check constraints.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

Ints: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
Bools: TypeAlias = npt.NDArray[np.bool_]
Rng: TypeAlias = np.random.Generator

WEEKS: Final = 104
_EPOCH: Final = date(1970, 1, 1)
_DAY_SECONDS: Final = 86_400

ACCOUNT_TYPES: Final = ("global", "parent", "sold_to", "ship_to")
GLOBAL, PARENT, SOLD_TO, SHIP_TO = range(4)
REGIONS: Final = ("emea", "amer", "apac")
CHANNELS: Final = ("distributor", "retail", "oem", "ecommerce", "project")
ECOMMERCE, PROJECT = 3, 4
TIERS: Final = ("platinum", "gold", "silver", "bronze")
BUSINESS_UNITS: Final = ("bu_chem", "bu_pack", "bu_tools")
LIFECYCLES: Final = ("active", "npi", "promotional", "one_time_project", "phase_out")
ACTIVE, NPI, PROMOTIONAL, ONE_TIME, PHASE_OUT = range(5)
PATTERNS: Final = ("smooth", "erratic", "intermittent", "seasonal", "lumpy")
SMOOTH, ERRATIC, INTERMITTENT, SEASONAL, LUMPY = range(5)
LOCATION_KINDS: Final = ("plant", "dc", "warehouse")
BASE_UOMS: Final = ("EA", "KG", "L", "M")
PACK_UOMS: Final = ("DZ", "BOX", "CS", "PAL", "BAG", "DRUM", "CAN", "IBC", "ROLL")
UOMS: Final = BASE_UOMS + PACK_UOMS
EACH: Final = 0
SOURCE_SYSTEMS: Final = ("sales", "logistics", "finance")
SOURCE_RELATIONS: Final = ("record", "duplicate", "near_match")
CURRENCIES: Final = ("EUR", "USD")


@dataclass(frozen=True)
class Scale:
    """Target row counts of one scale (order lines exactly, customers and products exactly)."""

    customers: int
    products: int
    order_lines: int
    locations: int
    suppliers: int


SCALES: Final[Mapping[str, Scale]] = MappingProxyType(
    {
        "small": Scale(customers=300, products=500, order_lines=25_000, locations=12, suppliers=20),
        "medium": Scale(3_000, 8_000, 300_000, locations=30, suppliers=80),
        "large": Scale(20_000, 50_000, 2_000_000, locations=80, suppliers=400),
    }
)


@dataclass(frozen=True)
class GroundTruth:
    """What the generator meant, to check classifiers and matchers against (not importable).

    ``product_patterns``: sku, demand_pattern, promotions (bool).
    ``source_matches``: source_system, source_key, customer_code (null for a near-match, which
    is a different company), relation (record | duplicate | near_match).
    """

    product_patterns: pl.DataFrame
    source_matches: pl.DataFrame


@dataclass(frozen=True)
class SyntheticDataset:
    scale: str
    seed: int
    as_of: date
    customers: pl.DataFrame
    customer_sources: pl.DataFrame
    products: pl.DataFrame
    uom_conversions: pl.DataFrame
    locations: pl.DataFrame
    suppliers: pl.DataFrame
    order_lines: pl.DataFrame
    inventory_positions: pl.DataFrame
    lead_times: pl.DataFrame
    cost_to_serve: pl.DataFrame
    truth: GroundTruth

    # Load order: every reference points backwards.
    ENTITIES: ClassVar[tuple[str, ...]] = (
        "customers",
        "customer_sources",
        "products",
        "uom_conversions",
        "locations",
        "suppliers",
        "order_lines",
        "inventory_positions",
        "lead_times",
        "cost_to_serve",
    )

    def frames(self) -> dict[str, pl.DataFrame]:
        """Entity name -> frame, in load order."""
        return {name: getattr(self, name) for name in self.ENTITIES}

    @property
    def row_count(self) -> int:
        return sum(frame.height for frame in self.frames().values())


# --- reference data ------------------------------------------------------------------------
# Kept as compact text tables: one row per line, ``|`` between columns, ``;`` inside lists.


def _table(text: str) -> list[list[str]]:
    return [row.split("|") for row in text.strip().splitlines()]


def _wordlist(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class _Country:
    iso: str
    region: int
    weight: float  # share within its region
    postal: str  # 9 = digit, A = capital letter, anything else literal
    legal: tuple[str, ...]
    cities: tuple[str, ...]


_COUNTRY_TABLE: Final = """
DE|emea|0.22|99999|GmbH;AG;GmbH & Co. KG|Hamburg;Munich;Cologne;Frankfurt;Stuttgart;Leipzig
FR|emea|0.14|99999|SAS;SA;SARL|Paris;Lyon;Marseille;Lille;Toulouse
GB|emea|0.14|AA9 9AA|Ltd;PLC|London;Manchester;Birmingham;Leeds;Glasgow
IT|emea|0.10|99999|S.p.A.;S.r.l.|Milan;Turin;Bologna;Verona
ES|emea|0.08|99999|S.A.;S.L.|Madrid;Barcelona;Valencia;Bilbao
NL|emea|0.08|9999 AA|B.V.;N.V.|Rotterdam;Amsterdam;Eindhoven;Utrecht
PL|emea|0.07|99-999|Sp. z o.o.;S.A.|Warsaw;Poznan;Wroclaw;Gdansk
SE|emea|0.05|999 99|AB|Stockholm;Gothenburg;Malmo
AT|emea|0.05|9999|GmbH;AG|Vienna;Linz;Graz
CH|emea|0.04|9999|AG;GmbH;SA|Zurich;Basel;Geneva
BE|emea|0.03|9999|NV;SA;BV|Antwerp;Brussels;Ghent
US|amer|0.70|99999|Inc.;LLC;Corp.|Chicago;Houston;Atlanta;Los Angeles;Columbus;Newark
CA|amer|0.12|A9A 9A9|Inc.;Ltd.|Toronto;Montreal;Calgary;Vancouver
MX|amer|0.10|99999|S.A. de C.V.|Monterrey;Guadalajara;Mexico City
BR|amer|0.08|99999-999|Ltda.;S.A.|Sao Paulo;Curitiba;Campinas
CN|apac|0.30|999999|Co., Ltd.|Shanghai;Shenzhen;Suzhou;Tianjin
JP|apac|0.20|999-9999|K.K.;Co., Ltd.|Tokyo;Osaka;Nagoya
AU|apac|0.15|9999|Pty Ltd|Sydney;Melbourne;Brisbane
SG|apac|0.10|999999|Pte Ltd|Singapore
IN|apac|0.15|999999|Pvt Ltd|Mumbai;Pune;Chennai;Bengaluru
KR|apac|0.10|99999|Co., Ltd.|Seoul;Busan;Incheon
"""
_COUNTRIES: Final = tuple(
    _Country(
        iso, REGIONS.index(region), float(w), postal, tuple(legal.split(";")), tuple(c.split(";"))
    )
    for iso, region, w, postal, legal, c in _table(_COUNTRY_TABLE)
)
_REGION_WEIGHTS: Final = (0.45, 0.35, 0.20)


@dataclass(frozen=True)
class _Line:
    bu: int
    category: str
    name: str
    uom: str
    price: float  # median price per base unit (EUR)
    qty: float  # median quantity per order line (base units)
    margin: float  # median margin share
    nouns: tuple[str, ...]


# unit (bu_...) | category | product line | base unit | price | qty per line | margin | nouns
_CATALOGUE_TABLE: Final = """
chem|adhesives|industrial_adhesives|KG|14.0|60|0.34|Epoxy adhesive;PU adhesive;Hot-melt glue
chem|adhesives|sealants|EA|6.5|48|0.38|Silicone sealant;Acrylic sealant;Hybrid sealant
chem|coatings|powder_coatings|KG|9.0|150|0.27|Polyester powder;Epoxy powder;Hybrid powder
chem|coatings|liquid_coatings|L|12.0|80|0.31|Primer;Topcoat;Clear lacquer;Anti-corrosion paint
chem|solvents_cleaners|solvents|L|3.2|400|0.18|Isopropanol;Acetone;Ethyl acetate;Xylene
chem|solvents_cleaners|cleaners|L|4.5|120|0.29|Degreaser;Surface cleaner;Parts washer fluid
pack|flexible_packaging|stretch_film|KG|2.8|300|0.16|Stretch film;Shrink film;Pallet hood
pack|flexible_packaging|bags|EA|0.4|1500|0.30|Poly bag;Zip bag;Valve bag
pack|rigid_packaging|boxes|EA|1.1|800|0.22|Corrugated box;Die-cut box;Mailer box
pack|rigid_packaging|containers|EA|7.5|120|0.26|HDPE container;Jerrycan;Pail
pack|protective_packaging|cushioning|M|0.9|600|0.33|Bubble wrap;Foam roll;Paper padding
pack|protective_packaging|tapes|EA|2.2|144|0.36|Packing tape;Masking tape;Filament tape
tools|power_tools|drills|EA|145.0|4|0.31|Cordless drill;Hammer drill;Impact driver
tools|power_tools|grinders|EA|120.0|3|0.29|Angle grinder;Bench grinder;Die grinder
tools|hand_tools|wrenches|EA|38.0|8|0.42|Torque wrench;Socket set;Combination wrench
tools|hand_tools|cutting_tools|EA|14.0|12|0.40|Utility knife;Hacksaw;Cable cutter
tools|consumables|abrasives|EA|2.4|100|0.37|Grinding disc;Sanding belt;Flap disc
tools|consumables|fasteners|EA|0.25|2000|0.35|Hex bolt;Wood screw;Anchor
tools|consumables|wire_rope|M|2.8|150|0.24|Steel wire rope;Polyester rope;Chain
"""
_CATALOGUE: Final = tuple(
    _Line(
        BUSINESS_UNITS.index(f"bu_{bu}"),
        category,
        name,
        uom,
        float(price),
        float(qty),
        float(margin),
        tuple(nouns.split(";")),
    )
    for bu, category, name, uom, price, qty, margin, nouns in _table(_CATALOGUE_TABLE)
)

# base unit, pack unit, share of products with it, base units per pack, built on another pack
_UNIT_RULES: Final[tuple[tuple[str, str, float, tuple[int, ...], str | None], ...]] = (
    ("EA", "DZ", 0.12, (12,), None),
    ("EA", "BOX", 0.30, (5, 6, 10, 20, 25), None),
    ("EA", "CS", 0.60, (6, 12, 24, 48), None),
    ("EA", "PAL", 0.40, (40, 50, 60, 80), "CS"),  # e.g. PAL = 60 CS = 720 EA
    ("KG", "BAG", 0.50, (10, 20, 25), None),
    ("KG", "DRUM", 0.30, (50, 180, 200), None),
    ("KG", "PAL", 0.40, (20, 40), "BAG"),
    ("L", "CAN", 0.50, (5, 10, 20), None),
    ("L", "DRUM", 0.30, (200, 208), None),
    ("L", "IBC", 0.25, (1000,), None),
    ("M", "ROLL", 0.70, (25, 50, 100, 300), None),
    ("M", "PAL", 0.30, (20, 30, 40), "ROLL"),
)

_BRAND_HEADS: Final = _wordlist(
    "Atl Nor Vert Sol Kron Hel Mar Tri Cor Pol Ast Bel Cal Del Ev Fer Gal Hor Ix Jun Lum Ner Oct "
    "Pyr Quin Rhen Sax Tor Ul Vol"
)
_BRAND_TAILS: Final = _wordlist(
    "as dex ix on ora ena tec var ium ell um ana ent ar is ox ura ino ek al"
)
_FAMILY_NAMES: Final = _wordlist(
    "Müller Schmidt Rossi Dubois García Jansen Nowak Lindqvist Huber Keller Peeters Smith Johnson "
    "Tanaka Wong Kumar Kim Silva Hernández Brown"
)
_INDUSTRIES: Final = tuple(
    tuple(words.split(";"))
    for words in (
        "Chemicals;Coatings;Polymers;Specialty Chemicals",
        "Packaging;Containers;Films;Paper Products",
        "Tools;Machinery;Industrial Supply;Engineering",
    )
)
_GROUP_WORDS: Final = ("Group", "Holding", "International", "Corporation")
_SITE_WORDS: Final = ("Plant", "Warehouse", "Site", "Distribution Center", "Works")
_SUPPLIER_WORDS: Final = ("Industries", "Manufacturing", "Materials", "Components", "Trading")
_GRADES: Final = ("Standard", "Premium", "Eco", "Pro", "HD", "Plus")
_FIRST_NAMES: Final = _wordlist(
    "anna ben carla david elena felix greta hugo ines jonas klara lukas maria nils olga paul rosa "
    "sven tina viktor"
)
_LAST_NAMES: Final = _wordlist(
    "bauer costa dupont eriksson fischer garcia hansen ivanova jones kowalski lambert moreau novak "
    "olsen peters quinn richter santos tanaka weber"
)
_MAIL_DOMAIN: Final = "tierline-demo.example"  # reserved TLD: no real mailbox is ever named

# Behaviour per tier (platinum, gold, silver, bronze): better tiers get better service.
_LATE_SHARE: Final = np.array([0.04, 0.07, 0.12, 0.20])
_SHORT_SHARE: Final = np.array([0.015, 0.03, 0.06, 0.10])
_DISCOUNT_LOW: Final = np.array([0.12, 0.08, 0.03, 0.0])
_DISCOUNT_SPAN: Final = np.array([0.08, 0.06, 0.05, 0.04])
_STRATEGIC_SHARE: Final = np.array([0.60, 0.15, 0.02, 0.005])
# Requested lead time in days per channel (last entry: channel unknown).
_LEAD_LOW: Final = np.array([5, 3, 7, 1, 14, 5])
_LEAD_SPAN: Final = np.array([6, 5, 15, 3, 30, 6])
_RETURN_SHARE: Final = np.array([0.004, 0.015, 0.004, 0.04, 0.002, 0.006])
# Spread of the quantity per line per demand pattern (the "CV²" axis of the classification).
_SIZE_SIGMA: Final = np.array([0.25, 0.9, 0.3, 0.3, 1.2])
# Demand pattern probabilities by volume band (top 30%, next 30%, tail): the tail is sparse.
_PATTERN_BY_BAND: Final = np.array(
    [
        [0.50, 0.20, 0.00, 0.30, 0.00],
        [0.30, 0.25, 0.15, 0.20, 0.10],
        [0.10, 0.10, 0.50, 0.05, 0.25],
    ]
)
_FX: Final = np.array([1.0, 1.08])  # EUR list prices into EUR / USD


# --- small helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    as_of: date
    end: int  # as_of in days since 1970-01-01
    start: int  # first day of the 104-week window

    @classmethod
    def ending(cls, as_of: date) -> _Calendar:
        end = (as_of - _EPOCH).days
        return cls(as_of, end, end - 7 * WEEKS + 1)


_STREAMS: Final = (
    "customers",
    "sources",
    "products",
    "units",
    "locations",
    "suppliers",
    "demand",
    "orders",
    "service",
    "inventory",
    "lead_times",
    "cost",
)


def _streams(seed: int) -> dict[str, Rng]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)}


def _weighted_draw(rng: Rng, weights: Floats, size: int) -> Ints:
    """Indices drawn with probability proportional to ``weights`` (zero weights never)."""
    cdf = np.cumsum(weights)
    picks: Ints = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(picks, weights.size - 1)


def _choice(rng: Rng, probs: Sequence[float] | Floats, size: int) -> Ints:
    return _weighted_draw(rng, np.asarray(probs, dtype=np.float64), size)


def _choice_rows(rng: Rng, table: Floats, group: Ints) -> Ints:
    """One category per row, from the probability row ``table[group]``."""
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(group.size)
    picks: Ints = (u[:, None] >= cum[group]).sum(axis=1)
    return picks


def _flat(groups: Sequence[Sequence[str]]) -> tuple[pl.Series, Ints, Ints]:
    """Ragged word lists as one series plus each group's start and size."""
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return pl.Series([w for g in groups for w in g], dtype=pl.String), starts, counts


def _pick_within(rng: Rng, group: Ints, starts: Ints, counts: Ints) -> Ints:
    return starts[group] + (rng.random(group.size) * counts[group]).astype(np.int64)


def _concat(parts: Sequence[pl.Series | str], separator: str = " ") -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator=separator)).to_series()


def _codes(prefix: str, count: int, width: int, first: int = 1) -> pl.Series:
    digits = pl.int_range(first, first + count, eager=True).cast(pl.String).str.zfill(width)
    return _concat([prefix, digits], separator="")


def _unique_numbers(rng: Rng, count: int, digits: int) -> Ints:
    """Distinct random numbers of ``digits`` digits: random gaps, then shuffled."""
    low = 10 ** (digits - 1)
    gap = max(2, 9 * low // max(count, 1))
    return rng.permutation(low + np.cumsum(rng.integers(1, gap, count))).astype(np.int64)


def _patterned(rng: Rng, pattern: str, count: int) -> npt.NDArray[np.str_]:
    """Random strings shaped like ``pattern`` (9 = digit, A = capital letter), built as bytes."""
    template = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8)
    chars = np.tile(template, (count, 1))
    digit, letter = template == ord("9"), template == ord("A")
    chars[:, digit] = rng.integers(48, 58, (count, int(digit.sum())), dtype=np.uint8)
    chars[:, letter] = rng.integers(65, 91, (count, int(letter.sum())), dtype=np.uint8)
    return chars.view(f"S{len(pattern)}").ravel().astype(f"U{len(pattern)}")


def _with_nulls(series: pl.Series, null: Bools) -> pl.Series:
    rows = np.flatnonzero(null)
    return series.scatter(rows, None) if rows.size else series


def _dates(days: Ints, null: Bools | None = None) -> pl.Series:
    series = pl.Series(days.astype(np.int32)).cast(pl.Date)
    return series if null is None else _with_nulls(series, null)


def _timestamps(seconds: Ints) -> pl.Series:
    return pl.Series(seconds * 1_000_000).cast(pl.Datetime("us", "UTC"))


def _words(values: Sequence[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


_ISO: Final = _words([c.iso for c in _COUNTRIES])
_COUNTRY_REGION: Final = np.array([c.region for c in _COUNTRIES], dtype=np.int64)
_COUNTRY_WEIGHT: Final = np.array([c.weight for c in _COUNTRIES])
_LEGAL, _LEGAL_START, _LEGAL_COUNT = _flat([c.legal for c in _COUNTRIES])
_CITY, _CITY_START, _CITY_COUNT = _flat([c.cities for c in _COUNTRIES])
_INDUSTRY, _INDUSTRY_START, _INDUSTRY_COUNT = _flat(_INDUSTRIES)
_BRANDS: Final = _words(
    [h + t for h, t in itertools.product(_BRAND_HEADS, _BRAND_TAILS)] + list(_FAMILY_NAMES)
)


def _countries_in(rng: Rng, regions: Ints) -> Ints:
    out = np.empty(regions.size, dtype=np.int64)
    for region in range(len(REGIONS)):
        rows = np.flatnonzero(regions == region)
        members = np.flatnonzero(np.equal(_COUNTRY_REGION, region))
        out[rows] = members[_weighted_draw(rng, _COUNTRY_WEIGHT[members], rows.size)]
    return out


def _postal_codes(rng: Rng, country: Ints) -> pl.Series:
    out = np.full(country.size, "", dtype="U12")
    for index, spec in enumerate(_COUNTRIES):
        rows = np.flatnonzero(country == index)
        out[rows] = _patterned(rng, spec.postal, rows.size)
    return pl.Series(out, dtype=pl.String)


def _recent_timestamps(rng: Rng, cal: _Calendar, count: int, max_age_days: int) -> pl.Series:
    day = cal.end - rng.integers(0, max_age_days, count)
    return _timestamps(day * _DAY_SECONDS + rng.integers(0, _DAY_SECONDS, count))


# --- customers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Customers:
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
        parent[linked] = above[_weighted_draw(rng, size[above], linked.size)]
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
    country = _countries_in(rng, _choice(rng, _REGION_WEIGHTS, kind.size))
    for level, same_country, same_region in (
        (PARENT, 0.5, 0.6),
        (SOLD_TO, 0.6, 0.9),
        (SHIP_TO, 0.8, 0.95),
    ):
        rows = np.flatnonzero((kind == level) & (parent >= 0))
        up = parent[rows]
        u = rng.random(rows.size)
        region = np.where(
            u < same_region, _COUNTRY_REGION[country[up]], _COUNTRY_REGION[country[rows]]
        )
        country[rows] = np.where(u < same_country, country[up], _countries_in(rng, region))
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
        rng.integers(0, _BRANDS.len(), n),
        kind,
        parent,
        {PARENT: 0.9, SOLD_TO: 0.7, SHIP_TO: 1.0},
    )
    brands = _BRANDS.gather(brand)
    industry = _INDUSTRY.gather(_pick_within(rng, bu, _INDUSTRY_START, _INDUSTRY_COUNT))
    legal = _LEGAL.gather(_pick_within(rng, country, _LEGAL_START, _LEGAL_COUNT))
    city = _CITY.gather(_pick_within(rng, country, _CITY_START, _CITY_COUNT))
    group = _words(_GROUP_WORDS).gather(rng.integers(0, len(_GROUP_WORDS), n))
    frame = pl.DataFrame({"kind": kind, "linked": parent >= 0})
    names = frame.select(
        pl.when(pl.col("kind") == GLOBAL)
        .then(_concat([brands, group]))
        .when((pl.col("kind") == SOLD_TO) & pl.col("linked"))
        .then(_concat([brands, industry, city, legal]))  # a subsidiary's own legal entity
        .otherwise(_concat([brands, industry, legal]))
    ).to_series()
    # A ship-to is named after its sold-to and site, as ERPs usually show them.
    ship = np.flatnonzero(kind == SHIP_TO)
    site = _words(_SITE_WORDS).gather(rng.integers(0, len(_SITE_WORDS), ship.size))
    ship_names = _concat([names.gather(parent[ship]), " - ", city.gather(ship), " ", site], "")
    return names.scatter(ship, ship_names).alias("name")


def _manager_emails(rng: Rng, kind: Ints, parent: Ints, region: Ints, tier: Ints) -> pl.Series:
    """Account managers work one region; ship-tos have their sold-to's; many bronze have none."""
    per_region = max(1, kind.size // 180)
    pool = per_region * len(REGIONS)
    i = np.arange(pool)
    first = _words(_FIRST_NAMES).gather(i % len(_FIRST_NAMES))
    last = _words(_LAST_NAMES).gather((i // len(_FIRST_NAMES)) % len(_LAST_NAMES))
    clash = i // (len(_FIRST_NAMES) * len(_LAST_NAMES))  # numbered once the names run out
    suffix = pl.Series(np.where(clash > 0, clash.astype(str), ""), dtype=pl.String)
    emails = _concat([first, ".", last, suffix, "@", _MAIL_DOMAIN], "")
    manager = region * per_region + rng.integers(0, per_region, kind.size)
    manager[(tier == 3) & (rng.random(kind.size) < 0.4)] = -1
    ship = np.flatnonzero(kind == SHIP_TO)
    manager[ship] = manager[parent[ship]]
    return _with_nulls(emails.gather(np.maximum(manager, 0)), manager < 0)


def _identifiers(rng: Rng, kind: Ints, country: Ints) -> tuple[pl.Series, pl.Series]:
    """VAT-style tax ids for legal entities (ship-tos are sites, not entities) and DUNS numbers."""
    n = kind.size
    tax = _concat([_ISO.gather(country), pl.Series(_unique_numbers(rng, n, 9)).cast(pl.String)], "")
    tax = _with_nulls(tax, (kind == SHIP_TO) | (rng.random(n) < 0.04))
    duns = pl.Series(_unique_numbers(rng, n, 9)).cast(pl.String)
    return tax, _with_nulls(duns, rng.random(n) < 0.10)


def _make_customers(rng: Rng, count: int, cal: _Calendar) -> _Customers:
    kind, parent = _hierarchy(rng, count)
    n = kind.size
    has_children = np.bincount(parent[parent >= 0], minlength=n) > 0
    country = _geography(rng, kind, parent)
    region = _COUNTRY_REGION[country]
    bu = _inherit(
        rng,
        rng.integers(0, len(BUSINESS_UNITS), n),
        kind,
        parent,
        {PARENT: 0.5, SOLD_TO: 0.75, SHIP_TO: 1.0},
    )
    channel = _inherit(
        rng, _choice(rng, (0.35, 0.2, 0.2, 0.15, 0.1), n), kind, parent, {SHIP_TO: 1.0}
    )
    channel[rng.random(n) < 0.03] = -1
    buy_weight = _buy_weights(rng, kind, has_children)
    tier = _tiers(rng, kind, parent, _rollup(buy_weight, kind, parent))
    strategic = rng.random(n) < np.where(kind == GLOBAL, 0.8, _STRATEGIC_SHARE[tier])
    codes = _codes("C", n, 6)
    top = _global_accounts(kind, parent)
    tax_id, duns = _identifiers(rng, kind, country)
    frame = pl.DataFrame(
        {
            "code": codes,
            "name": _customer_names(rng, kind, parent, country, bu),
            "account_type": _words(ACCOUNT_TYPES).gather(kind),
            "parent_code": _with_nulls(codes.gather(np.maximum(parent, 0)), parent < 0),
            "global_account_code": _with_nulls(codes.gather(np.maximum(top, 0)), top < 0),
            "region": _words(REGIONS).gather(region),
            "country": _ISO.gather(country),
            "postal_code": _with_nulls(_postal_codes(rng, country), rng.random(n) < 0.05),
            "channel": _with_nulls(_words(CHANNELS).gather(np.maximum(channel, 0)), channel < 0),
            "strategic": pl.Series(strategic, dtype=pl.Boolean),
            "crm_tier": _words(TIERS).gather(tier),
            "account_manager_email": _manager_emails(rng, kind, parent, region, tier),
            "business_unit": _words(BUSINESS_UNITS).gather(bu),
            "tax_id": tax_id,
            "duns": duns,
            "source_updated_at": _recent_timestamps(rng, cal, n, 400),
        }
    )
    return _Customers(
        frame, kind, parent, region, country, bu, channel, tier, buy_weight, has_children
    )


# --- customers as other source systems see them -------------------------------------------


def _source_membership(rng: Rng, cust: _Customers) -> tuple[Ints, Ints]:
    """Which customers each system holds: CRM the accounts, WMS the sites, ERP-FI the entities."""
    kind = cust.kind
    ship_point = (kind == SHIP_TO) | ((kind == SOLD_TO) & ~cust.has_children)
    shares = (
        np.select([kind == SOLD_TO, kind == SHIP_TO, kind == PARENT], [0.95, 0.6, 0.5], 0.0),
        np.where(ship_point, np.where(kind == SHIP_TO, 0.9, 0.8), 0.0),
        np.select([kind == SOLD_TO, kind == PARENT, kind == GLOBAL], [0.9, 0.8, 0.5], 0.0),
    )
    rows = [np.flatnonzero(rng.random(kind.size) < share) for share in shares]
    system = np.repeat(np.arange(len(SOURCE_SYSTEMS)), [r.size for r in rows])
    return np.concatenate(rows).astype(np.int64), system.astype(np.int64)


def _vary_names(names: pl.Series, variant: Ints) -> pl.Series:
    """How the same name drifts between systems: case, punctuation, legal forms, spacing."""
    name, v = pl.col("name"), pl.col("v")
    expr = (
        pl.when(v == 1)
        .then(name.str.to_uppercase())
        .when(v == 2)
        .then(name.str.replace_all(r"[.,]", ""))
        .when(v == 3)
        .then(name.str.to_titlecase())  # GmbH -> Gmbh, S.p.A. -> S.P.A.
        .when(v == 4)
        .then(name.str.replace(" ", "  ", literal=True))
        .when(v == 5)
        .then(pl.concat_str([pl.lit(" "), name, pl.lit(" ")]))
        .when(v == 6)
        .then(name.str.to_lowercase())
        .when(v == 7)
        .then(
            name.str.replace_all(" - ", " ", literal=True)
            .str.replace("GmbH", "G.m.b.H.", literal=True)
            .str.replace("Ltd", "Limited", literal=True)
            .str.replace("Inc.", "Incorporated", literal=True)
        )
        .otherwise(name)
    )
    return pl.DataFrame({"name": names, "v": variant}).select(expr.alias("name")).to_series()


def _vary_identifiers(rng: Rng, frame: pl.DataFrame) -> pl.DataFrame:
    """Identifiers go missing or get reformatted (no country prefix, spaces, dashed DUNS),
    each independently of the others."""
    u = rng.random((3, frame.height))
    tax, duns, postal = pl.col("tax_id"), pl.col("duns"), pl.col("postal_code")
    t, d, p = pl.col("_t"), pl.col("_d"), pl.col("_p")
    dashed = pl.concat_str(
        [duns.str.slice(0, 2), duns.str.slice(2, 3), duns.str.slice(5)], separator="-"
    )
    spaced = pl.concat_str([tax.str.slice(0, 2), pl.lit(" "), tax.str.slice(2)])
    return (
        frame.with_columns(_t=u[0], _d=u[1], _p=u[2])
        .with_columns(
            pl.when(t < 0.08)
            .then(None)
            .when(t < 0.18)
            .then(tax.str.slice(2))
            .when(t < 0.28)
            .then(spaced)
            .otherwise(tax)
            .alias("tax_id"),
            pl.when(d < 0.12).then(None).when(d < 0.22).then(dashed).otherwise(duns).alias("duns"),
            pl.when(p < 0.05)
            .then(None)
            .when(p < 0.20)
            .then(postal.str.replace_all(" ", "", literal=True))
            .otherwise(postal)
            .alias("postal_code"),
        )
        .drop("_t", "_d", "_p")
    )


def _different_postal(rng: Rng, country: Ints, original: pl.Series) -> pl.Series:
    """Fresh postal codes guaranteed to differ from ``original`` (redrawn where they collide)."""
    fresh = _postal_codes(rng, country)
    for _ in range(10):  # a collision is one in ~10^4; ten rounds are plenty
        same = (fresh == original).fill_null(False).to_numpy()
        if not same.any():
            break
        rows = np.flatnonzero(same)
        fresh = fresh.scatter(rows, _postal_codes(rng, country[rows]))
    return fresh


def _source_rows(rng: Rng, cust: _Customers) -> tuple[Ints, Ints, Ints]:
    """(customer row, system, relation) of every source record, duplicates and decoys included."""
    who, system = _source_membership(rng, cust)
    # ~3% true duplicates: the same company entered again under another key, often elsewhere.
    dup = np.flatnonzero(rng.random(who.size) < 0.03)
    dup_system = rng.integers(0, len(SOURCE_SYSTEMS), dup.size)
    # A few decoys: same name and country as a real customer, but another company elsewhere.
    candidates = np.flatnonzero(cust.kind >= SOLD_TO)
    near = rng.choice(candidates, size=max(3, who.size // 200), replace=False)
    near_system = rng.integers(0, len(SOURCE_SYSTEMS), near.size)
    rows = np.concatenate([who, who[dup], near])
    systems = np.concatenate([system, dup_system, near_system])
    relation = np.repeat(np.arange(3), [who.size, dup.size, near.size])
    return rows.astype(np.int64), systems.astype(np.int64), relation.astype(np.int64)


def _source_keys(rng: Rng, system: Ints) -> pl.Series:
    """Keys numbered per system in random order: nothing lines up with the master codes."""
    number = np.empty(system.size, dtype=np.int64)
    for s in range(len(SOURCE_SYSTEMS)):
        rows = np.flatnonzero(system == s)
        number[rows] = rng.permutation(rows.size) + 1
    prefix = pl.Series(["CRM-", "WMS-", "FI-"]).gather(system)
    return _concat([prefix, pl.Series(number).cast(pl.String).str.zfill(7)], "")


def _make_sources(rng: Rng, cust: _Customers, cal: _Calendar) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows, system, relation = _source_rows(rng, cust)
    base = cust.frame.select("code", "name", "tax_id", "duns", "postal_code", "country")[rows]
    # Duplicates drift further than ordinary records; decoys keep the exact name.
    variant = np.where(
        rng.random(rows.size) < np.where(relation == 1, 0.9, 0.5), rng.integers(1, 8, rows.size), 0
    )
    variant[relation == 2] = 0
    base = base.with_columns(_vary_names(base["name"], variant))
    base = _vary_identifiers(rng, base)
    near = np.flatnonzero(relation == 2)
    postal = base["postal_code"].scatter(
        near, _different_postal(rng, cust.country[rows[near]], base["postal_code"].gather(near))
    )
    base = base.with_columns(
        postal,
        _with_nulls(base["tax_id"], relation == 2),
        _with_nulls(base["duns"], relation == 2),
        pl.Series("source_system", _words(SOURCE_SYSTEMS).gather(system)),
        pl.Series("source_key", _source_keys(rng, system)),
        pl.Series("source_updated_at", _recent_timestamps(rng, cal, rows.size, 200)),
        pl.Series("relation", _words(SOURCE_RELATIONS).gather(relation)),
        _with_nulls(base["code"], relation == 2).alias("customer_code"),
    ).sort("source_system", "source_key")
    columns = ["source_system", "source_key", "name", "tax_id", "duns", "postal_code", "country"]
    sources = base.select(*columns, "source_updated_at")
    truth = base.select("source_system", "source_key", "customer_code", "relation")
    return sources, truth


# --- products and units --------------------------------------------------------------------


@dataclass(frozen=True)
class _Products:
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
    pattern = _choice_rows(rng, _PATTERN_BY_BAND, band)
    return np.where(lifecycle == ONE_TIME, LUMPY, pattern)


def _launch_days(rng: Rng, lifecycle: Ints, cal: _Calendar) -> Ints:
    n = lifecycle.size
    established = cal.start - rng.integers(30, 4000, n)
    in_window = cal.start + rng.integers(0, 60 * 7, n)  # newer, but past its introduction
    day = np.where(rng.random(n) < 0.06, in_window, established)
    day = np.where(lifecycle == PHASE_OUT, cal.start - rng.integers(2000, 6000, n), day)
    day = np.where(lifecycle == NPI, cal.end - rng.integers(14, 30 * 7, n), day)
    return np.where(lifecycle == ONE_TIME, cal.start + rng.integers(0, 95 * 7, n), day)


def _descriptions(rng: Rng, line: Ints) -> pl.Series:
    nouns, starts, counts = _flat([spec.nouns for spec in _CATALOGUE])
    noun = nouns.gather(_pick_within(rng, line, starts, counts))
    grade = _words(_GRADES).gather(rng.integers(0, len(_GRADES), line.size))
    model = pl.Series(_patterned(rng, "AA-9999", line.size), dtype=pl.String)
    return _concat([noun, grade, model])


def _make_products(rng: Rng, count: int, cal: _Calendar) -> _Products:
    line = rng.integers(0, len(_CATALOGUE), count)
    spec = pl.DataFrame(
        [
            (s.bu, s.category, s.name, UOMS.index(s.uom), s.price, s.qty, s.margin)
            for s in _CATALOGUE
        ],
        schema=["bu", "category", "product_line", "uom", "price", "qty", "margin"],
        orient="row",
    )[line]
    lifecycle = _choice(rng, (0.80, 0.06, 0.04, 0.03, 0.07), count)
    weight = rng.lognormal(0.0, 1.5, count)
    launch = _launch_days(rng, lifecycle, cal)
    pattern = _patterns(rng, weight, lifecycle)
    bu, uom = spec["bu"].to_numpy().astype(np.int64), spec["uom"].to_numpy().astype(np.int64)
    frame = pl.DataFrame(
        {
            "sku": _codes("SKU", count, 6),
            "description": _descriptions(rng, line),
            "product_line": spec["product_line"],
            "category": spec["category"],
            "base_uom": _words(UOMS).gather(uom),
            "lifecycle": _words(LIFECYCLES).gather(lifecycle),
            "launch_date": _dates(launch),
            "business_unit": _words(BUSINESS_UNITS).gather(bu),
        }
    )
    return _Products(
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
class _Units:
    frame: pl.DataFrame
    product: Ints  # sorted by product, then unit
    unit: Ints  # index into UOMS
    factor: Floats  # base units per unit
    start: Ints  # per product: first row of its units
    count: Ints  # per product: how many units it has


def _make_units(rng: Rng, prods: _Products) -> _Units:
    n = prods.uom.size
    drawn: dict[tuple[str, str], Floats] = {}
    parts: list[tuple[Ints, Ints, Floats]] = []
    for base, pack, share, factors, built_on in _UNIT_RULES:
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
            "uom": _words(UOMS).gather(unit),
            "factor": pl.Series(factors_all, dtype=pl.Float64),
        }
    )
    start = np.searchsorted(product, np.arange(n)).astype(np.int64)
    return _Units(frame, product, unit, factors_all, start, np.bincount(product, minlength=n))


# --- locations and suppliers ---------------------------------------------------------------


@dataclass(frozen=True)
class _Locations:
    frame: pl.DataFrame
    echelon: Ints
    region: Ints


def _make_locations(rng: Rng, count: int) -> _Locations:
    plants, central = max(2, round(count * 0.1)), max(3, round(count * 0.15))
    sizes = (plants, central, max(3, count - plants - central))
    echelon = np.repeat(np.array([1, 2, 3], dtype=np.int64), sizes)
    # Every region gets central and regional DCs (dealt round-robin) so its customers have one.
    region = np.concatenate(
        [_choice(rng, _REGION_WEIGHTS, plants), np.arange(sizes[1]) % 3, np.arange(sizes[2]) % 3]
    ).astype(np.int64)
    country = _countries_in(rng, region)
    warehouse = (echelon == 3) & (rng.random(echelon.size) < 0.3)  # third-party warehouses
    kind = np.where(echelon == 1, 0, np.where(warehouse, 2, 1))
    sequence = np.concatenate([np.arange(s) + 1 for s in sizes])
    prefix = pl.Series(["PLT-", "CDC-", "RDC-"]).gather(echelon - 1)
    city = _CITY.gather(_pick_within(rng, country, _CITY_START, _CITY_COUNT))
    role = pl.Series(["Plant", "Central DC", "Regional DC", "Warehouse"]).gather(
        np.where(warehouse, 3, echelon - 1)
    )
    low = np.array([50_000, 20_000, 2_000])[echelon - 1]
    frame = pl.DataFrame(
        {
            "code": _concat(
                [
                    prefix,
                    _ISO.gather(country),
                    "-",
                    pl.Series(sequence).cast(pl.String).str.zfill(2),
                ],
                "",
            ),
            "name": _concat([city, role]),
            "kind": _words(LOCATION_KINDS).gather(kind),
            "echelon": pl.Series(echelon, dtype=pl.Int64),
            "capacity": pl.Series(low * rng.integers(1, 5, echelon.size), dtype=pl.Int64),
            "region": _words(REGIONS).gather(region),
            "country": _ISO.gather(country),
        }
    )
    return _Locations(frame, echelon, region)


@dataclass(frozen=True)
class _Suppliers:
    frame: pl.DataFrame
    mean_days: Floats
    spread: Floats  # log-normal sigma of the lead time: reliability
    weight: Floats  # how many products each supplies


def _make_suppliers(rng: Rng, count: int) -> _Suppliers:
    region = _choice(rng, (0.4, 0.25, 0.35), count)
    country = _countries_in(rng, region)
    brand = _BRANDS.gather(rng.integers(0, _BRANDS.len(), count))
    word = _words(_SUPPLIER_WORDS).gather(rng.integers(0, len(_SUPPLIER_WORDS), count))
    legal = _LEGAL.gather(_pick_within(rng, country, _LEGAL_START, _LEGAL_COUNT))
    frame = pl.DataFrame(
        {
            "code": _codes("V", count, 5),
            "name": _concat([brand, word, legal]),
            "country": _ISO.gather(country),
        }
    )
    # Overseas (APAC) suppliers ship by sea: longer; some suppliers are unreliable.
    mean_days = np.where(region == 2, rng.uniform(25, 55, count), rng.uniform(5, 20, count))
    spread = np.where(
        rng.random(count) < 0.3, rng.uniform(0.3, 0.7, count), rng.uniform(0.05, 0.2, count)
    )
    return _Suppliers(frame, mean_days, spread, rng.lognormal(0.0, 1.0, count))


# --- demand: which product sells how often in which week -----------------------------------


def _lifecycle_shape(prods: _Products, demand: Floats, rng: Rng) -> None:
    """Nothing before launch; a ramp after an NPI launch; decline to phase-out; short projects."""
    week = np.arange(WEEKS)[None, :]
    launch = prods.launch_week[:, None]
    demand *= week >= launch
    npi = np.flatnonzero(prods.lifecycle == NPI)
    demand[npi] *= np.clip((week - launch[npi] + 1) / 6.0, 0.0, 1.0)
    out = np.flatnonzero(prods.lifecycle == PHASE_OUT)
    decline = rng.integers(10, 80, out.size)[:, None]
    demand[out] *= np.clip(1.0 - (week - decline) / (WEEKS - decline), 0.03, 1.0)
    project = np.flatnonzero(prods.lifecycle == ONE_TIME)
    duration = rng.integers(3, 11, project.size)[:, None]
    demand[project] *= week < launch[project] + duration


def _season(prods: _Products, product: Ints, week: Ints | Floats, damping: float = 1.0) -> Floats:
    """Annual swing of a product's demand in a given week (1.0 for non-seasonal items)."""
    angle = 2 * math.pi * week / 52.0 + prods.season_phase[product]
    swing: Floats = 1.0 + damping * prods.season_amplitude[product] * np.sin(angle)
    return swing


def _pattern_shape(prods: _Products, demand: Floats, rng: Rng) -> None:
    seasonal = np.flatnonzero(prods.pattern == SEASONAL)
    demand[seasonal] *= _season(prods, seasonal[:, None], np.arange(WEEKS)[None, :])
    erratic = np.flatnonzero(np.isin(prods.pattern, (ERRATIC, LUMPY)))
    demand[erratic] *= rng.gamma(1.2, 1 / 1.2, (erratic.size, WEEKS))
    # Intermittent and lumpy items sell only in some weeks; the rest of the time nothing.
    sparse = np.flatnonzero(np.isin(prods.pattern, (INTERMITTENT, LUMPY)))
    chance = rng.uniform(0.12, 0.45, (sparse.size, 1))
    demand[sparse] *= (rng.random((sparse.size, WEEKS)) < chance) / chance


def _promotions(prods: _Products, demand: Floats, rng: Rng) -> None:
    """Up to three promotion spikes (a week at 2.5-6x, the next at half that lift)."""
    rows = np.flatnonzero(prods.promo)
    for chance in (1.0, 0.6, 0.3):
        hit = rows[rng.random(rows.size) < chance]
        week = rng.integers(0, WEEKS - 1, hit.size)
        lift = rng.uniform(2.5, 6.0, hit.size)
        demand[hit, week] *= lift
        demand[hit, week + 1] *= (1.0 + lift) / 2.0


def _demand_intensity(rng: Rng, prods: _Products) -> Floats:
    """Expected order lines per product (rows) and week (columns), up to a common factor."""
    week = np.arange(WEEKS)[None, :]
    trend = np.exp(rng.normal(0.0, 0.12, (prods.weight.size, 1)) * week / 52.0)
    demand = prods.weight[:, None] * trend
    _pattern_shape(prods, demand, rng)
    _lifecycle_shape(prods, demand, rng)
    _promotions(prods, demand, rng)
    return demand


def _draw_cells(rng: Rng, intensity: Floats, total: int) -> Ints:
    """Exactly ``total`` (product, week) cells: Poisson counts, then trimmed or topped up."""
    flat = intensity.ravel()
    counts = rng.poisson(flat * (total / flat.sum()))
    cells = np.repeat(np.arange(flat.size, dtype=np.int64), counts)
    surplus = cells.size - total
    if surplus > 0:
        cells = np.delete(cells, rng.choice(cells.size, size=surplus, replace=False))
    elif surplus < 0:
        cells = np.sort(np.concatenate([cells, _weighted_draw(rng, flat, -surplus)]))
    return cells


# --- order lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lines:
    product: Ints
    customer: Ints
    day: Ints
    order: Ints  # order number index, increasing with date
    line_no: Ints
    order_start: Ints  # per order: its first line
    location: Ints


def _assign_customers(rng: Rng, cust: _Customers, prods: _Products, product: Ints) -> Ints:
    n = product.size
    buyer = _weighted_draw(rng, cust.buy_weight, n)
    # Most of a product's lines go to customers of the product's business unit.
    line_bu = prods.bu[product]
    affine = rng.random(n) < 0.8
    for bu in range(len(BUSINESS_UNITS)):
        rows = np.flatnonzero(affine & (line_bu == bu))
        weights = np.where(cust.bu == bu, cust.buy_weight, 0.0)
        if rows.size and weights.sum() > 0:
            buyer[rows] = _weighted_draw(rng, weights, rows.size)
    # A one-off project item is bought by one account, a project account where there is one.
    project = np.where(cust.channel == PROJECT, cust.buy_weight, 0.0)
    project = project if project.sum() > 0 else cust.buy_weight
    owner = _weighted_draw(rng, project, prods.weight.size)
    rows = np.flatnonzero((prods.lifecycle[product] == ONE_TIME) & (rng.random(n) < 0.9))
    buyer[rows] = owner[product[rows]]
    return buyer


def _weekday_offsets(rng: Rng, cal: _Calendar, count: int) -> Ints:
    """Day within the week: mostly business days, whatever weekday the window starts on."""
    weekday = (_EPOCH.weekday() + cal.start + np.arange(7)) % 7
    return _choice(rng, np.where(weekday < 5, 0.19, np.where(weekday == 5, 0.04, 0.01)), count)


def _assign_locations(rng: Rng, cust: _Customers, locs: _Locations, customer: Ints) -> Ints:
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


def _make_lines(rngs: Mapping[str, Rng], ctx: _Context, total: int) -> _Lines:
    cells = _draw_cells(rngs["demand"], _demand_intensity(rngs["demand"], ctx.prods), total)
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
    return _Lines(product, customer, day, order, line_no, starts, location)


@dataclass(frozen=True)
class _Quantities:
    ordered: Floats  # in the ordered unit
    unit: Ints  # index into UOMS
    base: Floats  # in the product's base unit


def _base_sizes(rng: Rng, ctx: _Context, lines: _Lines) -> Floats:
    product, n = lines.product, lines.product.size
    pattern = ctx.prods.pattern[product]
    size = ctx.prods.qty[product] * np.exp(rng.standard_normal(n) * _SIZE_SIGMA[pattern])
    # Big accounts order bigger quantities as well as more often.
    weight = ctx.cust.buy_weight
    scale = np.clip((weight / np.median(weight[weight > 0])) ** 0.15, 0.5, 2.5)
    size *= scale[lines.customer]
    # In season customers order more often (the demand matrix) and also more at a time.
    size *= _season(ctx.prods, product, (lines.day - ctx.cal.start) / 7.0, damping=0.6)
    big = (pattern == LUMPY) & (rng.random(n) < 0.08)
    size[big] *= rng.uniform(4.0, 12.0, int(big.sum()))
    whole = ctx.prods.uom[product] == EACH
    rounded: Floats = np.where(whole, np.rint(size), np.round(size, 1))
    return np.maximum(rounded, 1.0)


def _quantities(rng: Rng, ctx: _Context, lines: _Lines) -> _Quantities:
    """Base-unit sizes, ordered in a pack unit when the product has one that fits the size."""
    size = _base_sizes(rng, ctx, lines)
    product, units = lines.product, ctx.units
    base_unit = ctx.prods.uom[product]
    if units.factor.size == 0:
        return _Quantities(size, base_unit, size)
    count = units.count[product]
    pick = np.minimum(
        units.start[product] + (rng.random(size.size) * count).astype(np.int64),
        units.factor.size - 1,
    )
    factor = units.factor[pick]
    packed = (count > 0) & (rng.random(size.size) < 0.45) & (factor <= size * 1.5)
    packs = np.maximum(np.rint(size / factor), 1.0)
    return _Quantities(
        ordered=np.where(packed, packs, size),
        unit=np.where(packed, units.unit[pick], base_unit),
        base=np.where(packed, packs * factor, size),
    )


@dataclass(frozen=True)
class _Money:
    revenue: Floats
    margin: Floats
    estimated: Bools
    currency: Ints


def _money(rng: Rng, ctx: _Context, lines: _Lines, base_qty: Floats) -> _Money:
    """Revenue from list price, tier discount, currency and yearly increases; margin shrinks
    with the discount and goes negative on phase-out clearance."""
    product, customer, n = lines.product, lines.customer, lines.product.size
    tier = ctx.cust.tier
    discount = (_DISCOUNT_LOW[tier] + rng.random(tier.size) * _DISCOUNT_SPAN[tier])[customer]
    currency = (ctx.cust.region[customer] != 0).astype(np.int64)  # EUR in EMEA, else USD
    years = (lines.day - ctx.cal.start) / 365.0
    price = ctx.prods.price[product] * (1.0 - discount) * _FX[currency] * (1.0 + 0.03 * years)
    revenue = np.maximum(np.round(base_qty * price * rng.normal(1.0, 0.02, n), 2), 0.05)
    share = ctx.prods.margin[product] - 0.7 * discount + rng.normal(0.0, 0.06, n)
    share -= 0.15 * (ctx.prods.lifecycle[product] == PHASE_OUT)
    margin = np.round(revenue * np.clip(share, -0.6, 0.8), 2)
    margin = np.minimum(margin, np.round(revenue - 0.01, 2))
    return _Money(revenue, margin, rng.random(n) < 0.2, currency)


@dataclass(frozen=True)
class _Service:
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


def _promises(rng: Rng, ctx: _Context, lines: _Lines) -> tuple[Ints, Ints, Ints]:
    """Requested date per order (by channel), promised date no earlier than feasible, transit."""
    orders = lines.order_start.size
    channel = ctx.cust.channel[lines.customer[lines.order_start]]
    channel = np.where(channel < 0, len(CHANNELS), channel)
    lead = _LEAD_LOW[channel] + rng.integers(0, _LEAD_SPAN[channel] + 1)
    slip = np.where(rng.random(orders) < 0.12, rng.integers(1, 11, orders), 0)
    n = lines.product.size
    regional = ctx.locs.echelon[lines.location] == 3
    transit = np.where(regional, rng.integers(1, 4, n), rng.integers(2, 6, n))
    requested = lines.day + lead[lines.order]
    promised = np.maximum(requested, lines.day + transit) + slip[lines.order]
    return requested, promised, transit


def _service(rng: Rng, ctx: _Context, lines: _Lines, qty: _Quantities) -> _Service:
    n = lines.product.size
    requested, promised, transit = _promises(rng, ctx, lines)
    tier = ctx.cust.tier[lines.customer]
    late = rng.random(n) < _LATE_SHARE[tier]
    early = ~late & (rng.random(n) < 0.05)
    shipped = np.maximum(lines.day, promised - transit - early) + np.where(
        late, rng.geometric(0.35, n), 0
    )
    delivered = shipped + transit
    hard = np.isin(ctx.prods.pattern[lines.product], (ERRATIC, LUMPY))
    short = rng.random(n) < _SHORT_SHARE[tier] + 0.03 * hard
    wanted = qty.ordered * np.where(short, rng.uniform(0.4, 0.95, n), 1.0)
    whole = (qty.unit >= len(BASE_UOMS)) | (qty.unit == EACH)  # packs and EA count whole units
    delivered_qty = np.where(
        short, np.where(whole, np.floor(wanted), np.floor(wanted * 10) / 10), qty.ordered
    )
    not_delivered = delivered > ctx.cal.end
    last = np.where(not_delivered, np.where(shipped > ctx.cal.end, lines.day, shipped), delivered)
    updated = last * _DAY_SECONDS + rng.integers(6 * 3600, 20 * 3600, n)
    return _Service(
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


def _order_frame(
    ctx: _Context, lines: _Lines, qty: _Quantities, money: _Money, svc: _Service
) -> pl.DataFrame:
    order_no = _codes("SO", lines.order_start.size, 8, first=10_000_001)
    return pl.DataFrame(
        {
            "order_no": order_no.gather(lines.order),
            "line_no": pl.Series(lines.line_no, dtype=pl.Int64),
            "customer_code": ctx.cust.frame["code"].gather(lines.customer),
            "sku": ctx.prods.frame["sku"].gather(lines.product),
            "location_code": ctx.locs.frame["code"].gather(lines.location),
            "order_date": _dates(lines.day),
            "requested_date": _dates(svc.requested),
            "quantity": pl.Series(qty.ordered, dtype=pl.Float64),
            "uom": _words(UOMS).gather(qty.unit),
            "revenue": pl.Series(money.revenue, dtype=pl.Float64),
            "margin": pl.Series(money.margin, dtype=pl.Float64),
            "margin_estimated": pl.Series(money.estimated, dtype=pl.Boolean),
            "currency": _words(CURRENCIES).gather(money.currency),
            "promised_date": _dates(svc.promised),
            "shipped_date": _dates(svc.shipped, svc.not_shipped),
            "delivered_date": _dates(svc.delivered, svc.not_delivered),
            "delivered_quantity": _with_nulls(
                pl.Series(svc.delivered_qty, dtype=pl.Float64), svc.not_delivered
            ),
            "damaged": pl.Series(svc.damaged, dtype=pl.Boolean),
            "documentation_ok": pl.Series(svc.documentation_ok, dtype=pl.Boolean),
            "source_updated_at": _timestamps(svc.updated),
        }
    )


# --- inventory, lead times, cost to serve --------------------------------------------------


def _make_inventory(
    rng: Rng, ctx: _Context, lines: _Lines, base_qty: Floats, revenue: Floats
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
            "as_of": _dates(as_of),
            "on_hand": rounded(weekly[:, None] * cover),
            "on_order": rounded(on_order),
        }
    )


def _make_lead_times(rng: Rng, ctx: _Context, lines: _Lines) -> pl.DataFrame:
    """Purchase receipts into plants and central DCs: about one for every ten weeks' worth of
    order lines, each from the product's supplier (a second one for some), variability set by
    the supplier. Receipts still due after ``as_of`` are open and left out."""
    n_products = ctx.prods.weight.size
    sold = np.bincount(lines.product, minlength=n_products)
    rate = np.where(sold > 0, np.clip(sold / WEEKS / 10.0, 0.02, 0.5), 0.0)
    product, week = np.nonzero(rng.random((n_products, WEEKS)) < rate[:, None])
    sups, k = ctx.sups, product.size
    primary = _weighted_draw(rng, sups.weight, n_products)
    second = _weighted_draw(rng, sups.weight, n_products)
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
            "ordered_on": _dates(ordered[done]),
            "received_on": _dates(received[done]),
        }
    )


def _months(days: Ints) -> Ints:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _make_cost_to_serve(
    rng: Rng, ctx: _Context, lines: _Lines, revenue: Floats, damaged: Bools
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
    returned = rng.random(n) < _RETURN_SHARE[channel]
    returns = revenue * damaged + revenue * returned * rng.uniform(0.2, 1.0, n)
    bins = n_customers * span
    rows = np.flatnonzero(np.bincount(key, minlength=bins) > 0)

    def total(values: Floats) -> pl.Series:
        return pl.Series(np.round(np.bincount(key, weights=values, minlength=bins)[rows], 2))

    period = (rows % span + first).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return pl.DataFrame(
        {
            "customer_code": ctx.cust.frame["code"].gather(rows // span),
            "period_start": _dates(period),
            "freight": total(freight),
            "handling": total(handling),
            "returns": total(returns),
        }
    )


# --- assembly ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    cal: _Calendar
    cust: _Customers
    prods: _Products
    units: _Units
    locs: _Locations
    sups: _Suppliers


def _pattern_truth(prods: _Products) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": prods.frame["sku"],
            "demand_pattern": _words(PATTERNS).gather(prods.pattern),
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
    cal = _Calendar.ending(as_of or datetime.now(UTC).date())
    rngs = _streams(seed)
    cust = _make_customers(rngs["customers"], target.customers, cal)
    sources, matches = _make_sources(rngs["sources"], cust, cal)
    prods = _make_products(rngs["products"], target.products, cal)
    ctx = _Context(
        cal=cal,
        cust=cust,
        prods=prods,
        units=_make_units(rngs["units"], prods),
        locs=_make_locations(rngs["locations"], target.locations),
        sups=_make_suppliers(rngs["suppliers"], target.suppliers),
    )
    lines = _make_lines(rngs, ctx, target.order_lines)
    qty = _quantities(rngs["orders"], ctx, lines)
    money = _money(rngs["orders"], ctx, lines, qty.base)
    svc = _service(rngs["service"], ctx, lines, qty)
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
        order_lines=_order_frame(ctx, lines, qty, money, svc),
        inventory_positions=_make_inventory(rngs["inventory"], ctx, lines, qty.base, money.revenue),
        lead_times=_make_lead_times(rngs["lead_times"], ctx, lines),
        cost_to_serve=_make_cost_to_serve(rngs["cost"], ctx, lines, money.revenue, svc.damaged),
        truth=GroundTruth(_pattern_truth(prods), matches),
    )


def write_csv(dataset: SyntheticDataset, directory: Path) -> dict[str, Path]:
    """One ``<entity>.csv`` per entity with a header row: ISO dates, UTC timestamps ending in
    ``Z``, ``true``/``false``, ``.`` as decimal mark, empty fields for missing values."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in dataset.frames().items():
        path = directory / f"{name}.csv"
        frame.write_csv(
            path,
            include_header=True,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%dT%H:%M:%SZ",
            float_scientific=False,
            null_value="",
        )
        written[name] = path
    return written


__all__ = [
    "SCALES",
    "GroundTruth",
    "Scale",
    "SyntheticDataset",
    "generate",
    "write_csv",
]
