"""Review of false positives: what became of the moves a demand spike drove.

A run sends a confirmed move to a decision (a pending move) with the reason ``spike`` when one
period carried more than the scheme's ``spike_share`` of the entity's volume
(segmentation ``runs.stability``). Governance then applies it, rejects it, or a later run
supersedes it. This module looks at each such move afterwards:

* **applied** (the move took effect): did the entity *revert*, i.e. does a later assignment put
  it back in the segment it left? A reverted move is the false positive the stability rules
  exist to catch;
* **held** (pending, rejected or superseded: the entity stayed where it was): did it *move
  later* to the segment the spike pointed at? Then the hold only delayed a real move.

Service beside it: a KPI summed from the engine's stored counts over the ``periods`` periods
before the move's period and the ``periods`` periods from it on (the customer's lines), so a
planner sees whether service changed with the decision.

A plain function over frames; the service reads them (``service.false_positive_review``).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from tierline.monitoring.definitions import KpiDefinition
from tierline.monitoring.engine import COUNTS, Grain, kpi_expressions
from tierline.platform.errors import DomainError

SPIKE = "spike"
APPLIED = "applied"
# what a reviewed move came to, worded for a planner
VERDICTS = {
    "reverted": "Reverted: the entity went back to the segment it left",
    "kept": "Kept: no later assignment undid the move",
    "moved_later": "Moved later: the hold only delayed the move",
    "stayed": "Stayed: the entity never took the spike's segment",
}
MOVE_SCHEMA = {
    "move_id": pl.Int64,
    "scheme_code": pl.String,
    "entity_key": pl.String,
    "customer_code": pl.String,
    "from_segment": pl.String,
    "to_segment": pl.String,
    "status": pl.String,
    "moved_at": pl.Datetime("us", "UTC"),
}
HISTORY_SCHEMA = {
    "scheme_code": pl.String,
    "entity_key": pl.String,
    "segment": pl.String,
    "valid_from": pl.Datetime("us", "UTC"),
}


class MoveReviewNotFound(DomainError):
    status_code = 404
    title = "Move not found"


def period_start_expr(column: str, grain: Grain) -> pl.Expr:
    """The start of the week (Monday) or month holding a timestamp column, as a date."""
    day = pl.col(column).dt.date()
    return day.dt.truncate("1w" if grain == "week" else "1mo")


def review(
    moves: pl.DataFrame,
    history: pl.DataFrame,
    counts: pl.DataFrame,
    definition: KpiDefinition,
    *,
    grain: Grain,
    periods: int,
    kpi: str,
) -> pl.DataFrame:
    """One row per move of ``moves`` (``MOVE_SCHEMA``; ``moved_at`` is when it was applied, or
    proposed for a held one), in the order given, with ``effect`` (applied / held),
    ``later_segments`` (the entity's assignments starting after ``moved_at``, oldest first),
    ``verdict`` (a key of ``VERDICTS``), and ``<kpi>`` summed over the ``periods`` periods
    before (``kpi_before``) and from (``kpi_after``) the move's period, with the lines each
    side counted (``lines_before``, ``lines_after``) and ``kpi_change``; attainment as the
    segment-periods on target each side (``met_before`` of ``measured_before``, likewise after)
    where ``counts`` carries the engine's ``<kpi>_met``.

    ``history``: assignments (``HISTORY_SCHEMA``); ``counts``: the engine's counts by
    ``customer_code`` and ``period_start`` (and ``segment``, with ``<kpi>_met``, for
    attainment)."""
    moves = moves.select(list(MOVE_SCHEMA)).cast(MOVE_SCHEMA)  # type: ignore[arg-type]
    history = history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
    later = (
        moves.select("move_id", "scheme_code", "entity_key", "moved_at")
        .join(history, on=["scheme_code", "entity_key"], how="inner")
        .filter(pl.col("valid_from") > pl.col("moved_at"))
        .sort("move_id", "valid_from")
        .group_by("move_id", maintain_order=True)
        .agg(later_segments=pl.col("segment"))
    )
    framed = moves.join(later, on="move_id", how="left").with_columns(
        pl.col("later_segments").fill_null(pl.lit([], pl.List(pl.String)))
    )
    applied = pl.col("status") == APPLIED
    framed = framed.with_columns(
        effect=pl.when(applied).then(pl.lit("applied")).otherwise(pl.lit("held")),
        verdict=pl.when(applied & pl.col("later_segments").list.contains(pl.col("from_segment")))
        .then(pl.lit("reverted"))
        .when(applied)
        .then(pl.lit("kept"))
        .when(pl.col("later_segments").list.contains(pl.col("to_segment")))
        .then(pl.lit("moved_later"))
        .otherwise(pl.lit("stayed")),
        period=period_start_expr("moved_at", grain),
    )
    change = _service_change(framed, counts, definition, grain, periods, kpi)
    return (
        framed.join(change, on="move_id", how="left")
        .with_columns(
            pl.col(
                "lines_before",
                "lines_after",
                "met_before",
                "met_after",
                "measured_before",
                "measured_after",
            ).fill_null(0)
        )
        .drop("period")
    )


def _service_change(
    moves: pl.DataFrame,
    counts: pl.DataFrame,
    definition: KpiDefinition,
    grain: Grain,
    periods: int,
    kpi: str,
) -> pl.DataFrame:
    """Per move: the KPI from the summed counts of the windows before and from its period."""
    empty = pl.DataFrame(
        schema={
            "move_id": pl.Int64,
            "kpi_before": pl.Float64,
            "kpi_after": pl.Float64,
            "lines_before": pl.Int64,
            "lines_after": pl.Int64,
            "kpi_change": pl.Float64,
            "met_before": pl.Int64,
            "measured_before": pl.Int64,
            "met_after": pl.Int64,
            "measured_after": pl.Int64,
        }
    )
    if counts.is_empty() or moves.is_empty():
        return empty
    span = timedelta(weeks=periods) if grain == "week" else None
    windows = moves.select("move_id", "customer_code", "period").with_columns(
        start=(pl.col("period") - span)
        if span is not None
        else pl.col("period").dt.offset_by(f"-{periods}mo"),
        end=(pl.col("period") + span)
        if span is not None
        else pl.col("period").dt.offset_by(f"{periods}mo"),
    )
    rows = (
        windows.join(counts, on="customer_code", how="inner")
        .filter(
            (pl.col("period_start") >= pl.col("start")) & (pl.col("period_start") < pl.col("end"))
        )
        .with_columns(
            side=pl.when(pl.col("period_start") < pl.col("period"))
            .then(pl.lit("before"))
            .otherwise(pl.lit("after"))
        )
    )
    if rows.is_empty():
        return empty
    # attainment: the segment-periods on target (the engine's ``<kpi>_met``, decided exactly
    # against the target in force for the segment in force) among those with a target
    met_column = f"{kpi}_met"
    met = pl.col(met_column) if met_column in rows.columns else pl.lit(None, pl.Boolean)
    summed = rows.group_by("move_id", "side").agg(
        [pl.col(c).sum() for c in COUNTS]
        + [
            (met == True).sum().alias("met"),  # noqa: E712 (a column, not a Python bool)
            met.is_not_null().sum().alias("measured"),
        ]
    )
    rated = summed.with_columns(kpi_expressions(definition)[kpi].alias("value")).select(
        "move_id", "side", "value", "lines", "met", "measured"
    )
    fields = ["value", "lines", "met", "measured"]
    out = rated.pivot(on="side", index="move_id", values=fields)
    for column in (f"{f}_{side}" for f in fields for side in ("before", "after")):
        if column not in out.columns:
            out = out.with_columns(pl.lit(None).alias(column))
    return out.select(
        pl.col("move_id").cast(pl.Int64),
        pl.col("value_before").cast(pl.Float64).alias("kpi_before"),
        pl.col("value_after").cast(pl.Float64).alias("kpi_after"),
        *(
            pl.col(f"{f}_{side}").cast(pl.Int64).fill_null(0)
            for f in ("lines", "met", "measured")
            for side in ("before", "after")
        ),
    ).with_columns(kpi_change=pl.col("kpi_after") - pl.col("kpi_before"))
