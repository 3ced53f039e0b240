"""Chart geometry for the inventory pages, computed here so templates only draw (server-side
SVG, no JavaScript): an SKU-location's projected inventory against safety stock and reorder
point, and the spread of days of cover per segment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 36


@dataclass(frozen=True)
class Line:
    label: str
    css: str
    y: float
    value: float


@dataclass(frozen=True)
class Projection:
    """A polyline of expected on-hand by period with the policy's levels as horizontal lines."""

    width: int
    height: int
    points: str
    lines: list[Line]
    y_axis: list[tuple[float, str]]
    x_axis: list[tuple[float, str]]
    description: str
    x_label: str


def _ticks(top: float, count: int = 4) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(top // step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.1f}"


def projection(result: dict[str, Any], cycles: int = 3) -> Projection | None:
    """Expected on-hand over a few replenishment cycles at mean demand: it falls by d a period,
    an order placed at the reorder point (or every R periods) arrives a lead time later, when
    the stock is down to the safety stock. None when the result has no numbers."""
    d = result.get("demand_mean") or 0.0
    ss, rop = result.get("safety_stock"), result.get("reorder_point")
    if ss is None or rop is None or d <= 0:
        return None
    periodic = result["policy_type"] == "r_s"
    q = result.get("order_quantity") or 0.0
    high = (result.get("order_up_to") or 0.0) - d * (result.get("lead_time_mean") or 0.0)
    peak = high if periodic else ss + q
    cycle = max(peak - ss, 0.0) / d if d else 0.0
    if cycle <= 0:
        return None
    horizon = cycle * cycles
    top = max(peak, rop, result.get("order_up_to") or 0.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / horizon

    def y(v: float) -> float:
        return TOP + plot_h * (1 - max(v, 0.0) / top)

    points = []
    for c in range(cycles):
        start = c * cycle
        points += [f"{x(start):.1f},{y(peak):.1f}", f"{x(start + cycle):.1f},{y(ss):.1f}"]
    lines = [Line("Safety stock", "ss", y(ss), ss)]
    if periodic:
        lines.append(Line("Order-up-to level", "rop", y(rop), rop))
    else:
        lines.append(Line("Reorder point", "rop", y(rop), rop))
    step = _ticks(horizon, 5)
    return Projection(
        width=WIDTH,
        height=HEIGHT,
        points=" ".join(points),
        lines=lines,
        y_axis=[(y(v), _fmt(v)) for v in _ticks(top)],
        x_axis=[(x(t), _fmt(t)) for t in step],
        description=(
            f"Projected on-hand over {cycles} cycles of {cycle:.1f} periods at a mean demand of "
            f"{d:,.1f} a period: from {peak:,.0f} down to the safety stock of {ss:,.0f} as each "
            f"replenishment arrives; {lines[1].label.lower()} {rop:,.0f}."
        ),
        x_label="periods",
    )


@dataclass(frozen=True)
class Spread:
    """Days of cover of safety stock per segment: quartile boxes with median and whiskers."""

    width: int
    height: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    x_axis: list[tuple[float, str]] = field(default_factory=list)
    description: str = ""


def cover_spread(results: pl.DataFrame) -> Spread | None:
    """Safety stock in days of demand (p10, p25, median, p75, p90) per segment."""
    rows = results.filter(
        pl.col("safety_stock").is_not_null() & (pl.col("demand_mean") > 0)
    ).with_columns(
        (pl.col("safety_stock") / pl.col("demand_mean")).alias("cover"),
        pl.col("segment_code").fill_null("(none)"),
    )
    if rows.is_empty():
        return None
    stats = (
        rows.group_by("segment_code")
        .agg(
            pl.len().alias("n"),
            *[
                pl.col("cover").quantile(q, "linear").alias(f"p{int(q * 100)}")
                for q in (0.1, 0.25, 0.5, 0.75, 0.9)
            ],
        )
        .sort("segment_code")
    )
    top = max(float(stats["p90"].max() or 0.0) * 1.1, 1.0)  # type: ignore[arg-type]
    label_w, row_h = 90, 34
    width = 640
    plot_w = width - label_w - RIGHT
    height = TOP + row_h * stats.height + BOTTOM

    def x(v: float) -> float:
        return label_w + plot_w * max(v, 0.0) / top

    out = []
    for i, r in enumerate(stats.iter_rows(named=True)):
        mid = TOP + row_h * i + row_h / 2
        out.append(
            {
                "segment": r["segment_code"],
                "n": r["n"],
                "y": mid,
                "x10": x(r["p10"]),
                "x25": x(r["p25"]),
                "x50": x(r["p50"]),
                "x75": x(r["p75"]),
                "x90": x(r["p90"]),
                "p50": r["p50"],
                "p10": r["p10"],
                "p90": r["p90"],
            }
        )
    text = "; ".join(
        f"{r['segment']}: median {r['p50']:.1f} periods (10 to 90 %: {r['p10']:.1f} to "
        f"{r['p90']:.1f}, "
        f"{r['n']:,} SKU-locations)"
        for r in out
    )
    return Spread(
        width=width,
        height=height,
        rows=out,
        x_axis=[(x(v), _fmt(v)) for v in _ticks(top)],
        description="Safety stock in days of demand per segment — " + text,
    )
