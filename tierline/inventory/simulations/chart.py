"""The simulation chart: per segment, the unit fill rate under the ERP's parameters and under
the proposed policy, each with its bootstrap interval, and the segment's target: plain
geometry for an inline SVG (no script), drawn for a phone first like the other charts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WIDTH, ROW, TOP, BOTTOM, LEFT, RIGHT = 360, 38, 26, 34, 64, 14
BAR = 11.0


@dataclass(frozen=True)
class Mark:
    y: float  # top of the bar
    width: float
    low: float | None  # interval ends (x), None when unknown
    high: float | None
    value: str  # for the text alternative


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    label_y: float
    current: Mark
    proposed: Mark
    target_x: float | None
    target: str


@dataclass(frozen=True)
class SimulationChart:
    width: int
    height: int
    left: float
    plot_right: float
    rows: list[SegmentRow]
    ticks: list[tuple[float, str]]
    floor: float
    axis_y: float
    description: str


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fill_rate_chart(
    comparison: list[dict[str, Any]], targets: dict[str, float | None]
) -> SimulationChart:
    """Bars start at ``floor`` (a multiple of 10 % under the lowest value shown), so the gap
    between 92 % and 98 % is visible; the axis says where it starts."""
    rows = sorted(comparison, key=lambda r: str(r["segment"]))
    seen = [
        v
        for r in rows
        for v in (
            _num(r.get("fill_rate_current")),
            _num(r.get("fill_rate_proposed")),
            targets.get(str(r["segment"])),
        )
        if v is not None
    ]
    floor = max(0.0, math.floor((min(seen, default=0.5) - 0.02) * 10) / 10)
    span = WIDTH - LEFT - RIGHT

    def x(value: float | None) -> float | None:
        if value is None:
            return None
        return LEFT + span * (min(max(value, floor), 1.0) - floor) / (1.0 - floor)

    def mark(row: dict[str, Any], key: str, y: float) -> Mark:
        value = _num(row.get(f"fill_rate_{key}"))
        low = _num(row.get(f"fill_rate_{key}_low"))
        high = _num(row.get(f"fill_rate_{key}_high"))
        if key == "proposed" and low is None:
            change_low = _num(row.get("fill_rate_change_low"))
            change_high = _num(row.get("fill_rate_change_high"))
            current = _num(row.get("fill_rate_current"))
            if None not in (change_low, change_high, current):
                low, high = current + change_low, current + change_high  # type: ignore[operator]
        end = x(value)
        return Mark(
            y,
            0.0 if end is None else end - LEFT,
            x(low),
            x(high),
            "no data" if value is None else f"{value:.1%}",
        )

    drawn = []
    for i, row in enumerate(rows):
        top = TOP + i * ROW
        target = targets.get(str(row["segment"]))
        drawn.append(
            SegmentRow(
                str(row["segment"]),
                top + ROW / 2 - 2,
                mark(row, "current", top + 3),
                mark(row, "proposed", top + 4 + BAR),
                x(target),
                "no target" if target is None else f"target {target:.1%}",
            )
        )
    height = TOP + ROW * len(rows) + BOTTOM
    ticks = [(x(t) or LEFT, f"{t:.0%}") for t in [floor + (1.0 - floor) * k / 4 for k in range(5)]]
    description = "; ".join(
        f"{r.segment}: ERP {r.current.value}, proposed {r.proposed.value}, {r.target}"
        for r in drawn
    )
    return SimulationChart(
        WIDTH, height, LEFT, WIDTH - RIGHT, drawn, ticks, floor, height - BOTTOM + 4, description
    )
