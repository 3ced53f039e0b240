"""Reference data: vocabularies, countries, the product catalogue, unit rules, name parts and
behaviour per tier, kept as compact text tables (``|`` between columns, ``;`` inside lists).

The vocabularies are kept here rather than imported from master data's models so the generator
runs without SQLAlchemy; a test checks they stay within the database's check constraints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import (
    Ints,
    Rng,
    flatten_groups,
    patterned,
    weighted_draw,
    word_series,
)

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
COUNTRIES: Final = tuple(
    _Country(
        iso, REGIONS.index(region), float(w), postal, tuple(legal.split(";")), tuple(c.split(";"))
    )
    for iso, region, w, postal, legal, c in _table(_COUNTRY_TABLE)
)
REGION_WEIGHTS: Final = (0.45, 0.35, 0.20)


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
CATALOGUE: Final = tuple(
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
UNIT_RULES: Final[tuple[tuple[str, str, float, tuple[int, ...], str | None], ...]] = (
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
GROUP_WORDS: Final = ("Group", "Holding", "International", "Corporation")
SITE_WORDS: Final = ("Plant", "Warehouse", "Site", "Distribution Center", "Works")
SUPPLIER_WORDS: Final = ("Industries", "Manufacturing", "Materials", "Components", "Trading")
GRADES: Final = ("Standard", "Premium", "Eco", "Pro", "HD", "Plus")
FIRST_NAMES: Final = _wordlist(
    "anna ben carla david elena felix greta hugo ines jonas klara lukas maria nils olga paul rosa "
    "sven tina viktor"
)
LAST_NAMES: Final = _wordlist(
    "bauer costa dupont eriksson fischer garcia hansen ivanova jones kowalski lambert moreau novak "
    "olsen peters quinn richter santos tanaka weber"
)
MAIL_DOMAIN: Final = "tierline-demo.example"  # reserved TLD: no real mailbox is ever named

# Behaviour per tier (platinum, gold, silver, bronze): better tiers get better service.
LATE_SHARE: Final = np.array([0.04, 0.07, 0.12, 0.20])
SHORT_SHARE: Final = np.array([0.015, 0.03, 0.06, 0.10])
DISCOUNT_LOW: Final = np.array([0.12, 0.08, 0.03, 0.0])
DISCOUNT_SPAN: Final = np.array([0.08, 0.06, 0.05, 0.04])
STRATEGIC_SHARE: Final = np.array([0.60, 0.15, 0.02, 0.005])
# Requested lead time in days per channel (last entry: channel unknown).
LEAD_LOW: Final = np.array([5, 3, 7, 1, 14, 5])
LEAD_SPAN: Final = np.array([6, 5, 15, 3, 30, 6])
RETURN_SHARE: Final = np.array([0.004, 0.015, 0.004, 0.04, 0.002, 0.006])
# Spread of the quantity per line per demand pattern (the "CV²" axis of the classification).
SIZE_SIGMA: Final = np.array([0.25, 0.9, 0.3, 0.3, 1.2])
# Demand pattern probabilities by volume band (top 30%, next 30%, tail): the tail is sparse.
PATTERN_BY_BAND: Final = np.array(
    [
        [0.50, 0.20, 0.00, 0.30, 0.00],
        [0.30, 0.25, 0.15, 0.20, 0.10],
        [0.10, 0.10, 0.50, 0.05, 0.25],
    ]
)
FX: Final = np.array([1.0, 1.08])  # EUR list prices into EUR / USD

# The tables above as arrays and series, for vectorised look-ups.
ISO: Final = word_series([c.iso for c in COUNTRIES])
COUNTRY_REGION: Final = np.array([c.region for c in COUNTRIES], dtype=np.int64)
COUNTRY_WEIGHT: Final = np.array([c.weight for c in COUNTRIES])
LEGAL, LEGAL_START, LEGAL_COUNT = flatten_groups([c.legal for c in COUNTRIES])
CITY, CITY_START, CITY_COUNT = flatten_groups([c.cities for c in COUNTRIES])
INDUSTRY, INDUSTRY_START, INDUSTRY_COUNT = flatten_groups(_INDUSTRIES)
BRANDS: Final = word_series(
    [h + t for h, t in itertools.product(_BRAND_HEADS, _BRAND_TAILS)] + list(_FAMILY_NAMES)
)


def countries_in(rng: Rng, regions: Ints) -> Ints:
    out = np.empty(regions.size, dtype=np.int64)
    for region in range(len(REGIONS)):
        rows = np.flatnonzero(regions == region)
        members = np.flatnonzero(np.equal(COUNTRY_REGION, region))
        out[rows] = members[weighted_draw(rng, COUNTRY_WEIGHT[members], rows.size)]
    return out


def postal_codes(rng: Rng, country: Ints) -> pl.Series:
    out = np.full(country.size, "", dtype="U12")
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        out[rows] = patterned(rng, spec.postal, rows.size)
    return pl.Series(out, dtype=pl.String)
