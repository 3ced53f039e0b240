"""The distortion chart: per segment, how its SKU-locations split between stock-out, below
safety stock, within target, above maximum and missing data, as 100 % bars (inline SVG)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tierline.inventory.distortion import GapStatus

WIDTH, ROW, TOP, BOTTOM, LEFT, RIGHT = 360, 26, 40, 26, 64, 12
STATUSES = (
    (GapStatus.STOCKOUT.value, "stock-out", "#9b2c2c"),
    (GapStatus.BELOW_SAFETY_STOCK.value, "below safety stock", "#ed8936"),
    (GapStatus.WITHIN_TARGET.value, "within target", "#48bb78"),
    (GapStatus.ABOVE_MAX.value, "above max", "#2b6cb0"),
    (GapStatus.MISSING_DATA.value, "missing data", "#a0aec0"),
)


@dataclass(frozen=True)
class Piece:
    x: float
    width: float
    colour: str


@dataclass(frozen=True)
class SegmentBar:
    segment: str
    y: float
    pieces: list[Piece]
    text: str


@dataclass(frozen=True)
class DistortionChart:
    width: int
    height: int
    left: float
    right: float
    bars: list[SegmentBar]
    legend: list[tuple[float, float, str, str]]  # x, y, label, colour
    ticks: list[tuple[float, str]]
    axis_y: float
    description: str


def status_chart(by_segment: pl.DataFrame) -> DistortionChart:
    """``by_segment``: one row per segment with a count column per status."""
    span = WIDTH - LEFT - RIGHT
    bars = []
    for i, row in enumerate(by_segment.sort("tier", "segment").iter_rows(named=True)):
        total = sum(int(row.get(s) or 0) for s, _l, _c in STATUSES) or 1
        x, pieces, parts = float(LEFT), [], []
        for status, label, colour in STATUSES:
            n = int(row.get(status) or 0)
            width = span * n / total
            if width > 0:
                pieces.append(Piece(x, width, colour))
            x += width
            if n:
                parts.append(f"{label} {n / total:.0%}")
        bars.append(
            SegmentBar(str(row["segment"]), TOP + i * ROW, pieces, ", ".join(parts) or "none")
        )
    height = TOP + ROW * len(bars) + BOTTOM
    legend: list[tuple[float, float, str, str]] = []
    at, line = 4.0, 4.0
    for _status, label, colour in STATUSES:
        room = 11 + 5.2 * len(label) + 8  # a swatch, the label at about 5 units a letter
        if at + room > WIDTH:
            at, line = 4.0, line + 14
        legend.append((at, line, label, colour))
        at += room
    ticks = [(LEFT + span * k / 4, f"{k * 25}%") for k in range(5)]
    return DistortionChart(
        WIDTH,
        height,
        LEFT,
        WIDTH - RIGHT,
        bars,
        legend,
        ticks,
        height - BOTTOM + 4,
        "; ".join(f"{b.segment}: {b.text}" for b in bars),
    )
