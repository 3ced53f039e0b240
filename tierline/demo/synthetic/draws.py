"""Vectorised drawing helpers: weighted picks, codes, patterned strings, typed series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

Ints: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
Bools: TypeAlias = npt.NDArray[np.bool_]
Rng: TypeAlias = np.random.Generator


def weighted_draw(rng: Rng, weights: Floats, size: int) -> Ints:
    """Indices drawn with probability proportional to ``weights`` (zero weights never)."""
    cdf = np.cumsum(weights)
    picks: Ints = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(picks, weights.size - 1)


def choice(rng: Rng, probs: Sequence[float] | Floats, size: int) -> Ints:
    return weighted_draw(rng, np.asarray(probs, dtype=np.float64), size)


def choice_rows(rng: Rng, table: Floats, group: Ints) -> Ints:
    """One category per row, from the probability row ``table[group]``."""
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(group.size)
    picks: Ints = (u[:, None] >= cum[group]).sum(axis=1)
    return picks


def flatten_groups(groups: Sequence[Sequence[str]]) -> tuple[pl.Series, Ints, Ints]:
    """Ragged word lists as one series plus each group's start and size."""
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return pl.Series([w for g in groups for w in g], dtype=pl.String), starts, counts


def pick_within(rng: Rng, group: Ints, starts: Ints, counts: Ints) -> Ints:
    return starts[group] + (rng.random(group.size) * counts[group]).astype(np.int64)


def concat(parts: Sequence[pl.Series | str], separator: str = " ") -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator=separator)).to_series()


def numbered_codes(prefix: str, count: int, width: int, first: int = 1) -> pl.Series:
    digits = pl.int_range(first, first + count, eager=True).cast(pl.String).str.zfill(width)
    return concat([prefix, digits], separator="")


def unique_numbers(rng: Rng, count: int, digits: int) -> Ints:
    """Distinct random numbers of ``digits`` digits: random gaps, then shuffled."""
    low = 10 ** (digits - 1)
    gap = max(2, 9 * low // max(count, 1))
    return rng.permutation(low + np.cumsum(rng.integers(1, gap, count))).astype(np.int64)


def patterned(rng: Rng, pattern: str, count: int) -> npt.NDArray[np.str_]:
    """Random strings shaped like ``pattern`` (9 = digit, A = capital letter), built as bytes."""
    template = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8)
    chars = np.tile(template, (count, 1))
    digit, letter = template == ord("9"), template == ord("A")
    chars[:, digit] = rng.integers(48, 58, (count, int(digit.sum())), dtype=np.uint8)
    chars[:, letter] = rng.integers(65, 91, (count, int(letter.sum())), dtype=np.uint8)
    return chars.view(f"S{len(pattern)}").ravel().astype(f"U{len(pattern)}")


def with_nulls(series: pl.Series, null: Bools) -> pl.Series:
    rows = np.flatnonzero(null)
    return series.scatter(rows, None) if rows.size else series


def date_series(days: Ints, null: Bools | None = None) -> pl.Series:
    series = pl.Series(days.astype(np.int32)).cast(pl.Date)
    return series if null is None else with_nulls(series, null)


def timestamp_series(seconds: Ints) -> pl.Series:
    return pl.Series(seconds * 1_000_000).cast(pl.Datetime("us", "UTC"))


def word_series(values: Sequence[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)
