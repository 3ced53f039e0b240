"""Root-cause drill-down: from a segment x region to product lines, then SKUs, customers and
locations, then the order lines themselves, with the contributing factors side by side.

At each level the breakdown shows, per member, the KPI against the target in force (newest
period of the window), and what made lines fail: late, short, damaged, documentation wrong,
still owed after the due day (backorders, which includes stock-outs at the location), and data
that could not be judged (data-quality flags). The order lines are judged by the same engine
(``engine.line_facts``) and attributed to the segment in force on their order date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.monitoring.dashboard import band, fmt
from tierline.monitoring.definitions import KpiDefinition
from tierline.monitoring.engine import KPI_LABELS, Grain, attribute_segments, line_facts
from tierline.monitoring.figures import (
    NOT_SET,
    Filters,
    summed,
    target_versions,
    with_attainment,
)
from tierline.monitoring.store import current_definition, kpi_scheme, read_assignments, read_lines

LEVELS = ("segment", "region", "product_line", "sku", "customer_code", "location_code")
LABELS = {
    "segment": "Segment",
    "region": "Region",
    "product_line": "Product line",
    "sku": "Product",
    "customer_code": "Customer",
    "location_code": "Location",
}
FACTORS = (
    ("lines_late", "late"),
    ("lines_short", "short"),
    ("lines_damaged", "damaged"),
    ("lines_doc_errors", "documents wrong"),
    ("lines_backordered", "backordered"),
)
MAX_LINES = 200


@dataclass
class Breakdown:
    dimension: str
    label: str
    rows: list[dict[str, Any]]


@dataclass
class Drill:
    grain: Grain
    kpi: str
    kpi_label: str
    window: tuple[date, date]
    chosen: dict[str, str]
    trail: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    breakdowns: list[Breakdown] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    lines_shown: int = 0
    lines_total: int = 0


def href(slug: str, grain: str, kpi: str, window: tuple[date, date], **chosen: str) -> str:
    query = {"grain": grain, "kpi": kpi, "since": window[0].isoformat()}
    query["until"] = window[1].isoformat()
    query.update({k: v for k, v in chosen.items() if v})
    return f"/t/{slug}/performance/drill?{urlencode(query)}"


def next_dimensions(chosen: dict[str, str]) -> list[str]:
    """What the next level breaks down by."""
    if not {"sku", "customer_code", "location_code"}.isdisjoint(chosen):
        return [d for d in ("sku", "customer_code", "location_code") if d not in chosen]
    if "product_line" in chosen:
        return ["sku", "customer_code", "location_code"]
    if "region" in chosen or "segment" in chosen:
        return ["product_line"] if "region" in chosen else ["region"]
    return ["segment"]


def _rows(frame: pl.DataFrame, dim: str, kpi: str, link: Any) -> list[dict[str, Any]]:
    out = []
    for r in frame.iter_rows(named=True):
        value, target = r[kpi], r.get(f"{kpi}_target")
        out.append(
            {
                "member": r[dim],
                "segment": r["segment"],  # one row per segment and member
                "href": link(r[dim], r["segment"]),
                "lines": int(r["lines"]),
                "value": fmt(kpi, value),
                "target": fmt(kpi, target) if target is not None else "\u2013",
                "band": band(kpi, value, target, r.get(f"{kpi}_met")),
                "factors": {name: int(r[col]) for col, name in FACTORS},
                "data_quality": sum(int(r[c]) for c in r if c.startswith("dq_")),
                "sort": -(r[f"{kpi}_met"] is False) if f"{kpi}_met" in r else 0,
            }
        )
    return sorted(out, key=lambda x: (x["sort"], -sum(x["factors"].values()), str(x["member"])))


async def build_drill(
    session: AsyncSession,
    slug: str,
    grain: Grain,
    kpi: str,
    window: tuple[date, date],
    chosen: dict[str, str],
    scopes: frozenset[str] | None,
) -> Drill:
    definition = await current_definition(session)
    scheme = await kpi_scheme(session)
    versions = await target_versions(session, scheme)
    drill = Drill(grain, kpi, KPI_LABELS[kpi], window, chosen)
    so_far: dict[str, str] = {}
    drill.trail.append(("All", href(slug, grain, kpi, window)))
    for level in LEVELS:
        if level in chosen:
            so_far[level] = chosen[level]
            drill.trail.append(
                (f"{LABELS[level]} {chosen[level]}", href(slug, grain, kpi, window, **so_far))
            )
    filters = Filters(equal=dict(chosen), since=window[0], until=window[1], scopes=scopes)
    conn = await session.connection()
    for dim in next_dimensions(chosen):
        # the first level breaks down by segment itself: asked twice, the column would be too
        sums = await summed(
            conn, grain, ["segment"] if dim == "segment" else ["segment", dim], filters
        )
        if sums.is_empty():
            drill.breakdowns.append(Breakdown(dim, LABELS[dim], []))
            continue
        judged = with_attainment(
            sums.with_columns(pl.lit(window[1]).alias("period_start")), versions, definition, grain
        )

        def link(member: Any, segment: str, dim: str = dim) -> str:
            narrowed = {**chosen, "segment": segment, dim: str(member)}
            return href(slug, grain, kpi, window, **narrowed)

        rows = _rows(judged, dim, kpi, link)
        drill.breakdowns.append(Breakdown(dim, LABELS[dim], rows))
    if not {"sku", "customer_code", "location_code"}.isdisjoint(chosen):
        await _order_lines(session, drill, definition, scheme, scopes)
    return drill


async def _order_lines(
    session: AsyncSession,
    drill: Drill,
    definition: KpiDefinition,
    scheme: str | None,
    scopes: frozenset[str] | None,
) -> None:
    """The window's order lines under the chosen members, judged, failing ones first."""
    args: list[Any] = [drill.window[0], _end(drill.window[1], drill.grain)]
    where = ["order_date >= $1", "order_date < $2"]
    direct = {"sku": "sku", "customer_code": "customer_code", "location_code": "location_code"}
    for dim, column in direct.items():
        if dim in drill.chosen:
            args.append(drill.chosen[dim])
            where.append(f"coalesce({column}, '') = ${len(args)}")
    for dim, sql in (("region", "region"), ("product_line", "product_line")):
        if dim in drill.chosen:
            value = "" if drill.chosen[dim] == NOT_SET else drill.chosen[dim]
            args.append(value)
            table, key = ("customers", "code") if dim == "region" else ("products", "sku")
            column = "customer_code" if dim == "region" else "sku"
            where.append(
                f"{column} IN (SELECT {key} FROM {table} WHERE coalesce({sql}, '') = ${len(args)})"
            )
    if scopes is not None:
        args.append(sorted(scopes))
        where.append(
            f"customer_code IN (SELECT code FROM customers WHERE scope = ANY(${len(args)}::text[]))"
        )
    conn = await session.connection()
    lines = await read_lines(conn, " AND ".join(where), *args)
    facts = attribute_segments(
        line_facts(lines, definition, date.today()), await read_assignments(conn, scheme)
    )
    if "segment" in drill.chosen:
        facts = facts.filter(pl.col("segment") == drill.chosen["segment"])
    drill.lines_total = facts.height
    failing = ~pl.col("perfect") | pl.col("backordered")
    facts = facts.sort([failing, "order_date"], descending=[True, True]).head(MAX_LINES)
    drill.lines_shown = facts.height
    drill.lines = [_line(r) for r in facts.iter_rows(named=True)]


def _end(start: date, grain: Grain) -> date:
    from datetime import timedelta

    if grain == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _line(r: dict[str, Any]) -> dict[str, Any]:
    factors = [
        name
        for flag, name in (
            ("lines_late", "late"),
            ("lines_short", "short"),
            ("lines_damaged", "damaged"),
            ("lines_doc_errors", "documents wrong"),
            ("backordered", "backordered"),
            ("dq_delivered_before_order", "delivered before ordered"),
            ("dq_over_delivered", "delivered more than ordered"),
            ("dq_missing_due_date", "no due date"),
            ("dq_missing_quantity", "no delivered quantity"),
        )
        if r.get(flag)
    ]
    return {
        "order_no": r["order_no"],
        "line_no": r["line_no"],
        "customer_code": r["customer_code"],
        "sku": r["sku"],
        "location_code": r["location_code"],
        "segment": r["segment"],
        "order_date": r["order_date"],
        "due": r["_due"],
        "delivered_date": r["delivered_date"],
        "quantity": r["quantity"],
        "delivered_quantity": r["delivered_quantity"],
        "factors": factors,
        "ok": not factors,
    }
