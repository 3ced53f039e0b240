"""Deciding what a run's classification does to the assignments in force.

A plain function over frames: the classification of every entity, the open assignments and the
hysteresis state in, an outcome per entity and the next hysteresis state out. Outcomes:

``new``        no assignment yet: assigned now;
``unchanged``  the classification confirms the segment in force;
``applied``    a move that passed hysteresis and the automatic-reclassification bounds;
``held``       a move not yet confirmed by ``consecutive_runs`` runs in a row (nor by a margin
               beyond the threshold band): the candidate and its streak are kept;
``frozen``     a confirmed move during a freeze window: kept as a candidate, nothing applied;
``pending``    a confirmed move that waits for a decision: a spike in one period drove it, it
               jumps more tiers than allowed, or too large a share of entities would move;
``overridden`` the entity carries a manual or override assignment, which rules do not replace.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tierline.segmentation.schemes.document import Scheme, segment_rank

OUTCOMES = ("new", "unchanged", "applied", "held", "frozen", "pending", "overridden")
MANUAL_SOURCES = ("override", "manual")

CURRENT_SCHEMA = {
    "entity_key": pl.String,
    "current_segment": pl.String,
    "current_source": pl.String,
}
CANDIDATE_SCHEMA = {"entity_key": pl.String, "candidate_segment": pl.String, "streak": pl.Int64}


@dataclass(frozen=True)
class Decision:
    """Per entity: ``entity_key, segment, previous_segment, outcome, reasons, streak``;
    ``candidates`` is the hysteresis state to keep (held and frozen moves)."""

    outcomes: pl.DataFrame
    candidates: pl.DataFrame
    share_moving: float

    def count(self, outcome: str) -> int:
        return int((self.outcomes["outcome"] == outcome).sum())


def decide(
    scheme: Scheme,
    results: pl.DataFrame,
    current: pl.DataFrame,
    candidates: pl.DataFrame,
    *,
    frozen: bool,
) -> Decision:
    """Outcome of every classified entity (``results`` as :func:`engine.classify` returns)."""
    stability, bounds = scheme.stability, scheme.reclassification
    ranks = segment_rank(scheme)
    rank_of = pl.col("segment").replace_strict(ranks, return_dtype=pl.Int64)
    prev_rank_of = pl.col("current_segment").replace_strict(
        ranks, default=None, return_dtype=pl.Int64
    )

    frame = (
        results.select("entity_key", "segment", "source", "boundary_distance", "max_period_share")
        .join(current.cast(CURRENT_SCHEMA), on="entity_key", how="left")  # type: ignore[arg-type]
        .join(candidates.cast(CANDIDATE_SCHEMA), on="entity_key", how="left")  # type: ignore[arg-type]
    )
    differs = pl.col("current_segment").is_not_null() & (
        pl.col("current_segment") != pl.col("segment")
    )
    streak = (
        pl.when(differs & (pl.col("candidate_segment") == pl.col("segment")))
        .then(pl.col("streak").fill_null(0) + 1)
        .when(differs)
        .then(1)
        .otherwise(0)
    )
    beyond_band = (stability.margin_band > 0) & (
        pl.col("boundary_distance").fill_null(0.0) > stability.margin_band
    )
    confirmed = differs & (
        (pl.col("new_streak") >= stability.consecutive_runs)
        | beyond_band
        | (pl.col("source") == "exception")
    )
    spike = (stability.spike_share < 1.0) & (
        pl.col("max_period_share").fill_null(0.0) > stability.spike_share
    )
    jump = (rank_of - prev_rank_of).abs() > bounds.max_tier_jump
    frame = frame.with_columns(new_streak=streak).with_columns(
        confirmed=confirmed,
        spike=confirmed & spike,
        jump=confirmed & jump.fill_null(False),
        manual=pl.col("current_source").is_in(MANUAL_SOURCES).fill_null(False),
    )
    movable = frame.filter(pl.col("confirmed") & ~pl.col("manual")).height
    share_moving = movable / frame.height if frame.height else 0.0
    too_many = share_moving > bounds.max_share_moving
    reasons = pl.concat_list(
        pl.when(pl.col("spike")).then(pl.lit(["spike"])).otherwise(pl.lit([], pl.List(pl.String))),
        pl.when(pl.col("jump"))
        .then(pl.lit(["tier_jump"]))
        .otherwise(pl.lit([], pl.List(pl.String))),
        pl.when(pl.col("confirmed") & pl.lit(too_many))
        .then(pl.lit(["share_moving"]))
        .otherwise(pl.lit([], pl.List(pl.String))),
    )
    frame = frame.with_columns(reasons=reasons)
    outcome = (
        pl.when(pl.col("current_segment").is_null())
        .then(pl.lit("new"))
        .when(pl.col("manual"))
        .then(pl.lit("overridden"))
        .when(~differs)
        .then(pl.lit("unchanged"))
        .when(~pl.col("confirmed"))
        .then(pl.lit("held"))
        .when(pl.lit(frozen))
        .then(pl.lit("frozen"))
        .when(pl.col("reasons").list.len() > 0)
        .then(pl.lit("pending"))
        .otherwise(pl.lit("applied"))
    )
    frame = frame.with_columns(outcome=outcome).with_columns(
        reasons=pl.when(pl.col("outcome") == "pending")
        .then(pl.col("reasons"))
        .otherwise(pl.lit([], pl.List(pl.String)))
    )
    outcomes = frame.select(
        "entity_key",
        "segment",
        pl.col("current_segment").alias("previous_segment"),
        "outcome",
        "reasons",
        pl.col("new_streak").alias("streak"),
    ).sort("entity_key")
    kept = outcomes.filter(pl.col("outcome").is_in(["held", "frozen"])).select(
        "entity_key", pl.col("segment").alias("candidate_segment"), "streak"
    )
    return Decision(outcomes, kept, share_moving)
