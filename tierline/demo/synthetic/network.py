"""The supply network: plants and distribution centres by echelon, and suppliers with their
lead-time behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import (
    Floats,
    Ints,
    Rng,
    choice,
    concat,
    numbered_codes,
    pick_within,
    word_series,
)
from tierline.demo.synthetic.reference import (
    BRANDS,
    CITY,
    CITY_COUNT,
    CITY_START,
    ISO,
    LEGAL,
    LEGAL_COUNT,
    LEGAL_START,
    LOCATION_KINDS,
    REGION_WEIGHTS,
    REGIONS,
    SUPPLIER_WORDS,
    countries_in,
)


@dataclass(frozen=True)
class Locations:
    frame: pl.DataFrame
    echelon: Ints
    region: Ints


def make_locations(rng: Rng, count: int) -> Locations:
    plants, central = max(2, round(count * 0.1)), max(3, round(count * 0.15))
    sizes = (plants, central, max(3, count - plants - central))
    echelon = np.repeat(np.array([1, 2, 3], dtype=np.int64), sizes)
    # Every region gets central and regional DCs (dealt round-robin) so its customers have one.
    region = np.concatenate(
        [choice(rng, REGION_WEIGHTS, plants), np.arange(sizes[1]) % 3, np.arange(sizes[2]) % 3]
    ).astype(np.int64)
    country = countries_in(rng, region)
    warehouse = (echelon == 3) & (rng.random(echelon.size) < 0.3)  # third-party warehouses
    kind = np.where(echelon == 1, 0, np.where(warehouse, 2, 1))
    sequence = np.concatenate([np.arange(s) + 1 for s in sizes])
    prefix = pl.Series(["PLT-", "CDC-", "RDC-"]).gather(echelon - 1)
    city = CITY.gather(pick_within(rng, country, CITY_START, CITY_COUNT))
    role = pl.Series(["Plant", "Central DC", "Regional DC", "Warehouse"]).gather(
        np.where(warehouse, 3, echelon - 1)
    )
    low = np.array([50_000, 20_000, 2_000])[echelon - 1]
    frame = pl.DataFrame(
        {
            "code": concat(
                [
                    prefix,
                    ISO.gather(country),
                    "-",
                    pl.Series(sequence).cast(pl.String).str.zfill(2),
                ],
                "",
            ),
            "name": concat([city, role]),
            "kind": word_series(LOCATION_KINDS).gather(kind),
            "echelon": pl.Series(echelon, dtype=pl.Int64),
            "capacity": pl.Series(low * rng.integers(1, 5, echelon.size), dtype=pl.Int64),
            "region": word_series(REGIONS).gather(region),
            "country": ISO.gather(country),
        }
    )
    return Locations(frame, echelon, region)


@dataclass(frozen=True)
class Suppliers:
    frame: pl.DataFrame
    mean_days: Floats
    spread: Floats  # log-normal sigma of the lead time: reliability
    weight: Floats  # how many products each supplies


def make_suppliers(rng: Rng, count: int) -> Suppliers:
    region = choice(rng, (0.4, 0.25, 0.35), count)
    country = countries_in(rng, region)
    brand = BRANDS.gather(rng.integers(0, BRANDS.len(), count))
    word = word_series(SUPPLIER_WORDS).gather(rng.integers(0, len(SUPPLIER_WORDS), count))
    legal = LEGAL.gather(pick_within(rng, country, LEGAL_START, LEGAL_COUNT))
    frame = pl.DataFrame(
        {
            "code": numbered_codes("V", count, 5),
            "name": concat([brand, word, legal]),
            "country": ISO.gather(country),
        }
    )
    # Overseas (APAC) suppliers ship by sea: longer; some suppliers are unreliable.
    mean_days = np.where(region == 2, rng.uniform(25, 55, count), rng.uniform(5, 20, count))
    spread = np.where(
        rng.random(count) < 0.3, rng.uniform(0.3, 0.7, count), rng.uniform(0.05, 0.2, count)
    )
    return Suppliers(frame, mean_days, spread, rng.lognormal(0.0, 1.0, count))
