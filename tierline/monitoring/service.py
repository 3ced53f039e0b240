"""Monitoring's face to the other domains: KPI attainment per segment and period, one
customer's performance with the target in force per period (the portal), alerts, and the
refresh. Other domains import this module, never monitoring's other modules.

Usage::

    async with tenant_session(tenant) as s:
        frame = await attainment_by_segment(s, "month", since=date(2026, 1, 1))
        # segment, period_start, the counts, one column per KPI, <kpi>_target, <kpi>_met
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import customer_directory
from tierline.monitoring.alerts import (
    AlertNotFound,
    AlertRefused,
    acknowledge,
    addressed_to,
    alert_dict,
    list_alerts,
    resolve,
)
from tierline.monitoring.definitions import (
    DEFAULT,
    DefinitionInvalid,
    KpiDefinition,
    parse_definition,
)
from tierline.monitoring.engine import (
    GRAINS,
    KPI_LABELS,
    KPIS,
    TARGET_OF,
    Grain,
    cell_counts,
    kpis,
    roll_up,
)
from tierline.monitoring.false_positives import SPIKE, VERDICTS, MoveReviewNotFound, review
from tierline.monitoring.figures import (
    DIMENSIONS,
    Filters,
    periods_back,
    summed,
    target_versions,
    with_attainment,
)
from tierline.monitoring.jobs import queue_kpi_update
from tierline.monitoring.refresh import RefreshOutcome, refresh
from tierline.monitoring.store import (
    current_definition,
    kpi_scheme,
    read_assignments,
    read_lines,
    save_definition,
    state,
)
from tierline.segmentation import service as segmentation

__all__ = [
    "DEFAULT",
    "DIMENSIONS",
    "GRAINS",
    "KPIS",
    "KPI_LABELS",
    "TARGET_OF",
    "VERDICTS",
    "AlertNotFound",
    "AlertRefused",
    "DefinitionInvalid",
    "Filters",
    "Grain",
    "KpiDefinition",
    "MoveReviewNotFound",
    "RefreshOutcome",
    "SpikeReview",
    "account_performance",
    "acknowledge",
    "addressed_to",
    "alert_dict",
    "attainment_by_segment",
    "current_definition",
    "customer_series",
    "kpi_figures",
    "kpi_scheme",
    "list_alerts",
    "parse_definition",
    "periods_back",
    "queue_kpi_update",
    "refresh",
    "resolve",
    "save_definition",
    "spike_move_review",
    "state",
]


async def kpi_figures(
    session: AsyncSession, grain: Grain, by: list[str], filters: Filters | None = None
) -> pl.DataFrame:
    """Counts and KPIs summed by ``by`` (dimension names, see ``DIMENSIONS``) under
    ``filters``; with ``segment`` and ``period_start`` in ``by``, also the target in force in
    each period and whether it was met (decided exactly)."""
    definition = await current_definition(session)
    sums = await summed(await session.connection(), grain, by, filters or Filters())
    versions = await target_versions(session, await kpi_scheme(session))
    return with_attainment(sums, versions, definition, grain)


async def attainment_by_segment(
    session: AsyncSession,
    grain: Grain,
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """Per segment and period: counts, KPIs, targets in force and ``<kpi>_met``."""
    return await kpi_figures(
        session, grain, ["segment", "period_start"], Filters(since=since, until=until)
    )


async def customer_series(
    session: AsyncSession, customer_codes: list[str], grain: Grain, starts: list[date]
) -> pl.DataFrame:
    """The periods ``starts`` of the customers' lines (one account's subtree, say) summed by
    segment in force and period: the KPIs with the target of that segment in that period.
    A period in which the account changed segment has one row per segment."""
    if not customer_codes or not starts:
        return pl.DataFrame()
    definition = await current_definition(session)
    sums = await summed(
        await session.connection(),
        grain,
        ["segment", "period_start"],
        Filters(within={"customer_code": customer_codes}, since=starts[0], until=starts[-1]),
    )
    if sums.is_empty():
        return sums
    versions = await target_versions(session, await kpi_scheme(session))
    return with_attainment(sums, versions, definition, grain).sort("period_start")


async def account_performance(
    session: AsyncSession,
    customer_codes: list[str],
    grain: Grain,
    starts: list[date],
    as_of: date,
) -> pl.DataFrame:
    """One account's (its subtree's) periods computed by the engine from its order lines, so
    they are current the moment lines arrive: per period the counts and KPIs, and the targets
    in force in that period for the segment the lines were in (the segment with the most
    lines, when the account changed segment within the period)."""
    conn = await session.connection()
    end = periods_after(starts[-1], grain)
    lines = await read_lines(
        conn,
        "customer_code = ANY($1::text[]) AND order_date >= $2 AND order_date < $3",
        customer_codes,
        starts[0],
        end,
    )
    scheme = await kpi_scheme(session)
    definition = await current_definition(session)
    spans = await read_assignments(conn, scheme, customer_codes)
    cells = cell_counts(lines, spans, definition, grain, as_of)
    if cells.is_empty():
        return cells
    by_segment = with_attainment(
        roll_up(cells, ["segment", "period_start"]),
        await target_versions(session, scheme),
        definition,
        grain,
    )
    targets = [f"{k}_target" for k in TARGET_OF]
    dominant = (
        by_segment.sort("lines", descending=True)
        .group_by("period_start", maintain_order=True)
        .first()
        .select("period_start", "segment", *targets)
    )
    per_period = kpis(roll_up(cells, ["period_start"]), definition)
    return per_period.join(dominant, on="period_start", how="left").sort("period_start")


def periods_after(start: date, grain: Grain) -> date:
    """The first day after the period starting ``start``."""
    if grain == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class SpikeReview:
    """A page of the moves a demand spike drove, oldest first, each with what came after
    (see ``false_positives.review`` for the columns); ``next_after_id`` continues it."""

    rows: pl.DataFrame
    next_after_id: int | None
    grain: Grain
    periods: int
    kpi: str


async def spike_move_review(
    session: AsyncSession,
    *,
    grain: Grain = "week",
    periods: int = 4,
    kpi: str = "otif",
    scopes: frozenset[str] | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> SpikeReview:
    """The moves whose reasons include a demand spike (applied, or held: pending, rejected,
    superseded) past ``after_id``: did the entity revert, and ``kpi`` over the ``periods``
    periods before and from the move (the customer's lines in the caller's ``scopes``)."""
    page = await segmentation.pending_moves(
        session, None, None, reason=SPIKE, after_id=after_id, limit=limit
    )
    moves = pl.DataFrame(
        [
            (
                m.id,
                m.scheme_code,
                m.entity_key,
                m.customer_code,
                m.from_segment,
                m.to_segment,
                m.status,
                m.decided_at if m.status == "applied" and m.decided_at else m.created_at,
            )
            for m in page.rows
        ],
        schema=[
            "move_id",
            "scheme_code",
            "entity_key",
            "customer_code",
            "from_segment",
            "to_segment",
            "status",
            "moved_at",
        ],
        orient="row",
    )
    history = await segmentation.entity_histories(
        session, [(m.scheme_code, m.entity_key) for m in page.rows]
    )
    codes = sorted({m.customer_code for m in page.rows if m.customer_code})
    if scopes is not None:
        # a planner limited to some scopes sees the moves of its customers only (a product
        # scheme's moves name no customer: they stay)
        directory = customer_directory(scopes)
        visible = set(
            (
                await session.execute(select(directory.c.code).where(directory.c.code.in_(codes)))
            ).scalars()
        )
        moves = moves.filter(
            pl.col("customer_code").is_null() | pl.col("customer_code").is_in(sorted(visible))
        )
        codes = sorted(visible)
    counts = sums = pl.DataFrame()
    if codes:
        first = min(m.created_at for m in page.rows).date()
        since = periods_back(first, grain, periods + 1)[0]
        sums = await summed(
            await session.connection(),
            grain,
            ["customer_code", "segment", "period_start"],
            Filters(within={"customer_code": codes}, since=since, scopes=scopes),
        )
    definition = await current_definition(session)
    if codes and not sums.is_empty():
        # by segment and period: the target in force for the segment in force, and ``_met``
        versions = await target_versions(session, await kpi_scheme(session))
        counts = with_attainment(sums, versions, definition, grain)
    rows = review(moves, history, counts, definition, grain=grain, periods=periods, kpi=kpi)
    return SpikeReview(rows, page.next_after_id, grain, periods, kpi)
