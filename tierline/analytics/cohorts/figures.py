"""A cohort analysis of one reclassification month: read the scheme's history and the order
lines of the windows (no money is needed: the figures are orders, units, mix and churn), build
the panel, match, estimate."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from tierline.analytics.cohorts.did import MIN_COHORT, Estimate, difference_in_differences
from tierline.analytics.cohorts.panel import (
    METRICS,
    Windows,
    add_months,
    customer_panel,
    match,
    move_months,
    moves_in,
    stayers,
)
from tierline.analytics.settings_store import read_choices
from tierline.masterdata.service import latest_order_date, order_lines_plain
from tierline.platform.errors import DomainError
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import customer_segment_history, published_segments

MAX_WINDOW = 12


class CohortRefused(DomainError):
    """A cohort analysis that cannot be run as asked (the message says why)."""

    status_code = 422
    title = "Analysis refused"


@dataclass(frozen=True)
class CohortGroup:
    """Movers from one segment to another, and how many found a matched stayer."""

    from_segment: str
    to_segment: str
    movers: int
    matched: int


@dataclass(frozen=True)
class CohortAnalysis:
    scheme_code: str
    windows: Windows
    churn_periods: int
    groups: list[CohortGroup]
    movers: int
    matched: int
    unmatched: list[str]
    estimates: list[Estimate]  # one per metric, all movers against their matched stayers
    by_direction: dict[str, list[Estimate]]  # "up" / "down" (by segment rank) where known
    after_complete: bool = True  # the order history reaches the end of the after window


def _arm(panel: pl.DataFrame, codes: list[str], metric: str) -> tuple[np.ndarray, np.ndarray]:
    rows = pl.DataFrame({"customer_code": pl.Series(codes, dtype=pl.String)}).join(
        panel, on="customer_code", how="left"
    )
    return (
        rows[f"{metric}_before"].to_numpy().astype(np.float64),
        rows[f"{metric}_after"].to_numpy().astype(np.float64),
    )


def _estimates(panel: pl.DataFrame, pairs: pl.DataFrame, min_size: int) -> list[Estimate]:
    movers, matched = pairs["mover"].to_list(), pairs["stayer"].to_list()
    return [
        difference_in_differences(
            metric, _arm(panel, movers, metric), _arm(panel, matched, metric), min_size=min_size
        )
        for metric in METRICS
    ]


def analyse(
    scheme_code: str,
    history: pl.DataFrame,
    lines: pl.DataFrame,
    windows: Windows,
    churn: int,
    ranks: dict[str, int] | None = None,
    min_size: int = MIN_COHORT,
) -> CohortAnalysis:
    """The analysis from frames already read (pure; CPU: run in a thread). ``ranks``: segment
    code -> rank (1 = top), to split upward and downward moves."""
    moved = moves_in(history, windows.month)
    pool = stayers(history, windows).join(moved, on="customer_code", how="anti")
    panel = customer_panel(
        lines, pl.concat([moved["customer_code"], pool["customer_code"]]), windows, churn
    )
    sized = panel.select("customer_code", "volume_before")
    pairs, unmatched = match(
        moved.join(sized, on="customer_code").select(
            "customer_code", "from_segment", "volume_before"
        ),
        pool.join(sized, on="customer_code").select(
            "customer_code", "from_segment", "volume_before"
        ),
    )
    with_pairs = moved.join(pairs, left_on="customer_code", right_on="mover", how="left")
    groups = [
        CohortGroup(f, t, int(n), int(m))
        for f, t, n, m in with_pairs.group_by("from_segment", "to_segment")
        .agg(pl.len(), pl.col("stayer").is_not_null().sum())
        .sort("from_segment", "to_segment")
        .iter_rows()
    ]
    by_direction: dict[str, list[Estimate]] = {}
    if ranks:
        ranked = with_pairs.filter(pl.col("stayer").is_not_null()).with_columns(
            pl.col("from_segment").replace_strict(ranks, default=None).alias("r0"),
            pl.col("to_segment").replace_strict(ranks, default=None).alias("r1"),
        )
        for name, up in (("up", True), ("down", False)):
            part = ranked.filter(
                (pl.col("r1") < pl.col("r0")) if up else (pl.col("r1") > pl.col("r0"))
            )
            by_direction[name] = _estimates(
                panel, part.select(pl.col("customer_code").alias("mover"), "stayer"), min_size
            )
    return CohortAnalysis(
        scheme_code=scheme_code,
        windows=windows,
        churn_periods=churn,
        groups=groups,
        movers=moved.height,
        matched=pairs.height,
        unmatched=unmatched,
        estimates=_estimates(panel, pairs, min_size),
        by_direction=by_direction,
    )


def choose_month(history: pl.DataFrame, months: int, newest: date | None) -> date:
    """The latest month with moves whose after window the order history covers; else the
    latest month with moves. CohortRefused when nobody has moved."""
    found = move_months(history)
    if not found:
        raise CohortRefused("nobody has moved segment yet: there is no cohort to follow")
    if newest is not None:
        complete = [m for m in found if add_months(m, months) <= newest.replace(day=1)]
        if complete:
            return complete[-1]
    return found[-1]


async def cohort_analysis(
    runtime: Runtime, tenant: TenantRef, month: date | None, months: int = 3
) -> CohortAnalysis:
    """Movers of ``month`` (any day in it; None: :func:`choose_month`) against matched
    stayers, ``months`` either side."""
    if not 1 <= months <= MAX_WINDOW:
        raise CohortRefused(f"the before and after windows span 1 to {MAX_WINDOW} months")
    async with tenant_session(tenant, runtime.databases) as session:
        choices = await read_choices(session)
        if choices.scheme_code is None:
            raise CohortRefused("no customer scheme is published: nobody has moved yet")
        if choices.churn_periods > months:
            raise CohortRefused(
                f"churn counts {choices.churn_periods} months without an order; the windows "
                f"span only {months}"
            )
        segments = await published_segments(session, choices.scheme_code) or []
        conn = await session.connection()
        history = await customer_segment_history(conn, choices.scheme_code)
        newest = await latest_order_date(conn)
        chosen = month.replace(day=1) if month else choose_month(history, months, newest)
        windows = Windows(chosen, months)
        lines = await order_lines_plain(
            conn, windows.before[0], add_months(windows.after[1], 1).replace(day=1)
        )
    ranks = {s.code: s.rank for s in segments}
    result = await asyncio.to_thread(
        analyse, choices.scheme_code, history, lines, windows, choices.churn_periods, ranks
    )
    complete = newest is not None and add_months(windows.after[1], 1) <= newest
    return dataclasses.replace(result, after_complete=complete)
