"""The planner's dashboard as data: segment mix and its trend, the KPI trend per segment against
its targets, heat maps of attainment by segment x region and by segment x product line, the
worst breaches, alerts, pending approvals and data freshness.

Every figure comes from the stored counts through ``figures`` (one definition of each KPI) in
the caller's business scopes. The heat maps sum the last ``WINDOW`` closed periods and judge the
sum against the target in force in the newest of them, exactly (counts, not rounded rates).
Nothing here reads money: an analyst sees the same page as a planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import stale_order_feeds
from tierline.monitoring.charts import LineChart, line_chart
from tierline.monitoring.definitions import KpiDefinition
from tierline.monitoring.engine import KPI_LABELS, TARGET_OF, UNCLASSIFIED, Grain
from tierline.monitoring.figures import (
    Filters,
    period_floor,
    periods_back,
    summed,
    target_versions,
    with_attainment,
)
from tierline.monitoring.store import current_definition, kpi_scheme, state
from tierline.segmentation.service import pending_moves, segment_catalogue

PERIODS = 12
WINDOW = 4
WORST = 8
CHART_KPIS = ("otif", "unit_fill_rate", "perfect_order", "lead_time_days")


@dataclass(frozen=True)
class Cell:
    value: str
    band: str  # met | near | miss | none
    title: str
    href: str
    lines: int


@dataclass(frozen=True)
class HeatMap:
    caption: str
    row_label: str
    column_label: str
    columns: list[str]
    rows: list[tuple[str, list[Cell | None]]]


@dataclass
class Dashboard:
    grain: Grain
    kpi: str
    kpi_label: str
    scheme: str | None
    definition: KpiDefinition
    periods: list[date]
    window: tuple[date, date] | None
    segments: list[dict[str, Any]] = field(default_factory=list)
    mix_chart: LineChart | None = None
    trend_chart: LineChart | None = None
    heat_region: HeatMap | None = None
    heat_line: HeatMap | None = None
    worst: list[dict[str, Any]] = field(default_factory=list)
    freshness: list[str] = field(default_factory=list)
    computed_at: datetime | None = None
    pending_moves: int = 0
    pending_more: bool = False
    data_quality: dict[str, int] = field(default_factory=dict)


def fmt(kpi: str, value: float | None) -> str:
    if value is None:
        return "\u2013"
    return f"{value:.1f} d" if kpi == "lead_time_days" else f"{value:.1%}"


def band(kpi: str, value: float | None, target: float | None, met: bool | None) -> str:
    if met is None or value is None or target is None:
        return "none"
    if met:
        return "met"
    gap = value - target if kpi == "lead_time_days" else target - value
    limit = 1.0 if kpi == "lead_time_days" else 0.02
    return "near" if gap <= limit else "miss"


def drill_href(slug: str, grain: str, kpi: str, **filters: str) -> str:
    query = {"grain": grain, "kpi": kpi, **{k: v for k, v in filters.items() if v}}
    return f"/t/{slug}/performance/drill?{urlencode(query)}"


def _at_newest(frame: pl.DataFrame, newest: date) -> pl.DataFrame:
    return frame.with_columns(pl.lit(newest).alias("period_start"))


async def _windowed(
    session: AsyncSession,
    grain: Grain,
    by: list[str],
    filters: Filters,
    versions: pl.DataFrame,
    definition: KpiDefinition,
) -> pl.DataFrame:
    """Sums over the window by ``segment`` + ``by``, judged at the newest period's target."""
    assert filters.until is not None
    sums = await summed(await session.connection(), grain, ["segment", *by], filters)
    if sums.is_empty():
        return sums
    return with_attainment(_at_newest(sums, filters.until), versions, definition, grain)


def heat_map(
    frame: pl.DataFrame, dimension: str, kpi: str, caption: str, label: str, slug: str, grain: str
) -> HeatMap:
    columns = sorted(frame[dimension].unique().to_list()) if not frame.is_empty() else []
    by_key = {(r["segment"], r[dimension]): r for r in frame.iter_rows(named=True)}
    segments = sorted({r["segment"] for r in frame.iter_rows(named=True)})
    rows = []
    for seg in segments:
        cells: list[Cell | None] = []
        for col in columns:
            r = by_key.get((seg, col))
            if r is None:
                cells.append(None)
                continue
            target = r.get(f"{kpi}_target")
            value = r[kpi]
            cells.append(
                Cell(
                    fmt(kpi, value),
                    band(kpi, value, target, r.get(f"{kpi}_met")),
                    f"{seg} · {col}: {fmt(kpi, value)}"
                    + (f" against {fmt(kpi, target)}" if target is not None else " (no target)"),
                    drill_href(slug, grain, kpi, segment=seg, **{dimension: col}),
                    int(r["lines"]),
                )
            )
        rows.append((seg, cells))
    return HeatMap(caption, "Segment", label, columns, rows)


def _order(segments: list[str], ranks: dict[str, int]) -> list[str]:
    return sorted(segments, key=lambda s: (s == UNCLASSIFIED, ranks.get(s, 99), s))


async def build_dashboard(
    session: AsyncSession,
    slug: str,
    grain: Grain,
    kpi: str,
    scopes: frozenset[str] | None,
    today: date | None = None,
) -> Dashboard:
    today = today or datetime.now(UTC).date()
    definition = await current_definition(session)
    scheme = await kpi_scheme(session)
    periods = periods_back(today, grain, PERIODS)
    board = Dashboard(grain, kpi, KPI_LABELS[kpi], scheme, definition, periods, None)
    kept = await state(session)
    board.computed_at = kept.computed_at if kept else None
    board.freshness = await stale_order_feeds(session, datetime.now(UTC))
    if kept is None:
        board.freshness.insert(0, "KPIs have not been computed yet for this workspace.")
    moves = await pending_moves(session, limit=100)
    board.pending_moves, board.pending_more = len(moves.rows), moves.next_after_id is not None
    catalogue = (await segment_catalogue(session, [scheme])).get(scheme, []) if scheme else []
    ranks = {s.code: s.rank for s in catalogue}
    colours = {s.code: s.colour or "" for s in catalogue}
    versions = await target_versions(session, scheme)
    conn = await session.connection()
    trend = await summed(
        conn, grain, ["segment", "period_start"], Filters(since=periods[0], scopes=scopes)
    )
    trend = with_attainment(trend, versions, definition, grain) if not trend.is_empty() else trend
    _trend_and_mix(board, trend, ranks, colours)
    closed = [p for p in periods if p < period_floor(today, grain)]
    if closed:
        window = (closed[-WINDOW:][0], closed[-1])
        board.window = window
        filters = Filters(since=window[0], until=window[1], scopes=scopes)
        by_region = await _windowed(session, grain, ["region"], filters, versions, definition)
        by_line = await _windowed(session, grain, ["product_line"], filters, versions, definition)
        board.heat_region = heat_map(by_region, "region", kpi, "by region", "Region", slug, grain)
        board.heat_line = heat_map(
            by_line, "product_line", kpi, "by product line", "Product line", slug, grain
        )
        board.worst = worst_breaches(by_region, slug, grain)
        if not by_region.is_empty():
            board.data_quality = {
                c: int(by_region[c].sum()) for c in by_region.columns if c.startswith("dq_")
            }
    board.segments = _segment_rows(trend, ranks, colours)
    return board


def _trend_and_mix(
    board: Dashboard, trend: pl.DataFrame, ranks: dict[str, int], colours: dict[str, str]
) -> None:
    if trend.is_empty():
        return
    segs = _order(trend["segment"].unique().to_list(), ranks)
    by_key = {(r["segment"], r["period_start"]): r for r in trend.iter_rows(named=True)}
    totals = {p: sum(r["lines"] for (s, q), r in by_key.items() if q == p) for p in board.periods}
    kpi = board.kpi
    fmt_label = "%d %b" if board.grain == "week" else "%b %y"
    board.trend_chart = line_chart(
        f"{board.kpi_label} per {board.grain} by segment, dashed: target in force",
        board.periods,
        {
            s: [by_key[(s, p)][kpi] if (s, p) in by_key else None for p in board.periods]
            for s in segs
        },
        {
            s: [
                by_key[(s, p)].get(f"{kpi}_target") if (s, p) in by_key else None
                for p in board.periods
            ]
            for s in segs
        }
        if kpi in TARGET_OF
        else {},
        colours,
        percent=kpi != "lead_time_days",
        label_format=fmt_label,
    )
    board.mix_chart = line_chart(
        f"Segment mix: share of order lines per {board.grain}",
        board.periods,
        {
            s: [
                by_key[(s, p)]["lines"] / totals[p] if (s, p) in by_key and totals[p] else None
                for p in board.periods
            ]
            for s in segs
        },
        {},
        colours,
        label_format=fmt_label,
        from_zero=True,
    )


def _segment_rows(
    trend: pl.DataFrame, ranks: dict[str, int], colours: dict[str, str]
) -> list[dict[str, Any]]:
    if trend.is_empty():
        return []
    total = int(trend["lines"].sum())
    out = []
    for seg in _order(trend["segment"].unique().to_list(), ranks):
        lines = int(trend.filter(pl.col("segment") == seg)["lines"].sum())
        out.append(
            {
                "segment": seg,
                "colour": colours.get(seg) or "#8a8f98",
                "lines": lines,
                "share": lines / total if total else 0.0,
            }
        )
    return out


def worst_breaches(frame: pl.DataFrame, slug: str, grain: str) -> list[dict[str, Any]]:
    """Segment x region cells below target, the largest shortfall first, over every KPI."""
    found = []
    for r in frame.iter_rows(named=True):
        for kpi in TARGET_OF:
            if r.get(f"{kpi}_met") is not False:
                continue
            value, target = r[kpi], r[f"{kpi}_target"]
            gap = (value - target) / 100 if kpi == "lead_time_days" else target - value
            found.append(
                {
                    "segment": r["segment"],
                    "region": r["region"],
                    "kpi": kpi,
                    "kpi_label": KPI_LABELS[kpi],
                    "value": fmt(kpi, value),
                    "target": fmt(kpi, target),
                    "gap": gap,
                    "lines": int(r["lines"]),
                    "href": drill_href(slug, grain, kpi, segment=r["segment"], region=r["region"]),
                }
            )
    return sorted(found, key=lambda f: -f["gap"])[:WORST]
