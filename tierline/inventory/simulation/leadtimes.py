"""Observed lead times per lane, as the empirical distribution the simulation draws from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LaneLeadTimes:
    """Lead-time observations per lane, in whole days (calendar days between order and
    receipt), padded into one array.

    ``samples_days[lane, :counts[lane]]`` are the lane's observations; a lane with
    ``counts == 0`` has none usable (``problems`` says why) and every SKU-location on it is left
    out of a simulation with that reason; a lane that fell back to its planned lead time says
    so in ``fallbacks``. Observations are rounded to whole days, halves up, because the
    simulation moves in days.
    """

    lane_keys: tuple[str, ...]
    samples_days: IntArray
    counts: IntArray
    problems: Mapping[str, str]
    fallbacks: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_days(self) -> int:
        return int(self.samples_days.max(initial=0))

    def index_of(self, keys: Sequence[str] | npt.NDArray[np.object_]) -> IntArray:
        """Lane position of each key; -1 where the lane is unknown."""
        position = {key: i for i, key in enumerate(self.lane_keys)}
        return np.fromiter((position.get(str(k), -1) for k in keys), dtype=np.int64)

    def draw(self, lanes: IntArray, uniforms: npt.NDArray[np.float64]) -> IntArray:
        """One lead time per row from its lane's observations (``uniforms`` in [0, 1)): each
        observation equally likely. Rows of lanes without observations get 0 (the engine never
        asks for them)."""
        counts = self.counts[lanes]
        pick = np.minimum((uniforms * counts).astype(np.int64), np.maximum(counts - 1, 0))
        return self.samples_days[lanes, pick]

    @classmethod
    def from_observations(
        cls,
        observations: Mapping[str, Sequence[float]],
        *,
        minimum: int = 1,
        planned: Mapping[str, float] | None = None,
    ) -> LaneLeadTimes:
        """``{"DC1<-SUP9": [12, 14, 13.5, ...], ...}`` (days). A lane with fewer than
        ``minimum`` usable observations falls back to its planned lead time (``planned``, days)
        as a constant, noted in ``fallbacks``; without one it has no sample (``problems``)."""
        planned = planned or {}
        keys = tuple(dict.fromkeys([*(str(k) for k in observations), *map(str, planned)]))
        width = max((len(v) for v in observations.values()), default=0)
        samples = np.zeros((len(keys), max(width, 1)), dtype=np.int64)
        counts = np.zeros(len(keys), dtype=np.int64)
        problems: dict[str, str] = {}
        fallbacks: dict[str, str] = {}
        for i, key in enumerate(keys):
            values = np.asarray(observations.get(key, ()), dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                problems[key] = "lead-time observations must be non-negative numbers of days"
                continue
            if values.size < max(minimum, 1):
                fallback = planned.get(key)
                if fallback is None or not np.isfinite(fallback) or fallback < 0:
                    problems[key] = (
                        "no lead-time observations for this lane"
                        if values.size == 0
                        else f"{values.size} lead-time observations, fewer than {minimum}, "
                        "and no planned lead time"
                    )
                    continue
                fallbacks[key] = (
                    f"{values.size} observations (fewer than {minimum}): "
                    f"planned lead time of {fallback:g} days used"
                )
                values = np.array([fallback])
            days = np.floor(values + 0.5).astype(np.int64)
            samples[i, : days.size] = days
            counts[i] = days.size
        return cls(keys, samples, counts, problems, fallbacks)

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        lane: str = "lane",
        days: str = "lead_time_days",
        *,
        minimum: int = 1,
        planned: Mapping[str, float] | None = None,
    ) -> LaneLeadTimes:
        """One observation per row: a lane key column and a lead time in days."""
        grouped = (
            frame.select(pl.col(lane).cast(pl.String), pl.col(days).cast(pl.Float64))
            .group_by(lane, maintain_order=True)
            .agg(pl.col(days))
        )
        return cls.from_observations(
            {
                key: [float("nan") if v is None else v for v in values]
                for key, values in grouped.iter_rows()
            },
            minimum=minimum,
            planned=planned,
        )
