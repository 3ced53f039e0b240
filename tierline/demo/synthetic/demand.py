"""Demand: which product sells how often in which week (pattern, lifecycle, promotions)."""

from __future__ import annotations

import math

import numpy as np

from tierline.demo.synthetic.draws import Floats, Ints, Rng, weighted_draw
from tierline.demo.synthetic.products import Products
from tierline.demo.synthetic.reference import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    NPI,
    ONE_TIME,
    PHASE_OUT,
    SEASONAL,
)
from tierline.demo.synthetic.scales import WEEKS


def _lifecycle_shape(prods: Products, demand: Floats, rng: Rng) -> None:
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


def season(prods: Products, product: Ints, week: Ints | Floats, damping: float = 1.0) -> Floats:
    """Annual swing of a product's demand in a given week (1.0 for non-seasonal items)."""
    angle = 2 * math.pi * week / 52.0 + prods.season_phase[product]
    swing: Floats = 1.0 + damping * prods.season_amplitude[product] * np.sin(angle)
    return swing


def _pattern_shape(prods: Products, demand: Floats, rng: Rng) -> None:
    seasonal = np.flatnonzero(prods.pattern == SEASONAL)
    demand[seasonal] *= season(prods, seasonal[:, None], np.arange(WEEKS)[None, :])
    erratic = np.flatnonzero(np.isin(prods.pattern, (ERRATIC, LUMPY)))
    demand[erratic] *= rng.gamma(1.2, 1 / 1.2, (erratic.size, WEEKS))
    # Intermittent and lumpy items sell only in some weeks; the rest of the time nothing.
    sparse = np.flatnonzero(np.isin(prods.pattern, (INTERMITTENT, LUMPY)))
    chance = rng.uniform(0.12, 0.45, (sparse.size, 1))
    demand[sparse] *= (rng.random((sparse.size, WEEKS)) < chance) / chance


def _promotions(prods: Products, demand: Floats, rng: Rng) -> None:
    """Up to three promotion spikes (a week at 2.5-6x, the next at half that lift)."""
    rows = np.flatnonzero(prods.promo)
    for chance in (1.0, 0.6, 0.3):
        hit = rows[rng.random(rows.size) < chance]
        week = rng.integers(0, WEEKS - 1, hit.size)
        lift = rng.uniform(2.5, 6.0, hit.size)
        demand[hit, week] *= lift
        demand[hit, week + 1] *= (1.0 + lift) / 2.0


def demand_intensity(rng: Rng, prods: Products) -> Floats:
    """Expected order lines per product (rows) and week (columns), up to a common factor."""
    week = np.arange(WEEKS)[None, :]
    trend = np.exp(rng.normal(0.0, 0.12, (prods.weight.size, 1)) * week / 52.0)
    demand = prods.weight[:, None] * trend
    _pattern_shape(prods, demand, rng)
    _lifecycle_shape(prods, demand, rng)
    _promotions(prods, demand, rng)
    return demand


def draw_cells(rng: Rng, intensity: Floats, total: int) -> Ints:
    """Exactly ``total`` (product, week) cells: Poisson counts, then trimmed or topped up."""
    flat = intensity.ravel()
    counts = rng.poisson(flat * (total / flat.sum()))
    cells = np.repeat(np.arange(flat.size, dtype=np.int64), counts)
    surplus = cells.size - total
    if surplus > 0:
        cells = np.delete(cells, rng.choice(cells.size, size=surplus, replace=False))
    elif surplus < 0:
        cells = np.sort(np.concatenate([cells, weighted_draw(rng, flat, -surplus)]))
    return cells
