"""Chart geometry for the analytics pages (pure): the page templates draw what these return as
inline SVG with axes, a legend, reference lines and a text alternative; no chart library, no
script, so the charts work without JavaScript and under the strict content security policy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from tierline.analytics.schemas import CostRow, EstimateOut, WhaleCurveOut

SERIES: Final = (
    ("margin_minor", "Margin", "#3d8bd4"),
    ("cost_to_serve_minor", "Cost to serve", "#d9822b"),
    ("margin_after_cts_minor", "Margin after cost to serve", "#2f9e6e"),
)


def money_label(minor: float) -> str:
    """Cents as a short amount: 1.2M, 350k, 12."""
    value = minor / 100
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low..high`` (always including 0 when it lies between)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class BarChart:
    """Grouped vertical bars, one group per segment, one bar per series."""

    width: int
    height: int
    left: int
    bottom: float
    ticks: list[tuple[float, str]]
    zero_y: float
    bars: list[Bar] = field(default_factory=list)
    groups: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


def segment_chart(rows: list[CostRow]) -> BarChart | None:
    """Margin, cost-to-serve and margin after it per segment (None when masked or empty)."""
    if not rows or rows[0].masked:
        return None
    values = [getattr(r, s) or 0 for r in rows for s, _, _ in SERIES]
    ticks = nice_ticks(min(0, *values), max(0, *values))
    width, height, left, top, bottom = 420, 250, 52, 12, 200
    scale = (bottom - top) / (ticks[-1] - ticks[0])

    def y(v: float) -> float:
        return bottom - (v - ticks[0]) * scale

    group_width = (width - left - 8) / len(rows)
    bar_width = min(28.0, group_width / (len(SERIES) + 1))
    chart = BarChart(width, height, left, bottom, [(y(t), money_label(t)) for t in ticks], y(0))
    for i, row in enumerate(rows):
        x0 = left + 4 + i * group_width + (group_width - bar_width * len(SERIES)) / 2
        chart.groups.append((x0 + bar_width * len(SERIES) / 2, row.segment or ""))
        for j, (attr, label, colour) in enumerate(SERIES):
            value = getattr(row, attr) or 0
            top_y, base = sorted((y(value), y(0)))
            chart.bars.append(
                Bar(
                    x0 + j * bar_width,
                    top_y,
                    bar_width - 2,
                    max(base - top_y, 0.5),
                    colour,
                    f"{row.segment} {label.lower()}: {money_label(value)}",
                )
            )
    chart.legend = [(label, colour) for _, label, colour in SERIES]
    chart.text = "; ".join(
        f"{r.segment}: margin {money_label(r.margin_minor or 0)}, cost to serve "
        f"{money_label(r.cost_to_serve_minor or 0)}, after cost to serve "
        f"{money_label(r.margin_after_cts_minor or 0)}"
        for r in rows
    )
    return chart


@dataclass
class LineChart:
    width: int
    height: int
    left: int
    bottom: float
    right: float
    path: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    total_y: float
    zero_y: float
    peak: tuple[float, float]
    text: str


def whale_chart(whale: WhaleCurveOut | None) -> LineChart | None:
    """Cumulative profit against the share of customers, with the total-profit line (100 %)
    and the peak marked (None when masked or no customer)."""
    if whale is None or whale.customers == 0:
        return None
    profits = [p.cumulative_profit_minor for p in whale.points]
    ticks = nice_ticks(min(0, *profits), max(0, *profits))
    width, height, left, right, top, bottom = 420, 250, 52, 400, 14, 200
    scale = (bottom - top) / (ticks[-1] - ticks[0])

    def y(v: float) -> float:
        return bottom - (v - ticks[0]) * scale

    def x(share: float) -> float:
        return left + share * (right - left)

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(p.customer_share):.1f},{y(p.cumulative_profit_minor):.1f}"
        for i, p in enumerate(whale.points)
    )
    total = whale.total_profit_minor
    peak_pct = whale.peak_profit_minor / total * 100 if total > 0 else None
    text = (
        f"{whale.customers} customers ranked by profit after cost to serve; the most "
        f"profitable {whale.peak_customer_share:.0%} earn {money_label(whale.peak_profit_minor)}"
        + (f" ({peak_pct:.0f}% of the total)" if peak_pct is not None else "")
        + f"; {whale.unprofitable_customers} customers lose money, bringing the total to "
        f"{money_label(total)}."
    )
    return LineChart(
        width,
        height,
        left,
        bottom,
        right,
        path,
        [(y(t), money_label(t)) for t in ticks],
        [(x(s / 100), f"{s}%") for s in range(0, 101, 25)],
        y(total),
        y(0),
        (x(whale.peak_customer_share), y(whale.peak_profit_minor)),
        text,
    )


@dataclass
class Interval:
    """One estimate on its own scale: the dot, the whisker and the zero line."""

    metric: str
    dot: float | None
    low: float | None
    high: float | None
    zero: float
    ticks: list[tuple[float, str]]


def interval_rows(estimates: list[EstimateOut], width: int = 300) -> list[Interval]:
    out = []
    for e in estimates:
        if e.effect is None or e.low is None or e.high is None:
            out.append(Interval(e.metric, None, None, None, width / 2, []))
            continue
        ticks = nice_ticks(min(0.0, e.low), max(0.0, e.high), 4)
        span = ticks[-1] - ticks[0] or 1.0

        def x(v: float, first: float = ticks[0], span: float = span) -> float:
            return 10 + (v - first) / span * (width - 20)

        out.append(
            Interval(
                e.metric,
                x(e.effect),
                x(e.low),
                x(e.high),
                x(0.0),
                [(x(t), f"{t:g}") for t in ticks],
            )
        )
    return out
