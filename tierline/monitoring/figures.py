"""Reading KPI figures from the stored counts: any roll-up (segment, region, product line,
channel, business unit, customer, product, location) of any periods, with the target in force.

The sums run in PostgreSQL (one GROUP BY over ``kpi_cells`` joined to the customer and product
dimensions, read by name as the store reads its inputs), the rates and the exact attainment in
polars (``engine.kpis`` / ``engine.attainment``): one definition of every KPI everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.monitoring.definitions import KpiDefinition
from tierline.monitoring.engine import (
    COUNTS,
    TARGET_SCALE,
    Grain,
    attainment,
    kpis,
    targets_by_period,
)
from tierline.platform.frames import read_frame
from tierline.service_levels.service import entitlement_versions

# dimension -> SQL expression over kpi_cells k, customers c, products p
DIMENSIONS = {
    "segment": "k.segment",
    "period_start": "k.period_start",
    "region": "coalesce(c.region, '')",
    "channel": "coalesce(c.channel, '')",
    "business_unit": "coalesce(c.business_unit, '')",
    "product_line": "coalesce(p.product_line, '')",
    "customer_code": "k.customer_code",
    "sku": "k.sku",
    "location_code": "k.location_code",
}
# what the dashboard's roll-up (kpi_rollups r) can answer without the cells
ROLLUP_DIMENSIONS = {
    "segment": "r.segment",
    "period_start": "r.period_start",
    "region": "r.region",
    "channel": "r.channel",
    "business_unit": "r.business_unit",
    "product_line": "r.product_line",
}
DIMENSION_LABELS = {
    "segment": "Segment",
    "region": "Region",
    "channel": "Channel",
    "business_unit": "Business unit",
    "product_line": "Product line",
    "customer_code": "Customer",
    "sku": "Product",
    "location_code": "Location",
}
NOT_SET = "(not set)"


@dataclass(frozen=True)
class Filters:
    """Restrictions of a read: dimension -> value, the periods, and the caller's scope
    (a regional planner sees the customers of its region only)."""

    equal: dict[str, str] = field(default_factory=dict)
    within: dict[str, list[str]] = field(default_factory=dict)  # dimension -> any of these
    since: date | None = None
    until: date | None = None
    scopes: frozenset[str] | None = None  # None: every scope


def period_floor(day: date, grain: Grain) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def periods_back(as_of: date, grain: Grain, count: int) -> list[date]:
    """The starts of the ``count`` periods ending with the one holding ``as_of``, oldest first."""
    start = period_floor(as_of, grain)
    out = [start]
    for _ in range(count - 1):
        start = (
            start - timedelta(weeks=1)
            if grain == "week"
            else period_floor(start - timedelta(days=1), "month")
        )
        out.append(start)
    return out[::-1]


def _where(filters: Filters, args: list[Any], columns: dict[str, str], scope: str) -> str:
    """SQL conditions with ``$n`` placeholders appended to ``args`` (``$1`` is the grain)."""
    parts = []
    for name, value in filters.equal.items():
        args.append("" if value == NOT_SET else value)
        parts.append(f"{columns[name]} = ${len(args)}")
    for name, values in filters.within.items():
        args.append(list(values))
        parts.append(f"{columns[name]} = ANY(${len(args)}::text[])")
    if filters.since is not None:
        args.append(filters.since)
        parts.append(f"{columns['period_start']} >= ${len(args)}")
    if filters.until is not None:
        args.append(filters.until)
        parts.append(f"{columns['period_start']} <= ${len(args)}")
    if filters.scopes is not None:  # the row-level scope rule of master data's lists
        args.append(sorted(filters.scopes))
        parts.append(f"{scope} = ANY(${len(args)}::text[])")
    return " AND ".join(parts) or "TRUE"


def _source(by: Sequence[str], filters: Filters) -> tuple[dict[str, str], str, str, str]:
    """(columns, FROM clause, grain column, scope column): the dashboard's roll-up when it
    holds every dimension asked for, else the cells joined to the dimensions."""
    wanted = {*by, *filters.equal, *filters.within}
    if wanted <= ROLLUP_DIMENSIONS.keys():
        return ROLLUP_DIMENSIONS, "kpi_rollups r", "r.grain", "r.scope"
    source = (
        "kpi_cells k LEFT JOIN customers c ON c.code = k.customer_code "
        "LEFT JOIN products p ON p.sku = k.sku"
    )
    return DIMENSIONS, source, "k.grain", "c.scope"


async def summed(
    conn: AsyncConnection, grain: Grain, by: Sequence[str], filters: Filters
) -> pl.DataFrame:
    """Counts summed by ``by`` (dimension names) under ``filters``."""
    unknown = [d for d in (*by, *filters.equal, *filters.within) if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s): {', '.join(unknown)}")
    args: list[Any] = [grain]
    columns, source, grain_column, scope_column = _source(by, filters)
    where = _where(filters, args, columns, scope_column)
    keys = ", ".join(f"{columns[d]} AS {d}" for d in by)
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in COUNTS)
    group = f"GROUP BY {', '.join(columns[d] for d in by)}" if by else ""
    sql = (
        f"SELECT {keys + ', ' if keys else ''}{sums} FROM {source} "
        f"WHERE {grain_column} = $1 AND {where} {group}"
    )
    schema: dict[str, Any] = {d: pl.String for d in by}
    schema.update({c: pl.Int64 for c in COUNTS})
    frame = await read_frame(conn, sql, schema, *args)
    frame = frame.with_columns(pl.col(c).fill_null(0) for c in COUNTS)
    if "period_start" in by:
        frame = frame.with_columns(pl.col("period_start").str.to_date("%Y-%m-%d"))
    text_dims = [d for d in by if d != "period_start"]
    if text_dims:
        frame = frame.with_columns(
            pl.when(pl.col(d).fill_null("") == "")
            .then(pl.lit(NOT_SET))
            .otherwise(pl.col(d))
            .alias(d)
            for d in text_dims
        )
    return frame.filter(pl.col("lines") > 0) if by else frame


def _scaled(value: Any, scale: int) -> int:
    return int((Decimal(str(value)) * scale).to_integral_value())


async def target_versions(session: AsyncSession, scheme_code: str | None) -> pl.DataFrame:
    """The scheme's entitlement versions with targets as exact integers (hundred-thousandths)."""
    schema = {
        "segment": pl.String,
        "effective_from": pl.Date,
        "effective_to": pl.Date,
        "fill_rate_target": pl.Int64,
        "otif_target": pl.Int64,
        "perfect_order_target": pl.Int64,
        "quoted_lead_time_days": pl.Int64,
    }
    if scheme_code is None:
        return pl.DataFrame(schema=schema)
    rows = [
        {
            "segment": v["segment_code"],
            "effective_from": date.fromisoformat(v["effective_from"]),
            "effective_to": date.fromisoformat(v["effective_to"]) if v["effective_to"] else None,
            "fill_rate_target": _scaled(v["fill_rate_target"], TARGET_SCALE),
            "otif_target": _scaled(v["otif_target"], TARGET_SCALE),
            "perfect_order_target": _scaled(v["perfect_order_target"], TARGET_SCALE),
            "quoted_lead_time_days": int(v["quoted_lead_time_days"]),
        }
        for v in await entitlement_versions(session, scheme_code)
    ]
    return pl.DataFrame(rows, schema=schema)


def with_attainment(
    sums: pl.DataFrame,
    versions: pl.DataFrame,
    definition: KpiDefinition,
    grain: Grain,
) -> pl.DataFrame:
    """Rates, and where ``sums`` is by segment and period the targets in force and ``_met``."""
    if not {"segment", "period_start"} <= set(sums.columns) or sums.is_empty():
        return kpis(sums, definition)
    periods = sums["period_start"].unique().to_list()
    targets = targets_by_period(versions, periods, grain)
    return attainment(sums, targets, definition)
