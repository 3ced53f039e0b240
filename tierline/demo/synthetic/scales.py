"""Scales (target row counts), the 104-week calendar and the random streams, one per part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

import numpy as np
import polars as pl

from tierline.demo.synthetic.draws import Rng, timestamp_series

WEEKS: Final = 104
EPOCH: Final = date(1970, 1, 1)
DAY_SECONDS: Final = 86_400


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
        # 160 locations (16 plants, 24 central and 120 regional DCs): over 1.1M SKU-locations
        # with demand, the size inventory policy runs are measured at.
        "large": Scale(20_000, 50_000, 2_000_000, locations=160, suppliers=400),
    }
)


@dataclass(frozen=True)
class Calendar:
    as_of: date
    end: int  # as_of in days since 1970-01-01
    start: int  # first day of the 104-week window

    @classmethod
    def ending(cls, as_of: date) -> Calendar:
        end = (as_of - EPOCH).days
        return cls(as_of, end, end - 7 * WEEKS + 1)


STREAMS: Final = (
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
    "supply",
)


def streams(seed: int) -> dict[str, Rng]:
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}


def recent_timestamps(rng: Rng, cal: Calendar, count: int, max_age_days: int) -> pl.Series:
    day = cal.end - rng.integers(0, max_age_days, count)
    return timestamp_series(day * DAY_SECONDS + rng.integers(0, DAY_SECONDS, count))
